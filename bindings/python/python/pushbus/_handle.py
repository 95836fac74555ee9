"""One owned C pointer, safe to close while other threads use it."""

from __future__ import annotations

from typing import Any, Callable

from ._ffi import ffi
from .errors import Closed


class Handle:
    """Owns one C object: ``close`` frees it exactly once, never under a call.

    The pointer is wrapped by ``ffi.gc``, whose destructor runs when the
    last reference to the wrapper goes. ``ptr`` is the only long-lived
    reference; every call copies it into a local first (``get``), so:
    ``close`` drops ``ptr`` and, with no call in flight, CPython's
    reference counting frees the object at once; a call in flight in
    another thread (a blocking ``wait``) keeps its local reference, and the
    object is freed when that call returns. No lock on the hot path, no
    double free (the destructor runs once), and an object never closed is
    freed when it becomes garbage.
    """

    __slots__ = ("ptr", "what", "__weakref__")

    def __init__(self, ptr: Any, free: Callable[[Any], None], what: str) -> None:
        #: The ``ffi.gc`` wrapper, or None once closed.
        self.ptr: Any = ffi.gc(ptr, free)
        self.what = what

    @property
    def closed(self) -> bool:
        return self.ptr is None

    def get(self) -> Any:
        """The pointer, for one call (keep it in a local); ``Closed`` if closed."""
        ptr = self.ptr
        if ptr is None:
            raise Closed(f"the {self.what} is closed")
        return ptr

    def close(self) -> bool:
        """Drops the owning reference (the free follows any call in flight). True the first time."""
        ptr, self.ptr = self.ptr, None
        return ptr is not None

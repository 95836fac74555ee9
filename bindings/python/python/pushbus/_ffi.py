"""The cffi handles: ``ffi`` (types, buffers) and ``lib`` (the cdylib).

maturin generates ``pushbus._native`` at build time (an ABI-mode cffi
module over ``include/pushbus.h`` and the bundled library). cffi objects
carry no static types, so they are ``Any`` here and every typed wrapper
lives in the modules that use them.
"""

from __future__ import annotations

import importlib
from typing import Any

_native: Any = importlib.import_module("pushbus._native")

ffi: Any = _native.ffi
lib: Any = _native.lib

#: Bytes of a status's C string never change: cache their text.
_STATUS_TEXT: dict[int, str] = {}


def status_text(code: int) -> str:
    """``pushbus_status_str(code)`` as a Python string."""
    text = _STATUS_TEXT.get(code)
    if text is None:
        text = ffi.string(lib.pushbus_status_str(code)).decode("utf-8", "replace")
        _STATUS_TEXT[code] = text
    return text


def take_buf(buf: Any) -> bytes:
    """Copies a library-filled ``pushbus_buf`` into bytes and frees it."""
    try:
        return bytes(ffi.buffer(buf.ptr, buf.len)) if buf.len else b""
    finally:
        lib.pushbus_buf_free(buf)

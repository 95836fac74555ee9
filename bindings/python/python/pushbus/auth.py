"""HS256 access tokens, verified by the library (constant-time, never ``none``)."""

from __future__ import annotations

import time
from typing import Optional, Union

from ._core import _utf8
from ._ffi import ffi, lib
from ._handle import Handle
from .errors import check

__all__ = ["Claims", "verify_jwt"]


class Claims:
    """The verified claims of an access token: ``sub``, ``exp``, and the rooms it allows."""

    def __init__(self, handle: Handle) -> None:
        self._handle = handle
        ptr = handle.get()
        sub = ffi.new("char **")
        size = ffi.new("size_t *")
        check(lib.pushbus_claims_sub(ptr, sub, size))
        #: The user (``sub`` claim), or None when the token has none.
        self.sub: Optional[str] = None if sub[0] == ffi.NULL else ffi.unpack(sub[0], size[0]).decode("utf-8")
        exp = ffi.new("uint64_t *")
        check(lib.pushbus_claims_exp(ptr, exp))
        #: Expiry in seconds since the Unix epoch, or None when the token has none.
        self.exp: Optional[int] = int(exp[0]) or None

    def allows(self, name: str) -> bool:
        """Whether the ``rooms`` claim grants ``name`` (``*`` grants all; patterns match)."""
        n = _utf8(name, "name")
        out = ffi.new("bool *")
        ptr = self._handle.get()
        check(lib.pushbus_claims_allows(ptr, n, len(n), out))
        return bool(out[0])

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "Claims":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Claims(sub={self.sub!r}, exp={self.exp!r})"


def verify_jwt(token: str, secret: Union[str, bytes], *, now: Optional[float] = None) -> Claims:
    """Verifies an HS256 JWT against ``secret`` at ``now`` (default: the current time).

    Raises ``InvalidJwt`` (malformed, another algorithm, a bad signature,
    not yet valid), ``ExpiredJwt``, or ``InvalidConfig`` (an empty secret).
    """
    t = _utf8(token, "token")
    s = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    when = int(time.time() if now is None else now)
    if when <= 0:
        when = 1  # 0 means "the current time" to the C API
    out = ffi.new("pushbus_claims **")
    check(lib.pushbus_jwt_verify(t, len(t), s, len(s), when, out))
    return Claims(Handle(out[0], lib.pushbus_claims_free, "claims"))

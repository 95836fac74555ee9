"""Exceptions: ``Error`` and one subclass per C status code.

Every failed call raises the subclass named after its status (for
``PUSHBUS_INVALID_TOPIC``, ``InvalidTopic``), carrying the numeric ``code``
and the library's own description (``pushbus_status_str``). Subclasses
also derive from the built-in exception that fits (``ValueError`` for bad
input, ``LookupError`` for unknown ids, ``OSError`` for system calls), so
generic handlers keep working. ``Closed`` is raised by this package alone:
the object was closed, and no C call was made.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

from ._ffi import status_text

__all__ = [
    "BadToken",
    "BufferTooSmall",
    "Closed",
    "Error",
    "ExpiredJwt",
    "InvalidArgument",
    "InvalidConfig",
    "InvalidEvent",
    "InvalidJson",
    "InvalidJwt",
    "InvalidPattern",
    "InvalidPresence",
    "InvalidTopic",
    "InvalidUtf8",
    "Io",
    "MessageTooLarge",
    "NoTopics",
    "NullPointer",
    "Panic",
    "PatternNotAllowed",
    "TooManySubscriptions",
    "TooManyTopics",
    "UnknownSubscription",
    "UnknownTopic",
    "WsProtocol",
    "check",
    "error_for_status",
]


class Error(Exception):
    """A pushbus call failed. ``code`` is the C status, ``status`` its text."""

    #: The ``pushbus_status`` value (0 only for ``Closed``, which is ours).
    code: int = -1

    def __init__(self, message: Optional[str] = None, *, code: Optional[int] = None) -> None:
        if code is not None:
            self.code = code
        #: The library's description of the status (``pushbus_status_str``).
        self.status = status_text(self.code) if self.code > 0 else "closed"
        super().__init__(f"{self.status}: {message}" if message else self.status)


class Closed(Error):
    """The object (bus, poller, subscription, decoder) is closed."""

    code = 0


class NullPointer(Error):
    code = 1


class InvalidUtf8(Error, ValueError):
    code = 2


class InvalidTopic(Error, ValueError):
    code = 3


class InvalidPattern(Error, ValueError):
    code = 4


class PatternNotAllowed(Error, ValueError):
    code = 5


class InvalidEvent(Error, ValueError):
    code = 6


class MessageTooLarge(Error, ValueError):
    code = 7


class InvalidJson(Error, ValueError):
    code = 8


class InvalidPresence(Error, ValueError):
    code = 9


class BadToken(Error, ValueError):
    code = 10


class TooManyTopics(Error):
    code = 11


class TooManySubscriptions(Error):
    code = 12


class UnknownSubscription(Error, LookupError):
    code = 13


class UnknownTopic(Error, LookupError):
    code = 14


class NoTopics(Error, ValueError):
    code = 15


class InvalidConfig(Error, ValueError):
    code = 16


class Io(Error, OSError):
    code = 17


class InvalidJwt(Error, ValueError):
    code = 18


class ExpiredJwt(Error, ValueError):
    code = 19


class InvalidArgument(Error, ValueError):
    code = 20


class BufferTooSmall(Error, ValueError):
    code = 21


class WsProtocol(Error):
    """The WebSocket peer broke RFC 6455; close the connection with ``close_code``."""

    code = 22

    def __init__(self, message: Optional[str] = None, *, code: Optional[int] = None, close_code: int = 1002) -> None:
        super().__init__(message, code=code)
        self.close_code = close_code


class Panic(Error):
    """An internal bug in pushbus (a Rust panic caught at the C boundary)."""

    code = 23


_BY_CODE: Dict[int, Type[Error]] = {
    cls.code: cls
    for cls in (
        NullPointer, InvalidUtf8, InvalidTopic, InvalidPattern, PatternNotAllowed, InvalidEvent,
        MessageTooLarge, InvalidJson, InvalidPresence, BadToken, TooManyTopics,
        TooManySubscriptions, UnknownSubscription, UnknownTopic, NoTopics, InvalidConfig, Io,
        InvalidJwt, ExpiredJwt, InvalidArgument, BufferTooSmall, WsProtocol, Panic,
    )
}


def error_for_status(code: int, message: Optional[str] = None) -> Error:
    """The exception for a non-zero status (``Error`` itself for a code from a newer library)."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return Error(message, code=code)
    return cls(message)


def check(code: int, message: Optional[str] = None) -> None:
    """Raises the exception for ``code`` unless it is ``PUSHBUS_OK`` (0)."""
    if code:
        raise error_for_status(code, message)

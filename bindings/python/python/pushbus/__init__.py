"""pushbus: an embeddable pub/sub broker for real-time web push.

    import pushbus

    with pushbus.Bus() as bus, bus.poller() as poller:
        sub = poller.subscribe("chat.lobby")
        key = bus.publish("chat.lobby", {"text": "hi"}, event="message")
        msg = sub.get(timeout=1.0)          # threads: blocks without the GIL

    async for msg in sub:                   # asyncio: the poller's fd on the loop
        ...

Everything is a thin layer over the C ABI (include/pushbus.h), loaded with
cffi in ABI mode.
"""

from __future__ import annotations

from ._core import (
    BATCH_SIZE,
    MAX_PENDING,
    ZERO_COPY_THRESHOLD,
    Bus,
    ClosedEvent,
    Event,
    Frames,
    Gap,
    Message,
    PollResult,
    Poller,
    PresenceEntry,
    Publisher,
    Stats,
    Subscription,
    taken_messages_alive,
)
from ._ffi import ffi as _ffi
from ._ffi import lib as _lib
from .auth import Claims, verify_jwt
from .errors import (
    BadToken,
    BufferTooSmall,
    Closed,
    Error,
    ExpiredJwt,
    InvalidArgument,
    InvalidConfig,
    InvalidEvent,
    InvalidJson,
    InvalidJwt,
    InvalidPattern,
    InvalidPresence,
    InvalidTopic,
    InvalidUtf8,
    Io,
    MessageTooLarge,
    NoTopics,
    NullPointer,
    Panic,
    PatternNotAllowed,
    TooManySubscriptions,
    TooManyTopics,
    UnknownSubscription,
    UnknownTopic,
    WsProtocol,
)
from . import framing
from .framing import Key, WsDecoder, WsMessage, key_format, key_parse

#: The loaded library's version ("0.1.0").
__version__: str = _ffi.string(_lib.pushbus_version()).decode("ascii")

__all__ = [
    "BATCH_SIZE",
    "MAX_PENDING",
    "ZERO_COPY_THRESHOLD",
    "BadToken",
    "BufferTooSmall",
    "Bus",
    "Claims",
    "Closed",
    "ClosedEvent",
    "Error",
    "Event",
    "ExpiredJwt",
    "Frames",
    "Gap",
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
    "Key",
    "Message",
    "MessageTooLarge",
    "NoTopics",
    "NullPointer",
    "Panic",
    "PatternNotAllowed",
    "PollResult",
    "Poller",
    "PresenceEntry",
    "Publisher",
    "Stats",
    "Subscription",
    "TooManySubscriptions",
    "TooManyTopics",
    "UnknownSubscription",
    "UnknownTopic",
    "WsDecoder",
    "WsMessage",
    "WsProtocol",
    "__version__",
    "framing",
    "key_format",
    "key_parse",
    "taken_messages_alive",
    "verify_jwt",
]

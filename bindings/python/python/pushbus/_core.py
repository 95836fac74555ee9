"""Bus, Publisher, Poller, Subscription and the events a drain hands out."""

from __future__ import annotations

import asyncio
import json
import struct
import time as _time
import threading
import weakref
from collections import deque
from dataclasses import dataclass
from typing import (
    Any,
    AsyncIterator,
    Deque,
    Dict,
    Iterator,
    List,
    Literal,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

from ._ffi import ffi, lib, take_buf
from ._handle import Handle
from .errors import Closed, check

__all__ = [
    "Bus",
    "Closed",
    "ClosedEvent",
    "Event",
    "Frames",
    "Gap",
    "Message",
    "PollResult",
    "Poller",
    "PresenceEntry",
    "Publisher",
    "Stats",
    "Subscription",
]

PayloadKind = Literal["json", "text", "binary"]
LagPolicy = Literal["default", "gap", "close"]

_KIND_CODES: Dict[str, int] = {"json": 0, "text": 1, "binary": 2}
_KIND_NAMES: Tuple[PayloadKind, PayloadKind, PayloadKind] = ("json", "text", "binary")
_LAG_CODES: Dict[str, int] = {"default": 0, "gap": 1, "close": 2}

#: Events drained per C call (one ``pushbus_poller_drain`` fills up to this many).
BATCH_SIZE = 256
#: Payloads at least this large are taken zero-copy (a memoryview) by default.
ZERO_COPY_THRESHOLD = 64 * 1024
#: ``async for`` yields to the event loop after this many events in a row
#: that needed no wait, so one busy subscription cannot starve other tasks.
FAIR_STREAK = 256
#: Events a subscription may hold undelivered before they become a gap (or it closes).
MAX_PENDING = 10_000

_LOST_UNKNOWN: int = lib.PUSHBUS_LOST_UNKNOWN


def _event_layout() -> Optional[struct.Struct]:
    """``pushbus_event`` as a struct format, so that a drain reads the whole
    array in one C-speed pass (``iter_unpack``) instead of field by field."""
    fields = ("kind", "subscription", "message", "gap")
    if ffi.sizeof("void *") != 8 or ffi.sizeof("pushbus_event") != 32:
        return None
    if [ffi.offsetof("pushbus_event", f) for f in fields] != [0, 8, 16, 24]:
        return None
    return struct.Struct("=I4xQQQ")  # kind, subscription, message, gap (pointers as ints)


_EVENT = _event_layout()


def _info_layout() -> Optional[struct.Struct]:
    """``pushbus_message_info`` as a struct format (one read per message)."""
    fields = ("topic", "topic_len", "key", "time_ms", "event", "event_len", "data", "data_len", "payload_kind")
    if _EVENT is None or ffi.sizeof("pushbus_message_info") != 80:
        return None
    if [ffi.offsetof("pushbus_message_info", f) for f in fields] != [0, 8, 16, 32, 40, 48, 56, 64, 72]:
        return None
    return struct.Struct("=QQQQQQQQQI4x")


_INFO = _info_layout()


class _Unset:
    def __repr__(self) -> str:
        return "<default>"


#: The library's default for a configuration value.
DEFAULT: Any = _Unset()


def _key_text(epoch: int, seq: int) -> str:
    # Exactly pushbus_key_format's `<epoch hex>-<seq>` (checked by the tests).
    return f"{epoch:x}-{seq}"


def _utf8(text: str, what: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be str, not {type(text).__name__}")
    return text.encode("utf-8")


FrameName = Literal["sse", "envelope", "ndjson"]
FramesWanted = Union[bool, FrameName, Sequence[FrameName]]
_FRAME_BITS: Dict[str, int] = {"sse": 1, "envelope": 2, "ndjson": 4}


def _frame_mask(frames: FramesWanted) -> int:
    if frames is True:
        return 7
    if frames is False:
        return 0
    names = [frames] if isinstance(frames, str) else list(frames)
    mask = 0
    for name in names:
        bit = _FRAME_BITS.get(name)
        if bit is None:
            raise ValueError(f"frames are 'sse', 'envelope' and 'ndjson', not {name!r}")
        mask |= bit
    return mask


class Frames(NamedTuple):
    """A message's or gap's wire frames, encoded once by the library.

    Only the frames asked for are copied out; the others are ``b""``.
    """

    #: ``id:``, ``event:``, ``data:`` lines and a blank line.
    sse: bytes
    #: The JSON envelope alone (polls, WebSocket text frames, iframe chunks).
    envelope: bytes
    #: The envelope and a newline (XHR streaming).
    ndjson: bytes


class Message:
    """A message delivered to a subscription."""

    __slots__ = ("subscription", "topic", "key", "seq", "event", "time_ms", "kind", "data", "frames")

    def __init__(
        self,
        subscription: int,
        topic: str,
        key: str,
        seq: int,
        event: str,
        time_ms: int,
        kind: PayloadKind,
        data: Union[bytes, memoryview],
        frames: Optional[Frames],
    ) -> None:
        #: The id of the subscription it was delivered to.
        self.subscription = subscription
        #: The concrete topic it was published to.
        self.topic = topic
        #: Its version key: opaque text a client sends back to resume after it.
        self.key = key
        #: Its number in the topic's life.
        self.seq = seq
        #: The event type ("" when none was given).
        self.event = event
        #: Publish time, milliseconds since the Unix epoch.
        self.time_ms = time_ms
        #: "json", "text" or "binary".
        self.kind: PayloadKind = kind
        #: The payload: bytes, or a read-only zero-copy memoryview for large ones.
        self.data = data
        #: The wire frames, when the subscription asked for them.
        self.frames = frames

    @property
    def time(self) -> float:
        """Publish time in seconds since the Unix epoch (like ``time.time()``)."""
        return self.time_ms / 1000.0

    @property
    def text(self) -> str:
        """The payload decoded as UTF-8."""
        return bytes(self.data).decode("utf-8")

    def json(self) -> Any:
        """The payload parsed as JSON."""
        return json.loads(bytes(self.data))

    def __repr__(self) -> str:
        return (
            f"Message(topic={self.topic!r}, key={self.key!r}, event={self.event!r}, "
            f"kind={self.kind!r}, data={bytes(self.data[:64])!r}{'...' if len(self.data) > 64 else ''})"
        )


class Gap:
    """Messages the subscription will never see: it resumes after ``to_key``."""

    __slots__ = ("subscription", "topic", "from_key", "to_key", "lost", "frames")

    def __init__(
        self, subscription: int, topic: str, from_key: str, to_key: str, lost: Optional[int], frames: Optional[Frames]
    ) -> None:
        self.subscription = subscription
        self.topic = topic
        #: Where the reader was (the key it resumed from, or its lagging cursor).
        self.from_key = from_key
        #: The key reading continues after.
        self.to_key = to_key
        #: How many messages were lost, or None when unknown.
        self.lost = lost
        self.frames = frames

    def __repr__(self) -> str:
        return f"Gap(topic={self.topic!r}, from_key={self.from_key!r}, to_key={self.to_key!r}, lost={self.lost!r})"


class ClosedEvent:
    """The subscription ended: ``reason`` is "lagged" (its lag policy is close),
    "overflow" (more than ``max_pending`` undelivered events, lag policy
    close) or "closed"."""

    __slots__ = ("subscription", "reason", "lost", "topic")

    def __init__(self, subscription: int, reason: str, lost: Optional[int], topic: Optional[str] = None) -> None:
        self.subscription = subscription
        self.reason = reason
        #: Messages lost (lagged closes), or None when unknown or not applicable.
        self.lost = lost
        #: The topic it lagged on (lagged closes only).
        self.topic = topic

    def __repr__(self) -> str:
        return f"ClosedEvent(subscription={self.subscription}, reason={self.reason!r}, lost={self.lost!r})"


Event = Union[Message, Gap, ClosedEvent]


class Stats(NamedTuple):
    """A snapshot of the bus's counters."""

    published: int
    delivered: int
    gaps: int
    lag_closes: int
    topics: int
    subscriptions: int
    replay_bytes: int


@dataclass(frozen=True)
class PollResult:
    """A short or long poll's answer."""

    #: ``{"key":..,"messages":[..],"gap":..}``, ready to send.
    json: bytes
    #: The key to poll from next.
    key: str
    #: Messages returned.
    count: int
    #: Whether the starting key was no longer held.
    gap: bool


class PresenceEntry(NamedTuple):
    client: str
    info: Any
    since_ms: int


def _encode_payload(data: Any, kind: Optional[str]) -> Tuple[bytes, int]:
    if kind is None:
        if isinstance(data, (bytes, bytearray, memoryview)):
            return bytes(data), 2
        if isinstance(data, str):
            return data.encode("utf-8", "surrogatepass"), 1
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8"), 0
    code = _KIND_CODES.get(kind)
    if code is None:
        raise ValueError(f"kind must be 'json', 'text' or 'binary', not {kind!r}")
    if isinstance(data, str):
        return data.encode("utf-8", "surrogatepass"), code
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data), code
    if code == 0:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8"), 0
    raise TypeError(f"a {kind} payload must be str or bytes, not {type(data).__name__}")


def _message_args(data: Any, event: Optional[str], kind: Optional[str]) -> Tuple[Any, int, int, bytes]:
    """A publish's arguments but the topic, as ``pushbus_publish`` and
    ``pushbus_publisher_publish`` take them: (event, event length, kind code, payload)."""
    if kind is None and type(data) is bytes:
        payload, code = data, 2
    else:
        payload, code = _encode_payload(data, kind)
    if event is None:
        return ffi.NULL, 0, code, payload
    ev = _utf8(event, "event")
    return ev, len(ev), code, payload


def _encode_info(info: Any) -> Optional[bytes]:
    if info is None:
        return None
    if isinstance(info, (bytes, bytearray)):
        return bytes(info)
    if isinstance(info, str):
        return info.encode("utf-8")
    return json.dumps(info, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class _Start:
    """A ``pushbus_start`` and the bytes it points to, alive together."""

    __slots__ = ("ptr", "_token")

    def __init__(self, after: Optional[str], last: Optional[int], oldest: bool) -> None:
        given = (after is not None) + (last is not None) + bool(oldest)
        if given > 1:
            raise ValueError("give at most one of after=, last= and oldest=")
        self._token: Any = None
        if given == 0:
            self.ptr: Any = ffi.NULL
            return
        self.ptr = ffi.new("pushbus_start *")
        if after is not None:
            token = _utf8(after, "after")
            self._token = ffi.new("char[]", token)
            self.ptr.kind = lib.PUSHBUS_START_TOKEN
            self.ptr.token = self._token
            self.ptr.token_len = len(token)
        elif last is not None:
            if last < 0:
                raise ValueError("last must be >= 0")
            self.ptr.kind = lib.PUSHBUS_START_LAST
            self.ptr.last_n = last
        else:
            self.ptr.kind = lib.PUSHBUS_START_OLDEST


def _ms(seconds: Optional[float], what: str) -> int:
    """Seconds (None: off) to the C API's milliseconds (0: off)."""
    if seconds is None:
        return 0
    if seconds <= 0:
        raise ValueError(f"{what} must be positive, or None for none")
    return max(1, round(seconds * 1000))


_Self = TypeVar("_Self", bound="_Closable")


class _Closable:
    """``with`` closes it; each class says in ``close`` what closing does."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _AsyncClosable(_Closable):
    """``with`` and ``async with`` close it."""

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class Bus(_Closable):
    """A pub/sub broker: topics, replay rings, version keys, presence.

    Keyword arguments set the configuration; each left out keeps the
    library's default. Durations are in seconds; None turns a limit off.
    Thread-safe. Pollers and publishers keep the broker alive: closing the
    bus releases this handle only.
    """

    def __init__(
        self,
        *,
        ring_max_messages: int = DEFAULT,
        ring_max_bytes: int = DEFAULT,
        ring_max_age: Optional[float] = DEFAULT,
        replay_budget_bytes: int = DEFAULT,
        max_message_bytes: int = DEFAULT,
        max_topics: int = DEFAULT,
        max_topic_len: int = DEFAULT,
        topic_idle_ttl: Optional[float] = DEFAULT,
        lag_policy: Literal["gap", "close"] = DEFAULT,
        max_subscriptions_per_poller: int = DEFAULT,
        presence_events: bool = DEFAULT,
        max_presence_info_bytes: int = DEFAULT,
        janitor_interval: Optional[float] = DEFAULT,
    ) -> None:
        config_out = ffi.new("pushbus_config **")
        check(lib.pushbus_config_new(config_out))
        config = ffi.gc(config_out[0], lib.pushbus_config_free)
        try:
            sizes = {
                "ring_max_messages": ring_max_messages,
                "ring_max_bytes": ring_max_bytes,
                "replay_budget_bytes": replay_budget_bytes,
                "max_message_bytes": max_message_bytes,
                "max_topics": max_topics,
                "max_topic_len": max_topic_len,
                "max_subscriptions_per_poller": max_subscriptions_per_poller,
                "max_presence_info_bytes": max_presence_info_bytes,
            }
            for name, value in sizes.items():
                if value is DEFAULT:
                    continue
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"{name} must be a non-negative int, not {value!r}")
                check(getattr(lib, f"pushbus_config_set_{name}")(config, value), name)
            durations = {
                "ring_max_age_ms": ring_max_age,
                "topic_idle_ttl_ms": topic_idle_ttl,
                "janitor_interval_ms": janitor_interval,
            }
            for name, seconds in durations.items():
                if seconds is DEFAULT:
                    continue
                check(getattr(lib, f"pushbus_config_set_{name}")(config, _ms(seconds, name[:-3])), name)
            if lag_policy is not DEFAULT:
                if lag_policy not in ("gap", "close"):
                    raise ValueError(f"lag_policy must be 'gap' or 'close', not {lag_policy!r}")
                check(lib.pushbus_config_set_lag_policy(config, _LAG_CODES[lag_policy]))
            if presence_events is not DEFAULT:
                check(lib.pushbus_config_set_presence_events(config, bool(presence_events)))
            bus_out = ffi.new("pushbus_bus **")
            check(lib.pushbus_bus_new(config, bus_out))
        finally:
            ffi.release(config)
        self._handle = Handle(bus_out[0], lib.pushbus_bus_free, "bus")
        #: The lag policy of subscriptions that do not choose one.
        self.lag_policy: Literal["gap", "close"] = "gap" if lag_policy is DEFAULT else lag_policy

    # -- lifetime ---------------------------------------------------------

    def close(self) -> None:
        """Releases this handle (pollers made from it keep working). Idempotent."""
        self._handle.close()

    @property
    def closed(self) -> bool:
        return self._handle.closed

    # -- publishing ---------------------------------------------------------

    def publish(self, topic: str, data: Any, *, event: Optional[str] = None, kind: Optional[PayloadKind] = None) -> str:
        """Publishes one message and returns its version key.

        ``kind`` None infers it: bytes are binary, str is text, anything
        else is serialised as JSON. With ``kind="json"``, str and bytes are
        taken as JSON text (validated by the library).
        """
        ev, ev_len, code, payload = _message_args(data, event, kind)
        t = topic.encode("utf-8") if type(topic) is str else _utf8(topic, "topic")
        key = ffi.new("pushbus_key *")
        ptr = self._handle.get()
        status = lib.pushbus_publish(ptr, t, len(t), ev, ev_len, code, payload, len(payload), key)
        if status:
            check(status, repr(topic))
        return _key_text(key.epoch, key.seq)

    def publisher(self, topic: str) -> "Publisher":
        """A publisher for ``topic`` (created if needed): ``publish`` without
        the topic lookup, and the topic held against idle expiry while it is open."""
        return Publisher(self, topic)

    def head(self, topic: str) -> str:
        """The topic's newest key (creating the topic): resume from it for live messages only."""
        t = _utf8(topic, "topic")
        key = ffi.new("pushbus_key *")
        ptr = self._handle.get()
        check(lib.pushbus_bus_head(ptr, t, len(t), key), repr(topic))
        return _key_text(key.epoch, key.seq)

    def stats(self) -> Stats:
        out = ffi.new("pushbus_stats *")
        ptr = self._handle.get()
        check(lib.pushbus_bus_stats(ptr, out))
        return Stats(
            out.published, out.delivered, out.gaps, out.lag_closes, out.topics, out.subscriptions, out.replay_bytes
        )

    def sweep(self) -> None:
        """Runs the janitor's work now (leases, aged messages, idle topics)."""
        ptr = self._handle.get()
        check(lib.pushbus_bus_sweep(ptr))

    # -- presence -----------------------------------------------------------

    def presence_lease(self, topic: str, client: str, ttl: float, info: Any = None) -> None:
        """Makes ``client`` present in ``topic`` for ``ttl`` seconds (renew it on each poll).

        ``info`` is small JSON: a str or bytes of JSON text, or a value to serialise.
        """
        t, c = _utf8(topic, "topic"), _utf8(client, "client")
        i = _encode_info(info)
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        ptr = self._handle.get()
        check(
            lib.pushbus_presence_lease(
                ptr, t, len(t), c, len(c), ffi.NULL if i is None else i, 0 if i is None else len(i),
                max(1, round(ttl * 1000)),
            ),
            repr(topic),
        )

    def presence_leave(self, topic: str, client: str) -> bool:
        """Removes ``client`` from ``topic``; True if it was present."""
        t, c = _utf8(topic, "topic"), _utf8(client, "client")
        was = ffi.new("bool *")
        ptr = self._handle.get()
        check(lib.pushbus_presence_leave(ptr, t, len(t), c, len(c), was), repr(topic))
        return bool(was[0])

    def presence_json(self, topic: str) -> bytes:
        """``[{"client":..,"info":{..},"since":ms},..]`` sorted by client, as bytes."""
        t = _utf8(topic, "topic")
        buf = ffi.new("pushbus_buf *")
        ptr = self._handle.get()
        check(lib.pushbus_presence_json(ptr, t, len(t), buf), repr(topic))
        return take_buf(buf)

    def presence(self, topic: str) -> List[PresenceEntry]:
        """The clients present in ``topic``, sorted by client id."""
        return [PresenceEntry(e["client"], e["info"], e["since"]) for e in json.loads(self.presence_json(topic))]

    # -- polls and pollers ----------------------------------------------------

    def poll(
        self,
        topic: str,
        *,
        after: Optional[str] = None,
        last: Optional[int] = None,
        oldest: bool = False,
        max: int = 100,
        timeout: float = 0.0,
    ) -> PollResult:
        """Reads one topic from a position (default: now).

        ``timeout`` 0 answers at once (short poll); otherwise, when nothing is
        newer, this thread blocks (the GIL released) until the first message
        or the timeout (long poll). Event loops should subscribe instead.
        """
        t = _utf8(topic, "topic")
        start = _Start(after, last, oldest)
        out = ffi.new("pushbus_poll_result **")
        timeout_ms = 0 if timeout <= 0 else max_(1, round(timeout * 1000))
        ptr = self._handle.get()
        check(lib.pushbus_poll(ptr, t, len(t), start.ptr, max, timeout_ms, out), repr(topic))
        result = ffi.gc(out[0], lib.pushbus_poll_result_free)
        try:
            data = ffi.new("uint8_t **")
            size = ffi.new("size_t *")
            check(lib.pushbus_poll_result_json(result, data, size))
            body = bytes(ffi.buffer(data[0], size[0]))
            info = ffi.new("pushbus_poll_info *")
            check(lib.pushbus_poll_result_info(result, info))
            return PollResult(body, _key_text(info.key.epoch, info.key.seq), info.count, bool(info.gap))
        finally:
            ffi.release(result)

    def poller(self, *, zero_copy_threshold: int = ZERO_COPY_THRESHOLD) -> "Poller":
        """A new poller: one per thread or event loop."""
        return Poller(self, zero_copy_threshold=zero_copy_threshold)

    def __repr__(self) -> str:
        return f"<pushbus.Bus{' closed' if self.closed else ''}>"


max_ = max  # `max` is a parameter name in poll()


class Publisher(_Closable):
    """Publishes to one topic, found once when it is made: a publish skips
    the topic lookup (about a quarter of ``Bus.publish``'s work).

    Keys continue the topic's sequence, shared with ``Bus.publish``. While it
    is open, its topic never expires as idle, so the keys it hands out stay
    valid. Thread-safe. It keeps the broker alive: closing the bus does not
    close it. Close it (``close``, a ``with`` block) or drop it to release the topic.
    """

    def __init__(self, bus: Bus, topic: str) -> None:
        t = _utf8(topic, "topic")
        out = ffi.new("pushbus_publisher **")
        ptr = bus._handle.get()
        check(lib.pushbus_publisher_new(ptr, t, len(t), out), repr(topic))
        self._handle = Handle(out[0], lib.pushbus_publisher_free, "publisher")
        self._topic = topic

    @property
    def topic(self) -> str:
        """The topic it publishes to."""
        return self._topic

    # -- lifetime ---------------------------------------------------------

    def close(self) -> None:
        """Releases the publisher (its topic may then expire when idle). Idempotent."""
        self._handle.close()

    @property
    def closed(self) -> bool:
        return self._handle.closed

    # -- publishing ---------------------------------------------------------

    def publish(self, data: Any, *, event: Optional[str] = None, kind: Optional[PayloadKind] = None) -> str:
        """Publishes one message to ``topic`` and returns its version key.

        Arguments as ``Bus.publish`` without the topic: ``kind`` None infers
        it (bytes are binary, str is text, anything else is serialised as
        JSON); with ``kind="json"``, str and bytes are JSON text, validated.
        """
        ev, ev_len, code, payload = _message_args(data, event, kind)
        key = ffi.new("pushbus_key *")
        ptr = self._handle.get()
        status = lib.pushbus_publisher_publish(ptr, ev, ev_len, code, payload, len(payload), key)
        if status:
            check(status, repr(self._topic))
        return _key_text(key.epoch, key.seq)

    def __repr__(self) -> str:
        return f"<pushbus.Publisher {self._topic!r}{' closed' if self.closed else ''}>"


#: Messages taken zero-copy and not yet freed (for tests and debugging).
_taken_alive = 0


def _free_message(message: Any) -> None:
    global _taken_alive
    _taken_alive -= 1
    lib.pushbus_message_free(message)


def taken_messages_alive() -> int:
    """How many zero-copy payloads (memoryviews) are alive now."""
    return _taken_alive


def _key_before(key: str) -> str:
    epoch, _, seq = key.rpartition("-")
    return f"{epoch}-{max(0, int(seq) - 1)}"


def _gap_frames(topic: str, from_key: str, to_key: str, mask: int) -> Frames:
    """A gap's frames, as the library encodes those of the gaps it reports."""
    epoch, _, seq = to_key.rpartition("-")
    key = ffi.new("pushbus_key *")
    key.epoch, key.seq = int(epoch, 16), int(seq)
    t, f = topic.encode(), from_key.encode()
    buf = ffi.new("pushbus_buf *")
    check(lib.pushbus_gap_envelope(t, len(t), f, len(f), key[0], buf))
    envelope = take_buf(buf)
    sse = b""
    if mask & 1:
        to, event = to_key.encode(), b"gap"
        check(lib.pushbus_sse_event(to, len(to), event, len(event), envelope, len(envelope), buf))
        sse = take_buf(buf)
    return Frames(sse, envelope if mask & 2 else b"", envelope + b"\n" if mask & 4 else b"")


def _overflow_gaps(sub_id: int, pending: "Deque[Event]", mask: int) -> List[Event]:
    """What a reader that fell ``max_pending`` events behind gets instead: one
    gap per topic, from where it was to the last event it will not see."""
    spans: Dict[str, List[Any]] = {}  # topic -> [from, to, lost or None]
    for event in pending:
        lost: Optional[int]
        if isinstance(event, Message):
            start, end, lost = _key_before(event.key), event.key, 1
        elif isinstance(event, Gap):
            start, end, lost = event.from_key, event.to_key, event.lost
        else:
            continue
        span = spans.get(event.topic)
        if span is None:
            spans[event.topic] = [start, end, lost]
        else:
            span[1] = end
            span[2] = None if span[2] is None or lost is None else span[2] + lost
    return [
        Gap(sub_id, topic, start, end, lost, _gap_frames(topic, start, end, mask) if mask else None)
        for topic, (start, end, lost) in spans.items()
    ]


def _unsubscribe(handle: Handle, sub_id: int) -> None:
    """A subscription's finalizer: closes its C side unless the poller is gone."""
    ptr = handle.ptr
    if ptr is not None:
        lib.pushbus_unsubscribe(ptr, sub_id)  # UNKNOWN_SUBSCRIPTION when already closed: harmless


class Poller(_AsyncClosable):
    """One consumer's subscriptions and a pollable fd.

    Give each thread or event loop its own poller. Blocking use:
    ``wait(timeout)`` (the GIL is released while it blocks) then ``drain()``,
    or ``Subscription.get``. asyncio use: ``async for msg in sub`` watches
    the fd with ``loop.add_reader``.
    """

    def __init__(self, bus: Bus, *, zero_copy_threshold: int = ZERO_COPY_THRESHOLD) -> None:
        self._lag_policy = bus.lag_policy
        out = ffi.new("pushbus_poller **")
        ptr = bus._handle.get()
        check(lib.pushbus_poller_new(ptr, out))
        self._handle = Handle(out[0], lib.pushbus_poller_free, "poller")
        batch = ffi.new("pushbus_batch **")
        check(lib.pushbus_batch_new(batch))
        self._batch: Any = ffi.gc(batch[0], lib.pushbus_batch_free)
        self._events: Any = ffi.new("pushbus_event[]", BATCH_SIZE)
        self._count: Any = ffi.new("size_t *")
        self._frames: Any = ffi.new("pushbus_frames *")
        self._taken: Any = ffi.new("pushbus_message **")
        self._data: Any = ffi.new("uint8_t **")
        self._len: Any = ffi.new("size_t *")
        self._drain_lock = threading.Lock()
        self._subs: "weakref.WeakValueDictionary[int, Subscription]" = weakref.WeakValueDictionary()
        self._fd: Optional[int] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self.zero_copy_threshold = zero_copy_threshold

    # -- lifetime ---------------------------------------------------------

    def close(self) -> None:
        """Closes every subscription (releasing their presence) and the fd. Idempotent.

        Call it from the thread that runs the poller's event loop, if any.
        """
        if self._handle.closed:
            return
        loop, self._loop = self._loop, None
        if loop is not None and self._fd is not None and not loop.is_closed():
            loop.remove_reader(self._fd)
        for sub in list(self._subs.values()):
            sub._end(ClosedEvent(sub.id, "closed", None), unsubscribe=False)
        self._handle.close()
        with self._drain_lock:
            batch, self._batch = self._batch, None
            if batch is not None:
                ffi.release(batch)

    @property
    def closed(self) -> bool:
        return self._handle.closed

    # -- subscriptions ----------------------------------------------------

    def subscribe(
        self,
        topics: Union[str, Sequence[str]],
        *,
        after: Optional[str] = None,
        last: Optional[int] = None,
        oldest: bool = False,
        lag: LagPolicy = "default",
        frames: FramesWanted = False,
        payload: bool = True,
        max_pending: int = MAX_PENDING,
    ) -> "Subscription":
        """Subscribes to topics and patterns (``chat.*``, ``chat.>``).

        Starts now, or ``after`` a key or token, at the ``last`` N messages,
        or at the ``oldest`` held. ``frames`` attaches each event's wire
        frames: True for all three, or the names wanted ("sse", "envelope",
        "ndjson"). ``payload=False`` leaves ``Message.data`` empty (a server
        that only forwards frames copies half as much). A reader that does
        not read costs bounded memory: past ``max_pending`` undelivered
        events, what it holds is dropped and replaced by a ``Gap`` per topic
        (lag policy "gap", the default), or it is closed with a
        ``ClosedEvent("overflow")`` (lag policy "close": it resumes from its
        last key), as the bus does for a reader that falls off a ring.
        """
        names = [topics] if isinstance(topics, str) else list(topics)
        encoded = [_utf8(name, "topic") for name in names]
        keep = [ffi.new("char[]", name) for name in encoded]
        selectors = ffi.new("pushbus_str[]", max_(1, len(encoded)))
        for i, (name, buf) in enumerate(zip(encoded, keep)):
            selectors[i].ptr = buf
            selectors[i].len = len(name)
        start = _Start(after, last, oldest)
        lag_code = _LAG_CODES.get(lag)
        if lag_code is None:
            raise ValueError(f"lag must be 'default', 'gap' or 'close', not {lag!r}")
        out = ffi.new("uint64_t *")
        ptr = self._handle.get()
        check(lib.pushbus_subscribe(ptr, selectors, len(encoded), start.ptr, lag_code, out), repr(names))
        policy = self._lag_policy if lag == "default" else lag
        sub = Subscription(self, int(out[0]), names, _frame_mask(frames), payload, max_pending, policy)
        self._subs[sub.id] = sub
        return sub

    # -- waiting and draining ----------------------------------------------

    @property
    def fd(self) -> int:
        """The pollable fd (an eventfd): readable while something may be drained.

        The poller owns it: never read, write or close it.
        """
        if self._fd is None:
            out = ffi.new("int *")
            ptr = self._handle.get()
            check(lib.pushbus_poller_fd(ptr, lib.PUSHBUS_FD_EVENTFD, out))
            self._fd = int(out[0])
        return self._fd

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Blocks (releasing the GIL) until something may be drained or
        ``timeout`` seconds pass (None: no limit; 0: just check)."""
        ms = -1 if timeout is None else max_(0, round(timeout * 1000))
        ready = ffi.new("bool *")
        ptr = self._handle.get()
        check(lib.pushbus_poller_wait(ptr, ms, ready))
        return bool(ready[0])

    def drain(self, max: int = BATCH_SIZE, *, frames: FramesWanted = False) -> List[Event]:
        """Returns up to ``max`` events without blocking (one C call per 256).

        Small payloads are copied into bytes; payloads of at least
        ``zero_copy_threshold`` bytes are taken without copying, as a
        read-only memoryview that keeps the message alive. Frames are attached
        when ``frames`` is true or the subscription asked for them. This low-level
        call does not route events to ``Subscription.get`` or ``async for``:
        use one style per poller.
        """
        events: List[Event] = []
        while len(events) < max:
            got = self._drain_once(min(BATCH_SIZE, max - len(events)), _frame_mask(frames), False, events)
            if got < BATCH_SIZE:
                break
        return events

    def _rows(self, count: int) -> Any:
        """(kind, subscription, message address, gap address) of each drained event."""
        if _EVENT is not None:
            return _EVENT.iter_unpack(ffi.buffer(self._events, count * 32))
        events = self._events
        return (
            (e.kind, e.subscription, int(ffi.cast("uintptr_t", e.message)), int(ffi.cast("uintptr_t", e.gap)))
            for e in (events[i] for i in range(count))
        )

    def _drain_once(self, capacity: int, frames: int, route: bool, out: List[Event]) -> int:
        subs = self._subs
        with self._drain_lock:
            ptr = self._handle.get()
            batch = self._batch
            if batch is None:
                raise Closed("the poller is closed")
            check(lib.pushbus_poller_drain(ptr, batch, self._events, capacity, self._count))
            count = int(self._count[0])
            # Deliveries of one message share its pushbus_message_info: its
            # fields, payload and frames are converted once per batch.
            shared: Dict[int, List[Any]] = {}
            try:
                for index, (kind, sid, message, _gap) in enumerate(self._rows(count)):
                    sub = subs.get(sid)
                    if sub is None:
                        if route:
                            continue
                        mask, payload = frames, True
                    else:
                        mask, payload = frames | sub._frame_mask, sub.payload
                    if kind == 0:  # PUSHBUS_EVENT_MESSAGE
                        out.append(self._message(batch, index, message, sid, mask, payload, shared))
                    else:
                        out.append(self._gap(batch, index, self._events[index], sid, mask))
            finally:
                lib.pushbus_batch_release(batch)
            return count

    def drain_grouped(
        self, max: int = BATCH_SIZE, *, frames: FramesWanted = False
    ) -> List[Tuple[Event, List[int]]]:
        """Like ``drain``, grouped by message: ``(event, subscription ids)``.

        A message delivered to many subscriptions of this poller comes once,
        with every id it was delivered to (its ``subscription`` is the first);
        gaps and closes come one per subscription. Taken in list order, each
        subscription's events come in the order ``drain`` gives them (a
        message after a gap is grouped after it). The fan-out loop of a
        server (``for sid in ids: connections[sid].write(msg.frames.sse)``)
        then costs Python nothing per delivery but the write. Frames are
        those asked for here (subscriptions' own choices do not apply).
        """
        mask = _frame_mask(frames)
        groups: List[Tuple[Event, List[int]]] = []
        total = 0
        while total < max:
            capacity = min(BATCH_SIZE, max - total)
            with self._drain_lock:
                ptr = self._handle.get()
                batch = self._batch
                if batch is None:
                    raise Closed("the poller is closed")
                check(lib.pushbus_poller_drain(ptr, batch, self._events, capacity, self._count))
                count = int(self._count[0])
                shared: Dict[int, List[Any]] = {}
                by_message: Dict[int, List[int]] = {}
                try:
                    for index, (kind, sid, message, _gap) in enumerate(self._rows(count)):
                        if kind == 0:
                            ids = by_message.get(message)
                            if ids is None:
                                ids = by_message[message] = [sid]
                                groups.append((self._message(batch, index, message, sid, mask, True, shared), ids))
                            else:
                                ids.append(sid)
                        else:
                            groups.append((self._gap(batch, index, self._events[index], sid, mask), [sid]))
                            # This subscription's later messages must come
                            # after its gap: they start groups of their own.
                            by_message = {}
                finally:
                    lib.pushbus_batch_release(batch)
            total += count
            if count < capacity:
                break
        return groups

    def _message(
        self, batch: Any, index: int, address: int, sid: int, mask: int, payload: bool, shared: Dict[int, List[Any]]
    ) -> Message:
        entry = shared.get(address)
        if entry is None:
            if _INFO is not None:
                # One C-speed read of the whole pushbus_message_info.
                (topic_ptr, topic_len, epoch, seq, time_ms, event_ptr, event_len, data_ptr, data_len,
                 payload_kind) = _INFO.unpack(ffi.buffer(ffi.cast("char *", address), 80))
                cast = ffi.cast
                entry = [
                    ffi.unpack(cast("char *", topic_ptr), topic_len).decode("utf-8"),
                    f"{epoch:x}-{seq}",
                    seq,
                    ffi.unpack(cast("char *", event_ptr), event_len).decode("utf-8") if event_len else "",
                    time_ms,
                    _KIND_NAMES[payload_kind],
                    None,  # the payload, once copied or taken
                    None,  # frames by mask
                    (data_ptr, data_len),
                ]
            else:
                info = self._events[index].message
                key = info.key
                entry = [
                    ffi.unpack(info.topic, info.topic_len).decode("utf-8"),
                    _key_text(key.epoch, key.seq),
                    key.seq,
                    ffi.unpack(info.event, info.event_len).decode("utf-8") if info.event_len else "",
                    info.time_ms,
                    _KIND_NAMES[info.payload_kind],
                    None,
                    None,
                    (int(ffi.cast("uintptr_t", info.data)), info.data_len),
                ]
            shared[address] = entry
        data: Union[bytes, memoryview] = b""
        if payload:
            data = entry[6]
            if data is None:
                data_ptr, size = entry[8]
                if size >= self.zero_copy_threshold and size > 0:
                    data = self._take(batch, index)
                else:
                    data = ffi.buffer(ffi.cast("char *", data_ptr), size)[:] if size else b""
                entry[6] = data
        frames: Optional[Frames] = None
        if mask:
            by_mask = entry[7]
            if by_mask is None:
                by_mask = entry[7] = {}
            frames = by_mask.get(mask)
            if frames is None:
                frames = by_mask[mask] = self._frames_of(batch, index, mask)
        return Message(sid, entry[0], entry[1], entry[2], entry[3], entry[4], entry[5], data, frames)

    def _gap(self, batch: Any, index: int, ev: Any, sid: int, mask: int) -> Event:
        g = ev.gap
        lost = g.lost
        topic = ffi.unpack(g.topic, g.topic_len).decode("utf-8")
        if ev.kind == 1:  # PUSHBUS_EVENT_GAP
            start = getattr(g, "from")  # a Python keyword
            return Gap(
                sid,
                topic,
                _key_text(start.epoch, start.seq),
                _key_text(g.to.epoch, g.to.seq),
                None if lost == _LOST_UNKNOWN else lost,
                self._frames_of(batch, index, mask) if mask else None,
            )
        return ClosedEvent(sid, "lagged", None if lost == _LOST_UNKNOWN else lost, topic)

    def _frames_of(self, batch: Any, index: int, mask: int) -> Frames:
        f = self._frames
        check(lib.pushbus_batch_frames(batch, index, f))
        buffer = ffi.buffer
        return Frames(
            buffer(f.sse, f.sse_len)[:] if mask & 1 else b"",
            buffer(f.envelope, f.envelope_len)[:] if mask & 2 else b"",
            buffer(f.ndjson, f.ndjson_len)[:] if mask & 4 else b"",
        )

    def _take(self, batch: Any, index: int) -> memoryview:
        check(lib.pushbus_batch_take(batch, index, self._taken))
        message = self._taken[0]
        check(lib.pushbus_message_data(message, self._data, self._len))
        size = int(self._len[0])
        # The data pointer owns the message: the memoryview keeps its buffer,
        # the buffer keeps this pointer, and its collection frees the message.
        global _taken_alive
        _taken_alive += 1
        owner = ffi.gc(self._data[0], lambda _p, m=message: _free_message(m), size)
        return memoryview(ffi.buffer(owner, size)).toreadonly()

    # -- routing to subscriptions -----------------------------------------

    def _dispatch(self) -> int:
        """Drains once and hands each event to its subscription. Returns the C count."""
        events: List[Event] = []
        count = self._drain_once(BATCH_SIZE, False, True, events)
        for event in events:
            sub = self._subs.get(event.subscription)
            if sub is not None:
                sub._push(event)
        return count

    def _ensure_reader(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is loop:
            return
        if self._loop is not None and not self._loop.is_closed():
            raise RuntimeError("this poller is watched by another event loop: use one poller per loop")
        fd = self.fd
        loop.add_reader(fd, self._on_readable)
        self._loop = loop

    def _on_readable(self) -> None:
        try:
            self._dispatch()
        except Closed:
            loop, self._loop = self._loop, None
            if loop is not None and self._fd is not None:
                loop.remove_reader(self._fd)

    def __repr__(self) -> str:
        return f"<pushbus.Poller{' closed' if self.closed else ''} subscriptions={len(self._subs)}>"


class Subscription(_AsyncClosable):
    """A cursor over topics: iterate it (``for`` in a thread, ``async for``
    in asyncio) or call ``get``. Closing it (``close``, a ``with`` block, or
    garbage collection) releases the presence it holds."""

    def __init__(
        self,
        poller: Poller,
        sub_id: int,
        topics: List[str],
        frame_mask: int,
        payload: bool,
        max_pending: int,
        lag_policy: str = "gap",
    ) -> None:
        self.id = sub_id
        self.topics = topics
        self._frame_mask = frame_mask
        #: Whether messages carry their payload in ``data``.
        self.payload = payload
        self.max_pending = max_pending
        #: "gap" or "close": what overflowing ``max_pending`` does.
        self.lag_policy = lag_policy
        self._poller = poller
        self._pending: Deque[Event] = deque()
        self._waiter: Optional["asyncio.Future[None]"] = None
        self._ended = False
        self._streak = 0
        #: Why it ended: "lagged", "overflow" or "closed" (None while open).
        self.closed_reason: Optional[str] = None
        self._finalizer = weakref.finalize(self, _unsubscribe, poller._handle, sub_id)

    # -- lifetime ---------------------------------------------------------

    @property
    def frames(self) -> Tuple[FrameName, ...]:
        """The frames each event carries."""
        names: Tuple[FrameName, ...] = ("sse", "envelope", "ndjson")
        return tuple(name for name in names if self._frame_mask & _FRAME_BITS[name])

    def close(self) -> None:
        """Unsubscribes (releasing its presence). Idempotent."""
        self._end(None, unsubscribe=True)

    @property
    def closed(self) -> bool:
        return self._ended

    def _end(self, event: Optional[ClosedEvent], unsubscribe: bool) -> None:
        if not self._ended:
            self._ended = True
            self.closed_reason = event.reason if event is not None else "closed"
            if unsubscribe:
                self._finalizer()  # runs _unsubscribe once, then never again
            else:
                self._finalizer.detach()
            self._poller._subs.pop(self.id, None)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _push(self, event: Event) -> None:
        if self._ended:
            return
        if isinstance(event, ClosedEvent):
            self._pending.append(event)
            self._end(event, unsubscribe=False)  # the bus closed it: its id is gone
            return
        self._pending.append(event)
        if len(self._pending) > self.max_pending:
            if self.lag_policy == "close":
                self._pending.clear()
                overflow = ClosedEvent(self.id, "overflow", None)
                self._pending.append(overflow)
                self._end(overflow, unsubscribe=True)
                return
            self._pending = deque(_overflow_gaps(self.id, self._pending, self._frame_mask))
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- presence and resume ----------------------------------------------

    def join(self, client: str, *, topic: Optional[str] = None, info: Any = None) -> None:
        """Makes ``client`` present in ``topic`` (default: the only topic) while this is open."""
        if topic is None:
            if len(self.topics) != 1:
                raise ValueError("name the topic: this subscription has several")
            topic = self.topics[0]
        if self._ended:
            raise Closed("the subscription is closed")
        t, c = _utf8(topic, "topic"), _utf8(client, "client")
        i = _encode_info(info)
        handle = self._poller._handle
        ptr = handle.get()
        check(
            lib.pushbus_presence_join(
                ptr, self.id, t, len(t), c, len(c), ffi.NULL if i is None else i, 0 if i is None else len(i)
            ),
            repr(topic),
        )

    def token(self) -> str:
        """The resume token: a key (one topic) or a composite token. Resuming
        from it delivers exactly what has not been drained from the poller."""
        if self._ended:
            raise Closed("the subscription is closed")
        buf = ffi.new("pushbus_buf *")
        handle = self._poller._handle
        ptr = handle.get()
        check(lib.pushbus_subscription_token(ptr, self.id, buf))
        return take_buf(buf).decode("utf-8")

    # -- blocking use (one thread per poller) ------------------------------

    def get(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, waiting up to ``timeout`` seconds (None: forever).

        Returns None on timeout. After the subscription ended, returns its
        queued events (the last one a ``ClosedEvent`` when the bus or an
        overflow ended it), then raises ``Closed``.
        """
        deadline = None if timeout is None else _time.monotonic() + timeout
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._ended:
                raise Closed(f"the subscription is closed ({self.closed_reason})")
            if self._poller._dispatch():
                continue
            remaining = None if deadline is None else deadline - _time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            # Wake up at least every second so a close from another thread is seen.
            self._poller.wait(1.0 if remaining is None else min(remaining, 1.0))

    def __iter__(self) -> Iterator[Union[Message, Gap]]:
        """Blocks for each message or gap; stops when the subscription ends."""
        while True:
            try:
                event = self.get()
            except Closed:
                return
            if isinstance(event, ClosedEvent):
                return
            if event is not None:
                yield event

    # -- asyncio --------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Union[Message, Gap]]:
        return self

    async def __anext__(self) -> Union[Message, Gap]:
        """The next message or gap; the iteration stops when the subscription ends."""
        while True:
            if self._pending:
                self._streak += 1
                if self._streak > FAIR_STREAK:
                    # Events were ready every time: let the loop run other
                    # tasks (before taking one, so a cancellation loses nothing).
                    self._streak = 0
                    await asyncio.sleep(0)
                    continue
                event = self._pending.popleft()
                if isinstance(event, ClosedEvent):
                    raise StopAsyncIteration
                return event
            if self._ended:
                raise StopAsyncIteration
            loop = asyncio.get_running_loop()
            poller = self._poller
            poller._ensure_reader(loop)
            if poller._dispatch():
                continue
            waiter: "asyncio.Future[None]" = loop.create_future()
            self._waiter = waiter
            self._streak = 0  # this await suspends
            try:
                await waiter
            finally:
                self._waiter = None

    async def next(self, timeout: Optional[float] = None) -> Optional[Union[Message, Gap]]:
        """The next message or gap, or None at ``timeout`` seconds or when it ended."""
        try:
            return await asyncio.wait_for(self.__anext__(), timeout)
        except (StopAsyncIteration, asyncio.TimeoutError):
            return None

    def __repr__(self) -> str:
        return f"<pushbus.Subscription {self.id} {self.topics!r}{' closed' if self._ended else ''}>"


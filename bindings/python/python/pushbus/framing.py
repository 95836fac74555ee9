"""Wire framing of the push transports, from the library's encoders.

SSE (preamble, events, heartbeat, ``Last-Event-ID``), XHR streaming
(NDJSON preamble), hidden-iframe streaming (callback check, preamble,
script chunks), the gap envelope, version keys, and WebSocket (accept
value, server frames, a decoder of client frames). Messages' own frames
come with each drained event (``Poller.subscribe(..., frames=True)``).
"""

from __future__ import annotations

from typing import Any, List, NamedTuple, Optional, Union

from ._core import _utf8
from ._ffi import ffi, lib, take_buf
from ._handle import Handle
from .errors import WsProtocol, check, error_for_status

__all__ = [
    "IFRAME_SCRIPT_CLOSE",
    "Key",
    "SSE_HEARTBEAT",
    "WS_BINARY",
    "WS_CLOSE",
    "WS_PING",
    "WS_PONG",
    "WS_TEXT",
    "WsDecoder",
    "WsMessage",
    "gap_envelope",
    "iframe_check_callback",
    "iframe_chunk",
    "iframe_preamble",
    "iframe_script_open",
    "is_valid_callback",
    "key_format",
    "key_parse",
    "last_event_id",
    "sse_event",
    "sse_preamble",
    "token_check",
    "ws_accept",
    "ws_close_frame",
    "ws_frame",
    "ws_frame_header",
    "xhr_preamble",
]

WS_TEXT: int = lib.PUSHBUS_WS_TEXT
WS_BINARY: int = lib.PUSHBUS_WS_BINARY
WS_CLOSE: int = lib.PUSHBUS_WS_CLOSE
WS_PING: int = lib.PUSHBUS_WS_PING
WS_PONG: int = lib.PUSHBUS_WS_PONG


def _static(getter: Any) -> bytes:
    data = ffi.new("uint8_t **")
    size = ffi.new("size_t *")
    check(getter(data, size))
    return bytes(ffi.buffer(data[0], size[0]))


#: The SSE heartbeat comment (``: ping`` and a blank line).
SSE_HEARTBEAT: bytes = _static(lib.pushbus_sse_heartbeat)
#: The end of every iframe chunk: ``)</script>`` and a newline.
IFRAME_SCRIPT_CLOSE: bytes = _static(lib.pushbus_iframe_script_close)


def _text(value: Union[str, bytes], what: str) -> bytes:
    return value if isinstance(value, bytes) else _utf8(value, what)


# -- version keys -------------------------------------------------------------


class Key(NamedTuple):
    """A version key: message ``seq`` of the topic's life ``epoch``."""

    epoch: int
    seq: int

    def __str__(self) -> str:
        return key_format(self.epoch, self.seq)


def key_format(epoch: int, seq: int) -> str:
    """A key as the text clients get (``<epoch hex>-<seq>``)."""
    key = ffi.new("pushbus_key *")
    key.epoch, key.seq = epoch, seq
    buf = ffi.new("char[]", lib.PUSHBUS_KEY_MAX_LEN)
    size = ffi.new("size_t *")
    check(lib.pushbus_key_format(key[0], buf, lib.PUSHBUS_KEY_MAX_LEN, size))
    return str(ffi.unpack(buf, size[0]).decode("ascii"))


def key_parse(text: str) -> Key:
    """Parses a key's text; ``BadToken`` for anything ``key_format`` would not write."""
    t = _utf8(text, "key")
    key = ffi.new("pushbus_key *")
    check(lib.pushbus_key_parse(t, len(t), key), repr(text))
    return Key(key.epoch, key.seq)


def token_check(text: str) -> None:
    """Raises ``BadToken`` unless ``text`` is a key or a composite token."""
    t = _utf8(text, "token")
    check(lib.pushbus_token_check(t, len(t)), repr(text))


def last_event_id(header: Optional[str], query: Optional[str] = None) -> Optional[str]:
    """An EventSource's resume token: the ``Last-Event-ID`` header if given,
    else the ``lastEventId`` query parameter; None when neither (start now).

    Raises ``BadToken`` when the chosen one is too long, holds CR, LF or
    NUL, or does not parse: answer that with a gap from the oldest message,
    never an error status (which ends an EventSource for good).
    """
    h = None if header is None else _utf8(header, "header")
    q = None if query is None else _utf8(query, "query")
    out = ffi.new("pushbus_start *")
    check(
        lib.pushbus_last_event_id(
            ffi.NULL if h is None else h, 0 if h is None else len(h),
            ffi.NULL if q is None else q, 0 if q is None else len(q),
            out,
        )
    )
    if out.kind == lib.PUSHBUS_START_NOW:
        return None
    return str(ffi.unpack(out.token, out.token_len).decode("utf-8"))


# -- SSE, XHR, iframe -----------------------------------------------------------


def sse_preamble(retry_ms: int = 3000) -> bytes:
    """The first bytes of an SSE stream: ``retry:`` and 2 KiB of comment padding."""
    buf = ffi.new("pushbus_buf *")
    check(lib.pushbus_sse_preamble(retry_ms, buf))
    return take_buf(buf)


def sse_event(data: Union[str, bytes], *, id: Optional[str] = None, event: Optional[str] = None) -> bytes:
    """One SSE event: ``id:``, ``event:``, one ``data:`` line per line of ``data``.

    An id with CR, LF or NUL is ``InvalidArgument``; a bad event type is
    ``InvalidEvent``: nothing hostile is ever echoed raw.
    """
    d = _text(data, "data")
    i = None if id is None else _utf8(id, "id")
    e = None if event is None else _utf8(event, "event")
    buf = ffi.new("pushbus_buf *")
    check(
        lib.pushbus_sse_event(
            ffi.NULL if i is None else i, 0 if i is None else len(i),
            ffi.NULL if e is None else e, 0 if e is None else len(e),
            d, len(d), buf,
        )
    )
    return take_buf(buf)


def gap_envelope(topic: str, from_key: str, to_key: str) -> bytes:
    """``{"event":"gap","topic":..,"from":..,"to":..}``: ``from_key`` is what
    the client sent (escaped, any text), ``to_key`` a key to resume after."""
    t = _utf8(topic, "topic")
    f = _utf8(from_key, "from_key")
    to = key_parse(to_key)
    key = ffi.new("pushbus_key *")
    key.epoch, key.seq = to.epoch, to.seq
    buf = ffi.new("pushbus_buf *")
    check(lib.pushbus_gap_envelope(t, len(t), f, len(f), key[0], buf))
    return take_buf(buf)


def xhr_preamble() -> bytes:
    """The first bytes of an XHR (NDJSON) stream: a line of 2 KiB of spaces."""
    buf = ffi.new("pushbus_buf *")
    check(lib.pushbus_xhr_preamble(buf))
    return take_buf(buf)


def iframe_check_callback(callback: str) -> None:
    """Raises ``InvalidArgument`` unless ``callback`` matches
    ``[A-Za-z_$][A-Za-z0-9_$.]{0,63}`` (answer anything else with 400)."""
    c = _utf8(callback, "callback")
    check(lib.pushbus_iframe_check_callback(c, len(c)), repr(callback))


def is_valid_callback(callback: str) -> bool:
    """Whether ``callback`` is an acceptable iframe callback name."""
    c = callback.encode("utf-8", "surrogatepass")
    return bool(lib.pushbus_iframe_check_callback(c, len(c)) == 0)


def iframe_preamble() -> bytes:
    """The first bytes of an iframe stream: a minimal HTML head and 2 KiB of padding."""
    buf = ffi.new("pushbus_buf *")
    check(lib.pushbus_iframe_preamble(buf))
    return take_buf(buf)


def iframe_script_open(callback: str) -> bytes:
    """``<script>parent.<callback>(`` after checking the callback."""
    c = _utf8(callback, "callback")
    buf = ffi.new("pushbus_buf *")
    check(lib.pushbus_iframe_script_open(c, len(c), buf), repr(callback))
    return take_buf(buf)


def iframe_chunk(callback: str, envelope: Optional[bytes]) -> bytes:
    """One whole iframe chunk: the script calling ``callback`` with an
    envelope (a message's ``frames.envelope``), or ``null`` as a heartbeat."""
    return iframe_script_open(callback) + (b"null" if envelope is None else envelope) + IFRAME_SCRIPT_CLOSE


# -- WebSocket -----------------------------------------------------------------


def ws_accept(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a client's ``Sec-WebSocket-Key``
    (``InvalidArgument`` unless it is the base64 of 16 bytes: answer 400)."""
    k = _utf8(key, "key")
    out = ffi.new("uint8_t[]", lib.PUSHBUS_WS_ACCEPT_LEN)
    check(lib.pushbus_ws_accept(k, len(k), out), repr(key))
    return bytes(ffi.buffer(out, lib.PUSHBUS_WS_ACCEPT_LEN)).decode("ascii")


def ws_frame_header(opcode: int, payload_len: int) -> bytes:
    """The header of an unmasked final server frame; send the payload after it."""
    out = ffi.new("uint8_t[]", lib.PUSHBUS_WS_HEADER_MAX_LEN)
    size = ffi.new("size_t *")
    check(lib.pushbus_ws_frame_header(opcode, payload_len, out, size))
    return bytes(ffi.buffer(out, size[0]))


def ws_frame(opcode: int, payload: bytes) -> bytes:
    """A whole unmasked server frame (header and payload)."""
    buf = ffi.new("pushbus_buf *")
    check(lib.pushbus_ws_frame(opcode, payload, len(payload), buf))
    return take_buf(buf)


def ws_close_frame(code: int, reason: str = "") -> bytes:
    """A Close frame (the reason is cut at a character boundary to fit 125 bytes)."""
    r = _utf8(reason, "reason")
    buf = ffi.new("pushbus_buf *")
    check(lib.pushbus_ws_close_frame(code, r, len(r), buf))
    return take_buf(buf)


class WsMessage(NamedTuple):
    """A message from a client: ``opcode`` is ``WS_TEXT``, ``WS_BINARY``,
    ``WS_PING``, ``WS_PONG`` or ``WS_CLOSE`` (then ``close_code``, 0 if none)."""

    opcode: int
    data: bytes
    close_code: int = 0

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")


class WsDecoder:
    """Decodes one connection's client frames (RFC 6455), reassembling
    fragments. Not thread-safe: one connection, one task."""

    def __init__(self, max_message_bytes: int = 0, max_fragments: int = 0) -> None:
        out = ffi.new("pushbus_ws_decoder **")
        check(lib.pushbus_ws_decoder_new(max_message_bytes, max_fragments, out))
        self._handle = Handle(out[0], lib.pushbus_ws_decoder_free, "WebSocket decoder")
        self._consumed = ffi.new("size_t *")
        self._message = ffi.new("pushbus_ws_message *")

    def feed(self, data: bytes) -> List[WsMessage]:
        """Consumes bytes from the socket and returns the complete messages in them.

        Raises ``WsProtocol`` (with ``close_code`` 1002, 1007 or 1009) when
        the client broke the protocol: close with that code; the decoder
        refuses everything after.
        """
        messages: List[WsMessage] = []
        view = ffi.from_buffer(data)
        offset = 0
        ptr = self._handle.get()
        for _ in range(len(data) + 1):  # each round consumes bytes or ends
            status = lib.pushbus_ws_decode(
                ptr, ffi.cast("const uint8_t *", view) + offset, len(data) - offset, self._consumed, self._message
            )
            if status == WsProtocol.code:
                raise WsProtocol(close_code=int(self._message.close_code))
            if status:
                raise error_for_status(status)
            offset += int(self._consumed[0])
            m = self._message
            if m.kind == lib.PUSHBUS_WS_NONE:
                break
            messages.append(WsMessage(int(m.kind), bytes(ffi.buffer(m.data, m.len)) if m.len else b"",
                                      int(m.close_code)))
        return messages

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "WsDecoder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

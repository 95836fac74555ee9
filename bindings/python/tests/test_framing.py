"""Framing helpers, keys, Last-Event-ID, WebSocket codec and access tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import time

import pytest

import pushbus
from pushbus import framing


def test_sse_preamble_and_heartbeat() -> None:
    pre = framing.sse_preamble(3000)
    assert pre.startswith(b"retry: 3000\n")
    assert len(pre) >= 2048
    assert all(line == b"" or line.startswith(b":") or line.startswith(b"retry:") for line in pre.split(b"\n"))
    assert framing.SSE_HEARTBEAT == b": ping\n\n"


def test_sse_event_splits_lines_and_rejects_injection() -> None:
    out = framing.sse_event("a\r\nb\rc\nd", id="k-1", event="message")
    assert out == b"id: k-1\nevent: message\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
    assert framing.sse_event(b"x") == b"data: x\n\n"
    with pytest.raises(pushbus.InvalidArgument):
        framing.sse_event("x", id="a\nevent: evil")
    with pytest.raises(pushbus.InvalidEvent):
        framing.sse_event("x", event="a\nb")


def test_xhr_and_iframe() -> None:
    xhr = framing.xhr_preamble()
    assert len(xhr) >= 2048 and xhr.endswith(b"\n") and xhr.strip() == b""
    pre = framing.iframe_preamble()
    assert len(pre) >= 2048 and b"<" in pre
    assert framing.is_valid_callback("cb.on_msg$1")
    for bad in ("", "1abc", "alert(1)", "a" * 65, "x</script>"):
        assert not framing.is_valid_callback(bad)
        with pytest.raises(pushbus.InvalidArgument):
            framing.iframe_script_open(bad)
    assert framing.iframe_script_open("cb") == b"<script>parent.cb("
    assert framing.IFRAME_SCRIPT_CLOSE == b")</script>\n"
    assert framing.iframe_chunk("cb", None) == b"<script>parent.cb(null)</script>\n"
    assert framing.iframe_chunk("cb", b'{"a":1}') == b'<script>parent.cb({"a":1})</script>\n'


def test_gap_envelope_escapes_the_client_key() -> None:
    to = pushbus.key_format(0xABC, 7)
    env = framing.gap_envelope("chat.lobby", 'evil"</script>', to)
    parsed = json.loads(env)
    assert parsed == {"event": "gap", "topic": "chat.lobby", "from": 'evil"</script>', "to": to}
    assert b"<" not in env


def test_keys_and_tokens() -> None:
    assert pushbus.key_format(0x3F9A2C, 1042) == "3f9a2c-1042"
    assert pushbus.key_parse("3f9a2c-1042") == pushbus.Key(0x3F9A2C, 1042)
    for bad in ("", "3f9a2c", "xyz-1", "3f9a2c-", "a:3f-1"):
        with pytest.raises(pushbus.BadToken):
            pushbus.key_parse(bad)
    framing.token_check("3f9a2c-1")
    framing.token_check("a:3f-1,b:3f-2")
    with pytest.raises(pushbus.BadToken):
        framing.token_check("nope")


def test_last_event_id_header_wins() -> None:
    assert framing.last_event_id(None, None) is None
    assert framing.last_event_id("ab-1", "cd-2") == "ab-1"
    assert framing.last_event_id(None, "cd-2") == "cd-2"
    with pytest.raises(pushbus.BadToken):
        framing.last_event_id("a\nb")
    with pytest.raises(pushbus.BadToken):
        framing.last_event_id("x" * 10_000)


def test_ws_accept_rfc_example() -> None:
    assert framing.ws_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    with pytest.raises(pushbus.InvalidArgument):
        framing.ws_accept("short")


def test_ws_server_frames() -> None:
    assert framing.ws_frame(framing.WS_TEXT, b"hi") == b"\x81\x02hi"
    assert framing.ws_frame_header(framing.WS_TEXT, 300) == b"\x81\x7e\x01\x2c"
    assert framing.ws_frame_header(framing.WS_BINARY, 70000) == b"\x82\x7f" + struct.pack(">Q", 70000)
    close = framing.ws_close_frame(1000, "bye")
    assert close == b"\x88\x05\x03\xe8bye"
    with pytest.raises(pushbus.InvalidArgument):
        framing.ws_frame(framing.WS_PING, b"x" * 126)
    with pytest.raises(pushbus.InvalidArgument):
        framing.ws_close_frame(1005)


def mask(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    key = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def test_ws_decoder_messages_fragments_and_split_input() -> None:
    with pushbus.WsDecoder() as dec:
        stream = (mask(1, b"hello") + mask(9, b"p") + mask(1, b"fra", fin=False) + mask(0, b"gment")
                  + mask(2, bytes(300)) + mask(8, b"\x03\xe8ok"))
        got: list[pushbus.WsMessage] = []
        for i in range(0, len(stream), 7):  # arbitrary TCP segmentation
            got.extend(dec.feed(stream[i:i + 7]))
        assert [(m.opcode, m.data) for m in got[:4]] == [
            (framing.WS_TEXT, b"hello"), (framing.WS_PING, b"p"), (framing.WS_TEXT, b"fragment"),
            (framing.WS_BINARY, bytes(300))]
        assert got[0].text == "hello"
        assert got[4].opcode == framing.WS_CLOSE and got[4].close_code == 1000 and got[4].data == b"ok"
        assert dec.feed(mask(1, b"a") + mask(1, b"b")) == [
            pushbus.WsMessage(framing.WS_TEXT, b"a"), pushbus.WsMessage(framing.WS_TEXT, b"b")]
    with pytest.raises(pushbus.Closed):
        dec.feed(b"")


def test_ws_decoder_protocol_errors() -> None:
    with pytest.raises(pushbus.WsProtocol) as bad_utf8:
        pushbus.WsDecoder().feed(mask(1, b"\xff\xfe"))
    assert bad_utf8.value.close_code == 1007
    with pytest.raises(pushbus.WsProtocol) as too_big:
        pushbus.WsDecoder(max_message_bytes=10).feed(mask(2, bytes(11)))
    assert too_big.value.close_code == 1009
    dec = pushbus.WsDecoder()
    with pytest.raises(pushbus.WsProtocol):
        dec.feed(b"\x81\x01a")
    with pytest.raises(pushbus.WsProtocol):  # refuses everything after
        dec.feed(mask(1, b"ok"))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(claims: dict[str, object], secret: bytes, alg: str = "HS256") -> str:
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = b64(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


def test_verify_jwt() -> None:
    secret = b"s3cret"
    exp = int(time.time()) + 60
    token = mint({"sub": "ann", "exp": exp, "rooms": ["lobby", "chat.*"]}, secret)
    with pushbus.verify_jwt(token, secret) as claims:
        assert claims.sub == "ann" and claims.exp == exp
        assert claims.allows("lobby") and claims.allows("chat.x")
        assert not claims.allows("other") and not claims.allows("chat.x.y")
    with pytest.raises(pushbus.Closed):
        claims.allows("lobby")
    assert pushbus.verify_jwt(mint({"rooms": ["*"]}, b"k"), "k").allows("anything")
    assert pushbus.verify_jwt(mint({"rooms": ["*"]}, b"k"), "k").sub is None
    with pytest.raises(pushbus.InvalidJwt):
        pushbus.verify_jwt(token, b"wrong")
    with pytest.raises(pushbus.InvalidJwt):
        pushbus.verify_jwt(mint({"sub": "a"}, secret, alg="none"), secret)
    with pytest.raises(pushbus.ExpiredJwt):
        pushbus.verify_jwt(token, secret, now=exp + 3600)
    with pytest.raises(pushbus.InvalidConfig):
        pushbus.verify_jwt(token, b"")

"""Bad input gets a clear error, publishes nothing, and leaves the server serving."""

from __future__ import annotations

import json
from typing import Iterator, Optional

import httpx
import pytest
from websockets.frames import Opcode

from clients import head, messages, read_sse, read_xhr, run
from conftest import Server
from raw import Connection, Response, exchange, get, ws_close_code, ws_frame, ws_upgrade

MAX_BODY = 64 * 1024


@pytest.fixture
def healthy_after(server: Server) -> Iterator[None]:
    """The test's abuse leaves the server answering."""
    yield
    assert httpx.get(server.base + "/healthz", timeout=5).status_code == 200


def body_of(user: object, text: object) -> bytes:
    return json.dumps({"user": user, "text": text}).encode()


@pytest.mark.parametrize("body,status", [
    (b"not json", 400),
    (b'{"user": "ann", ', 400),
    (b"", 400),
    (b"null", 400),
    (b"[1,2]", 400),
    (b'"a string"', 400),
    (json.dumps({"text": "hi"}).encode(), 400),
    (json.dumps({"user": "ann"}).encode(), 400),
    (body_of("", "hi"), 400),
    (body_of("u" * 33, "hi"), 400),
    (body_of("\U0001F600" * 33, "hi"), 400),
    (body_of("ann", ""), 400),
    (body_of("ann", "x" * 4097), 400),
    (body_of("ann", "\u00e9" * 2049), 400),  # 4098 bytes
    (body_of("ann", 5), 400),
    (body_of(["ann"], "hi"), 400),
    (body_of(None, "hi"), 400),
    (body_of("ann", {"nested": "object"}), 400),
    (b'{"user":"ann","text":"\xff\xfe invalid UTF-8"}', 400),
    (b'{"user":"ann","text":"a\\ud800b"}', 400),  # a lone surrogate: valid JSON, not valid UTF-8
    (b"[" * 30000 + b"]" * 30000, 400),  # deep nesting under the size limit
    (body_of("ann", "x" * 70_000), 413),
    (body_of("u" * 32, "\u00e9" * 2048), 201),  # the largest user and text (4096 bytes)
    (body_of("\U0001F600" * 32, "\U0001F600" * 1024), 201),  # 32 characters; 4096 bytes
])
def test_post_validation(http: httpx.Client, room: str, body: bytes, status: int) -> None:
    before = head(http, room)
    r = http.post(f"/rooms/{room}/messages", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    if status == 201:
        assert r.json()["id"] != before and messages(http, room)[-1]["data"] == json.loads(body)
    else:
        assert isinstance(r.json()["error"], str)
        assert head(http, room) == before, "nothing is published"


def post_request(port: int, room: str, body: bytes, extra: str = "") -> bytes:
    return (f"POST /rooms/{room}/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def assert_connection_survives_or_closes_cleanly(conn: Connection, port: int) -> None:
    conn.send(get(port, "/healthz"))
    again: Optional[Response] = conn.response()
    assert again is None or again.status == 200


@pytest.mark.parametrize("size,status", [(MAX_BODY, 201), (MAX_BODY + 1, 413)])
def test_the_body_limit_is_64_kib_and_the_connection_survives_or_closes_cleanly(
        server: Server, http: httpx.Client, room: str, size: int, status: int) -> None:
    message = body_of("ann", "padded")
    body = message + b" " * (size - len(message))
    before = head(http, room)
    with Connection(server.port) as conn:
        conn.send(post_request(server.port, room, body))
        response = conn.response()
        assert response is not None and response.status == status
        assert_connection_survives_or_closes_cleanly(conn, server.port)
    assert (head(http, room) != before) == (status == 201)


def test_a_body_of_a_megabyte_is_413(http: httpx.Client, room: str) -> None:
    """The server may answer before the body is sent: httpx reads that early answer."""
    before = head(http, room)
    r = http.post(f"/rooms/{room}/messages", content=body_of("ann", "x" * (1 << 20)),
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and head(http, room) == before


def test_a_chunked_body_is_read_like_any_other(http: httpx.Client, room: str) -> None:
    """HTTP/1.1 recipients must parse chunked bodies (RFC 9112 7.1)."""
    r = http.post(f"/rooms/{room}/messages", content=iter([b'{"user": "ann", ', b'"text": "chunked"}']),
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert messages(http, room)[-1]["data"] == {"user": "ann", "text": "chunked"}


def test_a_chunked_body_over_64_kib_is_413(http: httpx.Client, room: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"user": "ann", "text": "'
        for _ in range(20):
            yield b"x" * 4096
        yield b'"}'

    before = head(http, room)
    r = http.post(f"/rooms/{room}/messages", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and head(http, room) == before


@pytest.mark.parametrize("request_bytes", [
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
    b"GET /healthz?" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(10_000)) + b"\r\n",
], ids=["header", "request-line", "many-headers"])
def test_oversized_request_heads_are_refused(server: Server, healthy_after: None, request_bytes: bytes) -> None:
    response = exchange(server.port, request_bytes)
    assert response is None or response.status in (400, 413, 414, 431)


@pytest.mark.parametrize("request_bytes", [
    b"GARBAGE\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET /healthz FTP/1.1\r\nHost: x\r\n\r\n",
    b"\x00\x01\x02\x03\xff\xfe\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n Folded: header\r\n\r\n",
    b"GET /h\x00ealthz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /rooms/x/messages HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
    b"POST /rooms/x/messages HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n{}",
    b"POST /rooms/x/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 9\r\n\r\n{}",
    b"POST /rooms/x/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
])
def test_malformed_requests_get_an_error_or_a_close(server: Server, healthy_after: None, request_bytes: bytes) -> None:
    response = exchange(server.port, request_bytes)
    assert response is None or 400 <= response.status <= 505, response


@pytest.mark.parametrize("room", ["a.b", "a" * 65, "sp%20ace", "%C3%A9", "%00", "%FF", "a%0Ab", "..", "%2e%2e"])
def test_a_bad_room_name_is_400(server: Server, room: str) -> None:
    for request_bytes in (get(server.port, f"/rooms/{room}/poll"),
                          post_request(server.port, room, body_of("ann", "hi"))):
        response = exchange(server.port, request_bytes)
        assert response is not None and response.status in (400, 404), room
        if response.status == 400:
            assert isinstance(json.loads(response.body)["error"], str)


def test_a_room_of_64_characters_is_fine(http: httpx.Client) -> None:
    room = "a" * 62 + "_-"
    assert http.post(f"/rooms/{room}/messages", json={"user": "a", "text": "b"}).status_code == 201


@pytest.mark.parametrize("cb", ["", "alert(1)//", "</script><script>alert(1)", "1abc", "a b", "x" * 65, "f\n",
                                "a-b", "a;b", "parent.F(1)", "\u00e9", "a\u2028"])
def test_a_hostile_iframe_callback_is_400(http: httpx.Client, room: str, cb: str) -> None:
    r = http.get(f"/rooms/{room}/iframe", params={"cb": cb})
    assert r.status_code == 400 and b"<script" not in r.content
    assert isinstance(r.json()["error"], str)


def test_an_iframe_without_a_callback_is_400(http: httpx.Client, room: str) -> None:
    assert http.get(f"/rooms/{room}/iframe").status_code == 400


@pytest.mark.parametrize("key", ["a\r\nevent: evil\ndata: x", "1-1\x00", "k" * 1000, "\u00e9-1"])
def test_a_hostile_resume_key_on_a_stream_is_a_gap_never_echoed_raw(server: Server, http: httpx.Client, room: str,
                                                                    key: str) -> None:
    held = http.post(f"/rooms/{room}/messages", json={"user": "ann", "text": "held"}).json()["id"]
    for got in (run(read_sse(server.base, room, key, 2, via_query=True)), run(read_xhr(server.base, room, key, 2))):
        gap, message = got
        assert gap["event"] == "gap" and message["id"] == held  # read_sse also checks the framing
    with httpx.Client(base_url=server.base, timeout=10) as client:
        with client.stream("GET", f"/rooms/{room}/events", params={"lastEventId": key}) as stream:
            text = b""
            for chunk in stream.iter_bytes():
                text += chunk
                if b'"held"' in text:
                    break
    lines = text.split(b"\n")
    assert b"event: evil" not in lines and b"data: x" not in lines
    assert b"\x00" not in text and b"\r" not in text


def test_a_long_last_event_id_header_is_a_gap(server: Server, http: httpx.Client, room: str) -> None:
    held = http.post(f"/rooms/{room}/messages", json={"user": "ann", "text": "held"}).json()["id"]
    gap, message = run(read_sse(server.base, room, "k" * 1000, 2))
    assert gap["event"] == "gap" and message["id"] == held


@pytest.mark.parametrize("key", ["a\r\nb", "1-1\x00", "\u00e9-1"])
def test_a_hostile_key_on_a_poll_is_400(http: httpx.Client, room: str, key: str) -> None:
    for endpoint in ("poll", "longpoll"):
        assert http.get(f"/rooms/{room}/{endpoint}", params={"key": key, "timeout": "0"}).status_code == 400


def test_hostile_user_names_cannot_break_the_stream_framing(server: Server, http: httpx.Client, room: str) -> None:
    start = head(http, room)
    http.post(f"/rooms/{room}/messages", json={"user": "ann\nid: 1", "text": "t\r\nevent: x"})
    # A presence user with CR LF: refused, or joined (a join event) and framed safely.
    lease = http.get(f"/rooms/{room}/poll", params={"user": "eve\r\nevent: evil\n\ndata: {}"})
    assert lease.status_code in (200, 400)
    got = run(read_sse(server.base, room, start, 2 if lease.status_code == 200 else 1))  # checks id/event/data
    assert got[0]["data"] == {"user": "ann\nid: 1", "text": "t\r\nevent: x"}
    assert [e["event"] for e in got[1:]] == (["join"] if lease.status_code == 200 else [])


def test_an_invalid_utf8_user_is_refused_or_stays_valid_json(server: Server, http: httpx.Client, room: str) -> None:
    r = http.get(httpx.URL(f"{server.base}/rooms/{room}/poll?user=%FF%FE"))
    assert r.status_code in (200, 400)
    connectors = http.get(f"/rooms/{room}/connectors")
    json.loads(connectors.content.decode("utf-8"))  # strict UTF-8


def ws_open(server: Server, room: str) -> Connection:
    conn = Connection(server.port)
    conn.send(ws_upgrade(server.port, f"/rooms/{room}/ws"))
    response = conn.response()
    assert response is not None and response.status == 101
    return conn


@pytest.mark.parametrize("frame,codes", [
    (ws_frame(Opcode.TEXT, b'{"type":"message","user":"a","text":"\xff\xfe"}'), {1007}),
    (ws_frame(Opcode.TEXT, b"x" * (MAX_BODY + 1)), {1009}),
    (ws_frame(Opcode.TEXT, b'{"type":"message","user":"a","text":"b"}', mask=False), {1002, None}),
], ids=["invalid-utf8", "too-large", "unmasked"])
def test_a_websocket_protocol_violation_closes_with_its_code(server: Server, http: httpx.Client, room: str,
                                                             healthy_after: None, frame: bytes,
                                                             codes: set) -> None:
    with ws_open(server, room) as conn:
        conn.send(frame)
        assert ws_close_code(conn) in codes
    assert messages(http, room) == []

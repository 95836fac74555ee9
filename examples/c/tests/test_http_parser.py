"""The server's own HTTP/1.1 parser: its limits, what it refuses and how, keep-alive and timeouts."""

from __future__ import annotations

import json
import time
from typing import Optional

import pytest

from conftest import Server
from wire import Wire, exchange, request

MAX_LINE = 8 * 1024
MAX_HEADER_BYTES = 16 * 1024
MAX_HEADERS = 64
MAX_BODY = 64 * 1024


def post(room: str, body: bytes, headers: dict = {}) -> bytes:
    return request(f"/rooms/{room}/messages", "POST", headers, body)


def message(text: str = "hi") -> bytes:
    return json.dumps({"user": "ann", "text": text}).encode()


def status_of(server: Server, raw: bytes) -> int:
    response = exchange(server.port, raw)
    assert response is not None, "the server closed without answering"
    assert response.status < 400 or isinstance(json.loads(response.body)["error"], str)
    return response.status


def test_a_request_line_of_8_kib_passes_and_one_byte_more_is_414(server: Server) -> None:
    fixed = len("GET /healthz? HTTP/1.1")
    assert status_of(server, f"GET /healthz?{'a' * (MAX_LINE - fixed)} HTTP/1.1\r\nHost: x\r\n\r\n".encode()) == 200
    assert status_of(server, f"GET /healthz?{'a' * (MAX_LINE - fixed + 1)} HTTP/1.1\r\nHost: x\r\n\r\n".encode()) == 414


def test_headers_of_16_kib_pass_and_more_are_431(server: Server) -> None:
    def with_header_bytes(total: int) -> bytes:
        host = "Host: x\r\n"
        filler = total - len(host) - len("X: \r\n")
        return f"GET /healthz HTTP/1.1\r\n{host}X: {'v' * filler}\r\n\r\n".encode()

    assert status_of(server, with_header_bytes(MAX_HEADER_BYTES)) == 200
    assert status_of(server, with_header_bytes(MAX_HEADER_BYTES + 1)) == 431


def test_64_headers_pass_and_65_are_431(server: Server) -> None:
    def with_headers(count: int) -> bytes:
        extra = "".join(f"X-{i}: v\r\n" for i in range(count - 1))
        return f"GET /healthz HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode()

    assert status_of(server, with_headers(MAX_HEADERS)) == 200
    assert status_of(server, with_headers(MAX_HEADERS + 1)) == 431


def test_a_content_length_over_64_kib_is_413_before_the_body_is_sent(server: Server, room: str) -> None:
    head = f"POST /rooms/{room}/messages HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n"
    with Wire(server.port) as wire:
        wire.send(head.encode())  # and never the body
        response = wire.response()
        assert response is not None and response.status == 413
        assert response.headers["connection"] == "close" and wire.closed_within(5)


def test_a_body_of_exactly_64_kib_is_read_whole(server: Server, room: str) -> None:
    body = message("padded")
    body += b" " * (MAX_BODY - len(body))
    assert status_of(server, post(room, body)) == 201


@pytest.mark.parametrize("raw,status", [
    (b"POST /rooms/r/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}", 400),
    (b"POST /rooms/r/messages HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\n{}", 400),
    (b"POST /rooms/r/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 2 2\r\n\r\n{}", 400),
    (b"POST /rooms/r/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 needs a Host
    (b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n Folded: header\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", 400),  # whitespace before the colon
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\nY: b\r\n\r\n", 400),  # a bare LF
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n(bad): name\r\n\r\n", 400),
    (b"GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400),  # two spaces
    (b"GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400),  # absolute form
    (b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /healthz#frag HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1x\r\nHost: x\r\n\r\n", 400),
    (b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    (b"GET /healthz HTTP/1.2\r\nHost: x\r\n\r\n", 505),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", 417),
])
def test_malformed_requests_get_their_status_and_a_close(server: Server, raw: bytes, status: int) -> None:
    with Wire(server.port) as wire:
        wire.send(raw)
        response = wire.response()
        assert response is not None and response.status == status, response
        assert isinstance(json.loads(response.body)["error"], str)
        assert wire.closed_within(5)


def test_an_http_1_0_request_needs_no_host_and_is_closed_after(server: Server) -> None:
    with Wire(server.port) as wire:
        wire.send(b"GET /healthz HTTP/1.0\r\n\r\n")
        response = wire.response()
        assert response is not None and response.status == 200 and response.body == b"ok"
        assert response.headers["connection"] == "close" and wire.closed_within(5)


def test_keep_alive_serves_requests_one_after_another(server: Server, room: str) -> None:
    with Wire(server.port) as wire:
        for text in ("one", "two"):
            wire.send(post(room, message(text)))
            response = wire.response()
            assert response is not None and response.status == 201
        wire.send(request(f"/rooms/{room}/poll"))
        response = wire.response()
        assert response is not None
        assert [m["data"]["text"] for m in json.loads(response.body)["messages"]] == ["one", "two"]


@pytest.mark.parametrize("version, connection, answer", [
    ("HTTP/1.1", None, None),  # persistent by default: no header needed
    ("HTTP/1.1", "keep-alive", None),
    ("HTTP/1.0", "keep-alive", "keep-alive"),  # HTTP/1.0 must be told
])
def test_a_kept_connection_says_so_only_to_http_1_0(
        server: Server, room: str, version: str, connection: Optional[str], answer: Optional[str]) -> None:
    extra = f"Connection: {connection}\r\n" if connection else ""
    head = f"GET /rooms/{room}/poll {version}\r\nHost: x\r\n{extra}\r\n".encode()
    with Wire(server.port) as wire:
        for _ in range(2):  # the connection serves a second request
            wire.send(head)
            response = wire.response()
            assert response is not None and response.status == 200
            assert response.headers.get("connection") == answer
        wire.send(post(room, message(), {"Connection": "close"}))
        response = wire.response()
        assert response is not None and response.status == 201
        assert response.headers["connection"] == "close" and wire.closed_within(5)


def test_only_answers_a_cache_may_keep_say_how_to_keep_them(server: Server, room: str) -> None:
    """A POST's answer is never stored (RFC 9110 9.3.3): no Vary, no Cache-Control."""
    with Wire(server.port) as wire:
        for raw, status, cacheable in [
            (request(f"/rooms/{room}/poll"), 200, True),
            (request("/nowhere"), 404, True),
            (post(room, message()), 201, False),
            (post(room, b"{"), 400, False),
        ]:
            wire.send(raw)
            response = wire.response()
            assert response is not None and response.status == status
            headers = (response.headers.get("vary"), response.headers.get("cache-control"))
            assert headers == (("Origin", "no-store") if cacheable else (None, None)), raw


def test_pipelined_requests_are_answered_in_order(server: Server) -> None:
    with Wire(server.port) as wire:
        wire.send(request("/healthz") + request("/nowhere") + request("/healthz", "HEAD") + request("/healthz"))
        statuses = []
        for method in ("GET", "GET", "HEAD", "GET"):
            response = wire.response(method)
            assert response is not None
            statuses.append((response.status, response.body))
        assert statuses == [(200, b"ok"), (404, b'{"error":"not found"}'), (200, b""), (200, b"ok")]


def test_a_head_cut_anywhere_near_its_end_is_read_whole(server: Server) -> None:
    # Each read can end inside a CRLF or the blank line; the head's end is
    # searched again from just before where the last search stopped.
    raw = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\r\n"
    for cut in range(len(raw) - 8, len(raw)):
        with Wire(server.port) as wire:
            wire.send(raw[:cut])
            time.sleep(0.02)
            wire.send(raw[cut:])
            response = wire.response()
            assert response is not None, f"cut at {cut}"
            assert (response.status, response.body) == (200, b"ok"), f"cut at {cut}"


def test_a_lone_cr_inside_a_header_line_is_refused(server: Server) -> None:
    assert status_of(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n") == 400


def test_head_gets_the_length_but_no_body(server: Server) -> None:
    with Wire(server.port) as wire:
        wire.send(request("/healthz", "HEAD") + request("/healthz"))
        head = wire.response("HEAD")
        assert head is not None and head.headers["content-length"] == "2" and head.body == b""
        after = wire.response()
        assert after is not None and after.body == b"ok"  # no stray body bytes in between


def test_expect_100_continue_is_answered_before_the_body(server: Server, room: str) -> None:
    body = message("after continue")
    head = f"POST /rooms/{room}/messages HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {len(body)}\r\n\r\n"
    with Wire(server.port) as wire:
        wire.send(head.encode())
        interim = wire.response()
        assert interim is not None and interim.status == 100
        wire.send(body)
        final = wire.response()
        assert final is not None and final.status == 201


def chunked(room: str, chunks: bytes, headers: str = "Transfer-Encoding: chunked\r\n", version: str = "HTTP/1.1") -> bytes:
    return f"POST /rooms/{room}/messages {version}\r\nHost: x\r\n{headers}\r\n".encode() + chunks


def chunks_of(data: bytes, size: int) -> bytes:
    pieces = [data[i:i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


def test_a_chunked_body_is_decoded_and_the_connection_kept(server: Server, room: str) -> None:
    with Wire(server.port) as wire:
        wire.send(chunked(room, chunks_of(message("in chunks"), 7)))
        response = wire.response()
        assert response is not None and response.status == 201
        wire.send(request(f"/rooms/{room}/poll"))
        response = wire.response()
        assert response is not None
        assert [m["data"]["text"] for m in json.loads(response.body)["messages"]] == ["in chunks"]


def test_chunk_extensions_and_trailers_are_ignored(server: Server, room: str) -> None:
    body = message("extended")
    raw = b"%x;name=value;flag\r\n%s\r\n0;last\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n" % (len(body), body)
    assert status_of(server, chunked(room, raw)) == 201


def test_chunked_bodies_of_64_kib_pass_and_more_is_413(server: Server, room: str) -> None:
    body = message("padded")
    body += b" " * (MAX_BODY - len(body))
    assert status_of(server, chunked(room, chunks_of(body, 4096))) == 201
    assert status_of(server, chunked(room, chunks_of(body + b" ", 4096))) == 413
    assert status_of(server, chunked(room, b"10001\r\n")) == 413  # declared in one chunk: refused before its data


def test_a_body_of_tiny_chunks_whose_framing_overflows_the_input_is_413(server: Server, room: str) -> None:
    body = message("x" * 20_000)  # 20 KB of data, six bytes of framing each
    assert status_of(server, chunked(room, chunks_of(body, 1))) == 413


@pytest.mark.parametrize("raw,status", [
    (chunked("r", b"zz\r\n{}\r\n0\r\n\r\n"), 400),
    (chunked("r", b"0x2\r\n{}\r\n0\r\n\r\n"), 400),
    (chunked("r", b"2 \r\n{}\r\n0\r\n\r\n"), 400),
    (chunked("r", b"2\r\n{}XX0\r\n\r\n"), 400),  # no CRLF after the data
    (chunked("r", b"0\r\nbad trailer\r\n\r\n"), 400),
    (chunked("r", b"0\r\n\r\n", "Transfer-Encoding: gzip\r\n"), 501),
    (chunked("r", b"0\r\n\r\n", "Transfer-Encoding: gzip, chunked\r\n"), 501),
    (chunked("r", b"0\r\n\r\n", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 501),
    (chunked("r", b"0\r\n\r\n", "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"), 400),
    (chunked("r", b"0\r\n\r\n", version="HTTP/1.0"), 400),
], ids=["not-hex", "0x", "space", "no-crlf", "bad-trailer", "gzip", "gzip-chunked", "twice", "with-length",
        "http-1.0"])
def test_malformed_chunked_bodies_get_their_status_and_a_close(server: Server, raw: bytes, status: int) -> None:
    with Wire(server.port) as wire:
        wire.send(raw)
        response = wire.response()
        assert response is not None and response.status == status, response
        assert wire.closed_within(5)


@pytest.mark.parametrize("path,status", [
    ("/rooms/lobby/poll?key=%zz", 400),
    ("/rooms/lobby/poll?key=%4", 400),
    ("/rooms/lobby/poll?user=%E2%82", 400),  # not UTF-8
    ("/rooms/lob%62y/poll", 200),  # decoded: lobby
    ("/rooms/lob%zzby/poll", 400),
    ("/static/%2e%2e/README.md", 404),
    ("/static/..%2fREADME.md", 404),
    ("/static/.hidden", 404),
    ("/static/app.js%00.css", 400),
    ("/static/app%2Ejs", 200),
])
def test_percent_encoding_is_decoded_strictly(server: Server, path: str, status: int) -> None:
    assert status_of(server, request(path)) == status


def test_plus_in_a_query_is_a_space(server: Server, room: str) -> None:
    assert status_of(server, request(f"/rooms/{room}/poll?user=ann+lee")) == 200
    body = json.loads(server.get(f"/rooms/{room}/connectors"))
    assert [c["user"] for c in body["connectors"]] == ["ann lee"]


def test_a_request_head_not_complete_in_time_is_408_then_closed(impatient_server: Server) -> None:
    with Wire(impatient_server.port) as wire:
        started = time.monotonic()
        wire.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never the blank line
        response = wire.response()
        assert response is not None and response.status == 408
        assert 0.9 < time.monotonic() - started < 3
        assert wire.closed_within(3)


def test_a_body_not_complete_in_time_is_408(impatient_server: Server, room: str) -> None:
    with Wire(impatient_server.port) as wire:
        wire.send(post(room, message("never finished"))[:-5])
        response = wire.response()
        assert response is not None and response.status == 408
    assert json.loads(impatient_server.get(f"/rooms/{room}/poll"))["messages"] == []


def test_a_client_trickling_its_head_is_still_cut_off_in_time(impatient_server: Server) -> None:
    with Wire(impatient_server.port) as wire:
        started = time.monotonic()
        closed = False
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            try:
                wire.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.05)
            if time.monotonic() - started > 3:
                break
        assert closed or wire.closed_within(1)
        assert time.monotonic() - started < 3.5


def test_an_idle_keep_alive_connection_is_closed_without_a_response(impatient_server: Server) -> None:
    with Wire(impatient_server.port) as wire:
        wire.send(request("/healthz"))
        assert wire.response() is not None
        started = time.monotonic()
        assert wire.response() is None  # closed, nothing sent
        assert 0.9 < time.monotonic() - started < 3


def test_pipelined_answers_past_what_is_held_back_are_all_sent(server: Server, room: str) -> None:
    # The answers to 400 POSTs (about 40 KiB) pass the 16 KiB the server
    # holds back to write at once: it writes them, then answers the rest of
    # what it has already read.
    count = 400
    with Wire(server.port) as wire:
        wire.send(b"".join(post(room, message(f"m{i}")) for i in range(count)))
        ids = []
        for _ in range(count):
            response = wire.response("POST")
            assert response is not None and response.status == 201
            ids.append(json.loads(response.body)["id"])
        assert len(set(ids)) == count
        wire.send(request(f"/rooms/{room}/poll?key={ids[-2]}"))
        response = wire.response()
        assert response is not None
        assert [m["data"]["text"] for m in json.loads(response.body)["messages"]] == [f"m{count - 1}"]


def test_header_names_are_tokens_byte_by_byte(server: Server) -> None:
    # RFC 9110 5.6.2: a name is made of tchar; any other byte in one is a 400.
    tchar = set(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!#$%&'*+-.^_`|~")
    for byte in range(256):
        if byte in b"\r\n:":
            continue  # these end the name or the line: other tests' cases
        raw = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-" + bytes([byte]) + b"a: 1\r\n\r\n"
        assert status_of(server, raw) == (200 if byte in tchar else 400), f"byte {byte:#04x}"


def test_header_values_refuse_controls_and_del_at_every_place_of_a_word(server: Server) -> None:
    # RFC 9110 5.5: a value is field-vchar, SP, HTAB and obs-text. The parser
    # reads values eight bytes at a time, so each byte is tried at every
    # place of a word, in a whole word and in the padded tail.
    for byte in range(256):
        if byte in b"\r\n":
            continue  # these end the line: other tests' cases
        allowed = byte == 0x09 or (byte >= 0x20 and byte != 0x7F)
        for before in (0, 3, 7, 8, 12):
            value = b"v" * before + bytes([byte]) + b"w" * (12 - before)
            raw = b"GET /healthz HTTP/1.1\r\nX-Value: " + value + b"\r\nHost: x\r\n\r\n"
            assert status_of(server, raw) == (200 if allowed else 400), f"byte {byte:#04x} after {before}"


def test_request_targets_refuse_controls_space_del_and_above(server: Server) -> None:
    # RFC 9112 3.2: a target is visible ASCII; the scan ends at SP or any
    # byte outside it, and then the line is malformed.
    for byte in range(256):
        if byte in b"\r\n#%":
            continue  # line ends, fragments, escapes: other tests' cases
        allowed = 0x20 < byte < 0x7F
        for before in (0, 5, 9):
            target = b"/healthz?" + b"q" * before + bytes([byte]) + b"r" * 3
            assert status_of(server, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n") == (
                200 if allowed else 400), f"byte {byte:#04x} after {before}"


def test_room_names_are_checked_byte_by_byte(server: Server) -> None:
    # CHAT_API.md: a room is 1-64 of [A-Za-z0-9_-]; anything else is a 400
    # (or a 404 when the byte is a '/' that moves the route).
    room_bytes = set(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-")
    for byte in range(256):
        raw = f"GET /rooms/r%{byte:02X}s/poll HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        status = status_of(server, raw)
        if byte in room_bytes:
            assert status == 200, f"byte {byte:#04x}"
        else:
            assert status in (400, 404), f"byte {byte:#04x}: {status}"

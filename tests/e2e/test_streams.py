"""The wire of each stream: headers, preludes, framing, heartbeats, byte budgets, the WebSocket handshake."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import aiohttp
import httpx
import pytest
import websockets

from clients import CALLBACK, READERS, SCRIPT, Envelope, messages, post, read_sse, run, texts, ws_url
from conftest import HEARTBEAT_SECONDS, STREAM_BUDGET_BYTES, Server
from raw import WS_ACCEPT, exchange, ws_upgrade

# How late a heartbeat may be on a loaded machine, beyond HEARTBEAT_SECONDS.
HEARTBEAT_SLACK = 0.75


@dataclass
class Reading:
    """What a raw read of a streaming response got, and when (seconds after the response began)."""
    status: int
    headers: Mapping[str, str]
    data: bytes
    chunks: List[Tuple[float, bytes]]


async def read_raw(base: str, path: str, until: Callable[[bytes], bool], limit: float = 5.0,
                   headers: Optional[Dict[str, str]] = None) -> Reading:
    """Reads a streaming body until ``until(data)``, the end of the stream or ``limit`` seconds."""
    async with aiohttp.ClientSession(base) as session:
        async with session.get(path, headers=headers or {}) as response:
            reading = Reading(response.status, response.headers, b"", [])
            began = time.monotonic()
            while not until(reading.data) and time.monotonic() - began < limit:
                try:
                    chunk = await asyncio.wait_for(response.content.readany(), limit - (time.monotonic() - began))
                except asyncio.TimeoutError:
                    break
                if not chunk:
                    break
                reading.chunks.append((time.monotonic() - began, chunk))
                reading.data += chunk
            return reading


def assert_stream_headers(headers: Mapping[str, str], content_type: str) -> None:
    assert headers["Content-Type"].replace(" ", "").lower() == content_type.replace(" ", "").lower()
    assert "no-store" in headers["Cache-Control"]
    assert headers["X-Accel-Buffering"] == "no"


def heartbeat_times(chunks: List[Tuple[float, bytes]], heartbeat: bytes) -> List[float]:
    """When each heartbeat arrived (a chunk's time, once per heartbeat in it)."""
    return [at for at, chunk in chunks for _ in range(chunk.count(heartbeat))]


def assert_heartbeats_in_time(times: List[float]) -> None:
    assert len(times) >= 2, f"heartbeats at {times}"
    gaps = [later - earlier for earlier, later in zip([0.0] + times[:-1], times, strict=True)]
    assert max(gaps) <= HEARTBEAT_SECONDS + HEARTBEAT_SLACK, f"heartbeats at {times}"


# -- Server-Sent Events ------------------------------------------------------------


def test_sse_headers_preamble_and_heartbeats(server: Server, room: str) -> None:
    got = run(read_raw(server.base, f"/rooms/{room}/events", lambda d: d.count(b": ping\n\n") >= 2))
    assert got.status == 200
    assert_stream_headers(got.headers, "text/event-stream; charset=utf-8")
    first, second = got.data.split(b"\n")[:2]
    assert first == b"retry: 3000" and second.startswith(b":")
    assert_heartbeats_in_time(heartbeat_times(got.chunks, b": ping\n\n"))


def test_sse_resumes_from_the_query_and_the_header_wins(server: Server, http: httpx.Client, room: str) -> None:
    ids = [post(http, room, f"m{i}") for i in range(4)]
    assert [e["id"] for e in run(read_sse(server.base, room, ids[1], 2, via_query=True))] == ids[2:]
    both = run(read_sse(server.base, room, ids[2], 1, params={"lastEventId": ids[0]}))
    assert [e["id"] for e in both] == [ids[3]]


def test_sse_events_are_id_event_data_with_one_data_line(server: Server, http: httpx.Client, room: str) -> None:
    hostile = "a\r\nb\rc\nevent: evil\n\nid: 1\x00"
    start = post(http, room, "before")
    post(http, room, hostile)
    data = run(read_raw(server.base, f"/rooms/{room}/events", lambda d: d.endswith(b"}\n\n"),
                        headers={"Last-Event-ID": start})).data
    blocks = [block for block in data.split(b"\n\n") if block.startswith(b"id:")]
    (lines,) = [block.split(b"\n") for block in blocks]
    assert [line.split(b":")[0] for line in lines] == [b"id", b"event", b"data"]
    assert lines[1] == b"event: message" and b"\r" not in data and b"\x00" not in data
    envelope = json.loads(lines[2][len(b"data: "):])
    assert lines[0] == f"id: {envelope['id']}".encode()
    assert envelope["data"]["text"] == hostile


# -- XHR and iframe streams --------------------------------------------------------


def test_xhr_headers_prelude_and_heartbeats(server: Server, http: httpx.Client, room: str) -> None:
    start = post(http, room, "before")
    post(http, room, "first")
    got = run(read_raw(server.base, f"/rooms/{room}/xhr?key={start}", lambda d: d.endswith(b"}\n\n\n")))
    assert got.status == 200
    assert_stream_headers(got.headers, "application/x-ndjson; charset=utf-8")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    data, chunks = got.data, got.chunks
    prelude, message = data[:data.index(b"{")], data[data.index(b"{"):]
    assert len(prelude) >= 2048 and prelude.strip() == b""
    line, rest = message.split(b"\n", 1)
    assert json.loads(line)["data"]["text"] == "first"
    assert rest.strip(b"\n") == b""
    after_message = [(at, chunk) for at, chunk in chunks if at >= chunks[-1][0] - 2 * HEARTBEAT_SECONDS - 1]
    assert len(heartbeat_times(after_message, b"\n")) >= 2


def test_iframe_headers_padding_escaping_and_heartbeats(server: Server, http: httpx.Client, room: str) -> None:
    hostile = "</script><script>alert(1)</script><!-- <SCRIPT \u2028 \u2029"
    start = post(http, room, "before")
    post(http, room, hostile)
    got = run(read_raw(server.base, f"/rooms/{room}/iframe?cb=chat.onMessage&key={start}",
                       lambda d: d.count(b"parent.chat.onMessage(null)") >= 2))
    assert got.status == 200
    assert_stream_headers(got.headers, "text/html; charset=utf-8")
    data, chunks = got.data, got.chunks
    assert data.index(b"<script>") >= 2048
    scripts = [m.group(2) for m in SCRIPT.finditer(data)]
    assert all(m.group(1) == b"chat.onMessage" for m in SCRIPT.finditer(data))
    assert json.loads(scripts[0])["data"]["text"] == hostile
    assert b"<" not in scripts[0] and "\u2028".encode() not in data and "\u2029".encode() not in data
    assert data.count(b"<script>") == data.count(b"</script>") == len(scripts)
    assert_heartbeats_in_time(heartbeat_times(chunks, b"parent.chat.onMessage(null)"))


@pytest.mark.parametrize("transport", ["xhr", "iframe"])
def test_the_byte_budget_ends_the_stream_and_a_reopen_from_the_last_key_loses_nothing(
        server: Server, http: httpx.Client, room: str, transport: str) -> None:
    start = post(http, room, "start")
    want = [f"n{i:02d} " + "z" * 4000 for i in range(16)]  # about twice the budget
    for text in want:
        post(http, room, text)

    async def read_until_the_end(key: str) -> List[Envelope]:
        query = {"key": key, "cb": CALLBACK} if transport == "iframe" else {"key": key}
        url = f"/rooms/{room}/{transport}?" + str(httpx.QueryParams(query))
        got = await read_raw(server.base, url, lambda d: False, limit=10)
        assert got.status == 200
        data = got.data
        ends_whole = b"</script>\n" if transport == "iframe" else b"\n"
        assert data.endswith(ends_whole), "the stream ended inside a message"
        assert STREAM_BUDGET_BYTES <= len(data) < STREAM_BUDGET_BYTES + 3 * 4096 + 4096
        found = [json.loads(m.group(2)) for m in SCRIPT.finditer(data)] if transport == "iframe" else \
            [json.loads(line) for line in data.split(b"\n") if line.strip()]
        return [e for e in found if e is not None]

    got: List[Envelope] = []
    key, opens = start, 0
    while len(got) < len(want) and opens < 5:
        opens += 1
        got += run(read_until_the_end(key), timeout=15)
        key = got[-1]["id"]
    assert opens >= 2, "the budget never ended the stream"
    assert texts(got) == want


# -- WebSocket -----------------------------------------------------------------------


@pytest.mark.parametrize("extra,status", [
    ({}, 101),
    ({"Connection": "keep-alive, Upgrade", "Upgrade": "WebSocket"}, 101),
    ({"Sec-WebSocket-Version": "12"}, 426),
    ({"Sec-WebSocket-Key": None}, 400),
    ({"Sec-WebSocket-Key": "c2hvcnQ="}, 400),
])
def test_websocket_handshake(server: Server, room: str, extra: Dict[str, Optional[str]], status: int) -> None:
    response = exchange(server.port, ws_upgrade(server.port, f"/rooms/{room}/ws", extra))
    assert response is not None and response.status == status
    if status == 101:
        assert response.headers["sec-websocket-accept"] == WS_ACCEPT
        assert response.headers["upgrade"].lower() == "websocket"
    if status == 426:
        assert response.headers["sec-websocket-version"] == "13"


def test_websocket_posts_over_the_socket_and_ignores_what_is_not_a_message(server: Server, http: httpx.Client,
                                                                             room: str) -> None:
    async def scenario() -> List[Envelope]:
        async with websockets.connect(ws_url(server.base, room, {})) as ws:
            await ws.send(json.dumps({"type": "message", "user": "wes", "text": "via ws"}))
            for ignored in ("not json", "[1]", json.dumps({"type": "other", "user": "wes", "text": "x"}),
                            json.dumps({"type": "message", "user": "", "text": "bad user"}),
                            json.dumps({"type": "message", "user": "wes", "text": 5})):
                await ws.send(ignored)
            await ws.send(json.dumps({"type": "message", "user": "wes", "text": "still open"}))
            return [json.loads(await ws.recv()) for _ in range(2)]

    got = run(scenario())
    assert texts(got) == ["via ws", "still open"] and got[0]["data"]["user"] == "wes"
    assert texts(messages(http, room)) == ["via ws", "still open"]


def test_websocket_answers_a_ping_with_the_same_payload(server: Server, room: str) -> None:
    async def scenario() -> float:
        async with websockets.connect(ws_url(server.base, room, {})) as ws:
            pong = await ws.ping(b"payload-123")
            return await asyncio.wait_for(pong, 5)  # websockets matches the pong's payload

    assert run(scenario()) >= 0


def test_websocket_server_pings_within_the_heartbeat(server: Server, room: str) -> None:
    async def ping_times() -> List[float]:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(ws_url(server.base, room, {}), autoping=False) as ws:
                began = time.monotonic()
                times: List[float] = []
                while len(times) < 2:
                    msg = await ws.receive(timeout=HEARTBEAT_SECONDS + 2)
                    if msg.type == aiohttp.WSMsgType.PING:
                        times.append(time.monotonic() - began)
                        await ws.pong(msg.data)
                return times

    assert_heartbeats_in_time(run(ping_times()))


def test_every_reader_of_one_room_gets_the_same_envelopes(server: Server, http: httpx.Client, room: str) -> None:
    """Each message is framed once by pushbus: every transport carries the same envelope."""
    start = post(http, room, "start")
    post(http, room, "same everywhere \u2028 </script>")

    async def all_transports() -> List[List[Envelope]]:
        return list(await asyncio.gather(*(reader(server.base, room, start, 1) for reader in READERS.values())))

    first, *others = run(all_transports())
    assert all(other == first for other in others)

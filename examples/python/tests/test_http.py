"""Endpoints, validation, headers, heartbeats, budgets, CORS, WebSocket handshake, slow readers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import socket
import time
from typing import Dict, List, Optional, Tuple

import aiohttp
import httpx
import pytest
import websockets

from clients import run
from conftest import ALLOWED, SECRET, Server
from test_transports import head, post


def test_healthz_page_and_static(http: httpx.Client) -> None:
    r = http.get("/healthz")
    assert r.status_code == 200 and r.text == "ok"
    page = http.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/static/app.js" in page.text and 'id="transport"' in page.text
    for option in ("sse", "ws", "xhr", "iframe", "longpoll", "poll"):
        assert f'value="{option}"' in page.text
    assert http.get("/static/app.js").status_code == 200
    assert http.get("/static/style.css").status_code == 200
    assert http.get("/static/../chat_server.py").status_code in (403, 404)


@pytest.mark.parametrize("body,status", [
    (b"not json", 400),
    (b"[1,2]", 400),
    (json.dumps({"text": "hi"}).encode(), 400),
    (json.dumps({"user": "", "text": "hi"}).encode(), 400),
    (json.dumps({"user": "u" * 33, "text": "hi"}).encode(), 400),
    (json.dumps({"user": "ann", "text": ""}).encode(), 400),
    (json.dumps({"user": "ann", "text": "é" * 2049}).encode(), 400),  # 4098 bytes
    (json.dumps({"user": "ann", "text": 5}).encode(), 400),
    (json.dumps({"user": "ann", "text": "x" * 70_000}).encode(), 413),
    (json.dumps({"user": "u" * 32, "text": "é" * 2048}).encode(), 201),  # 4096 bytes
])
def test_post_validation(http: httpx.Client, room: str, body: bytes, status: int) -> None:
    before = head(http, room)
    r = http.post(f"/rooms/{room}/messages", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    if status == 201:
        assert r.json()["id"] != before
    else:
        assert "error" in r.json()
        assert head(http, room) == before  # nothing published


@pytest.mark.parametrize("bad", ["a.b", "a" * 65, "sp ace", "é"])
def test_bad_room_is_400(http: httpx.Client, bad: str) -> None:
    assert http.get(f"/rooms/{bad}/poll").status_code == 400
    assert http.post(f"/rooms/{bad}/messages", json={"user": "a", "text": "b"}).status_code == 400


def test_room_of_64_chars_is_fine(http: httpx.Client) -> None:
    assert http.post(f"/rooms/{'a' * 63}_/messages", json={"user": "a", "text": "b"}).status_code == 201


def test_short_poll_last_50_etag_and_304(http: httpx.Client, room: str) -> None:
    ids = [post(http, room, f"m{i}") for i in range(60)]
    first = http.get(f"/rooms/{room}/poll")
    body = first.json()
    assert [m["id"] for m in body["messages"]] == ids[10:]
    assert body["key"] == ids[-1] == first.headers["etag"] and body["gap"] is None
    assert first.headers["cache-control"] == "no-store"
    same = http.get(f"/rooms/{room}/poll", headers={"If-None-Match": ids[-1]})
    assert same.status_code == 304 and same.headers["etag"] == ids[-1]
    same_with_key = http.get(f"/rooms/{room}/poll", params={"key": ids[-1]}, headers={"If-None-Match": ids[-1]})
    assert same_with_key.status_code == 304
    newer = http.get(f"/rooms/{room}/poll", params={"key": ids[57]}, headers={"If-None-Match": ids[57]})
    assert newer.status_code == 200 and [m["id"] for m in newer.json()["messages"]] == ids[58:]
    nothing = http.get(f"/rooms/{room}/poll", params={"key": ids[-1]})
    assert nothing.status_code == 200 and nothing.json()["messages"] == [] and nothing.json()["key"] == ids[-1]
    assert http.get(f"/rooms/{room}/poll", headers={"If-None-Match": "junk"}).status_code == 400


def test_long_poll_holds_then_answers_fast(http: httpx.Client, room: str) -> None:
    key = post(http, room, "first")
    started = time.monotonic()
    r = http.get(f"/rooms/{room}/longpoll", params={"key": key, "timeout": "1"})
    elapsed = time.monotonic() - started
    assert r.status_code == 200 and r.json()["messages"] == [] and r.json()["key"] == key
    assert 0.9 <= elapsed < 3

    async def wake() -> Tuple[float, dict]:
        async with httpx.AsyncClient(base_url=http.base_url, timeout=10) as client:
            task = asyncio.create_task(client.get(f"/rooms/{room}/longpoll", params={"key": key, "timeout": "20"}))
            await asyncio.sleep(0.3)
            sent = time.monotonic()
            await client.post(f"/rooms/{room}/messages", json={"user": "a", "text": "wake"})
            response = await task
            return time.monotonic() - sent, response.json()

    latency, body = run(wake())
    assert [m["data"]["text"] for m in body["messages"]] == ["wake"]
    assert latency < 0.5
    # an older key answers at once with everything after it
    started = time.monotonic()
    r = http.get(f"/rooms/{room}/longpoll", params={"key": key, "timeout": "20"})
    assert time.monotonic() - started < 1 and [m["data"]["text"] for m in r.json()["messages"]] == ["wake"]
    for bad in ("x", "-1", "nan"):
        assert http.get(f"/rooms/{room}/longpoll", params={"timeout": bad}).status_code == 400


def test_long_poll_client_going_away_releases_its_waiter(server: Server, http: httpx.Client, room: str) -> None:
    key = head(http, room)
    base = server.metric("pushbus_subscriptions")

    async def go_away() -> None:
        async with httpx.AsyncClient(base_url=server.base, timeout=10) as client:
            task = asyncio.create_task(client.get(f"/rooms/{room}/longpoll", params={"key": key, "timeout": "30"}))
            await asyncio.sleep(0.3)
            assert server.metric("pushbus_subscriptions") == base + 1
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    run(go_away())
    deadline = time.monotonic() + 5
    while server.metric("pushbus_subscriptions") != base:
        assert time.monotonic() < deadline
        time.sleep(0.05)


async def raw_get(base: str, path: str, until: bytes, limit: float = 5.0,
                  headers: Optional[Dict[str, str]] = None) -> Tuple[int, Dict[str, str], bytes]:
    """Reads a streaming response until ``until`` appears (or the stream ends)."""
    async with aiohttp.ClientSession(base) as session:
        async with session.get(path, headers=headers or {}) as response:
            data = b""
            deadline = time.monotonic() + limit
            while until not in data and time.monotonic() < deadline:
                try:
                    chunk = await asyncio.wait_for(response.content.readany(), deadline - time.monotonic())
                except asyncio.TimeoutError:
                    break
                if not chunk:
                    break
                data += chunk
            return response.status, dict(response.headers), data


def test_sse_headers_preamble_and_heartbeat(server: Server, room: str) -> None:
    status, headers, data = run(raw_get(server.base, f"/rooms/{room}/events", b": ping\n\n"))
    assert status == 200
    assert headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert headers["Cache-Control"] == "no-store" and headers["X-Accel-Buffering"] == "no"
    assert data.startswith(b"retry: 3000\n") and b"\n:" in data[:100]
    assert data.endswith(b": ping\n\n")  # HEARTBEAT_SECONDS=1 in the tests


def test_sse_header_wins_over_query(server: Server, http: httpx.Client, room: str) -> None:
    ids = [post(http, room, f"m{i}") for i in range(4)]
    from clients import read_sse

    assert [e["id"] for e in run(read_sse(server.base, room, ids[1], 2, via_query=True))] == ids[2:]

    async def both() -> List[dict]:
        out = []
        async with httpx.AsyncClient(base_url=server.base, timeout=10) as client:
            from httpx_sse import aconnect_sse

            async with aconnect_sse(client, "GET", f"/rooms/{room}/events", params={"lastEventId": ids[0]},
                                    headers={"Last-Event-ID": ids[2]}) as source:
                async for event in source.aiter_sse():
                    if event.data:
                        out.append(json.loads(event.data))
                        break
        return out

    assert [e["id"] for e in run(both())] == [ids[3]]


def test_sse_multiline_text_stays_one_data_line(server: Server, http: httpx.Client, room: str) -> None:
    start = head(http, room)
    post(http, room, "a\r\nb\rc\nevent: evil\n\nid: 1")
    status, _, data = run(raw_get(server.base, f"/rooms/{room}/events", b"}}\n\n", headers={"Last-Event-ID": start}))
    events = [block for block in data.split(b"\n\n") if block.startswith(b"id:")]
    lines = events[0].split(b"\n")
    assert [line.split(b":")[0] for line in lines] == [b"id", b"event", b"data"]
    assert json.loads(lines[2][6:])["data"]["text"] == "a\r\nb\rc\nevent: evil\n\nid: 1"


def test_xhr_headers_prelude_heartbeat_and_budget(server: Server, http: httpx.Client, room: str) -> None:
    status, headers, data = run(raw_get(server.base, f"/rooms/{room}/xhr", b"\n\n"))
    assert status == 200 and headers["Content-Type"] == "application/x-ndjson; charset=utf-8"
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-store"
    assert headers["X-Accel-Buffering"] == "no"
    prelude, _, rest = data.partition(b"\n")
    assert len(prelude) >= 2048 and prelude.strip() == b""
    assert rest.startswith(b"\n")  # an empty line: the heartbeat
    # The stream closes after its byte budget (32 KiB in the tests): the client reopens from its key.
    start = head(http, room)
    for _ in range(12):
        post(http, room, "x" * 4000)
    status, _, data = run(raw_get(server.base, f"/rooms/{room}/xhr?key={start}", b"never", limit=10))
    lines = [json.loads(line) for line in data.split(b"\n") if line.strip()]
    assert 7 <= len(lines) < 12  # cut after ~32 KiB, on a whole line
    assert data.endswith(b"\n")


def test_iframe_callback_padding_escaping_and_heartbeat(server: Server, http: httpx.Client, room: str) -> None:
    assert http.get(f"/rooms/{room}/iframe").status_code == 400
    for bad in ("alert(1)", "1x", "a" * 65, "x</script>"):
        r = http.get(f"/rooms/{room}/iframe", params={"cb": bad})
        assert r.status_code == 400 and "error" in r.json()
    start = head(http, room)
    post(http, room, "</script><script>alert(1)</script><!-- \u2028")
    status, headers, data = run(raw_get(server.base, f"/rooms/{room}/iframe?cb=cb&key={start}",
                                        b"parent.cb(null)</script>\n"))
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-store" and headers["X-Accel-Buffering"] == "no"
    first_script = data.index(b"<script>parent.cb(")
    assert first_script >= 2048
    scripts = re.findall(rb"<script>parent\.cb\((.*?)\)</script>\n", data)
    assert json.loads(scripts[0])["data"]["text"] == "</script><script>alert(1)</script><!-- \u2028"
    assert b"<" not in scripts[0] and "\u2028".encode() not in scripts[0]
    assert scripts[-1] == b"null"
    assert data.count(b"<script>") == data.count(b"</script>")


def mint(claims: dict, secret: str = SECRET) -> str:
    def b64(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    head_, body = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()), b64(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), f"{head_}.{body}".encode(), hashlib.sha256).digest()
    return f"{head_}.{body}.{b64(sig)}"


def raw_handshake(port: int, path: str, headers: Dict[str, str]) -> Tuple[int, Dict[str, str]]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"] + [f"{k}: {v}" for k, v in headers.items()]
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    head_lines = data.split(b"\r\n\r\n")[0].decode().split("\r\n")
    status = int(head_lines[0].split()[1])
    return status, {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head_lines[1:])}


def test_websocket_handshake(server: Server, room: str) -> None:
    base = {"Upgrade": "websocket", "Connection": "keep-alive, Upgrade", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    status, headers = raw_handshake(server.port, f"/rooms/{room}/ws", base)
    assert status == 101 and headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    status, headers = raw_handshake(server.port, f"/rooms/{room}/ws", dict(base, **{"Sec-WebSocket-Version": "12"}))
    assert status == 426 and headers["sec-websocket-version"] == "13"
    status, _ = raw_handshake(server.port, f"/rooms/{room}/ws", dict(base, Origin="http://evil.example"))
    assert status == 403
    status, _ = raw_handshake(server.port, f"/rooms/{room}/ws", dict(base, Origin=ALLOWED))
    assert status == 101
    status, _ = raw_handshake(server.port, f"/rooms/{room}/ws", dict(base, **{"Sec-WebSocket-Key": "short"}))
    assert status == 400


def test_websocket_post_ping_and_bad_utf8(server: Server, http: httpx.Client, room: str) -> None:
    async def scenario() -> None:
        async with websockets.connect(f"{server.ws_base}/rooms/{room}/ws?user=wes") as ws:
            pong = await ws.ping(b"hello")
            await asyncio.wait_for(pong, 5)
            await ws.send(json.dumps({"type": "message", "user": "wes", "text": "via ws"}))
            await ws.send(json.dumps({"type": "message", "user": "", "text": "ignored: bad user"}))
            await ws.send("not json")
            seen = []
            while len(seen) < 2:
                seen.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
            assert [e["event"] for e in seen] == ["join", "message"]
            assert seen[1]["data"] == {"user": "wes", "text": "via ws"}
        async with websockets.connect(f"{server.ws_base}/rooms/{room}/ws") as ws:
            await ws.send(b"\xff\xfe".decode("latin-1").encode("latin-1"))  # binary frame: ignored
            await ws.close()

    run(scenario())
    texts = [m["data"]["text"] for m in http.get(f"/rooms/{room}/poll").json()["messages"] if m["event"] == "message"]
    assert texts == ["via ws"]


def test_metrics(server: Server, http: httpx.Client, room: str) -> None:
    before = server.metric("pushbus_published_total")
    post(http, room, "count me")
    text = http.get("/metrics").text
    for name in ("pushbus_published_total", "pushbus_delivered_total", "pushbus_gaps_total",
                 "pushbus_subscriptions", "pushbus_topics", "pushbus_replay_bytes"):
        assert re.search(rf"^# TYPE {name} (counter|gauge)$", text, re.M)
        assert re.search(rf"^{name} \d+$", text, re.M)
    assert server.metric("pushbus_published_total") == before + 1


def test_cors(http: httpx.Client, room: str) -> None:
    pre = http.options(f"/rooms/{room}/messages", headers={
        "Origin": ALLOWED, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in pre.headers["access-control-allow-methods"]
    allowed_headers = pre.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    assert int(pre.headers["access-control-max-age"]) > 0 and "Origin" in pre.headers["vary"]
    assert pre.headers["access-control-allow-credentials"] == "true"
    for origin in ("http://evil.example", "null"):
        r = http.options(f"/rooms/{room}/messages", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in r.headers
    get = http.get(f"/rooms/{room}/poll", headers={"Origin": ALLOWED})
    assert get.headers["access-control-allow-origin"] == ALLOWED
    assert "etag" in get.headers["access-control-expose-headers"].lower()
    bad = http.get("/rooms/a.b/poll", headers={"Origin": ALLOWED})
    assert bad.status_code == 400 and bad.headers["access-control-allow-origin"] == ALLOWED
    evil = http.get(f"/rooms/{room}/poll", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in evil.headers


def test_auth(auth_server: Server, room: str) -> None:
    exp = int(time.time()) + 600
    good = mint({"sub": "tok-user", "exp": exp, "rooms": [room]})
    other = mint({"sub": "tok-user", "exp": exp, "rooms": ["elsewhere"]})
    everything = mint({"sub": "root", "exp": exp, "rooms": ["*"]})
    expired = mint({"sub": "tok-user", "exp": int(time.time()) - 10, "rooms": [room]})
    forged = mint({"sub": "tok-user", "exp": exp, "rooms": [room]}, secret="wrong")
    msg = {"user": "claimed", "text": "hi"}
    with httpx.Client(base_url=auth_server.base, timeout=10) as c:
        assert c.post(f"/rooms/{room}/messages", json=msg).status_code == 401
        for token in (expired, forged, "garbage"):
            r = c.post(f"/rooms/{room}/messages", json=msg, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401 and "error" in r.json()
        assert c.post(f"/rooms/{room}/messages", json=msg,
                      headers={"Authorization": f"Bearer {other}"}).status_code == 403
        r = c.get(f"/rooms/{room}/poll", headers={"Authorization": f"Bearer {everything}"})
        assert r.status_code == 200
        assert [(m["event"], m["data"]["client"]) for m in r.json()["messages"]] == [("join", "root")]  # sub is the user
        r = c.post(f"/rooms/{room}/messages", json=msg, headers={"Authorization": f"Bearer {good}"})
        assert r.status_code == 201
        polled = c.get(f"/rooms/{room}/poll", params={"token": good}).json()
        said = [m["data"] for m in polled["messages"] if m["event"] == "message"]
        assert said == [{"user": "tok-user", "text": "hi"}]  # the token's sub overrides the body's user
        assert c.get(f"/rooms/{room}/events", params={"token": other}).status_code == 403
        pre = c.options(f"/rooms/{room}/messages", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 204  # preflight needs no token

    async def stream_with_query_token() -> dict:
        from httpx_sse import aconnect_sse

        async with httpx.AsyncClient(base_url=auth_server.base, timeout=10) as client:
            async with aconnect_sse(client, "GET", f"/rooms/{room}/events", params={"token": good, "lastEventId": "0-0"}) as s:
                async for event in s.aiter_sse():
                    if event.data:
                        return dict(json.loads(event.data))
        raise AssertionError("no event")

    assert run(stream_with_query_token())["event"] == "gap"


@pytest.mark.parametrize("path", ["events", "xhr", "ws"])
def test_slow_reader_is_cut_off_without_memory_growth(server: Server, http: httpx.Client, room: str,
                                                      path: str) -> None:
    """A client that never reads its stream: the server closes it and its memory stays bounded."""
    subs_before = server.metric("pushbus_subscriptions")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    upgrade = ("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n") if path == "ws" else ""
    sock.sendall(f"GET /rooms/{room}/{path} HTTP/1.1\r\nHost: x\r\n{upgrade}\r\n".encode())
    time.sleep(0.3)
    assert server.metric("pushbus_subscriptions") == subs_before + 1
    rss_before = server.rss_kib()

    async def flood() -> None:
        async with websockets.connect(f"{server.ws_base}/rooms/{room}/ws?key=0-0") as ws:
            payload = json.dumps({"type": "message", "user": "flood", "text": "y" * 4000})
            for _ in range(3000):  # ~12 MB through a socket the reader never drains
                await ws.send(payload)

    run(flood(), timeout=60)
    deadline = time.monotonic() + 15
    while server.metric("pushbus_subscriptions") > subs_before:
        assert time.monotonic() < deadline, "the slow reader was never cut off"
        time.sleep(0.1)
    growth_mib = (server.rss_kib() - rss_before) / 1024
    print(f"\nslow {path} reader: server RSS grew {growth_mib:.1f} MiB while 12 MB were published")
    assert growth_mib < 40  # the ring (1024 messages and their frames) plus one capped queue
    sock.close()

"""One reader per transport, each an independent client library.

Each ``read_*`` opens the transport for ``room`` from ``key`` (None: live
for streams, the last 50 for polls) and returns the first ``n`` envelopes
(messages and gaps) it gets, within ``timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Callable, Coroutine, Dict, List, Optional

import aiohttp
import httpx
import websockets
from httpx_sse import aconnect_sse

Envelope = Dict[str, Any]
SCRIPT = re.compile(rb"<script>parent\.cb\((.*?)\)</script>\n")


async def read_sse(base: str, room: str, key: Optional[str], n: int, *, user: Optional[str] = None,
                   via_query: bool = False) -> List[Envelope]:
    headers = {}
    params: Dict[str, str] = {}
    if key is not None:
        if via_query:
            params["lastEventId"] = key
        else:
            headers["Last-Event-ID"] = key  # resume done by hand, as EventSource would
    if user:
        params["user"] = user
    out: List[Envelope] = []
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        async with aconnect_sse(client, "GET", f"/rooms/{room}/events", headers=headers, params=params) as source:
            assert source.response.headers["content-type"] == "text/event-stream; charset=utf-8"
            async for event in source.aiter_sse():
                if event.data == "":
                    continue  # a block with no data (the retry: preamble) dispatches nothing
                envelope = json.loads(event.data)
                assert event.event == envelope["event"]
                if envelope["event"] != "gap":
                    assert event.id == envelope["id"]
                out.append(envelope)
                if len(out) == n:
                    break
    return out


async def read_lines(base: str, room: str, key: Optional[str], n: int, *, path: str = "xhr",
                     user: Optional[str] = None) -> List[Envelope]:
    params = {k: v for k, v in (("key", key), ("user", user), ("cb", "cb")) if v is not None}
    if path == "xhr":
        params.pop("cb")
    out: List[Envelope] = []
    async with aiohttp.ClientSession(base) as session:
        async with session.get(f"/rooms/{room}/{path}", params=params) as response:
            assert response.status == 200
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                if path == "xhr":
                    *lines, buffer = buffer.split(b"\n")
                    found = [json.loads(line) for line in lines if line.strip()]
                else:
                    found = []
                    for match in SCRIPT.finditer(buffer):
                        if match.group(1) != b"null":
                            found.append(json.loads(match.group(1)))
                    last = buffer.rfind(b"</script>\n")
                    if last >= 0:
                        buffer = buffer[last + len(b"</script>\n"):]
                out.extend(found)
                if len(out) >= n:
                    break
    return out[:n]


async def read_iframe(base: str, room: str, key: Optional[str], n: int, *, user: Optional[str] = None) -> List[Envelope]:
    return await read_lines(base, room, key, n, path="iframe", user=user)


async def read_ws(base: str, room: str, key: Optional[str], n: int, *, user: Optional[str] = None) -> List[Envelope]:
    query = "&".join(f"{k}={v}" for k, v in (("key", key), ("user", user)) if v is not None)
    url = base.replace("http://", "ws://") + f"/rooms/{room}/ws" + (f"?{query}" if query else "")
    out: List[Envelope] = []
    async with websockets.connect(url) as ws:
        while len(out) < n:
            frame = await ws.recv()
            assert isinstance(frame, str)  # one envelope per text frame
            out.append(json.loads(frame))
    return out


async def read_longpoll(base: str, room: str, key: Optional[str], n: int, **_: Any) -> List[Envelope]:
    out: List[Envelope] = []
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        if key is None:
            key = (await client.get(f"/rooms/{room}/poll")).json()["key"]
        while len(out) < n:
            r = await client.get(f"/rooms/{room}/longpoll", params={"key": key, "timeout": "2"})
            assert r.status_code == 200
            body = r.json()
            if body["gap"]:
                out.append(body["gap"])
            out.extend(body["messages"])
            key = body["key"]
    return out[:n]


async def read_poll(base: str, room: str, key: Optional[str], n: int, **_: Any) -> List[Envelope]:
    out: List[Envelope] = []
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        if key is None:
            key = (await client.get(f"/rooms/{room}/poll")).json()["key"]
        for _ in range(500):
            r = await client.get(f"/rooms/{room}/poll", params={"key": key})
            assert r.status_code == 200 and r.headers["etag"] == r.json()["key"]
            body = r.json()
            if body["gap"]:
                out.append(body["gap"])
            out.extend(body["messages"])
            key = body["key"]
            if len(out) >= n:
                break
            await asyncio.sleep(0.02)
    return out[:n]


READERS: Dict[str, Callable[..., Coroutine[Any, Any, List[Envelope]]]] = {
    "sse": read_sse,
    "xhr": read_lines,
    "iframe": read_iframe,
    "ws": read_ws,
    "longpoll": read_longpoll,
    "poll": read_poll,
}
STREAMS = ["sse", "xhr", "iframe", "ws"]


def run(coro: Coroutine[Any, Any, Any], timeout: float = 20) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))

"""Clients of the chat contract, each an independent library, none the server's code.

Each reader in ``READERS`` opens one transport of ``room`` from ``key``
(None: live for streams, the last 50 for polls) and returns the first ``n``
envelopes (messages and gaps) it gets: httpx-sse for Server-Sent Events,
aiohttp's client for the XHR and iframe streams, ``websockets`` for
WebSocket, httpx for the polls. Raw sockets are in ``raw.py``.
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
Params = Dict[str, str]
CALLBACK = "cb"
SCRIPT = re.compile(rb"<script>parent\.([A-Za-z0-9_$.]+)\((.*?)\)</script>")


def post(http: httpx.Client, room: str, text: str, user: str = "ann") -> str:
    """Posts one message; its key."""
    r = http.post(f"/rooms/{room}/messages", json={"user": user, "text": text})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def head(http: httpx.Client, room: str) -> str:
    """The room's newest key."""
    r = http.get(f"/rooms/{room}/poll")
    assert r.status_code == 200, r.text
    return str(r.json()["key"])


def messages(http: httpx.Client, room: str) -> List[Envelope]:
    """The last 50 envelopes of event ``message`` (presence events left out)."""
    return [m for m in http.get(f"/rooms/{room}/poll").json()["messages"] if m["event"] == "message"]


def connectors(http: httpx.Client, room: str) -> List[str]:
    return [c["user"] for c in http.get(f"/rooms/{room}/connectors").json()["connectors"]]


def other_epoch(key: str) -> str:
    """A well-formed key of another life of the topic (as after a server restart).

    Keys are opaque to clients; this one helper knows pushbus renders them `<epoch hex>-<seq>`."""
    epoch, _ = key.split("-")
    return f"{int(epoch, 16) ^ 1:x}-1"


def texts(envelopes: List[Envelope]) -> List[str]:
    return [e["data"]["text"] for e in envelopes if e["event"] == "message"]


def stream_params(key: Optional[str], user: Optional[str], extra: Optional[Params]) -> Params:
    params = {name: value for name, value in (("key", key), ("user", user)) if value is not None}
    params.update(extra or {})
    return params


async def read_sse(base: str, room: str, key: Optional[str], n: int, *, user: Optional[str] = None,
                   params: Optional[Params] = None, via_query: bool = False) -> List[Envelope]:
    """SSE, resumed by hand as EventSource does: ``Last-Event-ID`` (or ``?lastEventId=``)."""
    headers = {}
    query = stream_params(None, user, params)
    if key is not None:
        if via_query:
            query["lastEventId"] = key
        else:
            headers["Last-Event-ID"] = key
    out: List[Envelope] = []
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        async with aconnect_sse(client, "GET", f"/rooms/{room}/events", headers=headers, params=query) as source:
            assert source.response.status_code == 200
            assert source.response.headers["content-type"] == "text/event-stream; charset=utf-8"
            async for event in source.aiter_sse():
                if event.data == "":
                    continue  # the retry: preamble: a block with no data dispatches nothing
                envelope = json.loads(event.data)
                assert event.event == envelope["event"]
                assert event.id == (envelope["to"] if envelope["event"] == "gap" else envelope["id"])
                out.append(envelope)
                if len(out) == n:
                    break
    return out


def ndjson_envelopes(lines: List[bytes]) -> List[Envelope]:
    return [json.loads(line) for line in lines if line.strip()]


def script_envelopes(scripts: List[bytes]) -> List[Envelope]:
    return [json.loads(body) for body in scripts if body != b"null"]


async def read_chunks(base: str, path: str, params: Params, n: int, split: Callable[[bytes], tuple]) -> List[Envelope]:
    """Reads a streaming body with aiohttp; ``split(buffer)`` gives (envelopes, rest)."""
    out: List[Envelope] = []
    async with aiohttp.ClientSession(base) as session:
        async with session.get(path, params=params) as response:
            assert response.status == 200, await response.text()
            buffer = b""
            async for chunk in response.content.iter_any():
                found, buffer = split(buffer + chunk)
                out.extend(found)
                if len(out) >= n:
                    break
    return out[:n]


def split_lines(buffer: bytes) -> tuple:
    *lines, rest = buffer.split(b"\n")
    return ndjson_envelopes(lines), rest


def split_scripts(buffer: bytes) -> tuple:
    matches = list(SCRIPT.finditer(buffer))
    for match in matches:
        assert match.group(1) == CALLBACK.encode()
    found = script_envelopes([m.group(2) for m in matches])
    return found, buffer[matches[-1].end():] if matches else buffer


async def read_xhr(base: str, room: str, key: Optional[str], n: int, *, user: Optional[str] = None,
                   params: Optional[Params] = None) -> List[Envelope]:
    return await read_chunks(base, f"/rooms/{room}/xhr", stream_params(key, user, params), n, split_lines)


async def read_iframe(base: str, room: str, key: Optional[str], n: int, *, user: Optional[str] = None,
                      params: Optional[Params] = None) -> List[Envelope]:
    query = stream_params(key, user, params)
    query.setdefault("cb", CALLBACK)
    return await read_chunks(base, f"/rooms/{room}/iframe", query, n, split_scripts)


def ws_url(base: str, room: str, params: Params) -> str:
    return str(httpx.URL(base.replace("http://", "ws://") + f"/rooms/{room}/ws", params=params))


async def read_ws(base: str, room: str, key: Optional[str], n: int, *, user: Optional[str] = None,
                  params: Optional[Params] = None) -> List[Envelope]:
    out: List[Envelope] = []
    async with websockets.connect(ws_url(base, room, stream_params(key, user, params))) as ws:
        while len(out) < n:
            frame = await ws.recv()
            assert isinstance(frame, str), "one envelope per text frame"
            out.append(json.loads(frame))
    return out


async def poll_loop(base: str, room: str, key: Optional[str], n: int, path: str, query: Params,
                    pause: float) -> List[Envelope]:
    """Polls from ``key`` (None: the room's newest) until ``n`` envelopes came."""
    out: List[Envelope] = []
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        if key is None:
            key = (await client.get(f"/rooms/{room}/poll")).json()["key"]
        while len(out) < n:
            r = await client.get(f"/rooms/{room}/{path}", params=dict(query, key=key))
            assert r.status_code == 200, r.text
            body = r.json()
            assert r.headers["etag"].strip('"') == body["key"]
            if body["gap"]:
                out.append(body["gap"])
            out.extend(body["messages"])
            key = body["key"]
            await asyncio.sleep(pause)
    return out[:n]


async def read_longpoll(base: str, room: str, key: Optional[str], n: int, *, user: Optional[str] = None,
                        params: Optional[Params] = None) -> List[Envelope]:
    return await poll_loop(base, room, key, n, "longpoll", stream_params(None, user, dict(params or {}, timeout="5")),
                           pause=0)


async def read_poll(base: str, room: str, key: Optional[str], n: int, *, user: Optional[str] = None,
                    params: Optional[Params] = None) -> List[Envelope]:
    return await poll_loop(base, room, key, n, "poll", stream_params(None, user, params), pause=0.02)


READERS: Dict[str, Callable[..., Coroutine[Any, Any, List[Envelope]]]] = {
    "sse": read_sse,
    "xhr": read_xhr,
    "iframe": read_iframe,
    "ws": read_ws,
    "longpoll": read_longpoll,
    "poll": read_poll,
}
STREAMS = ["sse", "xhr", "iframe", "ws"]
POLLS = ["poll", "longpoll"]


def run(coro: Coroutine[Any, Any, Any], timeout: float = 20) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))

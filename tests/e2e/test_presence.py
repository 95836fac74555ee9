"""Presence: streams join while open and leave within 5 s of closing; polls refresh a lease."""

from __future__ import annotations

import asyncio
import time
from typing import List

import httpx
import pytest

from clients import READERS, STREAMS, Envelope, connectors, head, read_sse, run
from conftest import Server

LEAVE_WITHIN = 5.0


async def until_connectors(http: httpx.Client, room: str, has: str, present: bool, what: str) -> None:
    deadline = time.monotonic() + LEAVE_WITHIN
    while (has in await asyncio.to_thread(connectors, http, room)) != present:
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("transport", STREAMS)
def test_a_stream_is_a_connector_while_open_and_gone_within_5s_of_closing(server: Server, http: httpx.Client,
                                                                          room: str, transport: str) -> None:
    async def scenario() -> None:
        stream = asyncio.create_task(READERS[transport](server.base, room, None, 10_000, user="zed"))
        await until_connectors(http, room, "zed", True, "zed never appeared")
        body = http.get(f"/rooms/{room}/connectors").json()
        assert body["key"] == head(http, room)
        (zed,) = body["connectors"]
        assert zed["user"] == "zed" and abs(zed["since"] - time.time() * 1000) < 60_000
        stream.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stream
        await until_connectors(http, room, "zed", False, f"zed still a connector {LEAVE_WITHIN} s after closing")

    run(scenario())


@pytest.mark.parametrize("transport", ["poll", "longpoll"])
def test_a_poll_with_a_user_takes_a_presence_lease(http: httpx.Client, room: str, transport: str) -> None:
    assert http.get(f"/rooms/{room}/{transport}", params={"user": "pat", "timeout": "0"}).status_code == 200
    assert connectors(http, room) == ["pat"]
    http.get(f"/rooms/{room}/{transport}", params={"user": "pat", "timeout": "0"})
    assert connectors(http, room) == ["pat"]  # refreshed, not doubled


def test_joins_and_leaves_are_events_of_the_room(server: Server, http: httpx.Client, room: str) -> None:
    async def scenario() -> List[Envelope]:
        start = head(http, room)
        watcher = asyncio.create_task(read_sse(server.base, room, start, 2))  # no user=: joins nobody
        await asyncio.sleep(0.3)
        joiner = asyncio.create_task(READERS["ws"](server.base, room, None, 10_000, user="joiner"))
        await until_connectors(http, room, "joiner", True, "joiner never appeared")
        joiner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await joiner
        return await watcher

    join, leave = run(scenario())
    assert (join["event"], join["data"]["client"]) == ("join", "joiner")
    assert (leave["event"], leave["data"]["client"]) == ("leave", "joiner")
    assert head(http, room) == leave["id"]  # presence events move the room's key

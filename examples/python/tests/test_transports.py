"""Every transport: order, resume from a key, gaps, garbage keys, presence."""

from __future__ import annotations

import asyncio
import time
from typing import List

import httpx
import pytest

from clients import READERS, STREAMS, read_sse, run
from conftest import Server


def post(http: httpx.Client, room: str, text: str, user: str = "ann") -> str:
    r = http.post(f"/rooms/{room}/messages", json={"user": user, "text": text})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def head(http: httpx.Client, room: str) -> str:
    return str(http.get(f"/rooms/{room}/poll").json()["key"])


@pytest.mark.parametrize("transport", list(READERS))
def test_messages_arrive_in_order(server: Server, http: httpx.Client, room: str, transport: str) -> None:
    start = head(http, room)
    ids = [post(http, room, f"m{i}") for i in range(20)]
    got = run(READERS[transport](server.base, room, start, 20))
    assert [e["id"] for e in got] == ids
    assert [e["data"] for e in got] == [{"user": "ann", "text": f"m{i}"} for i in range(20)]
    assert all(e["event"] == "message" and e["topic"] == f"chat.{room}" for e in got)
    assert [e["seq"] for e in got] == sorted(e["seq"] for e in got)


@pytest.mark.parametrize("transport", list(READERS))
def test_resume_after_key_loses_nothing_repeats_nothing(server: Server, http: httpx.Client, room: str,
                                                        transport: str) -> None:
    ids = [post(http, room, f"m{i}") for i in range(10)]
    got = run(READERS[transport](server.base, room, ids[3], 6))
    assert [e["id"] for e in got] == ids[4:]

    async def then_one_more() -> List[dict]:
        reader = asyncio.create_task(READERS[transport](server.base, room, ids[-1], 1))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(post, http, room, "after")
        return await reader

    (after,) = run(then_one_more())
    assert after["data"]["text"] == "after"  # nothing repeated before it


@pytest.mark.parametrize("transport", list(READERS))
def test_stale_key_yields_a_gap(server: Server, http: httpx.Client, room: str, transport: str) -> None:
    ids = [post(http, room, f"m{i}") for i in range(3)]
    epoch, seq = ids[0].split("-")
    stale = f"{int(epoch, 16) ^ 1:x}-1"  # another life of the topic (a restart)
    got = run(READERS[transport](server.base, room, stale, 4))
    assert got[0]["event"] == "gap" and got[0]["from"] == stale and got[0]["topic"] == f"chat.{room}"
    assert [e["id"] for e in got[1:]] == ids


@pytest.mark.parametrize("transport", STREAMS)
def test_streams_answer_a_garbage_key_with_a_gap(server: Server, http: httpx.Client, room: str,
                                                 transport: str) -> None:
    ids = [post(http, room, f"m{i}") for i in range(2)]
    got = run(READERS[transport](server.base, room, "garbage", 3))
    assert got[0]["event"] == "gap" and got[0]["from"] == "garbage"
    assert [e["id"] for e in got[1:]] == ids  # from the oldest held


@pytest.mark.parametrize("transport", ["poll", "longpoll"])
def test_polls_answer_a_garbage_key_with_400(http: httpx.Client, room: str, transport: str) -> None:
    r = http.get(f"/rooms/{room}/{transport}", params={"key": "garbage", "timeout": "1"})
    assert r.status_code == 400 and "error" in r.json()


def connectors(http: httpx.Client, room: str) -> List[str]:
    return [c["user"] for c in http.get(f"/rooms/{room}/connectors").json()["connectors"]]


@pytest.mark.parametrize("transport", STREAMS)
def test_presence_appears_and_disappears(server: Server, http: httpx.Client, room: str, transport: str) -> None:
    async def scenario() -> None:
        post(http, room, "hello")
        task = asyncio.create_task(READERS[transport](server.base, room, None, 10_000, user="zed"))
        deadline = time.monotonic() + 5
        while "zed" not in await asyncio.to_thread(connectors, http, room):
            assert time.monotonic() < deadline, "zed never appeared"
            await asyncio.sleep(0.05)
        body = http.get(f"/rooms/{room}/connectors").json()
        assert body["key"] and body["connectors"][0]["since"] > 0
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        gone = time.monotonic()
        while "zed" in await asyncio.to_thread(connectors, http, room):
            assert time.monotonic() - gone < 5, "zed still present 5 s after closing"
            await asyncio.sleep(0.05)

    run(scenario())


def test_polls_refresh_a_presence_lease(http: httpx.Client, room: str) -> None:
    http.get(f"/rooms/{room}/poll", params={"user": "pat"})
    assert connectors(http, room) == ["pat"]
    http.get(f"/rooms/{room}/longpoll", params={"user": "quin", "timeout": "0"})
    assert connectors(http, room) == ["pat", "quin"]


def test_presence_events_reach_streams(server: Server, http: httpx.Client, room: str) -> None:
    async def scenario() -> List[dict]:
        start = head(http, room)
        reader = asyncio.create_task(read_sse(server.base, room, start, 1))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(http.get, f"/rooms/{room}/poll", params={"user": "joiner"})
        return await reader

    got = run(scenario())  # the reader itself gave no user=, so joins nobody
    assert got[0]["event"] == "join" and got[0]["data"]["client"] == "joiner"

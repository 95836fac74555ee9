"""Every transport: order, resume after a key, gaps, garbage keys, live start.

A gap's ``to`` is the key reading resumes after: the key just before the
oldest message held (pushbus's resume point). So a client that takes ``to``
as its key goes on exactly with the message that follows the gap.
"""

from __future__ import annotations

import asyncio
from typing import List

import httpx
import pytest

from clients import POLLS, READERS, STREAMS, Envelope, other_epoch, post, run, texts
from conftest import SMALL_RING, Server


def assert_gap_resumes_at(http: httpx.Client, room: str, gap: Envelope, following: List[Envelope]) -> None:
    """``gap.to`` is where reading resumed: a poll from it gives what followed the gap."""
    assert gap["event"] == "gap" and gap["topic"] == f"chat.{room}"
    after = http.get(f"/rooms/{room}/poll", params={"key": gap["to"]}).json()
    assert after["gap"] is None
    assert [m["id"] for m in after["messages"][:len(following)]] == [m["id"] for m in following]


@pytest.mark.parametrize("transport", list(READERS))
def test_messages_arrive_in_order(server: Server, http: httpx.Client, room: str, transport: str) -> None:
    start = post(http, room, "before")
    ids = [post(http, room, f"m{i}") for i in range(20)]
    got = run(READERS[transport](server.base, room, start, 20))
    assert [e["id"] for e in got] == ids
    assert [e["data"] for e in got] == [{"user": "ann", "text": f"m{i}"} for i in range(20)]
    assert all(e["event"] == "message" and e["topic"] == f"chat.{room}" for e in got)
    assert [e["seq"] for e in got] == sorted({e["seq"] for e in got})


@pytest.mark.parametrize("transport", list(READERS))
def test_resume_after_a_key_loses_nothing_and_repeats_nothing(server: Server, http: httpx.Client, room: str,
                                                              transport: str) -> None:
    ids = [post(http, room, f"m{i}") for i in range(10)]
    assert [e["id"] for e in run(READERS[transport](server.base, room, ids[3], 6))] == ids[4:]

    async def newest_then_one_more() -> List[Envelope]:
        reader = asyncio.create_task(READERS[transport](server.base, room, ids[-1], 1))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(post, http, room, "after")
        return await reader

    (after,) = run(newest_then_one_more())
    assert after["data"]["text"] == "after"  # nothing from before the key came first


@pytest.mark.parametrize("transport", STREAMS)
def test_a_stream_without_a_key_is_live_only(server: Server, http: httpx.Client, room: str, transport: str) -> None:
    post(http, room, "old news")
    before = server.settled_metric("pushbus_subscriptions")

    async def open_then_post() -> List[Envelope]:
        reader = asyncio.create_task(READERS[transport](server.base, room, None, 1))
        await asyncio.to_thread(server.wait_for_subscriptions, before + 1)
        await asyncio.to_thread(post, http, room, "live")
        return await reader

    assert texts(run(open_then_post())) == ["live"]


@pytest.mark.parametrize("transport", list(READERS))
def test_a_key_of_another_epoch_gets_a_gap_then_everything_held(server: Server, http: httpx.Client, room: str,
                                                                  transport: str) -> None:
    ids = [post(http, room, f"m{i}") for i in range(3)]
    stale = other_epoch(ids[0])
    got = run(READERS[transport](server.base, room, stale, 4))
    assert got[0]["from"] == stale
    assert [e["id"] for e in got[1:]] == ids
    assert_gap_resumes_at(http, room, got[0], got[1:])


@pytest.mark.parametrize("transport", list(READERS))
def test_a_key_older_than_the_ring_gets_a_gap_then_the_oldest_held(small_ring_server: Server, room: str,
                                                                   transport: str) -> None:
    with httpx.Client(base_url=small_ring_server.base, timeout=10) as http:
        ids = [post(http, room, f"m{i}") for i in range(SMALL_RING + 10)]
        got = run(READERS[transport](small_ring_server.base, room, ids[2], SMALL_RING + 1))
        gap, following = got[0], got[1:]
        assert gap["event"] == "gap" and gap["from"] == ids[2]
        assert [e["id"] for e in following] == ids[10:]  # the REPLAY_MESSAGES newest, none lost after the gap
        assert gap["to"] == ids[9]  # the resume point: the key just before the oldest held
        assert_gap_resumes_at(http, room, gap, following)


@pytest.mark.parametrize("transport", STREAMS)
def test_streams_answer_a_garbage_key_with_a_gap_from_the_oldest_held(server: Server, http: httpx.Client, room: str,
                                                                       transport: str) -> None:
    ids = [post(http, room, f"m{i}") for i in range(2)]
    got = run(READERS[transport](server.base, room, "garbage", 3))
    assert got[0]["event"] == "gap" and got[0]["from"] == "garbage"
    assert [e["id"] for e in got[1:]] == ids
    assert_gap_resumes_at(http, room, got[0], got[1:])


@pytest.mark.parametrize("transport", POLLS)
def test_polls_answer_a_garbage_key_with_400(http: httpx.Client, room: str, transport: str) -> None:
    before = http.get(f"/rooms/{room}/poll").json()["key"]
    for bad in ("garbage", "zz-1", "12-", "1-1-1", "-1", "1-01"):
        r = http.get(f"/rooms/{room}/{transport}", params={"key": bad, "timeout": "1"})
        assert r.status_code == 400, bad
        assert isinstance(r.json()["error"], str)
    assert http.get(f"/rooms/{room}/poll").json()["key"] == before

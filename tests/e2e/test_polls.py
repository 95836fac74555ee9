"""Short polls (ETag, If-None-Match, 304) and long polls (hold, wake-up, timeout, release)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, List, Tuple

import httpx
import pytest

from clients import head, post, run, texts
from conftest import Server


def test_short_poll_without_a_key_gives_the_last_50_and_the_key(http: httpx.Client, room: str) -> None:
    ids = [post(http, room, f"m{i}") for i in range(60)]
    r = http.get(f"/rooms/{room}/poll")
    body = r.json()
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert [m["id"] for m in body["messages"]] == ids[10:]
    assert body["key"] == ids[-1] and body["gap"] is None
    assert r.headers["etag"].strip('"') == ids[-1]


def test_short_poll_from_a_key_gives_what_followed(http: httpx.Client, room: str) -> None:
    ids = [post(http, room, f"m{i}") for i in range(5)]
    body = http.get(f"/rooms/{room}/poll", params={"key": ids[1]}).json()
    assert [m["id"] for m in body["messages"]] == ids[2:] and body["key"] == ids[-1]
    nothing = http.get(f"/rooms/{room}/poll", params={"key": ids[-1]})
    assert nothing.status_code == 200 and nothing.json() == {"key": ids[-1], "messages": [], "gap": None}
    assert nothing.headers["etag"].strip('"') == ids[-1]


@pytest.mark.parametrize("etag_form", ["{}", '"{}"', 'W/"{}"'])
def test_if_none_match_with_nothing_newer_is_304(http: httpx.Client, room: str, etag_form: str) -> None:
    ids = [post(http, room, f"m{i}") for i in range(3)]
    same = http.get(f"/rooms/{room}/poll", headers={"If-None-Match": etag_form.format(ids[-1])})
    assert same.status_code == 304 and same.content == b""
    assert same.headers["etag"].strip('"') == ids[-1]
    with_key = http.get(f"/rooms/{room}/poll", params={"key": ids[-1]},
                        headers={"If-None-Match": etag_form.format(ids[-1])})
    assert with_key.status_code == 304
    newer = http.get(f"/rooms/{room}/poll", headers={"If-None-Match": etag_form.format(ids[0])})
    assert newer.status_code == 200 and newer.json()["key"] == ids[-1]
    assert ids[-1] in [m["id"] for m in newer.json()["messages"]]


@pytest.mark.parametrize("endpoint", ["poll", "longpoll"])
def test_a_poll_loop_gets_every_message_once_while_publishing(server: Server, http: httpx.Client, room: str,
                                                              endpoint: str) -> None:
    """No race: a message published between two polls is in the next one."""
    want = [f"m{i}" for i in range(40)]

    async def scenario() -> List[str]:
        got: List[str] = []
        async with httpx.AsyncClient(base_url=server.base, timeout=10) as client:
            key = head(http, room)
            publisher = asyncio.create_task(asyncio.to_thread(lambda: [post(http, room, text) for text in want]))
            while len(got) < len(want):
                r = await client.get(f"/rooms/{room}/{endpoint}", params={"key": key, "timeout": "5"},
                                     headers={"If-None-Match": key})
                if r.status_code == 304:
                    continue
                assert r.status_code == 200 and r.json()["gap"] is None
                got += texts(r.json()["messages"])
                key = r.json()["key"]
            await publisher
        return got

    assert run(scenario()) == want


def test_long_poll_answers_at_once_when_something_is_newer(http: httpx.Client, room: str) -> None:
    ids = [post(http, room, f"m{i}") for i in range(3)]
    started = time.monotonic()
    r = http.get(f"/rooms/{room}/longpoll", params={"key": ids[0], "timeout": "20"})
    assert time.monotonic() - started < 1
    assert [m["id"] for m in r.json()["messages"]] == ids[1:] and r.json()["key"] == ids[-1]


def test_long_poll_times_out_with_200_no_messages_and_the_same_key(http: httpx.Client, room: str) -> None:
    key = post(http, room, "only")
    started = time.monotonic()
    r = http.get(f"/rooms/{room}/longpoll", params={"key": key, "timeout": "1"})
    elapsed = time.monotonic() - started
    assert r.status_code == 200 and r.json() == {"key": key, "messages": [], "gap": None}
    assert 0.9 <= elapsed < 3


def test_long_poll_without_a_key_waits_for_the_next_message(server: Server, http: httpx.Client, room: str) -> None:
    post(http, room, "old")
    latency, body = run(wake_a_long_poll(server, room, {"timeout": "20"}))
    assert texts(body["messages"]) == ["wake"]
    assert latency < 0.5


def test_a_held_long_poll_wakes_within_milliseconds(server: Server, http: httpx.Client, room: str) -> None:
    key = post(http, room, "first")
    latency, body = run(wake_a_long_poll(server, room, {"key": key, "timeout": "20"}))
    assert texts(body["messages"]) == ["wake"] and body["key"] == body["messages"][-1]["id"]
    assert latency < 0.5


async def wake_a_long_poll(server: Server, room: str, params: Dict[str, str]) -> Tuple[float, Any]:
    """Holds a long poll, posts "wake": how long the answer took after the post, and the answer."""
    before = await asyncio.to_thread(server.settled_metric, "pushbus_subscriptions")
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        held = asyncio.create_task(client.get(f"/rooms/{room}/longpoll", params=params))
        await asyncio.to_thread(server.wait_for_subscriptions, before + 1)
        assert not held.done(), "the long poll answered before anything was newer"
        sent = time.monotonic()
        await client.post(f"/rooms/{room}/messages", json={"user": "ann", "text": "wake"})
        response = await held
        return time.monotonic() - sent, response.json()


@pytest.mark.parametrize("timeout", ["x", "-1", "nan", "inf", "1e999"])
def test_long_poll_rejects_a_bad_timeout(http: httpx.Client, room: str, timeout: str) -> None:
    r = http.get(f"/rooms/{room}/longpoll", params={"timeout": timeout})
    assert r.status_code == 400 and isinstance(r.json()["error"], str)


def test_a_long_poll_client_going_away_releases_its_waiter(server: Server, http: httpx.Client, room: str) -> None:
    key = head(http, room)
    before = server.settled_metric("pushbus_subscriptions")

    async def go_away() -> None:
        async with httpx.AsyncClient(base_url=server.base, timeout=10) as client:
            held = asyncio.create_task(client.get(f"/rooms/{room}/longpoll", params={"key": key, "timeout": "30"}))
            deadline = time.monotonic() + 5
            while await asyncio.to_thread(server.metric, "pushbus_subscriptions") != before + 1:
                assert time.monotonic() < deadline, "the long poll holds no subscription"
                await asyncio.sleep(0.05)
            held.cancel()
            with pytest.raises(asyncio.CancelledError):
                await held

    run(go_away())
    deadline = time.monotonic() + 2
    while server.metric("pushbus_subscriptions") != before:
        assert time.monotonic() < deadline, "the waiter of a client that went away is still there"
        time.sleep(0.05)


def test_user_and_text_come_back_exactly_whatever_they_hold(http: httpx.Client, room: str) -> None:
    """Each server builds the message's JSON from the POST's fields (the C
    server with a hand-written escaper): every character that JSON escapes,
    or that HTML and JavaScript treat specially, must come back as sent."""
    controls = "".join(chr(c) for c in range(0x20)) + "\x7f"
    cases = [
        ("ann", controls),
        ('a"\\/\u2028\U0001F600', 'quote " backslash \\ slash / </script><!-- \u2028\u2029 \ufeff \U0001F600 \u00e9'),
        ("\u00e9" * 32, "x" * 4096),  # the longest user (32 chars, 64 bytes) and text (4096 bytes)
    ]
    ids = [post(http, room, text, user=user) for user, text in cases]
    body = http.get(f"/rooms/{room}/poll").json()
    assert [m["id"] for m in body["messages"]] == ids
    assert [(m["data"]["user"], m["data"]["text"]) for m in body["messages"]] == cases

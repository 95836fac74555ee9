"""Auth (JWT_SECRET set): HS256 tokens minted by PyJWT, as any app server would."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Dict, Iterator, List

import httpx
import jwt
import pytest
import websockets

from clients import READERS, STREAMS, Envelope, run, texts, ws_url
from conftest import ALLOWED, SECRET, Server
from raw import exchange, ws_upgrade

ENDPOINTS = ["poll", "longpoll", "connectors", "events", "xhr", "iframe"]


def mint(sub: str, rooms: List[str], *, secret: str = SECRET, expires_in: int = 600, **header: Any) -> str:
    claims = {"sub": sub, "exp": int(time.time()) + expires_in, "rooms": rooms}
    return jwt.encode(claims, secret, algorithm=header.pop("algorithm", "HS256"), headers=header or None)


def bearer(token: str) -> Dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auth_http(auth_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=auth_server.base, timeout=10) as client:
        yield client


def said(http: httpx.Client, room: str) -> List[Envelope]:
    r = http.get(f"/rooms/{room}/poll", headers=bearer(mint("reader", [room])))
    assert r.status_code == 200
    return [m for m in r.json()["messages"] if m["event"] == "message"]


def refused(room: str) -> Dict[str, Dict[str, str]]:
    """Headers of requests that must be refused, by what is wrong with them."""
    return {
        "no token": {},
        "not a JWT": bearer("garbage"),
        "bad signature": bearer(mint("bob", [room], secret="another-secret-of-32-bytes-or-more-0123456789")),
        "expired": bearer(mint("bob", [room], expires_in=-3600)),
        "alg none": bearer(jwt.encode({"sub": "bob", "exp": int(time.time()) + 600, "rooms": [room]}, None,
                                      algorithm="none")),
        "other room": bearer(mint("bob", ["elsewhere"])),
    }


def expected_status(what: str) -> int:
    return 403 if what == "other room" else 401


def test_a_post_without_a_valid_token_is_refused_and_nothing_is_published(auth_http: httpx.Client, room: str) -> None:
    for what, headers in refused(room).items():
        r = auth_http.post(f"/rooms/{room}/messages", json={"user": "bob", "text": what}, headers=headers)
        assert r.status_code == expected_status(what), what
        assert isinstance(r.json()["error"], str), what
    assert said(auth_http, room) == []


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_reading_without_a_valid_token_is_refused(auth_http: httpx.Client, room: str, endpoint: str) -> None:
    for what, headers in refused(room).items():
        params = {"cb": "cb", "timeout": "0"}
        with auth_http.stream("GET", f"/rooms/{room}/{endpoint}", params=params, headers=headers) as r:
            assert r.status_code == expected_status(what), (endpoint, what)


def test_a_websocket_without_a_valid_token_is_refused(auth_server: Server, room: str) -> None:
    for what, headers in refused(room).items():
        token = headers.get("Authorization", "Bearer ")[len("Bearer "):]
        query = f"?token={token}" if token else ""
        response = exchange(auth_server.port, ws_upgrade(auth_server.port, f"/rooms/{room}/ws{query}"))
        assert response is not None and response.status == expected_status(what), what


def test_a_valid_token_posts_and_its_sub_is_the_user(auth_http: httpx.Client, room: str) -> None:
    for header in (bearer(mint("alice", [room])), {"Authorization": f"bearer {mint('alice', ['*'])}"}):
        r = auth_http.post(f"/rooms/{room}/messages", json={"user": "mallory", "text": "hi"}, headers=header)
        assert r.status_code == 201, r.text
    assert [m["data"] for m in said(auth_http, room)] == [{"user": "alice", "text": "hi"}] * 2


def test_the_token_sub_overrides_user_in_presence(auth_http: httpx.Client, room: str) -> None:
    token = mint("alice", [room])
    assert auth_http.get(f"/rooms/{room}/poll", params={"user": "mallory"}, headers=bearer(token)).status_code == 200
    assert auth_http.get(f"/rooms/{room}/connectors", headers=bearer(token)).json()["connectors"][0]["user"] == "alice"


@pytest.mark.parametrize("transport", STREAMS)
def test_streams_take_the_token_from_the_query_and_its_sub_is_the_user(auth_server: Server, auth_http: httpx.Client,
                                                                       room: str, transport: str) -> None:
    token = mint("carol", [room])
    start = auth_http.get(f"/rooms/{room}/connectors", headers=bearer(token)).json()["key"]  # no presence lease

    async def scenario() -> List[Envelope]:
        reader = asyncio.create_task(READERS[transport](auth_server.base, room, start, 2, user="mallory",
                                                        params={"token": token}))
        r = await asyncio.to_thread(auth_http.post, f"/rooms/{room}/messages", json={"user": "x", "text": "yo"},
                                    headers=bearer(token))
        assert r.status_code == 201
        return await reader

    got = run(scenario())  # from the key: the post and the stream's own join, in whichever order they came
    assert sorted(e["event"] for e in got) == ["join", "message"]
    for envelope in got:
        if envelope["event"] == "join":
            assert envelope["data"]["client"] == "carol"
        else:
            assert envelope["data"] == {"user": "carol", "text": "yo"}


def test_a_websocket_post_is_published_under_the_token_sub(auth_server: Server, auth_http: httpx.Client,
                                                           room: str) -> None:
    async def scenario() -> Envelope:
        url = ws_url(auth_server.base, room, {"token": mint("dave", [room])})
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"type": "message", "user": "impostor", "text": "via ws"}))
            while True:
                envelope = json.loads(await ws.recv())
                if envelope["event"] == "message":
                    return envelope

    assert run(scenario())["data"] == {"user": "dave", "text": "via ws"}
    assert texts(said(auth_http, room)) == ["via ws"]


def test_a_preflight_needs_no_token(auth_http: httpx.Client, room: str) -> None:
    r = auth_http.options(f"/rooms/{room}/messages", headers={
        "Origin": ALLOWED, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"})
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == ALLOWED


def test_healthz_and_the_page_need_no_token(auth_http: httpx.Client) -> None:
    assert auth_http.get("/healthz").status_code == 200
    assert auth_http.get("/").status_code == 200

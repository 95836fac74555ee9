"""CORS: the allow-list (ALLOWED_ORIGINS), preflights, errors and streams, the WebSocket Origin check."""

from __future__ import annotations

import httpx
import pytest

from conftest import ALLOWED, ALSO_ALLOWED, Server
from raw import exchange, ws_upgrade

UNLISTED = ["http://evil.example", "null", "http://allowed.example.evil.example", "https://allowed.example"]


@pytest.mark.parametrize("origin", [ALLOWED, ALSO_ALLOWED])
def test_preflight_of_an_allowed_origin_is_204_with_everything_a_browser_needs(http: httpx.Client, room: str,
                                                                               origin: str) -> None:
    r = http.options(f"/rooms/{room}/messages", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == origin
    assert "POST" in r.headers["access-control-allow-methods"]
    allowed_headers = r.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    assert int(r.headers["access-control-max-age"]) > 0
    assert "origin" in r.headers["vary"].lower()
    assert r.headers.get("access-control-allow-credentials", "true") == "true"


@pytest.mark.parametrize("origin", UNLISTED)
def test_an_unlisted_origin_gets_no_allow_origin(http: httpx.Client, room: str, origin: str) -> None:
    pre = http.options(f"/rooms/{room}/messages", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    assert pre.status_code < 500 and "access-control-allow-origin" not in pre.headers
    get = http.get(f"/rooms/{room}/poll", headers={"Origin": origin})
    assert "access-control-allow-origin" not in get.headers


def test_answers_errors_and_streams_carry_the_allowed_origin(server: Server, http: httpx.Client, room: str) -> None:
    ok = http.get(f"/rooms/{room}/poll", headers={"Origin": ALSO_ALLOWED})
    assert ok.headers["access-control-allow-origin"] == ALSO_ALLOWED
    assert "etag" in ok.headers["access-control-expose-headers"].lower()
    assert "*" not in ok.headers["access-control-allow-origin"]
    bad = http.post("/rooms/bad.room/messages", json={"user": "a", "text": "b"}, headers={"Origin": ALLOWED})
    assert bad.status_code == 400 and bad.headers["access-control-allow-origin"] == ALLOWED
    with httpx.Client(base_url=server.base, timeout=10) as client:
        with client.stream("GET", f"/rooms/{room}/events", headers={"Origin": ALLOWED}) as stream:
            assert stream.status_code == 200
            assert stream.headers["access-control-allow-origin"] == ALLOWED


@pytest.mark.parametrize("origin,status", [(ALLOWED, 101), ("http://evil.example", 403), ("null", 403)])
def test_websocket_checks_the_origin(server: Server, room: str, origin: str, status: int) -> None:
    response = exchange(server.port, ws_upgrade(server.port, f"/rooms/{room}/ws", {"Origin": origin}))
    assert response is not None and response.status == status


def test_without_allowed_origins_only_the_same_origin_is_allowed(small_ring_server: Server, room: str) -> None:
    """The small-ring instance runs without ALLOWED_ORIGINS: the default is the same origin only."""
    with httpx.Client(base_url=small_ring_server.base, timeout=10) as http:
        same = http.get(f"/rooms/{room}/poll", headers={"Origin": small_ring_server.base})
        assert same.headers["access-control-allow-origin"] == small_ring_server.base
        other = http.get(f"/rooms/{room}/poll", headers={"Origin": ALLOWED})
        assert "access-control-allow-origin" not in other.headers
    for origin, status in ((small_ring_server.base, 101), (ALLOWED, 403)):
        response = exchange(small_ring_server.port, ws_upgrade(small_ring_server.port, f"/rooms/{room}/ws",
                                                               {"Origin": origin}))
        assert response is not None and response.status == status, origin

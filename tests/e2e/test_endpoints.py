"""The plain endpoints: the page, healthz, posting, connectors, metrics."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from clients import head, messages, other_epoch, post, read_ws, run
from conftest import Server
from raw import exchange, get

ENVELOPE_FIELDS = ["id", "topic", "seq", "event", "time", "data"]


def test_healthz(http: httpx.Client) -> None:
    r = http.get("/healthz")
    assert r.status_code == 200 and r.text.strip() == "ok"


def test_the_page_and_its_assets(http: httpx.Client) -> None:
    page = http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/static/app.js" in page.text
    for asset, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        r = http.get(f"/static/{asset}")
        assert r.status_code == 200 and kind in r.headers["content-type"], asset
        assert len(r.content) > 100


@pytest.mark.parametrize("path", ["/static/../../README.md", "/static/..%2f..%2fREADME.md",
                                  "/static/%2e%2e/%2e%2e/Makefile", "/static/..\\..\\Makefile",
                                  "/static/nothing-here.js"])
def test_static_files_stay_inside_the_web_root(server: Server, path: str) -> None:
    response = exchange(server.port, get(server.port, path))  # the path as written, not normalised by a client
    assert response is not None and response.status in (400, 403, 404), path
    assert b"pushbus" not in response.body.lower()


def test_post_answers_201_with_the_key_of_the_message(http: httpx.Client, room: str) -> None:
    r = http.post(f"/rooms/{room}/messages", json={"user": "ann", "text": "hello"})
    assert r.status_code == 201 and r.headers["content-type"].startswith("application/json")
    key = r.json()["id"]
    (envelope,) = messages(http, room)
    assert list(envelope) == ENVELOPE_FIELDS
    assert envelope["id"] == key and envelope["topic"] == f"chat.{room}" and envelope["event"] == "message"
    assert envelope["data"] == {"user": "ann", "text": "hello"}
    assert isinstance(envelope["seq"], int) and envelope["time"] > 1_600_000_000_000
    assert head(http, room) == key


def test_connectors_of_an_empty_room(http: httpx.Client, room: str) -> None:
    r = http.get(f"/rooms/{room}/connectors")
    assert r.status_code == 200
    assert r.json()["connectors"] == [] and r.json()["key"] == head(http, room)


def test_metrics_are_prometheus_text_and_move(server: Server, http: httpx.Client, room: str) -> None:
    r = http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    for name in ("pushbus_published_total", "pushbus_delivered_total", "pushbus_gaps_total",
                 "pushbus_subscriptions", "pushbus_topics", "pushbus_replay_bytes"):
        assert re.search(rf"^# TYPE {name} (counter|gauge)$", r.text, re.M), name
        assert re.search(rf"^{name} \d+$", r.text, re.M), name
    before = {name: server.metric(name) for name in ("pushbus_published_total", "pushbus_topics",
                                                     "pushbus_replay_bytes", "pushbus_delivered_total",
                                                     "pushbus_gaps_total")}
    key = post(http, room, "count me")
    post(http, room, "and me")
    assert server.metric("pushbus_published_total") == before["pushbus_published_total"] + 2
    assert server.metric("pushbus_topics") == before["pushbus_topics"] + 1
    assert server.metric("pushbus_replay_bytes") > before["pushbus_replay_bytes"]
    run(read_ws(server.base, room, key, 1))  # one delivery to a subscription
    assert server.metric("pushbus_delivered_total") > before["pushbus_delivered_total"]
    run(read_ws(server.base, room, other_epoch(key), 1))  # a gap
    assert server.metric("pushbus_gaps_total") > before["pushbus_gaps_total"]


def test_metrics_count_open_subscriptions(server: Server, room: str) -> None:
    before = server.settled_metric("pushbus_subscriptions")
    with httpx.Client(base_url=server.base, timeout=10) as client:
        with client.stream("GET", f"/rooms/{room}/events"):
            deadline = time.monotonic() + 5
            while server.metric("pushbus_subscriptions") != before + 1:
                assert time.monotonic() < deadline, "an open stream holds no subscription"
                time.sleep(0.05)
    deadline = time.monotonic() + 5
    while server.metric("pushbus_subscriptions") != before:
        assert time.monotonic() < deadline, "a closed stream still holds its subscription"
        time.sleep(0.05)

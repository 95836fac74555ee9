"""Readers that never read: cut off when their output buffer is full, or when they take nothing for too long."""

from __future__ import annotations

import json
import time
from typing import Iterator

import pytest

from conftest import Server, start
from wire import Wire, request, ws_upgrade

WRITE_BUFFER_BYTES = 64 * 1024
TEXT = "y" * 4000
PATHS = {"sse": "events", "xhr": "xhr", "iframe": "iframe?cb=cb", "ws": "ws"}


FLOOD_MESSAGES = 1500


@pytest.fixture(scope="module")
def small_buffer_server() -> Iterator[Server]:
    """A small output limit, and no byte budget to end the XHR and iframe streams first."""
    yield from start("small-buffer", {"WRITE_BUFFER_BYTES": str(WRITE_BUFFER_BYTES), "STREAM_BUDGET_BYTES": str(1 << 30)})


@pytest.fixture(scope="module")
def patient_buffer_server() -> Iterator[Server]:
    """An output buffer larger than any flood here, and a reader gets one second to take bytes."""
    yield from start("stall", {"WRITE_BUFFER_BYTES": str(64 << 20), "WRITE_TIMEOUT_SECONDS": "1"})


def open_and_never_read(server: Server, room: str, transport: str) -> Wire:
    wire = Wire(server.port, rcvbuf=4096)
    path = f"/rooms/{room}/{PATHS[transport]}"
    wire.send(ws_upgrade(path) if transport == "ws" else request(path))
    return wire


def publish(server: Server, room: str, count: int) -> None:
    """Posts `count` messages of 4 KB, pipelined a hundred at a time."""
    body = json.dumps({"user": "flood", "text": TEXT}).encode()
    with Wire(server.port) as wire:
        for start in range(0, count, 100):
            batch = min(100, count - start)
            wire.send(request(f"/rooms/{room}/messages", "POST", body=body) * batch)
            for _ in range(batch):
                response = wire.response()
                assert response is not None and response.status == 201


@pytest.mark.parametrize("transport", list(PATHS))
def test_a_full_output_buffer_cuts_the_reader_off(small_buffer_server: Server, room: str, transport: str) -> None:
    server = small_buffer_server
    subscriptions = server.metric("pushbus_subscriptions")
    cut_off = server.metric("chat_slow_readers_closed_total")
    with open_and_never_read(server, room, transport):
        server.wait_metric("pushbus_subscriptions", subscriptions + 1)
        # 6 MB: more than the kernel's send buffer (at most 4 MB here) and 64 KiB of ours can hold.
        publish(server, room, FLOOD_MESSAGES)
        server.wait_metric("pushbus_subscriptions", subscriptions)
        assert server.metric("chat_slow_readers_closed_total") == cut_off + 1
    # The room is intact for everyone else.
    assert len(json.loads(server.get(f"/rooms/{room}/poll"))["messages"]) == 50


def test_a_reader_that_takes_nothing_for_the_write_timeout_is_cut_off(patient_buffer_server: Server,
                                                                      room: str) -> None:
    """Below the output limit, but nothing taken for a second: closed all the same."""
    server = patient_buffer_server
    subscriptions = server.metric("pushbus_subscriptions")
    with open_and_never_read(server, room, "sse"):
        server.wait_metric("pushbus_subscriptions", subscriptions + 1)
        publish(server, room, FLOOD_MESSAGES)
        published = time.monotonic()
        server.wait_metric("pushbus_subscriptions", subscriptions, within=5)
        assert time.monotonic() - published < 4
        assert server.metric("chat_slow_readers_closed_total") == 0  # the timeout did it, not the limit

"""What is specific to the Python server: its environment parsing, its start-up line, and
WRITE_TIMEOUT_SECONDS cutting off a reader that stops reading.

The chat contract itself is checked by the shared end-to-end suite:
``tests/e2e/run.sh python``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from conftest import SERVER, Server


@pytest.mark.parametrize("name,value", [
    ("REPLAY_MESSAGES", "many"),
    ("REPLAY_MESSAGES", "0"),
    ("HEARTBEAT_SECONDS", "nan"),
    ("STREAM_BUDGET_BYTES", "1.5"),
    ("WRITE_TIMEOUT_SECONDS", "-1"),
    ("PORT", "http"),
])
def test_a_bad_environment_value_stops_the_server_with_a_message_naming_it(name: str, value: str) -> None:
    run = subprocess.run([sys.executable, str(SERVER)], env={"PATH": "/usr/bin:/bin", name: value},
                         capture_output=True, text=True, timeout=20)
    assert run.returncode != 0
    assert run.stderr.strip().startswith(f"chat_server.py: {name}={value!r}")


def test_port_0_takes_a_free_port_and_says_which() -> None:
    proc = subprocess.Popen([sys.executable, str(SERVER), "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        assert port > 0 and httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).text == "ok"
    finally:
        proc.terminate()  # our own child, by its pid
        assert proc.wait(10) == 0, "SIGTERM stops the server cleanly"


def test_a_reader_that_stops_reading_is_cut_off(server: Server, room: str) -> None:
    """WRITE_TIMEOUT_SECONDS (2 in these tests): its subscription is released; it resumes with its key."""
    before = server.metric("pushbus_subscriptions")
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(f"GET /rooms/{room}/events HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        deadline = time.monotonic() + 5
        while server.metric("pushbus_subscriptions") != before + 1:
            assert time.monotonic() < deadline, "the stream did not subscribe"
            time.sleep(0.05)
        with httpx.Client(base_url=server.base, timeout=10) as http:
            for _ in range(1000):  # 4 MB: more than the socket buffers take
                assert http.post(f"/rooms/{room}/messages", json={"user": "a", "text": "y" * 4000}).status_code == 201
        deadline = time.monotonic() + 10
        while server.metric("pushbus_subscriptions") != before:
            assert time.monotonic() < deadline, "the stuck reader was never cut off"
            time.sleep(0.1)

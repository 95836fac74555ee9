"""Starts the C chat server (``CHAT_SERVER``: c-asan by default, or c) through examples/serve.sh.

Every server is stopped with SIGTERM by the pid started: it must exit 0
within 10 s and its log must hold no sanitizer report (AddressSanitizer,
LeakSanitizer, UndefinedBehaviorSanitizer), so each test also checks that
the server freed everything it was made to hold.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Dict, Iterator, Optional

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from ports import free_port  # noqa: E402  (the path above makes it importable)

SERVE = ROOT / "examples" / "serve.sh"
LOGS = ROOT / "target" / "examples" / "c" / "logs"
NAME = os.environ.get("CHAT_SERVER", "c-asan")
SANITIZER = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: \w+Sanitizer")
# The knobs the tests set themselves: none leaks in from the caller.
KNOBS = ("PORT", "ALLOWED_ORIGINS", "JWT_SECRET", "HEARTBEAT_SECONDS", "STREAM_BUDGET_BYTES", "REPLAY_MESSAGES",
         "WEB_ROOT", "WRITE_BUFFER_BYTES", "REQUEST_TIMEOUT_SECONDS", "WRITE_TIMEOUT_SECONDS")


class Server:
    """One running server process, its address and its log."""

    def __init__(self, label: str, env: Dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = LOGS / f"{NAME}-{label}-{uuid.uuid4().hex[:6]}.log"
        full = {k: v for k, v in os.environ.items() if k not in KNOBS}
        full.update(HEARTBEAT_SECONDS="30", **env)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(["bash", str(SERVE), NAME, "--port", str(self.port)], env=full,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while "listening on" not in self.log():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError(f"the server did not start:\n{self.log()}")
            time.sleep(0.02)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.base + path, timeout=5) as response:
            return str(response.read().decode())

    def metric(self, name: str) -> int:
        for line in self.get("/metrics").splitlines():
            if line.startswith(name + " "):
                return int(line.split()[1])
        raise KeyError(name)

    def wait_metric(self, name: str, value: int, within: float = 5.0) -> None:
        deadline = time.monotonic() + within
        while self.metric(name) != value:
            assert time.monotonic() < deadline, f"{name} is {self.metric(name)}, not {value}, after {within} s"
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Signals the pid we started; it must exit 0 with no sanitizer report."""
        alive = self.proc.poll() is None
        if alive:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError(f"the server did not exit within 10 s of signal {sig}")
        assert alive, f"the server died during the test:\n{self.log()[-4000:]}"
        assert self.proc.returncode == 0, f"exit status {self.proc.returncode}:\n{self.log()[-4000:]}"
        assert not SANITIZER.search(self.log()), f"a sanitizer report:\n{self.log()[-6000:]}"


def start(label: str, env: Optional[Dict[str, str]] = None) -> Iterator[Server]:
    server = Server(label, env or {})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """Default settings, but a 30 s heartbeat so that raw sockets see no pings."""
    yield from start("main")


@pytest.fixture(scope="module")
def impatient_server() -> Iterator[Server]:
    """Clients get one second to send a request, and a reader one second to take bytes."""
    yield from start("impatient", {"REQUEST_TIMEOUT_SECONDS": "1", "WRITE_TIMEOUT_SECONDS": "1"})


@pytest.fixture
def room() -> str:
    return "r" + uuid.uuid4().hex[:12]

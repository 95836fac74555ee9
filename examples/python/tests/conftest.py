"""Starts chat_server.py as a real process on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "e2e"))
from ports import free_port  # noqa: E402  (the path above makes it importable)

SERVER = Path(__file__).resolve().parents[1] / "chat_server.py"


class Server:
    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k != "JWT_SECRET"}  # no auth
        env.update(PORT=str(self.port), WRITE_TIMEOUT_SECONDS="2")
        self.proc = subprocess.Popen([sys.executable, str(SERVER)], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                out = self.proc.stdout.read().decode() if self.proc.stdout else ""
                raise RuntimeError(f"the chat server did not start:\n{out}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()  # our own child, by its pid
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def metric(self, name: str) -> int:
        for line in httpx.get(self.base + "/metrics", timeout=5).text.splitlines():
            if line.startswith(name + " "):
                return int(line.split()[1])
        raise KeyError(name)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def room() -> str:
    return "r" + uuid.uuid4().hex[:12]

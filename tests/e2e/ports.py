"""Loopback ports for the servers a test suite starts, handed out once each.

Shared by the end-to-end suite (tests/e2e/conftest.py) and the example
servers' own suites (examples/c/tests, examples/python/tests), which put
this directory on ``sys.path`` as examples/c/tests/wire.py does for raw.py.
The scheme is the browser suite's (tests/browser/lib/processes.mjs).

Why not bind port 0 and hand out what the kernel picked: that port comes
from the ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), so
between the probe's close and the server's bind the kernel may give it
again, to another probe or to the local end of any outgoing connection, and
the server dies of EADDRINUSE (seen in the browser suite: two servers
started on one port, the second died while the first answered its health
check). So the ports here come from below the ephemeral range, where the
kernel never picks one by itself:

- from ``PORTS_FROM`` up to the ephemeral range's start, beginning where
  the pid says, so that several suites or pytest-xdist workers at once
  rarely probe the same ports;
- each port at most once in a process: after a full turn of the range the
  next call fails with a clear error instead of handing out a port twice;
- each one checked free by binding it on 127.0.0.1 (no ``SO_REUSEADDR``, so
  a port still in TIME_WAIT is skipped too); a port in use is skipped.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import Optional

# The lowest port handed out: above the well-known and the usual fixed
# service ports (8080, 9090, ...).
PORTS_FROM = 10000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Linux's default start, for a system without the file above.
EPHEMERAL_DEFAULT = 32768


def ephemeral_start(path: Path = EPHEMERAL_RANGE) -> int:
    """The first port of the kernel's ephemeral range."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return EPHEMERAL_DEFAULT


def bindable(port: int) -> bool:
    """Whether a socket can bind ``port`` on 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Ports:
    """Ports from ``first`` (inclusive) to ``end`` (exclusive), tried once each from ``start``, wrapping."""

    def __init__(self, first: int, end: int, start: int) -> None:
        if not first <= start < end:
            raise ValueError(f"start {start} is not in {first}..{end - 1}")
        self.first = first
        self.end = end
        self._next = start
        self._untried = end - first
        self._lock = threading.Lock()

    def take(self) -> int:
        """A port nothing is bound to now, never handed out before by this instance."""
        with self._lock:
            while self._untried > 0:
                port = self._next
                self._next = port + 1 if port + 1 < self.end else self.first
                self._untried -= 1
                if bindable(port):
                    return port
        raise RuntimeError(
            f"no free loopback port left in {self.first}..{self.end - 1} (below the ephemeral range): "
            f"each one was handed out already in this process or was in use when tried")


_ports: Optional[Ports] = None
_ports_pid = 0
_ports_lock = threading.Lock()


def free_port() -> int:
    """A loopback port nothing listens on now, never handed out before in this process."""
    global _ports, _ports_pid
    with _ports_lock:
        pid = os.getpid()
        if _ports is None or _ports_pid != pid:  # a forked child starts at its own pid's place
            end = ephemeral_start()
            if end <= PORTS_FROM:
                raise RuntimeError(
                    f"no ports to hand out: the ephemeral range ({EPHEMERAL_RANGE}) starts at {end}, "
                    f"not above {PORTS_FROM}")
            _ports = Ports(PORTS_FROM, end, PORTS_FROM + pid % (end - PORTS_FROM))
            _ports_pid = pid
        ports = _ports
    return ports.take()

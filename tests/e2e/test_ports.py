"""The port helper (ports.py) the suites start their servers on."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import List

import pytest

from ports import PORTS_FROM, Ports, bindable, ephemeral_start, free_port


def ephemeral_low() -> int:
    """Read here again rather than taken from ports.py."""
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def listener(port: int) -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    s.listen()
    return s


def test_free_ports_are_distinct_below_the_ephemeral_range_and_bindable() -> None:
    ports: List[int] = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    low = ephemeral_low()
    assert ephemeral_start() == low
    assert all(PORTS_FROM <= port < low for port in ports), [p for p in ports if not PORTS_FROM <= p < low]
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # raises if the port was not free


def test_a_port_with_a_listener_is_skipped() -> None:
    port = free_port()
    with listener(port):
        assert not bindable(port)
        taken = Ports(port, port + 50, port).take()
        assert taken != port
        assert port < taken < port + 50


def test_a_port_is_handed_out_once_and_the_end_is_a_clear_error() -> None:
    # Two ports in a row nothing listens on, in this process's own series so that no other run holds them.
    first = free_port()
    while not bindable(first + 1):
        first = free_port()
    ports = Ports(first, first + 2, first + 1)
    assert [ports.take(), ports.take()] == [first + 1, first]  # from start, wrapping to the range's first
    with pytest.raises(RuntimeError, match=rf"no free loopback port left in {first}\.\.{first + 1}"):
        ports.take()


def test_no_free_port_is_a_clear_error() -> None:
    port = free_port()
    with listener(port), pytest.raises(RuntimeError, match="no free loopback port left"):
        Ports(port, port + 1, port).take()

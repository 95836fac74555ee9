"""Readers that never read: the others keep receiving promptly, and the server's memory stays bounded."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import List, Tuple

import httpx
import websockets

from clients import run, ws_url
from conftest import Server
from raw import get, ws_upgrade

TEXT_BYTES = 4000
BATCH = 10  # messages in flight at once: fewer than the small ring holds, so the fast reader never lags out
WARM_UP_BATCHES = 30  # before the memory baseline: the server's pools and heaps reach their working size
BATCHES = 270  # then 2,700 messages, 11 MB through every stream
FLOOD_BYTES = BATCH * BATCHES * TEXT_BYTES
PROMPT_SECONDS = 2.0
# Slow readers by transport: XHR and iframe streams end at their byte budget,
# SSE and WebSocket streams have none, so more of them.
SLOW_READERS = {"sse": 4, "ws": 4, "xhr": 1, "iframe": 1}
# What a slow reader may still get when it finally reads, and what the server
# may grow by while FLOOD_BYTES reach each slow stream: far less than the
# flood, which unbounded per-reader queues would hold 8 times (88 MB).
SLOW_READER_BOUND = FLOOD_BYTES // 2
RSS_GROWTH_BOUND_MIB = 48


def slow_reader(server: Server, room: str, transport: str) -> socket.socket:
    """A stream opened on a socket with a tiny receive buffer that is never read."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    path = {"sse": "events", "xhr": "xhr", "iframe": "iframe?cb=cb", "ws": "ws"}[transport]
    if transport == "ws":
        sock.sendall(ws_upgrade(server.port, f"/rooms/{room}/{path}"))
    else:
        sock.sendall(get(server.port, f"/rooms/{room}/{path}"))
    return sock


def bytes_until_closed(sock: socket.socket, deadline: float) -> int:
    """Reads what the server still sends: the byte count at the end of the stream or at ``deadline``."""
    received = 0
    while received <= SLOW_READER_BOUND and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(1 << 20)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        received += len(chunk)
    return received


async def flood_while_a_fast_reader_reads(server: Server, room: str, batches: int) -> List[float]:
    """Posts ``batches`` batches; how long each batch took to reach a fast reader (a WebSocket)."""
    latencies: List[float] = []
    async with websockets.connect(ws_url(server.base, room, {}), max_size=None) as fast, \
            httpx.AsyncClient(base_url=server.base, timeout=10) as publisher:
        for batch in range(batches):
            sent = time.monotonic()
            for i in range(BATCH):
                r = await publisher.post(f"/rooms/{room}/messages",
                                         json={"user": "flood", "text": f"{batch}-{i} " + "y" * TEXT_BYTES})
                assert r.status_code == 201
            last = f"{batch}-{BATCH - 1} "
            while True:
                envelope = json.loads(await asyncio.wait_for(fast.recv(), PROMPT_SECONDS * 5))
                if envelope["event"] == "message" and envelope["data"]["text"].startswith(last):
                    break
            latencies.append(time.monotonic() - sent)
    return latencies


def test_slow_readers_of_every_stream_cost_bounded_memory_and_delay_nobody(small_ring_server: Server,
                                                                          room: str) -> None:
    server = small_ring_server
    slow: List[Tuple[str, socket.socket]] = [(transport, slow_reader(server, room, transport))
                                             for transport, count in SLOW_READERS.items() for _ in range(count)]
    try:
        run(flood_while_a_fast_reader_reads(server, room, WARM_UP_BATCHES), timeout=60)
        rss_before = server.rss_kib()
        latencies = run(flood_while_a_fast_reader_reads(server, room, BATCHES), timeout=120)
        growth_mib = (server.rss_kib() - rss_before) / 1024
        print(f"\n{server.name}: {FLOOD_BYTES / 1e6:.0f} MB to {len(slow)} slow readers: RSS grew {growth_mib:.1f} MiB;"
              f" a fast reader got each batch in {max(latencies) * 1000:.0f} ms at worst")
        assert max(latencies) < PROMPT_SECONDS, f"a batch took {max(latencies):.2f} s to reach the fast reader"
        assert growth_mib < RSS_GROWTH_BOUND_MIB, f"the server grew by {growth_mib:.1f} MiB"
        deadline = time.monotonic() + 3
        for transport, sock in slow:
            received = bytes_until_closed(sock, deadline)
            print(f"  a slow {transport} reader got {received / 1e6:.1f} MB when it read at last")
            assert received <= SLOW_READER_BOUND, f"a slow {transport} reader got {received} bytes"
    finally:
        for _, sock in slow:
            sock.close()

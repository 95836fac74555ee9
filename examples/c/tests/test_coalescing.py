"""A drain's events reach each connection in one write (server.c, conn_queue)
and, on a chunked stream, in one HTTP chunk (conn_queue_chunk): bursts must
still arrive whole and in order on every reader, every chunk must hold
whole events, and a reader that does not read must still be cut off at its
output limit."""

from __future__ import annotations

import json
import os
import signal
import threading
from typing import Iterator, List

import h11
import pytest

from conftest import Server, start
from wire import Wire, request

READERS = 4
# Pipelined a hundred at a time: each drain holds many events per reader.
BURST = 2000


class SseReader(threading.Thread):
    """Reads one SSE stream (chunked, parsed by h11) until `want` messages or its end."""

    def __init__(self, server: Server, room: str, want: int, rcvbuf: int | None = None, query: str = "") -> None:
        super().__init__(daemon=True)
        self.wire = Wire(server.port, timeout=10, rcvbuf=rcvbuf)
        self.wire.send(request(f"/rooms/{room}/events{query}"))
        self.want = want
        self.texts: List[str] = []
        self.seqs: List[int] = []
        self.chunks = 0
        self.chunks_cutting_an_event = 0
        self.messages_per_chunk: List[int] = []
        self.error: str | None = None

    def run(self) -> None:
        parser = h11.Connection(our_role=h11.CLIENT)
        parser.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
        parser.send(h11.EndOfMessage())
        text = ""
        texts_before_chunk = 0
        try:
            while len(self.texts) < self.want:
                event = parser.next_event()
                if event is h11.NEED_DATA:
                    data = self.wire.recv()
                    if not data:
                        return
                    parser.receive_data(data)
                elif isinstance(event, h11.Data):
                    text += bytes(event.data).decode()
                    *blocks, text = text.split("\n\n")
                    for block in blocks:
                        self.take(block)
                    if event.chunk_end:
                        self.chunks += 1
                        self.chunks_cutting_an_event += text != ""
                        self.messages_per_chunk.append(len(self.texts) - texts_before_chunk)
                        texts_before_chunk = len(self.texts)
                elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                    return
        except Exception as error:  # reported by the test, not lost in the thread
            self.error = repr(error)

    def take(self, block: str) -> None:
        fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line and not line.startswith(":"))
        if fields.get("event") == "message":
            envelope = json.loads(fields["data"])
            self.texts.append(envelope["data"]["text"])
            self.seqs.append(envelope["seq"])


def publish(server: Server, room: str, texts: List[str]) -> None:
    """Posts the texts in order, pipelined a hundred at a time."""
    with Wire(server.port) as wire:
        for start_at in range(0, len(texts), 100):
            batch = texts[start_at:start_at + 100]
            wire.send(b"".join(request(f"/rooms/{room}/messages", "POST",
                                       body=json.dumps({"user": "burst", "text": t}).encode()) for t in batch))
            for _ in batch:
                response = wire.response()
                assert response is not None and response.status == 201


def open_readers(server: Server, room: str, count: int, want: int) -> List[SseReader]:
    subscriptions = server.metric("pushbus_subscriptions")
    readers = [SseReader(server, room, want) for _ in range(count)]
    server.wait_metric("pushbus_subscriptions", subscriptions + count)
    for reader in readers:
        reader.start()
    return readers


def assert_complete_in_order(readers: List[SseReader], texts: List[str]) -> None:
    for reader in readers:
        reader.join(30)
        assert not reader.is_alive(), f"a reader still waits, with {len(reader.texts)} of {len(texts)}"
        assert reader.error is None, reader.error
        assert reader.texts == texts
        assert reader.seqs == list(range(reader.seqs[0], reader.seqs[0] + len(texts)))


def test_a_burst_reaches_every_reader_whole_and_in_order(server: Server, room: str) -> None:
    texts = [f"m{i}" for i in range(BURST)]
    readers = open_readers(server, room, READERS, len(texts))
    publish(server, room, texts)
    assert_complete_in_order(readers, texts)
    for reader in readers:
        reader.wire.sock.close()


def test_a_drains_events_share_a_chunk_of_whole_events(server: Server, room: str) -> None:
    texts = [f"c{i}" for i in range(BURST)]
    (reader,) = open_readers(server, room, 1, len(texts))
    publish(server, room, texts)
    assert_complete_in_order([reader], texts)
    assert reader.chunks_cutting_an_event == 0
    # Pipelined a hundred at a time, most drains hold many events for the
    # reader: a chunk an event would make `chunks` at least len(texts).
    assert reader.chunks < len(texts) / 2, f"{reader.chunks} chunks for {len(texts)} events"
    reader.wire.sock.close()


def test_a_turn_hands_many_readers_a_whole_burst_each_in_one_chunk(server: Server, room: str) -> None:
    # 64 readers x 50 messages is 3,200 deliveries, more than a turn took
    # before (2,048): then each reader got its burst in pieces of 16, one
    # write each. The server is stopped while the burst is sent, so that it
    # reads all of it in one turn (one read of 16 KiB).
    texts = [f"t{i}" for i in range(50)]
    readers = open_readers(server, room, 64, len(texts))
    burst = b"".join(request(f"/rooms/{room}/messages", "POST", body=json.dumps({"user": "u", "text": t}).encode())
                     for t in texts)
    assert len(burst) < 16 * 1024
    with Wire(server.port) as wire:
        wire.send(request("/healthz"))
        assert (response := wire.response()) is not None and response.status == 200
        os.kill(server.proc.pid, signal.SIGSTOP)
        try:
            wire.send(burst)
        finally:
            os.kill(server.proc.pid, signal.SIGCONT)
        for _ in texts:
            assert (response := wire.response("POST")) is not None and response.status == 201
    assert_complete_in_order(readers, texts)
    for reader in readers:
        assert [n for n in reader.messages_per_chunk if n > 0] == [len(texts)]
        reader.wire.sock.close()


def test_a_resume_thousands_back_arrives_whole_across_full_writev_queues(room: str) -> None:
    # One drain hands a resuming reader all 3,000 events: more pieces than
    # one writev takes (IOV_MAX, 1,024), so its queue is written in the
    # middle of a drain, and the chunk being gathered is cut there.
    for server in start("coalescing-deep", {"REPLAY_MESSAGES": "4096"}):
        texts = [f"d{i}" for i in range(3000)]
        publish(server, room, texts)
        # A key that does not parse: a gap, then everything held.
        reader = SseReader(server, room, len(texts), query="?lastEventId=x")
        reader.start()
        assert_complete_in_order([reader], texts)
        assert reader.chunks_cutting_an_event == 0
        reader.wire.sock.close()


@pytest.fixture(scope="module")
def bounded_server() -> Iterator[Server]:
    """A 256 KiB output limit and every message of a 6 MB flood kept for replay."""
    yield from start("coalescing-bounded", {"WRITE_BUFFER_BYTES": str(256 * 1024), "REPLAY_MESSAGES": "2048"})


def test_a_reader_that_never_reads_is_cut_off_while_the_others_get_everything(bounded_server: Server,
                                                                               room: str) -> None:
    server = bounded_server
    cut_off = server.metric("chat_slow_readers_closed_total")
    subscriptions = server.metric("pushbus_subscriptions")
    with Wire(server.port, rcvbuf=4096) as stalled:
        stalled.send(request(f"/rooms/{room}/events"))
        server.wait_metric("pushbus_subscriptions", subscriptions + 1)
        # 1,500 messages of 4 KB: more than the kernel's buffers (at most 4 MB here) and the limit hold.
        texts = [f"{i:06d}" + "z" * 4000 for i in range(1500)]
        readers = open_readers(server, room, 2, len(texts))
        publish(server, room, texts)
        assert_complete_in_order(readers, texts)
        assert server.metric("chat_slow_readers_closed_total") == cut_off + 1
        assert stalled.closed_within(5)
    for reader in readers:
        reader.wire.sock.close()

"""10,000 open/close cycles leave no subscription, fd or message behind."""

from __future__ import annotations

import asyncio
import gc
import os

import pushbus


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_subscribe_unsubscribe_cycles_leave_nothing() -> None:
    with pushbus.Bus() as bus, bus.poller() as poller:
        _ = poller.fd
        fds = open_fds()
        for i in range(10_000):
            sub = poller.subscribe(["chat.lobby", "chat.*"], oldest=(i % 2 == 0))
            if i % 3 == 0:
                sub.join(f"user{i % 7}", topic="chat.lobby")
            if i % 5 == 0:
                sub.close()
            elif i % 5 == 1:
                with sub:
                    pass
            else:
                del sub  # the finalizer unsubscribes
        gc.collect()
        assert bus.stats().subscriptions == 0
        assert bus.presence("chat.lobby") == []
        assert len(poller._subs) == 0
        assert open_fds() == fds


def test_poller_open_close_cycles_leave_no_fd() -> None:
    with pushbus.Bus() as bus:
        fds = open_fds()
        for i in range(10_000):
            poller = bus.poller()
            _ = poller.fd  # creates the eventfd
            sub = poller.subscribe("t")
            if i % 2:
                poller.close()
            else:
                del poller, sub  # garbage: ffi.gc frees it (and its fd)
        gc.collect()
        assert open_fds() == fds
        assert bus.stats().subscriptions == 0


def test_async_cycles_leave_no_fd_or_reader() -> None:
    async def main(bus: pushbus.Bus) -> None:
        for _ in range(1_000):
            async with bus.poller() as poller, poller.subscribe("t") as sub:
                assert await sub.next(0) is None

    with pushbus.Bus() as bus:
        fds = open_fds()
        asyncio.run(main(bus))
        gc.collect()
        assert open_fds() == fds
        assert bus.stats().subscriptions == 0


def test_bus_and_decoder_cycles() -> None:
    fds = open_fds()
    for _ in range(2_000):
        bus = pushbus.Bus(janitor_interval=None)
        bus.publish("t", "x")
        bus.close()
        with pushbus.WsDecoder() as dec:
            dec.feed(b"")
    gc.collect()
    assert open_fds() == fds


def test_zero_copy_messages_are_freed() -> None:
    with pushbus.Bus() as bus, bus.poller(zero_copy_threshold=1) as poller:
        _keep = poller.subscribe("t")
        for _ in range(10):
            for i in range(100):
                bus.publish("t", b"payload %d" % i)
            views = [m.data for m in poller.drain() if isinstance(m, pushbus.Message)]
            assert all(isinstance(v, memoryview) for v in views) and len(views) == 100
            assert pushbus.taken_messages_alive() == 100
            del views
        gc.collect()
        assert pushbus.taken_messages_alive() == 0

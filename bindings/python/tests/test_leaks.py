"""10,000 open/close cycles leave no subscription, publisher, fd or message behind."""

from __future__ import annotations

import asyncio
import gc
import os
import time

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


def test_publisher_open_close_cycles_free_every_publisher() -> None:
    # An open publisher holds its topic against idle expiry: the topics
    # expiring at the end prove every one of them was freed (close, `with`,
    # or garbage), and a double free would crash the run.
    with pushbus.Bus(topic_idle_ttl=0.05, janitor_interval=None) as bus, bus.poller() as poller:
        _keep = poller.subscribe("pub.*")
        _ = poller.fd
        fds = open_fds()
        for i in range(10_000):
            pub = bus.publisher(f"pub.{i % 3}")
            pub.publish(b"x", event="e" if i % 2 else None)
            if i % 3 == 0:
                pub.close()
                pub.close()
            elif i % 3 == 1:
                with pub:
                    pass
            else:
                del pub  # the finalizer frees it
            if i % 1000 == 999:
                assert len(poller.drain(max=10_000)) == 1000
        gc.collect()
        _keep.close()
        assert bus.stats().published == 10_000
        assert open_fds() == fds
        time.sleep(0.1)
        bus.sweep()
        assert bus.stats().topics == 0

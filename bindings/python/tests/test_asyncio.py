"""asyncio: the poller's fd on the loop, async for, async with, cancellation."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time

import pytest

import pushbus
from pushbus import Gap, Message


def test_async_for_gets_messages_from_loop_and_thread(bus: pushbus.Bus) -> None:
    async def main() -> list[str]:
        async with bus.poller() as poller, poller.subscribe("chat.lobby") as sub:
            loop = asyncio.get_running_loop()
            loop.call_later(0.01, bus.publish, "chat.lobby", "from-loop")

            def thread() -> None:
                time.sleep(0.05)
                for i in range(100):
                    bus.publish("chat.lobby", f"t{i}")

            threading.Thread(target=thread).start()
            got: list[str] = []
            async for msg in sub:
                assert isinstance(msg, Message)
                got.append(msg.text)
                if len(got) == 101:
                    break
            return got

    got = asyncio.run(asyncio.wait_for(main(), 10))
    assert got == ["from-loop"] + [f"t{i}" for i in range(100)]
    assert bus.stats().subscriptions == 0


def test_async_iteration_yields_gaps(bus: pushbus.Bus) -> None:
    first = bus.publish("g", "0")

    async def main() -> list[object]:
        with pushbus.Bus(ring_max_messages=2) as small:
            k = small.publish("g", "0")
            for i in range(1, 6):
                small.publish("g", str(i))
            async with small.poller() as p, p.subscribe("g", after=k) as sub:
                return [await sub.next(1.0) for _ in range(3)]

    events = asyncio.run(main())
    assert isinstance(events[0], Gap)
    assert [e.text for e in events[1:] if isinstance(e, Message)] == ["4", "5"]
    assert first


def test_cancellation_never_leaks_a_subscription(bus: pushbus.Bus) -> None:
    async def reader(poller: pushbus.Poller, started: asyncio.Event) -> None:
        async with poller.subscribe("room") as sub:
            sub.join("ann")
            started.set()
            async for _ in sub:
                pass

    async def closing_reader(poller: pushbus.Poller, started: asyncio.Event) -> None:
        sub = poller.subscribe("room")
        try:
            sub.join("bob")
            started.set()
            while True:
                await sub.next(0.001)  # wait_for timeouts cancel inside, many times
        finally:
            sub.close()

    async def main() -> None:
        async with bus.poller() as poller:
            for make in (reader, closing_reader):
                started = asyncio.Event()
                task = asyncio.create_task(make(poller, started))
                await asyncio.wait_for(started.wait(), 5)
                assert bus.stats().subscriptions == 1
                assert len(bus.presence("room")) == 1
                await asyncio.sleep(0.01)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert bus.stats().subscriptions == 0
                assert bus.presence("room") == []
            # the poller still works after the cancellations
            sub = poller.subscribe("room")
            bus.publish("room", "after")
            msg = await sub.next(2.0)
            assert isinstance(msg, Message) and msg.text == "after"

    asyncio.run(asyncio.wait_for(main(), 20))


def test_wait_for_timeout_then_message(bus: pushbus.Bus) -> None:
    async def main() -> None:
        async with bus.poller() as poller:
            sub = poller.subscribe("t")
            assert await sub.next(0.05) is None
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(sub.__anext__(), 0.05)
            asyncio.get_running_loop().call_later(0.02, bus.publish, "t", "late")
            msg = await sub.next(2.0)
            assert isinstance(msg, Message) and msg.text == "late"
            assert bus.stats().subscriptions == 1

    asyncio.run(main())


def test_many_subscriptions_one_poller_routed(bus: pushbus.Bus) -> None:
    async def consume(sub: pushbus.Subscription, n: int) -> list[str]:
        out: list[str] = []
        async for msg in sub:
            assert isinstance(msg, Message) and msg.subscription == sub.id
            out.append(msg.text)
            if len(out) == n:
                break
        return out

    async def main() -> None:
        async with bus.poller() as poller:
            subs = [poller.subscribe(f"r.{i % 5}") for i in range(50)]
            tasks = [asyncio.create_task(consume(s, 20)) for s in subs]
            await asyncio.sleep(0)
            for j in range(20):
                for r in range(5):
                    bus.publish(f"r.{r}", f"{r}:{j}")
            results = await asyncio.wait_for(asyncio.gather(*tasks), 10)
            for i, got in enumerate(results):
                assert got == [f"{i % 5}:{j}" for j in range(20)]

    asyncio.run(main())


def test_iteration_ends_when_closed_elsewhere(bus: pushbus.Bus) -> None:
    async def main() -> None:
        async with bus.poller() as poller:
            sub = poller.subscribe("t")
            asyncio.get_running_loop().call_later(0.05, sub.close)
            async for _ in sub:
                raise AssertionError("nothing was published")
            assert sub.closed
            sub2 = poller.subscribe("t")
            task = asyncio.create_task(sub2.next(5))
            await asyncio.sleep(0.02)
        # closing the poller ends its subscriptions' iterations
        assert await asyncio.wait_for(task, 2) is None
        assert sub2.closed_reason == "closed"

    asyncio.run(main())


def test_one_poller_one_loop(bus: pushbus.Bus) -> None:
    poller = bus.poller()
    sub = poller.subscribe("t")

    async def first() -> None:
        assert await sub.next(0.01) is None

    loop = asyncio.new_event_loop()
    loop.run_until_complete(first())
    other = asyncio.new_event_loop()
    with pytest.raises(RuntimeError, match="another event loop"):
        other.run_until_complete(first())
    loop.close()
    other.close()
    poller.close()


def test_fd_wakeup_latency(bus: pushbus.Bus) -> None:
    """Publish from a thread, wake the loop through the fd: report p50/p99 (-s)."""
    samples: list[float] = []

    async def main() -> None:
        async with bus.poller() as poller, poller.subscribe("lat") as sub:
            for _ in range(200):
                sent = [0.0]

                def pub(sent: list[float] = sent) -> None:
                    sent[0] = time.perf_counter()
                    bus.publish("lat", b"x")

                threading.Thread(target=pub).start()
                msg = await sub.next(2.0)
                assert isinstance(msg, Message)
                samples.append(time.perf_counter() - sent[0])

    asyncio.run(main())
    samples.sort()
    p50 = statistics.median(samples) * 1e6
    p99 = samples[int(len(samples) * 0.99) - 1] * 1e6
    print(f"\nfd wake-up to asyncio: p50 {p50:.0f} us, p99 {p99:.0f} us")
    assert p50 < 50_000


def test_a_busy_subscription_does_not_starve_the_loop() -> None:
    with pushbus.Bus(ring_max_messages=5000) as bus:

        async def main() -> int:
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0)

            async with bus.poller() as poller, poller.subscribe("busy") as sub:
                for i in range(3000):
                    bus.publish("busy", str(i))
                task = asyncio.create_task(ticker())
                await asyncio.sleep(0)
                seen = 0
                async for _ in sub:  # every event is ready: no natural suspension
                    seen += 1
                    if seen == 3000:
                        break
                task.cancel()
                return ticks

        assert asyncio.run(main()) >= 3000 // pushbus._core.FAIR_STREAK - 1

"""A bounded stress run: publisher threads, asyncio readers, random closes."""

from __future__ import annotations

import asyncio
import random
import threading
import time

import pushbus
from pushbus import Gap, Message

DURATION = 3.0  # seconds of publishing


def test_stress_threads_and_asyncio_readers() -> None:
    bus = pushbus.Bus(ring_max_messages=256)
    stop = threading.Event()
    published: dict[str, int] = {}
    lock = threading.Lock()

    def publisher(topic: str) -> None:
        n = 0
        while not stop.is_set() and n < 2_000_000:
            bus.publish(topic, str(n).encode())
            n += 1
            if n % 128 == 0:
                time.sleep(0.001)  # let readers keep up most of the time
        with lock:
            published[topic] = n

    async def reader(poller: pushbus.Poller, topic: str, seen: list[int]) -> None:
        # Checks order: every message is the next one, or follows a gap.
        expected = None
        async with poller.subscribe(topic, oldest=True) as sub:
            async for event in sub:
                if isinstance(event, Gap):
                    expected = None
                    continue
                assert isinstance(event, Message)
                value = int(event.data)
                if expected is not None:
                    assert value == expected, (topic, value, expected)
                expected = value + 1
                seen.append(value)

    async def churn(poller: pushbus.Poller, deadline: float) -> int:
        # Subscriptions opened and cancelled all along: none may leak.
        rounds = 0
        while time.monotonic() < deadline:
            task = asyncio.create_task(reader(poller, f"s.{rounds % 4}", []))
            await asyncio.sleep(random.uniform(0, 0.01))
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            rounds += 1
        return rounds

    async def main() -> None:
        async with bus.poller() as poller:
            seen = {f"s.{i}": [] for i in range(4)}
            readers = [asyncio.create_task(reader(poller, t, s)) for t, s in seen.items()]
            threads = [threading.Thread(target=publisher, args=(t,)) for t in seen]
            for thread in threads:
                thread.start()
            rounds = await churn(poller, time.monotonic() + DURATION)
            stop.set()
            for thread in threads:
                await asyncio.get_running_loop().run_in_executor(None, thread.join, 10)
            # Let the readers catch up with the end of each topic.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(
                not s or s[-1] != published[t] - 1 for t, s in seen.items()
            ):
                await asyncio.sleep(0.02)
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            for t, s in seen.items():
                assert s and s[-1] == published[t] - 1, (t, s[-1:], published[t])
            assert rounds >= 2  # few under GIL contention from 4 publisher threads, but some
            print(f"\nstress: published {sum(published.values())} messages, "
                  f"received {sum(map(len, seen.values()))}, {rounds} cancelled readers")
        assert bus.stats().subscriptions == 0

    asyncio.run(asyncio.wait_for(main(), 60))
    bus.close()

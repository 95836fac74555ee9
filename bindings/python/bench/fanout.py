"""Fan-out from one asyncio process: pushbus against a pure-Python fan-out.

    target/python/venv/bin/python bindings/python/bench/fanout.py [--subscribers 1000] [--messages 200]

Three contenders deliver every message to every subscriber:
- queues: one asyncio.Queue per subscriber, put_nowait to each, one task
  per subscriber awaiting get() (the usual pure-Python fan-out);
- pushbus-tasks: one pushbus subscription per subscriber, one task per
  subscriber doing `async for` (routing in Python);
- pushbus-drain: the same subscriptions, one task draining the poller's fd
  in batches (Poller.drain), as a server writing frames would;
- pushbus-grouped: the same, with Poller.drain_grouped (one object per
  message, with the ids of its subscriptions).
Prints deliveries per second (best of --repeat runs).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import List

import pushbus


async def queues(n: int, m: int) -> float:
    qs: List["asyncio.Queue[bytes]"] = [asyncio.Queue() for _ in range(n)]
    remaining = n * m
    done = asyncio.Event()

    async def consume(q: "asyncio.Queue[bytes]") -> None:
        nonlocal remaining
        for _ in range(m):
            await q.get()
            remaining -= 1
        if remaining == 0:
            done.set()

    tasks = [asyncio.create_task(consume(q)) for q in qs]
    await asyncio.sleep(0)
    started = time.perf_counter()
    for i in range(m):
        payload = b'{"text":"message %d"}' % i
        for q in qs:
            q.put_nowait(payload)
        await asyncio.sleep(0)
    await done.wait()
    elapsed = time.perf_counter() - started
    await asyncio.gather(*tasks)
    return n * m / elapsed


async def pushbus_tasks(n: int, m: int) -> float:
    with pushbus.Bus(ring_max_messages=max(1024, m)) as bus, bus.poller() as poller:
        subs = [poller.subscribe("t") for _ in range(n)]
        remaining = n * m
        done = asyncio.Event()

        async def consume(sub: pushbus.Subscription) -> None:
            nonlocal remaining
            got = 0
            async for _ in sub:
                got += 1
                remaining -= 1
                if got == m:
                    break
            if remaining == 0:
                done.set()

        tasks = [asyncio.create_task(consume(s)) for s in subs]
        await asyncio.sleep(0)
        started = time.perf_counter()
        for i in range(m):
            bus.publish("t", b'{"text":"message %d"}' % i, kind="json")
            await asyncio.sleep(0)
        await done.wait()
        elapsed = time.perf_counter() - started
        await asyncio.gather(*tasks)
        return n * m / elapsed


async def pushbus_drain(n: int, m: int) -> float:
    with pushbus.Bus(ring_max_messages=max(1024, m)) as bus, bus.poller() as poller:
        subs = [poller.subscribe("t") for _ in range(n)]
        loop = asyncio.get_running_loop()
        remaining = n * m
        done = asyncio.Event()

        def on_readable() -> None:
            nonlocal remaining
            remaining -= len(poller.drain(4096))
            if remaining <= 0:
                done.set()

        loop.add_reader(poller.fd, on_readable)
        started = time.perf_counter()
        for i in range(m):
            bus.publish("t", b'{"text":"message %d"}' % i, kind="json")
            await asyncio.sleep(0)
        await done.wait()
        elapsed = time.perf_counter() - started
        loop.remove_reader(poller.fd)
        del subs
        return n * m / elapsed


async def pushbus_grouped(n: int, m: int) -> float:
    with pushbus.Bus(ring_max_messages=max(1024, m)) as bus, bus.poller() as poller:
        subs = [poller.subscribe("t") for _ in range(n)]
        loop = asyncio.get_running_loop()
        remaining = n * m
        done = asyncio.Event()

        def on_readable() -> None:
            nonlocal remaining
            for _event, ids in poller.drain_grouped(4096):
                remaining -= len(ids)
            if remaining <= 0:
                done.set()

        loop.add_reader(poller.fd, on_readable)
        started = time.perf_counter()
        for i in range(m):
            bus.publish("t", b'{"text":"message %d"}' % i, kind="json")
            await asyncio.sleep(0)
        await done.wait()
        elapsed = time.perf_counter() - started
        loop.remove_reader(poller.fd)
        del subs
        return n * m / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = {}
    for name, bench in (("queues", queues), ("pushbus-tasks", pushbus_tasks), ("pushbus-drain", pushbus_drain),
                        ("pushbus-grouped", pushbus_grouped)):
        results[name] = max(asyncio.run(bench(args.subscribers, args.messages)) for _ in range(args.repeat))
    base = results["queues"]
    for name, rate in results.items():
        print(f"{name:16s} {rate / 1e6:6.2f} M deliveries/s  ({rate / base:.2f}x queues)")


if __name__ == "__main__":
    main()

"""Blocking use from threads: the GIL is released while waiting."""

from __future__ import annotations

import threading
import time

import pytest

import pushbus
from pushbus import Message


def test_wait_releases_the_gil(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    _keep = poller.subscribe("t")
    done = threading.Event()
    waited: list[float] = []

    def waiter() -> None:
        started = time.monotonic()
        poller.wait(0.5)
        waited.append(time.monotonic() - started)
        done.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.05)  # let it enter the C wait
    spins = 0
    deadline = time.monotonic() + 0.25
    while time.monotonic() < deadline:
        spins += 1
    # Had the C call kept the GIL, this thread could not have run at all
    # before the wait returned.
    assert not done.is_set()
    assert spins > 10_000
    thread.join(5)
    assert waited and 0.4 <= waited[0] < 3


def test_long_poll_releases_the_gil(bus: pushbus.Bus) -> None:
    key = bus.head("lp")
    result: list[pushbus.PollResult] = []
    thread = threading.Thread(target=lambda: result.append(bus.poll("lp", after=key, timeout=5)))
    thread.start()
    time.sleep(0.1)
    assert thread.is_alive()
    started = time.monotonic()
    bus.publish("lp", "wake")  # this thread runs while the other blocks in C
    thread.join(5)
    assert result and result[0].count == 1
    assert time.monotonic() - started < 1.0


def test_publisher_thread_and_waiter() -> None:
    n = 20_000
    # A ring that holds every message: the waiter may fall behind without a gap.
    bus = pushbus.Bus(ring_max_messages=n)
    poller = bus.poller()
    sub = poller.subscribe("t")

    def publish() -> None:
        for i in range(n):
            bus.publish("t", str(i))

    thread = threading.Thread(target=publish)
    thread.start()
    got: list[str] = []
    deadline = time.monotonic() + 30
    while len(got) < n and time.monotonic() < deadline:
        msg = sub.get(timeout=1.0)
        if isinstance(msg, Message):
            got.append(msg.text)
    thread.join(10)
    assert got == [str(i) for i in range(n)]
    poller.close()
    bus.close()


def test_many_publishers_each_in_order() -> None:
    bus = pushbus.Bus(ring_max_messages=2000)
    poller = bus.poller()
    sub = poller.subscribe("t.>")
    threads = [threading.Thread(target=lambda t=t: [bus.publish(f"t.{t}", str(i)) for i in range(2000)])
               for t in range(4)]
    for thread in threads:
        thread.start()
    seen: dict[str, list[int]] = {}
    deadline = time.monotonic() + 30
    while sum(map(len, seen.values())) < 8000 and time.monotonic() < deadline:
        poller.wait(1.0)
        for msg in poller.drain():
            assert isinstance(msg, Message) and msg.subscription == sub.id
            seen.setdefault(msg.topic, []).append(int(msg.text))
    for thread in threads:
        thread.join(10)
    assert sorted(seen) == ["t.0", "t.1", "t.2", "t.3"]
    for values in seen.values():
        assert values == list(range(2000))
    poller.close()


def test_threads_share_one_publisher() -> None:
    n, threads_n = 2000, 4
    total = threads_n * n + threads_n * n // 2
    with pushbus.Bus(ring_max_messages=total) as bus, bus.poller() as poller, \
            bus.publisher("shared") as pub:
        sub = poller.subscribe("shared")
        keys: dict[int, list[str]] = {t: [] for t in range(threads_n)}
        threads = [threading.Thread(target=lambda t=t: keys[t].extend(pub.publish(f"{t}:{i}") for i in range(n)))
                   for t in range(threads_n)]
        for thread in threads:
            thread.start()
        for _ in range(threads_n * n // 2):
            bus.publish("shared", "bus")  # interleaved with the publisher's keys
        for thread in threads:
            thread.join(30)
        seqs = sorted(pushbus.key_parse(k).seq for ks in keys.values() for k in ks)
        assert len(set(seqs)) == threads_n * n and max(seqs) <= total
        for ks in keys.values():  # each thread's keys increase
            assert [pushbus.key_parse(k).seq for k in ks] == sorted(pushbus.key_parse(k).seq for k in ks)
        got: list[Message] = []
        while (msg := sub.get(timeout=0.5)) is not None:
            assert isinstance(msg, Message)
            got.append(msg)
        assert [pushbus.key_parse(m.key).seq for m in got] == list(range(1, total + 1))
        by_thread: dict[str, list[int]] = {}
        for m in got:
            if m.text != "bus":
                t, i = m.text.split(":")
                by_thread.setdefault(t, []).append(int(i))
        assert by_thread == {str(t): list(range(n)) for t in range(threads_n)}


def test_close_while_another_thread_waits(bus: pushbus.Bus) -> None:
    poller = bus.poller()
    _keep = poller.subscribe("t")
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            poller.wait(0.5)
            poller.wait(0.5)  # the poller was closed meanwhile
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            errors.append(exc)

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.1)
    poller.close()  # deferred: the wait in flight keeps the C poller alive
    thread.join(5)
    assert len(errors) == 1 and isinstance(errors[0], pushbus.Closed)
    assert bus.stats().subscriptions == 0


def test_get_from_thread_wakes_on_close(bus: pushbus.Bus) -> None:
    poller = bus.poller()
    sub = poller.subscribe("t")
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(sub.get(timeout=10))
        except pushbus.Closed as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.1)
    sub.close()
    thread.join(5)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], pushbus.Closed)
    poller.close()


@pytest.mark.parametrize("n", [2000])
def test_per_call_overhead_is_small(n: int) -> None:
    """Reports (with -s) publish and drain costs; a loose bound catches regressions."""
    with pushbus.Bus(ring_max_messages=n) as bus, bus.poller() as p:
        _keep = p.subscribe("bench")
        started = time.perf_counter()
        for _ in range(n):
            bus.publish("bench", b"x")
        publish_us = (time.perf_counter() - started) / n * 1e6
        started = time.perf_counter()
        events = p.drain(max=n)
        drain_us = (time.perf_counter() - started) / n * 1e6
        assert len(events) == n
        started = time.perf_counter()
        for _ in range(n):
            bus.stats()
        stats_us = (time.perf_counter() - started) / n * 1e6
    print(f"\npublish {publish_us:.2f} us/call, drain {drain_us:.2f} us/event, stats {stats_us:.2f} us/call")
    assert publish_us < 200 and drain_us < 200

"""The Python API over a real bus: publish, subscribe, drain, resume, presence, polls."""

from __future__ import annotations

import gc
import json
import time

import pytest

import pushbus
from pushbus import ClosedEvent, Gap, Message


def test_version_matches_header() -> None:
    lib = pushbus._lib
    assert pushbus.__version__ == f"{lib.PUSHBUS_VERSION_MAJOR}.{lib.PUSHBUS_VERSION_MINOR}.{lib.PUSHBUS_VERSION_PATCH}"


def test_publish_and_get_message_fields(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    sub = poller.subscribe("chat.lobby")
    before = time.time()
    key = bus.publish("chat.lobby", {"user": "ann", "text": "hi"}, event="message")
    msg = sub.get(timeout=2.0)
    assert isinstance(msg, Message)
    assert msg.key == key
    assert msg.topic == "chat.lobby"
    assert msg.event == "message"
    assert msg.kind == "json"
    assert msg.json() == {"user": "ann", "text": "hi"}
    assert isinstance(msg.data, bytes)
    assert msg.seq == pushbus.key_parse(key).seq == 1
    assert before - 1 <= msg.time <= time.time() + 1
    assert msg.time_ms == int(msg.time * 1000)
    assert msg.subscription == sub.id
    assert msg.frames is None


def test_payload_kinds(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    sub = poller.subscribe("t")
    bus.publish("t", b"\x00\xff")
    bus.publish("t", "héllo")
    bus.publish("t", '{"a":1}', kind="json")
    bus.publish("t", [1, 2])
    got = poller.drain()
    assert [(m.kind, bytes(m.data)) for m in got if isinstance(m, Message)] == [
        ("binary", b"\x00\xff"),
        ("text", "héllo".encode()),
        ("json", b'{"a":1}'),
        ("json", b"[1,2]"),
    ]
    assert sub.id == got[0].subscription
    assert got[1].text == "héllo"  # type: ignore[union-attr]


def test_event_without_type_is_empty(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    _keep = poller.subscribe("t")
    bus.publish("t", "x")
    (msg,) = poller.drain()
    assert isinstance(msg, Message) and msg.event == ""


def test_keys_are_ordered_and_match_key_format(bus: pushbus.Bus) -> None:
    keys = [bus.publish("t", str(i)) for i in range(5)]
    parsed = [pushbus.key_parse(k) for k in keys]
    assert [p.seq for p in parsed] == [1, 2, 3, 4, 5]
    assert len({p.epoch for p in parsed}) == 1
    for k, p in zip(keys, parsed):
        assert pushbus.key_format(p.epoch, p.seq) == k == str(p)
    assert bus.head("t") == keys[-1]


def test_order_and_batching_over_256(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    _keep = poller.subscribe("t")
    for i in range(1000):
        bus.publish("t", str(i))
    events = poller.drain(max=10_000)
    assert [m.text for m in events if isinstance(m, Message)] == [str(i) for i in range(1000)]
    assert poller.drain() == []
    assert len(poller.drain(max=3)) == 0


def test_drain_respects_max(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    _keep = poller.subscribe("t")
    for i in range(10):
        bus.publish("t", str(i))
    first = poller.drain(max=3)
    rest = poller.drain()
    assert [m.text for m in first + rest if isinstance(m, Message)] == [str(i) for i in range(10)]
    assert len(first) == 3


def test_resume_after_key_loses_and_repeats_nothing(bus: pushbus.Bus) -> None:
    keys = [bus.publish("t", str(i)) for i in range(10)]
    with bus.poller() as p:
        _keep = p.subscribe("t", after=keys[3])
        got = [m.text for m in p.drain() if isinstance(m, Message)]
    assert got == [str(i) for i in range(4, 10)]


def test_last_and_oldest_starts(bus: pushbus.Bus) -> None:
    for i in range(5):
        bus.publish("t", str(i))
    with bus.poller() as p:
        _keep = p.subscribe("t", last=2)
        assert [m.text for m in p.drain() if isinstance(m, Message)] == ["3", "4"]
        _keep = p.subscribe("t", oldest=True)
        assert [m.text for m in p.drain() if isinstance(m, Message)] == ["0", "1", "2", "3", "4"]
    with pytest.raises(ValueError):
        bus.poller().subscribe("t", last=1, oldest=True)


def test_stale_key_gives_gap_then_continues() -> None:
    with pushbus.Bus(ring_max_messages=4) as bus, bus.poller() as p:
        first = bus.publish("t", "0")
        for i in range(1, 10):
            bus.publish("t", str(i))
        sub = p.subscribe("t", after=first, frames=True)
        events = p.drain()
        assert isinstance(events[0], Gap)
        gap = events[0]
        assert gap.from_key == first
        assert gap.topic == "t"
        assert gap.subscription == sub.id
        assert gap.frames is not None
        envelope = json.loads(gap.frames.envelope)
        assert envelope["event"] == "gap" and envelope["to"] == gap.to_key
        assert [m.text for m in events[1:] if isinstance(m, Message)] == ["6", "7", "8", "9"]
        assert pushbus.key_parse(gap.to_key).seq == 6  # reading continues after it
        assert gap.lost == 5
        assert bus.stats().gaps >= 1


def test_wrong_epoch_key_is_a_gap(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    bus.publish("t", "a")
    other = pushbus.key_format(0x1234, 1)
    _keep = poller.subscribe("t", after=other)
    events = poller.drain()
    assert isinstance(events[0], Gap) and events[0].from_key == other


def test_patterns_match_topics_created_later(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    _keep = poller.subscribe(["chat.*"])
    bus.publish("chat.new", "x")
    bus.publish("other.new", "y")
    bus.publish("chat.a.b", "z")  # `*` is one token only
    (msg,) = poller.drain()
    assert isinstance(msg, Message) and msg.topic == "chat.new"
    _keep = poller.subscribe("chat.>")
    bus.publish("chat.a.b", "w")
    assert [m.text for m in poller.drain() if isinstance(m, Message)] == ["w"]


def test_multi_topic_token_resumes(bus: pushbus.Bus) -> None:
    with bus.poller() as p:
        sub = p.subscribe(["a", "b"])
        bus.publish("a", "1")
        bus.publish("b", "2")
        assert len(p.drain()) == 2
        token = sub.token()
        assert "a:" in token and "b:" in token
        bus.publish("a", "3")
        bus.publish("b", "4")
    with bus.poller() as p2:
        _keep = p2.subscribe(["a", "b"], after=token)
        assert sorted(m.text for m in p2.drain() if isinstance(m, Message)) == ["3", "4"]


def test_frames_for_every_transport(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    _keep = poller.subscribe("chat.x", frames=True)
    key = bus.publish("chat.x", {"text": "</script><!-- \u2028"}, event="message")
    (msg,) = poller.drain()
    assert isinstance(msg, Message) and msg.frames is not None
    f = msg.frames
    assert f.ndjson == f.envelope + b"\n"
    assert f.sse == b"id: " + key.encode() + b"\nevent: message\ndata: " + f.envelope + b"\n\n"
    assert b"<" not in f.envelope and "\u2028".encode() not in f.envelope
    env = json.loads(f.envelope)
    assert env["id"] == key and env["topic"] == "chat.x" and env["seq"] == 1
    assert env["data"] == {"text": "</script><!-- \u2028"}
    assert list(env) == ["id", "topic", "seq", "event", "time", "data"]


def test_drain_with_frames_flag(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    _keep = poller.subscribe("t")
    bus.publish("t", "a")
    (msg,) = poller.drain(frames=True)
    assert isinstance(msg, Message) and msg.frames is not None
    assert json.loads(msg.frames.envelope)["data"] == "a"


def test_zero_copy_large_payload() -> None:
    with pushbus.Bus(ring_max_messages=2) as bus, bus.poller(zero_copy_threshold=1000) as p:
        _keep = p.subscribe("t")
        big = bytes(range(256)) * 40
        bus.publish("t", big)
        bus.publish("t", b"small")
        events = p.drain()
        assert isinstance(events[0], Message) and isinstance(events[1], Message)
        view = events[0].data
        assert isinstance(view, memoryview) and view.readonly
        assert isinstance(events[1].data, bytes)
        assert pushbus.taken_messages_alive() == 1
        del events
        # Evict it from the ring: the view still owns the message.
        for i in range(5):
            bus.publish("t", str(i))
        p.drain()
        gc.collect()
        assert bytes(view) == big
        with pytest.raises(TypeError):
            view[0] = 1  # type: ignore[index]
        del view
        gc.collect()
        assert pushbus.taken_messages_alive() == 0


def test_presence_via_subscription_lease_and_leave(bus: pushbus.Bus) -> None:
    with bus.poller() as p:
        watcher = p.subscribe("chat.room")
        with p.subscribe("chat.room") as sub:
            sub.join("ann", info={"agent": "test"})
            entries = bus.presence("chat.room")
            assert [e.client for e in entries] == ["ann"]
            assert entries[0].info == {"agent": "test"}
            assert entries[0].since_ms > 0
        assert bus.presence("chat.room") == []
        bus.presence_lease("chat.room", "bob", ttl=30)
        assert [e.client for e in bus.presence("chat.room")] == ["bob"]
        assert bus.presence_leave("chat.room", "bob") is True
        assert bus.presence_leave("chat.room", "bob") is False
        events = [m.event for m in p.drain() if isinstance(m, Message) and m.subscription == watcher.id]
        assert events == ["join", "leave", "join", "leave"]
    assert json.loads(bus.presence_json("chat.nobody")) == []


def test_presence_lease_expires() -> None:
    with pushbus.Bus(janitor_interval=None) as bus:
        bus.presence_lease("r", "c", ttl=0.05)
        time.sleep(0.1)
        bus.sweep()
        assert bus.presence("r") == []


def test_poller_close_releases_presence(bus: pushbus.Bus) -> None:
    p = bus.poller()
    sub = p.subscribe("room")
    sub.join("ann")
    p.close()
    assert bus.presence("room") == []
    assert sub.closed and sub.closed_reason == "closed"
    assert bus.stats().subscriptions == 0


def test_short_and_long_poll(bus: pushbus.Bus) -> None:
    empty = bus.poll("room")
    assert empty.count == 0 and json.loads(empty.json)["messages"] == []
    k1 = bus.publish("room", "a")
    bus.publish("room", "b")
    r = bus.poll("room", after=k1)
    body = json.loads(r.json)
    assert r.count == 1 and [m["data"] for m in body["messages"]] == ["b"]
    assert body["key"] == r.key and r.gap is False
    started = time.monotonic()
    timed_out = bus.poll("room", after=r.key, timeout=0.2)
    assert timed_out.count == 0 and timed_out.key == r.key
    assert 0.15 <= time.monotonic() - started < 2.0
    assert bus.poll("room", last=1).count == 1


def test_poll_gap_flag() -> None:
    with pushbus.Bus(ring_max_messages=2) as bus:
        first = bus.publish("t", "0")
        for i in range(5):
            bus.publish("t", str(i))
        r = bus.poll("t", after=first)
        assert r.gap is True and json.loads(r.json)["gap"]["from"] == first


def test_stats_count(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    _keep_a = poller.subscribe("a")
    _keep_b = poller.subscribe("b")
    for _ in range(3):
        bus.publish("a", "x")
    poller.drain()
    s = bus.stats()
    assert s.published == 3 and s.delivered == 3 and s.subscriptions == 2 and s.topics == 2
    assert s.replay_bytes == 3


def test_config_kwargs() -> None:
    with pushbus.Bus(max_message_bytes=10, ring_max_bytes=100, replay_budget_bytes=1000, max_topics=2,
                     max_topic_len=8, topic_idle_ttl=None, ring_max_age=60.0, lag_policy="close",
                     max_subscriptions_per_poller=1, presence_events=False, max_presence_info_bytes=16,
                     janitor_interval=0.5) as bus:
        with pytest.raises(pushbus.MessageTooLarge):
            bus.publish("t", b"x" * 11)
        with pytest.raises(pushbus.InvalidTopic):
            bus.publish("toolongname", "x")
        with bus.poller() as p:
            _keep = p.subscribe("t")
            with pytest.raises(pushbus.TooManySubscriptions):
                _keep = p.subscribe("t")
    with pytest.raises(pushbus.InvalidConfig):
        pushbus.Bus(ring_max_messages=0)
    with pytest.raises(ValueError):
        pushbus.Bus(lag_policy="drop")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        pushbus.Bus(ring_max_age=0)


def test_lag_close_policy_ends_subscription() -> None:
    with pushbus.Bus(ring_max_messages=4) as bus, bus.poller() as p:
        sub = p.subscribe("t", lag="close")
        for i in range(20):
            bus.publish("t", str(i))
        events = []
        for _ in range(30):
            e = sub.get(timeout=0.5)
            events.append(e)
            if isinstance(e, ClosedEvent):
                break
        assert isinstance(events[-1], ClosedEvent) and events[-1].reason == "lagged"
        assert events[-1].topic == "t" and events[-1].lost is not None and events[-1].lost > 0
        assert sub.closed and sub.closed_reason == "lagged"
        with pytest.raises(pushbus.Closed):
            sub.get(timeout=0)
        assert bus.stats().lag_closes == 1


def test_overflow_closes_a_slow_subscription_with_lag_close(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    slow = poller.subscribe("t", max_pending=10, lag="close")
    fast = poller.subscribe("t")
    for i in range(50):
        bus.publish("t", str(i))
    got = [fast.get(timeout=1.0) for _ in range(50)]
    assert [m.text for m in got if isinstance(m, Message)] == [str(i) for i in range(50)]
    assert slow.closed and slow.closed_reason == "overflow"
    only = slow.get(timeout=0)
    assert isinstance(only, ClosedEvent) and only.reason == "overflow"
    assert bus.stats().subscriptions == 1


def test_overflow_becomes_a_gap_and_continues(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    slow = poller.subscribe(["a", "b"], max_pending=10, frames=True)
    keep = poller.subscribe("a")  # drains too: its reading fills slow's queue
    keys_a = [bus.publish("a", f"a{i}") for i in range(30)]
    keys_b = [bus.publish("b", f"b{i}") for i in range(5)]
    for _ in range(40):
        keep.get(timeout=0)  # routes everything drained, slow's included
    events = []
    while (e := slow.get(timeout=0.2)) is not None:
        events.append(e)
    assert not slow.closed and len(events) <= 12
    gaps = [e for e in events if isinstance(e, Gap)]
    assert gaps, events
    first = gaps[0]
    assert first.topic == "a" and first.from_key == pushbus.key_format(pushbus.key_parse(keys_a[0]).epoch, 0)
    assert first.frames is not None and json.loads(first.frames.envelope) == {
        "event": "gap", "topic": "a", "from": first.from_key, "to": first.to_key}
    assert first.frames.sse.startswith(b"id: " + first.to_key.encode() + b"\nevent: gap\ndata: ")
    # Nothing is both lost and delivered, and it continues after the gap.
    after = [e.key for e in events if isinstance(e, Message)]
    lost = sum(g.lost or 0 for g in gaps)
    assert lost + len(after) == len(keys_a) + len(keys_b)
    bus.publish("a", "later")
    later = slow.get(timeout=1.0)
    assert isinstance(later, Message) and later.text == "later"


def test_sync_iteration_stops_on_close(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    sub = poller.subscribe("t")
    for i in range(3):
        bus.publish("t", str(i))
    seen = []
    for msg in sub:
        assert isinstance(msg, Message)
        seen.append(msg.text)
        if len(seen) == 3:
            sub.close()
    assert seen == ["0", "1", "2"]


def test_get_times_out(poller: pushbus.Poller) -> None:
    sub = poller.subscribe("t")
    started = time.monotonic()
    assert sub.get(timeout=0.1) is None
    assert 0.08 <= time.monotonic() - started < 1.5


def test_wait_and_fd(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    import select

    _keep = poller.subscribe("t")
    fd = poller.fd
    assert fd == poller.fd and fd > 2
    assert poller.wait(0) is False
    assert select.select([fd], [], [], 0)[0] == []
    bus.publish("t", "x")
    assert poller.wait(1.0) is True
    assert select.select([fd], [], [], 1.0)[0] == [fd]
    poller.drain()
    assert select.select([fd], [], [], 0)[0] == []


def test_closed_objects_raise_closed(bus: pushbus.Bus) -> None:
    p = bus.poller()
    sub = p.subscribe("t")
    sub.close()
    sub.close()  # idempotent
    with pytest.raises(pushbus.Closed):
        sub.token()
    with pytest.raises(pushbus.Closed):
        sub.join("ann")
    p.close()
    p.close()
    for call in (lambda: p.subscribe("t"), lambda: p.wait(0), p.drain, lambda: p.fd):
        with pytest.raises(pushbus.Closed, match="poller is closed"):
            call()
    bus.close()
    bus.close()
    assert bus.closed
    for call2 in (lambda: bus.publish("t", "x"), bus.stats, bus.poller, lambda: bus.poll("t")):
        with pytest.raises(pushbus.Closed, match="bus is closed"):
            call2()
    assert isinstance(pushbus.Closed(), pushbus.Error)


def test_poller_outlives_closed_bus() -> None:
    bus = pushbus.Bus()
    p = bus.poller()
    sub = p.subscribe("t")
    bus.close()
    assert sub.get(timeout=0.05) is None
    p.close()


def test_unsubscribe_after_poller_gc_is_harmless(bus: pushbus.Bus) -> None:
    p = bus.poller()
    sub = p.subscribe("t")
    del p
    gc.collect()
    sub.close()
    del sub
    gc.collect()
    assert bus.stats().subscriptions == 0


def test_subscription_dropped_without_close_unsubscribes(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    sub = poller.subscribe("t")
    sub.join("ann")
    assert bus.stats().subscriptions == 1
    del sub
    gc.collect()
    assert bus.stats().subscriptions == 0
    assert bus.presence("t") == []


def test_repr_and_types(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    sub = poller.subscribe("t")
    bus.publish("t", "x" * 100)
    msg = sub.get(timeout=1)
    assert "..." in repr(msg) and "Subscription" in repr(sub) and "Poller" in repr(poller)
    with pytest.raises(TypeError):
        bus.publish(b"t", "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        bus.publish("t", 5, kind="text")


def test_selected_frames_and_no_payload(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    sse_only = poller.subscribe("t", frames="sse", payload=False)
    both = poller.subscribe("t", frames=["envelope", "ndjson"])
    assert sse_only.frames == ("sse",) and both.frames == ("envelope", "ndjson")
    bus.publish("t", "hello")
    events = {e.subscription: e for e in poller.drain()}
    a, b = events[sse_only.id], events[both.id]
    assert isinstance(a, Message) and isinstance(b, Message) and a.frames and b.frames
    assert a.data == b"" and a.frames.sse.startswith(b"id: ") and a.frames.envelope == a.frames.ndjson == b""
    assert b.data == b"hello" and b.frames.sse == b"" and b.frames.ndjson == b.frames.envelope + b"\n"
    with pytest.raises(ValueError):
        poller.subscribe("t", frames="html")  # type: ignore[arg-type]


def test_drain_grouped_by_message(bus: pushbus.Bus) -> None:
    with pushbus.Bus(ring_max_messages=2) as small, small.poller() as p:
        subs = [p.subscribe("t", frames="envelope") for _ in range(300)]
        first = small.publish("t", "a")
        small.publish("t", "b")
        stale = p.subscribe("t", after=pushbus.key_format(1, 1))  # a gap, then both messages
        groups = p.drain_grouped(max=10_000, frames="envelope")
        messages = [(e, ids) for e, ids in groups if isinstance(e, Message)]
        gaps = [(e, ids) for e, ids in groups if isinstance(e, Gap)]
        # a message comes once per batch of 256 deliveries it spans, and
        # again after the stale subscription's gap
        assert {e.text for e, _ in messages} == {"a", "b"} and len(messages) <= 8
        delivered: dict[str, list[int]] = {}
        for e, ids in messages:
            delivered.setdefault(e.text, []).extend(ids)
            assert e.subscription == ids[0]
            assert e.frames is not None and e.frames.envelope
        want = sorted([s.id for s in subs] + [stale.id])
        assert sorted(delivered["a"]) == want and sorted(delivered["b"]) == want
        assert [ids for _, ids in gaps] == [[stale.id]]
        assert pushbus.key_parse(messages[0][0].key).seq in (1, 2) and first


def test_drain_grouped_keeps_each_subscriptions_order() -> None:
    """Expanded in list order, the groups give every subscription the same
    events, in the same order, as a plain drain of the same state."""

    def state(b: pushbus.Bus, p: pushbus.Poller) -> list[pushbus.Subscription]:
        keys = [b.publish("t", str(i)) for i in range(10)]  # the ring keeps 6..9
        subs = [p.subscribe("t", after=keys[5]) for _ in range(3)]  # read 6..9
        # A gap first, then 6..9, in the same runs as the others (after them).
        return subs + [p.subscribe("t", after=keys[1])]

    def per_subscription(pairs: list[tuple[int, str]]) -> dict[int, list[str]]:
        seen: dict[int, list[str]] = {}
        for sid, what in pairs:
            seen.setdefault(sid, []).append(what)
        return seen

    def label(e: object) -> str:
        return e.text if isinstance(e, Message) else type(e).__name__

    with pushbus.Bus(ring_max_messages=4) as b1, b1.poller() as p1, \
            pushbus.Bus(ring_max_messages=4) as b2, b2.poller() as p2:
        held = state(b1, p1) + state(b2, p2)
        plain = per_subscription([(e.subscription, label(e)) for e in p1.drain()])
        grouped = per_subscription([(sid, label(e)) for e, ids in p2.drain_grouped() for sid in ids])
        assert grouped == plain
        assert plain[max(plain)] == ["Gap", "6", "7", "8", "9"] and len(held) == 8


def test_drain_without_the_struct_fast_path(bus: pushbus.Bus, poller: pushbus.Poller,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import pushbus._core as core

    sub = poller.subscribe("t")
    keys = [bus.publish("t", str(i), event="e") for i in range(5)]
    monkeypatch.setattr(core, "_EVENT", None)  # field-by-field reads, as on another layout
    monkeypatch.setattr(core, "_INFO", None)
    events = poller.drain()
    assert [(m.key, m.text, m.event, m.subscription) for m in events if isinstance(m, Message)] == [
        (k, str(i), "e", sub.id) for i, k in enumerate(keys)]

"""Publisher: one topic's publish handle (pushbus_publisher_*)."""

from __future__ import annotations

import gc
import json
import time
from typing import Any, Optional, Type

import pytest

import pushbus
from pushbus import Message
from pushbus._ffi import lib


def test_keys_continue_the_topics_sequence(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    sub = poller.subscribe("t")
    k1 = bus.publish("t", "a")
    with bus.publisher("t") as pub:
        k2 = pub.publish("b")
        k3 = bus.publish("t", "c")
        k4 = pub.publish("d")
    keys = [k1, k2, k3, k4]
    parsed = [pushbus.key_parse(k) for k in keys]
    assert all(type(k) is str for k in keys)
    assert [p.seq for p in parsed] == [1, 2, 3, 4]
    assert len({p.epoch for p in parsed}) == 1
    assert [pushbus.key_format(p.epoch, p.seq) for p in parsed] == keys
    assert bus.head("t") == k4
    got = [m for m in poller.drain() if isinstance(m, Message)]
    assert [(m.key, m.text, m.subscription) for m in got] == [
        (k, text, sub.id) for k, text in zip(keys, "abcd")]
    assert bus.stats().published == 4


def test_subscriber_receives_the_message_and_its_event(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    exact = poller.subscribe("chat.lobby", frames=True)
    pattern = poller.subscribe("chat.*")
    pub = bus.publisher("chat.lobby")
    assert pub.topic == "chat.lobby"
    key = pub.publish({"user": "ann", "text": "hi"}, event="message")
    msg = exact.get(timeout=2.0)
    assert isinstance(msg, Message)
    assert (msg.key, msg.topic, msg.event, msg.kind) == (key, "chat.lobby", "message", "json")
    assert msg.json() == {"user": "ann", "text": "hi"}
    assert msg.frames is not None
    assert msg.frames.sse.startswith(b"id: " + key.encode() + b"\nevent: message\ndata: ")
    assert json.loads(msg.frames.envelope)["event"] == "message"
    other = pattern.get(timeout=2.0)
    assert isinstance(other, Message) and other.key == key and other.event == "message"
    pub.publish("no event")
    plain = exact.get(timeout=2.0)
    assert isinstance(plain, Message) and plain.event == "" and plain.text == "no event"
    pub.close()


PAYLOADS: list[tuple[Any, Optional[str]]] = [
    (b"\x00\xff", None),
    (bytearray(b"ba"), None),
    (memoryview(b"mv"), None),
    ("h\u00e9llo", None),
    ({"a": [1, None]}, None),
    ([1, 2], None),
    ('{"a":1}', "json"),
    (b"[1]", "json"),
    ({"x": 1}, "json"),
    (b"text bytes", "text"),
    ("bin str", "binary"),
]


@pytest.mark.parametrize(("data", "kind"), PAYLOADS)
@pytest.mark.parametrize("event", [None, "e"])
def test_payload_conventions_are_bus_publishs(
    bus: pushbus.Bus, poller: pushbus.Poller, data: Any, kind: Any, event: Optional[str]
) -> None:
    _keep = poller.subscribe(["via_bus", "via_pub"])
    with bus.publisher("via_pub") as pub:
        bus.publish("via_bus", data, event=event, kind=kind)
        pub.publish(data, event=event, kind=kind)
    a, b = poller.drain()
    assert isinstance(a, Message) and isinstance(b, Message)
    assert (a.topic, b.topic) == ("via_bus", "via_pub")
    assert (b.kind, bytes(b.data), b.event) == (a.kind, bytes(a.data), a.event)
    assert b.event == (event or "")


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((5,), {"kind": "text"}, TypeError),
        ((b"x",), {"kind": "xml"}, ValueError),
        (("x",), {"event": b"e"}, TypeError),
    ],
)
def test_python_side_argument_errors_match_bus_publish(
    bus: pushbus.Bus, args: tuple[Any, ...], kwargs: dict[str, Any], error: Type[Exception]
) -> None:
    with pytest.raises(error) as from_bus:
        bus.publish("t", *args, **kwargs)
    with bus.publisher("t") as pub, pytest.raises(error) as from_pub:
        pub.publish(*args, **kwargs)
    assert type(from_pub.value) is type(from_bus.value) and str(from_pub.value) == str(from_bus.value)
    assert bus.stats().published == 0


def _assert_status(exc: pushbus.Error, cls: Type[pushbus.Error], code: int, topic: str) -> None:
    assert type(exc) is cls
    assert exc.code == code == cls.code
    assert exc.status == pushbus.errors.error_for_status(code).status
    assert str(exc) == f"{exc.status}: {topic!r}"


@pytest.mark.parametrize(
    ("topic", "cls", "code"),
    [
        ("bad topic", pushbus.InvalidTopic, lib.PUSHBUS_INVALID_TOPIC),
        ("", pushbus.InvalidTopic, lib.PUSHBUS_INVALID_TOPIC),
        ("a..b", pushbus.InvalidTopic, lib.PUSHBUS_INVALID_TOPIC),
        ("toolongname", pushbus.InvalidTopic, lib.PUSHBUS_INVALID_TOPIC),
        ("chat.*", pushbus.PatternNotAllowed, lib.PUSHBUS_PATTERN_NOT_ALLOWED),
        ("chat.>", pushbus.PatternNotAllowed, lib.PUSHBUS_PATTERN_NOT_ALLOWED),
    ],
)
def test_invalid_topic_at_creation(topic: str, cls: Type[pushbus.Error], code: int) -> None:
    with pushbus.Bus(max_topic_len=8) as bus, bus.poller() as poller:
        _keep = poller.subscribe("chat.>")
        with pytest.raises(cls) as info:
            bus.publisher(topic)
        _assert_status(info.value, cls, code, topic)
        stats = bus.stats()
        assert stats.published == 0 and stats.topics == 0
        assert poller.drain() == []


def test_too_many_topics_and_non_str_topic_at_creation() -> None:
    with pushbus.Bus(max_topics=1) as bus:
        keep = bus.publisher("a")
        with pytest.raises(pushbus.TooManyTopics) as info:
            bus.publisher("b")
        _assert_status(info.value, pushbus.TooManyTopics, lib.PUSHBUS_TOO_MANY_TOPICS, "b")
        with pytest.raises(TypeError):
            bus.publisher(b"a")  # type: ignore[arg-type]
        again = bus.publisher("a")  # one topic, two publishers
        assert bus.stats().topics == 1 and bus.stats().published == 0
        keep.close()
        again.close()


@pytest.mark.parametrize(
    ("data", "kwargs", "cls", "code"),
    [
        ("x", {"event": "bad event"}, pushbus.InvalidEvent, lib.PUSHBUS_INVALID_EVENT),
        ("x", {"event": "e" * 1000}, pushbus.InvalidEvent, lib.PUSHBUS_INVALID_EVENT),
        (b"x" * 17, {}, pushbus.MessageTooLarge, lib.PUSHBUS_MESSAGE_TOO_LARGE),
        ("{nope", {"kind": "json"}, pushbus.InvalidJson, lib.PUSHBUS_INVALID_JSON),
        (b"[1,", {"kind": "json"}, pushbus.InvalidJson, lib.PUSHBUS_INVALID_JSON),
        (b"\xff", {"kind": "text"}, pushbus.InvalidUtf8, lib.PUSHBUS_INVALID_UTF8),
        ("\udc80", {}, pushbus.InvalidUtf8, lib.PUSHBUS_INVALID_UTF8),  # a lone surrogate as text
    ],
)
def test_bad_input_raises_its_status_and_publishes_nothing(
    data: Any, kwargs: dict[str, Any], cls: Type[pushbus.Error], code: int
) -> None:
    with pushbus.Bus(max_message_bytes=16) as bus, bus.poller() as poller, bus.publisher("t") as pub:
        sub = poller.subscribe("t")
        first = pub.publish("ok")
        with pytest.raises(cls) as info:
            pub.publish(data, **kwargs)
        _assert_status(info.value, cls, code, "t")
        with pytest.raises(cls):
            bus.publish("t", data, **kwargs)  # the same input refused the same way
        assert bus.stats().published == 1
        assert bus.head("t") == first
        # Nothing reached the subscriber and no sequence number was used.
        after = pub.publish("next")
        assert pushbus.key_parse(after).seq == pushbus.key_parse(first).seq + 1
        got = [m for m in poller.drain() if isinstance(m, Message)]
        assert [(m.key, m.text, m.subscription) for m in got] == [(first, "ok", sub.id), (after, "next", sub.id)]


def test_close_twice_is_harmless_and_use_after_close_raises(bus: pushbus.Bus) -> None:
    pub = bus.publisher("t")
    assert not pub.closed and "closed" not in repr(pub)
    pub.publish("x")
    pub.close()
    pub.close()
    assert pub.closed and "closed" in repr(pub)
    assert pub.topic == "t"
    with pytest.raises(pushbus.Closed, match="publisher is closed") as info:
        pub.publish("y")
    assert info.value.code == 0
    with bus.publisher("t") as scoped:
        scoped.publish("z")
    assert scoped.closed
    with pytest.raises(pushbus.Closed, match="publisher is closed"):
        scoped.publish("z", event="e")
    scoped.close()
    assert bus.stats().published == 2
    bus.close()
    with pytest.raises(pushbus.Closed, match="bus is closed"):
        bus.publisher("t")


def test_publisher_outlives_closed_bus() -> None:
    bus = pushbus.Bus()
    poller = bus.poller()
    sub = poller.subscribe("t")
    pub = bus.publisher("t")
    bus.close()
    key = pub.publish("after the bus", event="late")
    msg = sub.get(timeout=2.0)
    assert isinstance(msg, Message) and (msg.key, msg.text, msg.event) == (key, "after the bus", "late")
    pub.close()
    poller.close()


def _idle_topics(bus: pushbus.Bus) -> int:
    time.sleep(0.06)
    bus.sweep()
    return bus.stats().topics


def test_an_open_publisher_holds_its_topic_and_close_releases_it() -> None:
    with pushbus.Bus(topic_idle_ttl=0.03, janitor_interval=None) as bus:
        pub = bus.publisher("t")
        first = pub.publish("a")
        assert _idle_topics(bus) == 1  # held: not idle
        second = pub.publish("b")
        assert pushbus.key_parse(second).epoch == pushbus.key_parse(first).epoch
        assert pushbus.key_parse(second).seq == 2
        pub.close()  # frees the C publisher now
        assert _idle_topics(bus) == 0
        # Dropped without close: the finalizer frees it.
        dropped = bus.publisher("u")
        dropped.publish("x")
        assert _idle_topics(bus) == 1
        del dropped
        gc.collect()
        assert _idle_topics(bus) == 0

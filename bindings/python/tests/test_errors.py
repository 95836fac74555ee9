"""Every status code has its exception class, and each is reachable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import pushbus
from pushbus import errors
from pushbus._ffi import ffi, lib

HEADER = Path(__file__).resolve().parents[3] / "include" / "pushbus.h"


def status_names() -> dict[int, str]:
    """PUSHBUS_* status values from the C ABI manual, as class names."""
    enum = HEADER.read_text().split("enum pushbus_status", 1)[1].split("};", 1)[0]
    found = {int(value): "".join(part.capitalize() for part in name.split("_"))
             for name, value in re.findall(r"PUSHBUS_(\w+) = (\d+),", enum)}
    assert found.pop(0) == "Ok"
    return found


def test_one_class_per_status_named_after_it() -> None:
    names = status_names()
    assert len(names) >= 23
    for code, name in names.items():
        cls = getattr(pushbus, name)  # PUSHBUS_INVALID_TOPIC -> InvalidTopic
        assert issubclass(cls, pushbus.Error) and cls.code == code
        exc = errors.error_for_status(code)
        assert type(exc) is cls
        assert exc.code == code
        assert exc.status == ffi.string(lib.pushbus_status_str(code)).decode()
        assert str(exc) == exc.status
    assert str(errors.error_for_status(3, "'x y'")) == "invalid topic name: 'x y'"
    unknown = errors.error_for_status(999)
    assert type(unknown) is pushbus.Error and unknown.code == 999 and unknown.status == "unknown status"
    errors.check(0)
    with pytest.raises(pushbus.InvalidTopic):
        errors.check(3)


def test_builtin_bases() -> None:
    assert issubclass(pushbus.InvalidTopic, ValueError)
    assert issubclass(pushbus.UnknownSubscription, LookupError)
    assert issubclass(pushbus.Io, OSError)


def test_reachable_from_the_api(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    with pytest.raises(pushbus.InvalidUtf8):
        bus.publish("t", b"\xff", kind="text")
    with pytest.raises(pushbus.InvalidTopic) as info:
        bus.publish("bad topic", "x")
    assert info.value.code == 3 and "'bad topic'" in str(info.value)
    with pytest.raises(pushbus.InvalidPattern):
        poller.subscribe("chat.>.x")
    with pytest.raises(pushbus.PatternNotAllowed):
        bus.publish("chat.*", "x")
    with pytest.raises(pushbus.InvalidEvent):
        bus.publish("t", "x", event="bad event")
    with pytest.raises(pushbus.InvalidJson):
        bus.publish("t", "{nope", kind="json")
    with pytest.raises(pushbus.InvalidPresence):
        bus.presence_lease("t", "", ttl=1)
    with pytest.raises(pushbus.BadToken):
        poller.subscribe("t", after="not-a-key")
    with pytest.raises(pushbus.BadToken):
        pushbus.key_parse("zz")
    with pushbus.Bus(max_topics=1) as small:
        small.publish("a", "x")
        with pytest.raises(pushbus.TooManyTopics):
            small.publish("b", "x")
    with pushbus.Bus(max_subscriptions_per_poller=1) as small, small.poller() as p:
        keep = p.subscribe("a")
        with pytest.raises(pushbus.TooManySubscriptions):
            p.subscribe("a")
        keep.close()
    with pytest.raises(pushbus.NoTopics):
        poller.subscribe([])
    with pytest.raises(pushbus.InvalidConfig):
        pushbus.Bus(max_topic_len=5000)
    with pytest.raises(pushbus.InvalidJwt):
        pushbus.verify_jwt("a.b.c", "secret")
    with pytest.raises(pushbus.InvalidArgument):
        pushbus.framing.iframe_check_callback("alert(1)")
    with pytest.raises(pushbus.WsProtocol) as ws:
        pushbus.WsDecoder().feed(b"\x81\x01a")  # unmasked client frame
    assert ws.value.close_code == 1002


def test_unknown_subscription_expired_jwt_and_raw_codes(bus: pushbus.Bus, poller: pushbus.Poller) -> None:
    # Reachable only through the raw ABI: the wrapper never sends an unknown id.
    ptr = poller._handle.get()
    with pytest.raises(pushbus.UnknownSubscription):
        errors.check(lib.pushbus_unsubscribe(ptr, 123456))
    with pytest.raises(pushbus.Io):
        errors.check(lib.PUSHBUS_IO)
    with pytest.raises(pushbus.InvalidConfig):
        # The fd exists in eventfd mode: asking for the pipe is refused.
        _ = poller.fd
        errors.check(lib.pushbus_poller_fd(ptr, lib.PUSHBUS_FD_PIPE, ffi.new("int *")))
    with pytest.raises(pushbus.NullPointer):
        errors.check(lib.pushbus_bus_stats(ffi.NULL, ffi.new("pushbus_stats *")))
    with pytest.raises(pushbus.BufferTooSmall):
        key = ffi.new("pushbus_key *")
        errors.check(lib.pushbus_key_format(key[0], ffi.new("char[]", 1), 1, ffi.new("size_t *")))
    # Panic and UnknownTopic have no reachable trigger in a correct library.
    with pytest.raises(pushbus.Panic):
        errors.check(lib.PUSHBUS_PANIC)
    with pytest.raises(pushbus.UnknownTopic):
        errors.check(lib.PUSHBUS_UNKNOWN_TOPIC)

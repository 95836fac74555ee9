from __future__ import annotations

from typing import Iterator

import pytest

import pushbus


@pytest.fixture
def bus() -> Iterator[pushbus.Bus]:
    with pushbus.Bus() as b:
        yield b


@pytest.fixture
def poller(bus: pushbus.Bus) -> Iterator[pushbus.Poller]:
    with bus.poller() as p:
        yield p

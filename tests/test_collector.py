"""The collector settles once the server has started: start-up objects frozen, thresholds raised."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from eliza_messaging import collector


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_settle_freezes_what_is_alive_and_raises_the_thresholds() -> None:
    alive = [object()]  # a container, tracked by the collector
    collector.settle()
    assert gc.get_threshold() == collector.THRESHOLDS
    assert gc.get_freeze_count() > 0
    assert not any(o is alive for o in gc.get_objects()), "a start-up object is still in the collector's sight"


@pytest.mark.usefixtures("restored_gc")
def test_cycles_made_after_settling_are_still_collected() -> None:
    collector.settle()

    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    del a, b
    assert gc.collect() >= 2

"""The per-caller token bucket used by uploads and jobs: its rate, its burst, and its bound on callers."""

from __future__ import annotations

import pytest

from eliza_messaging.messaging.errors import RateLimited
from eliza_messaging.messaging.identity import ANONYMOUS, Caller
from eliza_messaging.messaging.rates import CallerRate


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate() -> None:
    clock = Clock()
    rate = CallerRate("uploads", per_minute=60, burst=2, clock=clock)
    rate.take("a")
    rate.take("a")
    with pytest.raises(RateLimited) as refused:
        rate.take("a")
    assert 900 <= refused.value.retry_after_ms <= 1001
    assert "at most 2 at once and 60 a minute" in refused.value.message
    rate.take("b")  # another caller has its own bucket
    clock.now = 1.0
    rate.take("a")  # one token back after a second


def test_a_rate_of_zero_never_refuses() -> None:
    rate = CallerRate("uploads", per_minute=0, burst=1)
    for _ in range(100):
        rate.take("a")
    assert len(rate) == 0


def test_the_callers_tracked_are_bounded_dropping_the_least_recent() -> None:
    clock = Clock()
    rate = CallerRate("uploads", per_minute=1, burst=1, max_callers=3, clock=clock)
    for key in ("a", "b", "c"):
        rate.take(key)
    rate.take("d")  # the fourth: "a" is forgotten
    assert len(rate) == 3
    rate.take("a")  # so "a" starts with a full burst again
    with pytest.raises(RateLimited):
        rate.take("d")  # "d" is still remembered
    assert len(rate) == 3


def test_callers_are_counted_by_entity_else_by_address() -> None:
    assert CallerRate.key(Caller("ABC"), "10.0.0.1") == "entity:abc"
    assert CallerRate.key(ANONYMOUS, "10.0.0.1") == "address:10.0.0.1"

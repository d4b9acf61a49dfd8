"""The per-socket token bucket: bursts pass, a flood is refused with the wait, time refills it."""

from __future__ import annotations

import pytest

from eliza_messaging.messaging.errors import RateLimited
from eliza_messaging.messaging.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_rate_applies() -> None:
    clock = Clock()
    limiter = RateLimiter(rate_per_s=10, burst=3, clock=clock)
    for _ in range(3):
        limiter.admit("a")
    with pytest.raises(RateLimited) as refused:
        limiter.admit("a")
    assert refused.value.retry_after_ms == 101
    assert "wait 101 ms" in refused.value.message and "10 per second" in refused.value.message
    limiter.admit("b")  # others are not affected
    clock.now = 0.1
    limiter.admit("a")
    with pytest.raises(RateLimited):
        limiter.admit("a")


def test_zero_rate_means_unlimited_and_forget_resets() -> None:
    free = RateLimiter(rate_per_s=0, burst=0)
    for _ in range(10_000):
        free.admit("a")
    clock = Clock()
    limiter = RateLimiter(rate_per_s=1, burst=1, clock=clock)
    limiter.admit("a")
    limiter.forget("a")
    limiter.admit("a")

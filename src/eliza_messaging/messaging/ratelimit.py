"""A token bucket per socket, so one flooding client slows down instead of drowning everyone.

Over the limit a message is refused with a ``RATE_LIMITED`` error that says how long to wait;
it is never silently dropped (the reference server buffers without bound, then loses sends).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import RateLimited


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def admit(self, key: str) -> None:
        """Take one token for ``key`` or raise :class:`RateLimited` with the wait in the message."""
        if self.rate <= 0:
            return
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens < 1.0:
            wait_ms = int((1.0 - bucket.tokens) / self.rate * 1000) + 1
            raise RateLimited(
                f"Too many messages: this connection may send {self.rate:g} per second (bursts of {self.burst})."
                f" This one was not stored; wait {wait_ms} ms and send it again.",
                retry_after_ms=wait_ms,
            )
        bucket.tokens -= 1.0

    def forget(self, key: str) -> None:
        self._buckets.pop(key, None)

"""A token bucket per caller, for actions costlier than a message (uploads, jobs).

``rate`` per minute with bursts of ``burst``; a rate of 0 turns it off. The number of callers
tracked is bounded: past ``max_callers`` the least recently seen bucket is dropped (a caller
seen again starts with a full burst, so a flood of new identities cannot grow memory, and at
worst lets a forgotten caller burst once more).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from .errors import RateLimited
from .identity import Caller


class CallerRate:
    def __init__(
        self,
        what: str,
        per_minute: float,
        burst: int,
        *,
        max_callers: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.per_s = per_minute / 60.0
        self.burst = max(1, burst)
        self.max_callers = max_callers
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, updated)

    def __len__(self) -> int:
        return len(self._buckets)

    @staticmethod
    def key(caller: Caller, address: str | None) -> str:
        """Who is counted: the entity shown, else the client's address (anonymous callers share theirs)."""
        if caller.entity_id is not None:
            return f"entity:{caller.entity_id.lower()}"
        return f"address:{address or 'unknown'}"

    def take(self, key: str) -> None:
        """Admit one action of ``key`` or raise ``RateLimited`` saying when to try again."""
        if self.per_s <= 0:
            return
        now = self._clock()
        tokens, updated = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - updated) * self.per_s)
        if tokens >= 1.0:
            self._remember(key, tokens - 1.0, now)
            return
        self._remember(key, tokens, now)
        wait_ms = int((1.0 - tokens) / self.per_s * 1000) + 1
        raise RateLimited(
            f"Too many {self.what}: at most {self.burst} at once and {self.per_s * 60:g} a minute per caller."
            f" Try again in {wait_ms / 1000:.1f} s.",
            retry_after_ms=wait_ms,
        )

    def _remember(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_callers:
            self._buckets.popitem(last=False)

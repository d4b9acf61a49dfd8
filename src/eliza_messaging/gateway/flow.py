"""Per-socket flow: a socket's events run in the order they arrived, and a flood is refused cheaply.

python-socketio runs every event as its own task (``async_handlers=True``), so two sends emitted
back to back by one socket could be stored and broadcast in either order. ``SocketLanes`` gives
each socket one lane: its events run one after another, while different sockets still run side
by side. ``FloodGuard`` is the token bucket checked on the raw packet, before any JSON is decoded
or any task exists, so a refusal costs next to nothing; it tells a flooding socket once per
interval and, when the socket keeps flooding, says so, so the server can disconnect it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger("eliza_messaging.gateway.flow")

Job = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class _Lane:
    jobs: deque[Job] = field(default_factory=deque)
    worker: asyncio.Task[None] | None = None
    running: bool = False


class SocketLanes:
    """One ordered lane of work per socket: its jobs run one at a time, in the order submitted."""

    def __init__(self) -> None:
        self._lanes: dict[str, _Lane] = {}

    def pending(self, key: str) -> int:
        """Jobs of ``key`` submitted and not finished (the one running included)."""
        lane = self._lanes.get(key)
        if lane is None:
            return 0
        return len(lane.jobs) + (1 if lane.running else 0)

    def submit(self, key: str, job: Job) -> None:
        """Queue ``job`` behind the jobs ``key`` submitted before; start the lane's worker if idle."""
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
        lane.jobs.append(job)
        if lane.worker is None:
            lane.worker = asyncio.get_running_loop().create_task(self._run(key, lane))

    async def _run(self, key: str, lane: _Lane) -> None:
        try:
            while lane.jobs:
                job = lane.jobs.popleft()
                lane.running = True
                try:
                    await job()
                except Exception:
                    log.exception("socket event failed", extra={"sid": key})
                finally:
                    lane.running = False
        finally:
            # no await between the last check of ``jobs`` and here: nothing can be submitted in between
            lane.worker = None
            if not lane.jobs and self._lanes.get(key) is lane:
                del self._lanes[key]

    async def close(self) -> None:
        """Cancel every lane (the server is stopping)."""
        workers = [lane.worker for lane in self._lanes.values() if lane.worker is not None]
        self._lanes.clear()
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why one event was refused: how long to wait, whether to say so now, whether to give up on the socket."""

    retry_after_ms: int
    notify: bool
    expel: bool


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    told_interval: int = -2  # the interval in which the socket was last told it is over the rate
    strikes: int = 0  # consecutive intervals in which it was refused


class FloodGuard:
    """A token bucket per socket: ``rate`` events per second, bursts of ``burst``.

    A refused socket is told at most once per ``interval_s``; a socket refused in ``max_strikes``
    consecutive intervals (it kept flooding after being told) is to be disconnected.
    A rate of 0 turns the guard off.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        interval_s: float = 1.0,
        max_strikes: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate_per_s
        self.burst = max(1, burst)
        self.interval_s = interval_s
        self.max_strikes = max_strikes
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def check(self, key: str, *, busy: bool = False) -> Refusal | None:
        """Take one token for ``key``: None when admitted, else the refusal.

        ``busy`` refuses even with tokens left (the socket's lane is full: its events are not
        being handled as fast as the rate lets them in).
        """
        if self.rate <= 0 and not busy:
            return None
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        if self.rate > 0:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0 and not busy:
            bucket.tokens -= 1.0
            return None
        rate = self.rate if self.rate > 0 else float(self.burst)
        wait_ms = int(max(0.0, 1.0 - bucket.tokens) / rate * 1000) + 1
        interval = int(now // self.interval_s)
        if interval == bucket.told_interval:
            return Refusal(wait_ms, notify=False, expel=False)
        bucket.strikes = bucket.strikes + 1 if interval == bucket.told_interval + 1 else 1
        bucket.told_interval = interval
        return Refusal(wait_ms, notify=True, expel=bucket.strikes >= self.max_strikes)

    def message(self, refusal: Refusal) -> str:
        """The sentence a refused sender reads."""
        if refusal.expel:
            return (
                f"Disconnected: this connection kept sending faster than {self.rate:g} messages per second"
                f" (bursts of {self.burst}) after being told to wait. Reconnect and send at most that rate;"
                " wait retryAfterMs when refused."
            )
        return (
            f"Too many messages: this connection may send {self.rate:g} per second (bursts of {self.burst})."
            f" This one was not stored; wait {refusal.retry_after_ms} ms and send it again."
        )

    def forget(self, key: str) -> None:
        self._buckets.pop(key, None)


@dataclass(frozen=True, slots=True)
class PacketHeader:
    """The parts of a Socket.IO packet's text that precede its JSON: enough to answer it without decoding."""

    kind: str
    namespace: str
    ack_id: int | None


_MAX_ID_DIGITS = 20


def packet_header(data: str) -> PacketHeader:
    """Read ``<type>[<attachments>-][<namespace>,][<id>]`` from an encoded Socket.IO packet."""
    kind = data[:1]
    pos = 1
    if kind in ("5", "6"):  # binary packets count their attachments first
        dash = data.find("-", pos, pos + _MAX_ID_DIGITS)
        pos = dash + 1 if dash != -1 else pos
    namespace = "/"
    if data.startswith("/", pos):
        comma = data.find(",", pos)
        end = comma if comma != -1 else len(data)
        namespace = data[pos:end].partition("?")[0] or "/"
        pos = end + 1
    digits_end = pos
    while digits_end < len(data) and digits_end - pos < _MAX_ID_DIGITS and data[digits_end].isdigit():
        digits_end += 1
    ack_id = int(data[pos:digits_end]) if digits_end > pos else None
    return PacketHeader(kind, namespace, ack_id)

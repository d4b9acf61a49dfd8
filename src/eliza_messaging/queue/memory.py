"""The in-process queue: one bounded asyncio queue and one worker per subscribed group.

A group that falls behind makes publishers wait (the sender's ack waits with it) rather than
buffering without end; a group stuck for ``put_timeout_s`` makes ``publish`` fail with ``QueueFull``.
"""

from __future__ import annotations

import asyncio
import logging

from ..records import Channel, Message
from ..tasks import stop
from .base import Handler

log = logging.getLogger(__name__)


class QueueFull(RuntimeError):
    """An agent group has not taken a message for ``put_timeout_s`` while its queue was full."""


class InProcessQueue:
    def __init__(self, max_pending: int = 10_000, put_timeout_s: float = 10.0) -> None:
        self.max_pending = max_pending
        self.put_timeout_s = put_timeout_s
        self._groups: dict[str, asyncio.Queue[tuple[Message, Channel]]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._handling = 0

    @property
    def busy(self) -> bool:
        """A message is waiting for a group or being taken in by one."""
        return self._handling > 0 or any(not q.empty() for q in self._groups.values())

    def subscribe(self, group: str, handler: Handler) -> None:
        if group in self._groups:
            raise ValueError(f"queue group {group!r} is already subscribed")
        queue: asyncio.Queue[tuple[Message, Channel]] = asyncio.Queue(self.max_pending)
        self._groups[group] = queue
        self._workers.append(asyncio.create_task(self._work(group, queue, handler)))

    async def publish(self, message: Message, channel: Channel) -> None:
        for group, queue in self._groups.items():
            try:
                async with asyncio.timeout(self.put_timeout_s):
                    await queue.put((message, channel))
            except TimeoutError:
                raise QueueFull(
                    f"agent group {group!r} has {queue.qsize()} messages waiting and took none for"
                    f" {self.put_timeout_s:g} s; message {message.id} was not handed to it"
                ) from None

    def backlog(self) -> int:
        """Messages published and not yet taken, over all groups."""
        return sum(q.qsize() for q in self._groups.values())

    def pending(self, group: str) -> int:
        """Messages published to ``group`` that its handler has not taken yet."""
        return self._groups[group].qsize()

    async def _work(self, group: str, queue: asyncio.Queue[tuple[Message, Channel]], handler: Handler) -> None:
        while True:
            message, channel = await queue.get()
            self._handling += 1
            try:
                await handler(message, channel)
            except Exception:
                log.exception("agent queue handler failed", extra={"group": group, "message_id": message.id})
            finally:
                self._handling -= 1

    async def ping(self) -> bool | None:
        return None  # nothing outside this process to ask

    async def close(self) -> None:
        await stop(*self._workers)
        self._workers.clear()
        self._groups.clear()

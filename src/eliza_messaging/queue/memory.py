"""The in-process queue: one asyncio queue and one worker per subscribed group."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..records import Channel, Message
from .base import Handler

log = logging.getLogger(__name__)


class InProcessQueue:
    def __init__(self) -> None:
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
        queue: asyncio.Queue[tuple[Message, Channel]] = asyncio.Queue()
        self._groups[group] = queue
        self._workers.append(asyncio.create_task(self._work(group, queue, handler)))

    async def publish(self, message: Message, channel: Channel) -> None:
        for queue in self._groups.values():
            queue.put_nowait((message, channel))

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

    async def close(self) -> None:
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers.clear()
        self._groups.clear()

"""Agent replies as seen from inside the node: who is waiting for the answer to which message.

The room hears an agent's work through the fanout; code on this node that waits for a reply
(the Sessions API's ``http`` and ``sse`` transports) watches the message it is waiting on and
receives the same steps as :class:`ReplyEvent`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

from ..store.records import Message

ReplyKind = Literal["thinking", "chunk", "reply", "error", "done"]


@dataclass(frozen=True, slots=True)
class ReplyEvent:
    """One step of an agent's work on a message: ``thinking``, each ``chunk``, the stored ``reply``,
    an ``error`` (with the partial text), and ``done`` (always last; ``ignored`` when it chose silence)."""

    kind: ReplyKind
    agent_id: str
    channel_id: str
    in_reply_to: str
    reply_id: str | None = None
    text: str | None = None
    index: int | None = None
    message: Message | None = None
    ignored: bool = False


class ReplyWatchers:
    def __init__(self) -> None:
        self._watchers: dict[str, set[asyncio.Queue[ReplyEvent]]] = defaultdict(set)

    @asynccontextmanager
    async def watch(self, message_id: str) -> AsyncIterator[asyncio.Queue[ReplyEvent]]:
        """Receive every agent step about ``message_id`` while the context is open."""
        queue: asyncio.Queue[ReplyEvent] = asyncio.Queue()
        self._watchers[message_id].add(queue)
        try:
            yield queue
        finally:
            watchers = self._watchers.get(message_id)
            if watchers is not None:
                watchers.discard(queue)
                if not watchers:
                    del self._watchers[message_id]

    def notify(self, event: ReplyEvent) -> None:
        for queue in self._watchers.get(event.in_reply_to, ()):
            queue.put_nowait(event)

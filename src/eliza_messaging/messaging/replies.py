"""Agent replies as seen from inside the node: who is waiting for the answer to which message.

The room hears an agent's work through the fanout; code on this node that waits for a reply
(the Sessions API's ``http`` and ``sse`` transports) watches the message it is waiting on and
receives the same steps as :class:`ReplyEvent`.

With several nodes the agent may run on another node than the waiter. Given a relay
(``fanout.base.NodeRelay``, Redis pub/sub with ``REDIS_URL``), each step is delivered here at
once, as on one node, and also sent to the other nodes, which deliver it to their own watchers.
A step from another node can arrive before the waiter there has started watching (the agent
was quick, the waiter's node busy), so the last few seconds of other nodes' steps are kept and
replayed to a watch that opens late. Without a relay nothing leaves the node.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, fields
from typing import Any, Final, Literal

from ..fanout.base import NodeRelay
from ..records import Message

log = logging.getLogger(__name__)

ReplyKind = Literal["thinking", "chunk", "reply", "error", "done"]

RECENT_S: Final = 10.0  # how long other nodes' steps are kept for a watch that opens late
RECENT_MAX: Final = 1_000  # messages whose steps are kept at most


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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReplyEvent:
        """Rebuild an event another node sent; fields this version does not know are ignored."""
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        message = values.get("message")
        if message is not None:
            values["message"] = Message(**{f.name: message[f.name] for f in fields(Message) if f.name in message})
        return cls(**values)


class ReplyWatchers:
    def __init__(self, relay: NodeRelay | None = None) -> None:
        self._watchers: dict[str, set[asyncio.Queue[ReplyEvent]]] = defaultdict(set)
        self._relay = relay
        self._recent: OrderedDict[str, tuple[float, list[ReplyEvent]]] = OrderedDict()

    async def start(self) -> None:
        """Start hearing the other nodes' steps (when there is a relay)."""
        if self._relay is not None:
            await self._relay.start(self._receive)

    async def close(self) -> None:
        if self._relay is not None:
            await self._relay.close()

    @asynccontextmanager
    async def watch(self, message_id: str) -> AsyncIterator[asyncio.Queue[ReplyEvent]]:
        """Receive every agent step about ``message_id`` while the context is open."""
        queue: asyncio.Queue[ReplyEvent] = asyncio.Queue()
        self._watchers[message_id].add(queue)
        recent = self._recent.get(message_id)
        for event in recent[1] if recent else ():
            queue.put_nowait(event)
        try:
            yield queue
        finally:
            watchers = self._watchers.get(message_id)
            if watchers is not None:
                watchers.discard(queue)
                if not watchers:
                    del self._watchers[message_id]

    def notify(self, event: ReplyEvent) -> None:
        """Deliver a step taken on this node here, and to the other nodes when there are any."""
        self._deliver(event)
        if self._relay is not None:
            self._relay.send(event.to_json())

    def _receive(self, data: dict[str, Any]) -> None:
        try:
            event = ReplyEvent.from_json(data)
        except (KeyError, TypeError, ValueError):
            log.warning("unreadable reply step from another node dropped", exc_info=True)
            return
        self._remember(event)
        self._deliver(event)

    def _deliver(self, event: ReplyEvent) -> None:
        for queue in self._watchers.get(event.in_reply_to, ()):
            queue.put_nowait(event)

    def _remember(self, event: ReplyEvent) -> None:
        now = time.monotonic()
        kept = self._recent.get(event.in_reply_to)
        if kept is None:
            self._recent[event.in_reply_to] = (now, [event])
        else:
            kept[1].append(event)
        while self._recent and (
            len(self._recent) > RECENT_MAX or next(iter(self._recent.values()))[0] < now - RECENT_S
        ):
            self._recent.popitem(last=False)

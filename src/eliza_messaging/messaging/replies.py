"""Agent replies as seen from inside the node: who is waiting for the answer to which message, and waiting.

The room hears an agent's work through the fanout (``reply.Reply``); code on this node that waits
for a reply (the REST ``http`` and ``sse`` transports) watches the message it is waiting on and
receives the same steps as :class:`ReplyEvent`. The wait ends as soon as one expected agent has
replied or failed, or when every expected agent has finished without answering (it chose
silence). Replies are stored and broadcast by the agents' own path either way; waiting only observes.

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
from collections.abc import AsyncIterator, Collection
from dataclasses import asdict, dataclass, fields
from types import TracebackType
from typing import Any, Final, Literal

from ..fanout.base import NodeRelay
from ..records import Message
from .errors import AgentUnavailable, ReplyTimeout

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


class Watch:
    """One message watched: its agents' steps arrive in ``steps`` until :meth:`close`.

    Opening one does not await, so ``send`` then ``watch`` with nothing awaited in between sees
    every step of the agents on this node (see ``MessagingService.send_watched``).
    """

    def __init__(self, watchers: ReplyWatchers, message_id: str, steps: asyncio.Queue[ReplyEvent]) -> None:
        self.message_id = message_id
        self.steps = steps
        self._watchers = watchers

    def close(self) -> None:
        """Stop watching (again is harmless)."""
        self._watchers._unwatch(self.message_id, self.steps)

    def __enter__(self) -> Watch:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


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

    def watch(self, message_id: str) -> Watch:
        """Receive every agent step about ``message_id`` until the watch is closed (``with`` closes it)."""
        steps: asyncio.Queue[ReplyEvent] = asyncio.Queue()
        self._watchers[message_id].add(steps)
        recent = self._recent.get(message_id)
        for event in recent[1] if recent else ():
            steps.put_nowait(event)
        return Watch(self, message_id, steps)

    def _unwatch(self, message_id: str, steps: asyncio.Queue[ReplyEvent]) -> None:
        watchers = self._watchers.get(message_id)
        if watchers is not None:
            watchers.discard(steps)
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


# waiting ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    """What the waiter learnt: the stored reply, or None when every agent stayed silent."""

    reply: Message | None


async def agent_steps(
    steps: asyncio.Queue[ReplyEvent], *, agents: Collection[str], timeout_s: float, message_id: str
) -> AsyncIterator[ReplyEvent]:
    """Yield the expected agents' steps (``thinking``, ``chunk``, ``reply``, ``error``, ``done``) until it is over."""
    pending = set(agents)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while pending:
        try:
            event = await asyncio.wait_for(steps.get(), max(0.0, deadline - loop.time()))
        except TimeoutError:
            raise ReplyTimeout(
                f"No agent answered within {timeout_s:g} s. Your message {message_id} is stored and the"
                " reply, if one comes, is broadcast to the channel over Socket.IO (send with transport"
                " 'websocket' to receive it there)."
            ) from None
        if event.agent_id not in pending:
            continue
        yield event
        if event.kind in ("reply", "error"):
            return
        if event.kind == "done":
            pending.discard(event.agent_id)


async def await_reply(
    steps: asyncio.Queue[ReplyEvent], *, agents: Collection[str], timeout_s: float, message_id: str
) -> ReplyOutcome:
    """The first expected agent's stored reply; raises when it failed or nobody answered in time."""
    async for event in agent_steps(steps, agents=agents, timeout_s=timeout_s, message_id=message_id):
        if event.kind == "reply":
            return ReplyOutcome(event.message)
        if event.kind == "error":
            raise AgentUnavailable(
                f"Agent {event.agent_id} failed to answer: {event.text or 'no reason given'}."
                f" Your message {message_id} is stored; send it again to retry."
            )
    return ReplyOutcome(None)

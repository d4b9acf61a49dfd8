"""Waiting on this node for the agents' answer to one message (REST ``http`` and ``sse`` transports).

The caller opens ``MessagingService.replies.watch(message_id)`` right after the message is
sent and hands the queue here. The wait ends as soon as one expected agent has replied or
failed, or when every expected agent has finished without answering (it chose silence).
Replies are stored and broadcast by the agents' own path either way; waiting only observes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from contextlib import AsyncExitStack
from dataclasses import dataclass

from ..protocol.commands import SendMessage
from ..records import Message
from .errors import AgentUnavailable, ReplyTimeout
from .identity import Caller
from .replies import ReplyEvent
from .service import MessagingService, SendResult


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    """What the waiter learnt: the stored reply, or None when every agent stayed silent."""

    reply: Message | None


async def agent_steps(
    queue: asyncio.Queue[ReplyEvent], *, agents: Collection[str], timeout_s: float, message_id: str
) -> AsyncIterator[ReplyEvent]:
    """Yield the expected agents' steps (``thinking``, ``chunk``, ``reply``, ``error``, ``done``) until it is over."""
    pending = set(agents)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while pending:
        try:
            event = await asyncio.wait_for(queue.get(), max(0.0, deadline - loop.time()))
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
    queue: asyncio.Queue[ReplyEvent], *, agents: Collection[str], timeout_s: float, message_id: str
) -> ReplyOutcome:
    """The first expected agent's stored reply; raises when it failed or nobody answered in time."""
    async for event in agent_steps(queue, agents=agents, timeout_s=timeout_s, message_id=message_id):
        if event.kind == "reply":
            return ReplyOutcome(event.message)
        if event.kind == "error":
            raise AgentUnavailable(
                f"Agent {event.agent_id} failed to answer: {event.text or 'no reason given'}."
                f" Your message {message_id} is stored; send it again to retry."
            )
    return ReplyOutcome(None)


async def send_watched(
    service: MessagingService, command: SendMessage, stack: AsyncExitStack, *, caller: Caller
) -> tuple[SendResult, asyncio.Queue[ReplyEvent]]:
    """Send, and start watching for the agents' answer before any agent can run.

    ``send`` returns right after handing the message to the queue, without yielding to the
    event loop, and entering the watch does not yield either: so no agent step on this node
    can happen in between. Keep it that way: nothing may be awaited between the two lines.
    """
    result = await service.send(command, caller=caller)
    queue = await stack.enter_async_context(service.replies.watch(result.message.id))
    return result, queue

"""The ``http`` and ``sse`` transports: answering a message post with the agent's reply.

``http`` waits for the reply and returns it in the JSON; ``sse`` streams ElizaOS's events
``user_message``, ``chunk`` (each piece), ``done`` (the stored reply) and ``error``. Either way the
reply is stored and broadcast to the room like any other; these only watch it happen.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from contextlib import AsyncExitStack
from typing import Any

import orjson
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from ...messaging.errors import MessagingError
from ...messaging.replies import ReplyEvent
from ...messaging.reply_wait import agent_steps, await_reply
from ...types import JsonObject
from . import views


def sse_event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class EventStream(StreamingResponse):
    """A Server-Sent Events answer that stops watching for replies however the response ends."""

    def __init__(self, events: AsyncIterator[bytes], stack: AsyncExitStack) -> None:
        super().__init__(
            events, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        self._stack = stack

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._stack.aclose()


async def agent_response(
    queue: asyncio.Queue[ReplyEvent], *, agents: Collection[str], timeout_s: float, message_id: str
) -> JsonObject | None:
    """The reply as ElizaOS's response content, or None when every agent chose silence."""
    outcome = await await_reply(queue, agents=agents, timeout_s=timeout_s, message_id=message_id)
    return views.agent_response(outcome.reply) if outcome.reply else None


async def reply_events(
    user_message: JsonObject,
    queue: asyncio.Queue[ReplyEvent],
    *,
    agents: Collection[str],
    timeout_s: float,
    message_id: str,
) -> AsyncIterator[bytes]:
    yield sse_event("user_message", user_message)
    try:
        async for step in agent_steps(queue, agents=agents, timeout_s=timeout_s, message_id=message_id):
            if step.kind == "chunk":
                yield sse_event(
                    "chunk",
                    {"messageId": step.reply_id, "chunk": step.text, "index": step.index, "agentId": step.agent_id},
                )
            elif step.kind == "reply" and step.message is not None:
                yield sse_event("done", views.agent_response(step.message))
                return
            elif step.kind == "error":
                yield sse_event(
                    "error",
                    {"error": step.text or "The agent failed.", "agentId": step.agent_id, "messageId": step.reply_id},
                )
                return
        yield sse_event("done", {"text": None, "ignored": True, "inReplyTo": message_id})
    except MessagingError as exc:
        yield sse_event("error", {"error": exc.message, "code": exc.code})

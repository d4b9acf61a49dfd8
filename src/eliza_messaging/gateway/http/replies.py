"""The ``http`` and ``sse`` transports: answering a message post with the agent's reply.

``http`` waits for the reply and returns it in the JSON; ``sse`` streams ElizaOS's events
``user_message``, ``chunk`` (each piece), ``done`` (the stored reply) and ``error``. Either way the
reply is stored and broadcast to the room like any other; these only watch it happen. Both
channel posts and session messages answer through :func:`answer_with_reply`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from typing import Any, Literal

import orjson
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ...messaging.errors import MessagingError
from ...messaging.replies import Watch, agent_steps, await_reply
from ...messaging.service import SendResult
from ...types import JsonObject
from . import views

ReplyTransport = Literal["http", "sse"]


def sse_event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class EventStream(StreamingResponse):
    """A Server-Sent Events answer that stops watching for replies however the response ends."""

    def __init__(self, events: AsyncIterator[bytes], watch: Watch) -> None:
        super().__init__(
            events, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        self._watch = watch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._watch.close()


async def answer_with_reply(
    transport: ReplyTransport,
    sent: SendResult,
    watch: Watch,
    *,
    agents: Collection[str],
    timeout_s: float,
    posted: Callable[[JsonObject | None], Response],
) -> Response:
    """The answer to a message sent with ``MessagingService.send_watched``; closes ``watch`` when done.

    ``http``: ``posted(agentResponse)`` once an agent answered (None when all chose silence);
    ``sse``: the event stream. A retry of a stored message waits for nothing: its reply went to the original.
    """
    waiting_for = [] if sent.duplicate else agents
    message_id = sent.message.id
    if transport == "sse":
        try:
            user_message = views.bus_message(sent.message, sent.channel.message_server_id)
            events = reply_events(user_message, watch, agents=waiting_for, timeout_s=timeout_s, message_id=message_id)
            return EventStream(events, watch)
        except BaseException:
            watch.close()
            raise
    with watch:
        outcome = await await_reply(watch.steps, agents=waiting_for, timeout_s=timeout_s, message_id=message_id)
    return posted(views.agent_response(outcome.reply) if outcome.reply else None)


async def reply_events(
    user_message: JsonObject,
    watch: Watch,
    *,
    agents: Collection[str],
    timeout_s: float,
    message_id: str,
) -> AsyncIterator[bytes]:
    yield sse_event("user_message", user_message)
    try:
        async for step in agent_steps(watch.steps, agents=agents, timeout_s=timeout_s, message_id=message_id):
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

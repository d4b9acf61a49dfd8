"""One agent's reply to one message, in progress: the one object an agent holds while it answers.

What the room sees, in order: ``controlMessage`` disable_input and THINKING (:meth:`Reply.start`),
``messageStreamChunk`` per piece, then the stored reply as ``messageBroadcast`` (:meth:`Reply.finish`)
or ``messageStreamError`` (plus ``messageDeleted`` when pieces were shown), then ``controlMessage``
enable_input and ``messageComplete``. An agent that takes no part (:meth:`Reply.decline`, or leaving
before :meth:`Reply.start`) gives ``messageComplete`` alone. Code on this node waiting for the answer
(``replies.ReplyWatchers``) hears each step, ``done`` last.

Two promises, because clients keep input disabled and REST callers wait until the end arrives:
the end is sent exactly once whatever happens (leaving the context sends it, and it runs to
completion even when the task is cancelled again meanwhile, as a second newer message does); and
a reply once stored is never reported failed: :meth:`Reply.finish` stores and broadcasts to the
end even if cancelled halfway, so history and the room agree.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ..protocol import payloads
from ..protocol.types import Event, SocketMessageType
from ..records import Channel, Message
from ..types import JsonObject
from . import metrics
from .clock import new_id, now_ms
from .replies import ReplyEvent, ReplyKind

if TYPE_CHECKING:
    from .service import MessagingService

log = logging.getLogger(__name__)

T = TypeVar("T")


class Reply:
    """Open with ``MessagingService.open_reply(...)`` as ``async with``; ``id`` is the reply's message id."""

    def __init__(
        self, service: MessagingService, agent_id: str, agent_name: str, channel: Channel, trigger: Message
    ) -> None:
        self.id = new_id()
        self.agent_id = agent_id
        self.agent_name = agent_name
        self.channel = channel
        self.trigger = trigger
        self._service = service
        self._pieces: list[str] = []
        self._started = False
        self._stored: Message | None = None
        self._ended = False
        self._opened = time.monotonic()

    @property
    def text(self) -> str:
        """The pieces streamed so far, joined."""
        return "".join(self._pieces)

    @property
    def stored(self) -> Message | None:
        """The stored reply once :meth:`finish` has stored it."""
        return self._stored

    async def __aenter__(self) -> Reply:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None or isinstance(exc, asyncio.CancelledError):
            await self._end(None if self._stored or not self._started else "The reply ended before it was finished.")
        else:
            await self._end(f"{self.agent_name} failed to reply: {exc}")

    # the agent's steps --------------------------------------------------------------------

    async def start(self) -> None:
        """The agent takes the message: input is disabled and THINKING shown (once)."""
        self._check_open()
        if self._started:
            return
        self._started = True  # before the first await: from here the end re-enables input
        if self._service.nodes is not None:  # another node withdraws it if this one dies (nodes.py)
            self._service.nodes.reply_open(self)
        room = self.channel.id
        await self._emit(Event.CONTROL_MESSAGE, payloads.control_message("disable_input", room, self.agent_id))
        thinking = payloads.thinking(agent_id=self.agent_id, channel_id=room, message_id=self.id)
        await self._emit(
            Event.MESSAGE,
            {"type": SocketMessageType.THINKING, "payload": {**thinking, "inReplyTo": self.trigger.id}},
        )
        self._notify("thinking")

    async def chunk(self, piece: str) -> None:
        """Stream one piece of the reply (starting it first if need be)."""
        await self.start()
        index = len(self._pieces)
        self._pieces.append(piece)
        if index == 0 and self._service.nodes is not None:
            self._service.nodes.reply_open(self, streamed=True)
        await self._emit(
            Event.MESSAGE_STREAM_CHUNK,
            payloads.stream_chunk(
                message_id=self.id, chunk=piece, index=index, agent_id=self.agent_id, channel_id=self.channel.id
            ),
        )
        self._notify("chunk", piece, index)

    async def finish(self, text: str, *, metadata: JsonObject | None = None) -> Message:
        """Store the reply, then broadcast it and hand it to the other agents; runs to its end once begun."""
        await self.start()
        now = now_ms()
        name = self.agent_name
        message = Message(
            id=self.id,
            channel_id=self.channel.id,
            author_id=self.agent_id,
            author_name=name,
            content=text,
            source_type="agent_response",
            created_at=max(now, self.trigger.created_at + 1),
            updated_at=now,
            raw_message={
                "senderName": name,
                "source": "agent_response",
                "attachments": [],
                "serverId": self.channel.message_server_id,
                # as an ElizaOS agent's reply content carries them (its memory view shows the thought)
                **{k: v for k, v in (metadata or {}).items() if k in ("thought", "actions")},
            },
            in_reply_to_root_message_id=self.trigger.id,
            metadata={"agentName": name, **(metadata or {})},
        )
        return await _to_the_end(self._commit(message))

    async def fail(self, error: str, *, superseded: bool = False) -> None:
        """End with ``error`` (``superseded``: a newer message took over); a stored reply just ends."""
        await self._end(error, superseded=superseded)

    async def decline(self) -> None:
        """End without answering: the agent takes no part in this message."""
        if self._started:
            raise RuntimeError("decline() is for a reply not started; end a started one with fail() or finish().")
        await self._end(None)

    # the end ----------------------------------------------------------------------------

    async def _commit(self, message: Message) -> Message:
        message = (await self._service.store_message(message)).message  # with its offset
        metrics.MESSAGES_OUT.inc()
        self._stored = message  # from here it is in history: whatever happens next, it did not fail
        try:
            await self._service.outbox.deliver(message, self.channel)
        finally:
            self._notify("reply", message.content, message=message)
        return message

    async def _end(self, error: str | None, *, superseded: bool = False) -> None:
        if self._ended:
            return
        self._ended = True  # before any await: a second call, or the context's exit, sends nothing
        if self._started and self._service.nodes is not None:
            self._service.nodes.reply_closed(self)
        outcome = "replied" if self._stored else "failed" if self._started else "declined"
        metrics.AGENT_REPLIES.labels(outcome).inc()
        metrics.AGENT_REPLY_SECONDS.observe(time.monotonic() - self._opened)
        await _to_the_end(self._send_end(None if self._stored else error, superseded))

    async def _send_end(self, error: str | None, superseded: bool) -> None:
        steps: list[Callable[[], Awaitable[None]]] = []
        if error is not None and self._started:
            steps.append(lambda: self._send_error(error, superseded))
        if self._started:
            steps.append(
                lambda: self._emit(
                    Event.CONTROL_MESSAGE, payloads.control_message("enable_input", self.channel.id, self.agent_id)
                )
            )
        steps.append(self._send_complete)
        try:
            for step in steps:  # each is tried: a failed stream error must not leave input disabled
                try:
                    await step()
                except Exception:
                    log.warning("the end of a reply was not fully sent", exc_info=True, extra=self._log_extra())
        finally:
            if error is not None:
                self._notify("error", error)
            self._notify("done", ignored=not self._started)

    async def _send_error(self, error: str, superseded: bool) -> None:
        partial = self.text
        body = payloads.stream_error(
            message_id=self.id, channel_id=self.channel.id, agent_id=self.agent_id, error=error, partial_text=partial
        )
        body["inReplyTo"] = self.trigger.id
        if superseded:
            body["superseded"] = True
        await self._emit(Event.MESSAGE_STREAM_ERROR, body)
        if partial:  # clients that drew the streamed bubble but ignore stream errors (ElizaOS's) drop it on this
            gone = {
                **payloads.message_deleted(self.id, self.channel.id),
                "reason": "superseded" if superseded else "failed",
            }
            await self._emit(Event.MESSAGE_DELETED, gone)

    async def _send_complete(self) -> None:
        complete = payloads.message_complete(self.channel.id, self.channel.message_server_id)
        await self._emit(Event.MESSAGE_COMPLETE, {**complete, "agentId": self.agent_id, "inReplyTo": self.trigger.id})

    # plumbing ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._ended or self._stored is not None:
            raise RuntimeError(f"reply {self.id} is already over; open a new one with messaging.open_reply().")

    async def _emit(self, event: str, data: JsonObject) -> None:
        await self._service.fanout.emit(event, data, room=self.channel.id)

    def _notify(
        self,
        kind: ReplyKind,
        text: str | None = None,
        index: int | None = None,
        *,
        message: Message | None = None,
        ignored: bool = False,
    ) -> None:
        reply_id = None if kind == "done" or (kind == "error" and not self._started) else self.id
        event = ReplyEvent(
            kind, self.agent_id, self.channel.id, self.trigger.id, reply_id, text, index, message, ignored
        )
        self._service.replies.notify(event)

    def _log_extra(self) -> dict[str, str]:
        return {"agent": self.agent_name, "channel": self.channel.id, "reply_id": self.id}


async def _to_the_end(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end even when the caller is cancelled meanwhile (once or more), then re-raise."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        if not task.cancelled() and task.exception() is not None:
            log.warning("work finished after a cancel failed", exc_info=task.exception())
        raise asyncio.CancelledError
    return task.result()

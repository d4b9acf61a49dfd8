"""The two things a caller iterates: a channel's incoming messages and one agent reply as it streams.

Both are registered with the client the moment they are created (not on the first
``__anext__``), so nothing that arrives between creating one and iterating it is lost.
"""

# Per-call timeouts are part of the API: they turn into typed errors that say what to do.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..types import JsonObject
from .errors import ReplyError, ReplyTimeout
from .models import Message, ReplyChunk, chunk_from_payload

log = logging.getLogger(__name__)

StreamKind = Literal["thinking", "chunk", "reply", "error", "complete"]


class MessageSubscription:
    """``async for message in client.messages(channel_id)``: each new message once, in order.

    Ends when the client is closed. Holds at most ``maxsize`` unread messages; past that the
    oldest unread one is dropped (and logged), so a stalled reader cannot grow memory forever.
    """

    def __init__(
        self,
        channel_id: str | None,
        *,
        own_id: str,
        include_own: bool,
        on_close: Callable[[MessageSubscription], None],
        maxsize: int = 10_000,
    ) -> None:
        self.channel_id = channel_id
        self._own_id = own_id
        self._include_own = include_own
        self._on_close = on_close
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize)
        self._closed = False

    def wants(self, message: Message) -> bool:
        if self._closed or (self.channel_id is not None and message.channel_id != self.channel_id):
            return False
        return self._include_own or message.sender_id != self._own_id

    def offer(self, message: Message) -> None:
        if not self.wants(message):
            return
        if self._queue.full():
            dropped = self._queue.get_nowait()
            log.warning("message subscription full; dropped the oldest unread message %s", dropped and dropped.id)
        self._queue.put_nowait(message)

    def end(self) -> None:
        """The client closed: wake the reader and stop."""
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)
        self._closed = True

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._on_close(self)

    def __aiter__(self) -> MessageSubscription:
        return self

    async def __anext__(self) -> Message:
        if self._closed and self._queue.empty():
            raise StopAsyncIteration
        message = await self._queue.get()
        if message is None:
            raise StopAsyncIteration
        return message

    async def get(self, timeout: float | None = None) -> Message:
        """The next message, or :class:`TimeoutError` after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            return await self.__anext__()

    async def __aenter__(self) -> MessageSubscription:
        return self

    async def __aexit__(self, *_: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One reply-related event as the client saw it; ``seq`` orders events across kinds."""

    seq: int
    kind: StreamKind
    data: JsonObject
    message: Message | None = None


class ReplyStream:
    """An agent's reply to one message, chunk by chunk: ``async for chunk in client.stream_reply(id)``.

    ``message_id`` is the id of the message being answered (what ``send()`` returned) or
    the reply's own id. The chunks joined make the reply's text; when the agent did not
    stream, the whole text comes as one chunk. After the loop, ``reply`` is the stored reply
    (``None`` when the agent chose not to answer). A failed generation raises
    :class:`ReplyError` carrying the partial text; silence longer than ``timeout`` seconds
    raises :class:`ReplyTimeout`.
    """

    def __init__(
        self,
        message_id: str,
        *,
        channel_id: str | None,
        own_id: str,
        after_seq: int,
        timeout: float,
        is_finished: Callable[[str], bool],
        on_close: Callable[[ReplyStream], None],
    ) -> None:
        self.trigger_id = message_id
        self.channel_id = channel_id
        self.reply_id: str | None = None
        self.agent_id: str | None = None
        self.text = ""
        self.chunks: list[ReplyChunk] = []
        self.reply: Message | None = None
        self._own_id = own_id
        self._after_seq = after_seq
        self._timeout = timeout
        self._is_finished = is_finished
        self._on_close = on_close
        self._queue: asyncio.Queue[StreamEvent] = asyncio.Queue()
        self._ended = False
        self._over = False

    # matching (called synchronously by the client, in arrival order) ---------------------

    def offer(self, event: StreamEvent) -> None:
        if self._ended:
            return
        if self._matches(event):
            self._queue.put_nowait(event)
            if event.kind in ("reply", "error", "complete"):
                self._ended = True

    def _bind(self, reply_id: str, agent_id: str | None) -> None:
        if self.reply_id is None and reply_id:
            self.reply_id = reply_id
            self.agent_id = agent_id or self.agent_id

    def _fresh_in_channel(self, event: StreamEvent) -> bool:
        """Heuristic for servers that do not say what a chunk answers: same channel, after our send."""
        channel = event.data.get("channelId") or event.data.get("roomId")
        return (
            event.seq > self._after_seq
            and self.channel_id is not None
            and channel == self.channel_id
            and event.data.get("agentId") != self._own_id
        )

    def _matches(self, event: StreamEvent) -> bool:
        data = event.data
        raw_id = data.get("messageId") or data.get("id")
        mid = raw_id if isinstance(raw_id, str) else ""
        if event.kind == "thinking":
            if data.get("inReplyTo") == self.trigger_id or mid == self.trigger_id:
                self._bind(mid, data.get("agentId"))
            return False
        if event.kind == "chunk":
            fresh = self._fresh_in_channel(event) and not self._is_finished(mid)
            if self.reply_id is None and mid and (mid == self.trigger_id or fresh):
                self._bind(mid, data.get("agentId"))
            return bool(mid) and mid == self.reply_id
        if event.kind == "reply":
            message = event.message
            assert message is not None
            answers_trigger = message.in_reply_to == self.trigger_id
            is_trigger_reply = message.id == self.trigger_id and message.in_reply_to is not None
            if message.id == self.reply_id or (
                (answers_trigger or is_trigger_reply) and message.sender_id != self._own_id
            ):
                self._bind(message.id, message.sender_id)
                return True
            return False
        if event.kind == "error":
            if self.reply_id is not None:
                return mid == self.reply_id
            return mid == self.trigger_id or self._fresh_in_channel(event)
        # complete: ours when it names our message; otherwise only when nothing was bound yet
        if data.get("inReplyTo") is not None:
            return bool(data.get("inReplyTo") == self.trigger_id)
        return self.reply_id is None and self._fresh_in_channel(event)

    # iterating ----------------------------------------------------------------------------

    def __aiter__(self) -> ReplyStream:
        return self

    async def __anext__(self) -> ReplyChunk:
        while not self._over:
            try:
                event = await asyncio.wait_for(self._queue.get(), self._timeout)
            except TimeoutError:
                self._finish()
                raise ReplyTimeout(
                    f"No reply to message {self.trigger_id} for {self._timeout:g}s. Is an agent taking part in"
                    " this channel (a DM with it, or a channel it was added to)? Raise timeout= for slow models.",
                    message_id=self.reply_id,
                    partial_text=self.text,
                ) from None
            chunk = self._consume(event)
            if chunk is not None:
                return chunk
        raise StopAsyncIteration

    def _consume(self, event: StreamEvent) -> ReplyChunk | None:
        if event.kind == "chunk":
            chunk = chunk_from_payload(event.data)
            self.text += chunk.text
            self.chunks.append(chunk)
            return chunk
        self._finish()
        if event.kind == "error":
            partial = event.data.get("partialText")
            raise ReplyError(
                f"The agent failed to answer: {event.data.get('error') or 'no reason given'}.",
                message_id=self.reply_id,
                partial_text=partial if isinstance(partial, str) else self.text,
            )
        if event.kind == "reply":
            assert event.message is not None
            self.reply = event.message
            final = event.message.text
            rest = final[len(self.text) :] if final.startswith(self.text) else ""
            if rest:
                self.text += rest
                return ReplyChunk(
                    message_id=event.message.id,
                    text=rest,
                    index=len(self.chunks),
                    agent_id=event.message.sender_id,
                    channel_id=event.message.channel_id,
                )
        return None

    def _finish(self) -> None:
        if not self._over:
            self._over = True
            self._ended = True
            self._on_close(self)

    async def result(self) -> Message | None:
        """Read the rest of the stream; the stored reply, or ``None`` if the agent did not answer."""
        async for _ in self:
            pass
        return self.reply

    def close(self) -> None:
        """Stop listening (the stream also stops by itself when the reply ends)."""
        self._finish()

    def abort(self) -> None:
        """The client closed: end the iteration now, with whatever arrived so far."""
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(StreamEvent(-1, "complete", {}))

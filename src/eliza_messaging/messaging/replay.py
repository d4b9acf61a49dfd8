"""Replay on rejoin: a socket that joins with ``lastSeq`` (or ``lastMessageId``) gets what it missed.

What the socket missed in the channel (``seq`` above the one it saw) is sent to it alone as
``messageBroadcast`` with ``replayed: true``, oldest first; more than ``max_messages`` missed: only
the newest ``max_messages`` (``truncated``). Live messages of the channel must reach the socket
after the replayed ones and never twice, although they are published from any node while the
replay is read. So the socket's live broadcasts of that channel are held (``LiveHold``, kept by
the socket server, where every node's broadcasts reach the socket) from before it enters the room
until the replay is sent; then the held ones go out in ``seq`` order, less those the replay sent.

Why this is enough: offsets are given in commit order, so the replay's read sees every message
up to its highest offset; a message stored later is published after the read began, so after
the socket entered the room, and reaches it live, held or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..protocol import payloads
from ..protocol.commands import JoinChannel
from ..protocol.types import Event
from ..records import Channel
from ..store.base import Store
from ..types import JsonObject
from . import views
from .errors import InvalidPayload, NotFound

DEFAULT_MAX_MESSAGES = 500


class LiveHold(Protocol):
    """Holds back one channel's live ``messageBroadcast`` to one socket while its replay is sent."""

    def hold(self, sid: str, channel_id: str) -> None:
        """From now, keep the channel's live broadcasts to ``sid`` instead of sending them."""
        ...

    async def release(self, sid: str, channel_id: str, *, replayed_through: int) -> None:
        """Send what was kept, in ``seq`` order, less any with ``seq`` at or below ``replayed_through``
        (the replay sent those), and let the channel's broadcasts flow to ``sid`` again; one that
        arrives late with such a ``seq`` (published late) is still dropped."""
        ...

    async def send_now(self, sid: str, event: str, data: JsonObject) -> None:
        """Write to ``sid`` (a socket of this node) at once, ahead of any broadcast still in transit."""
        ...


@dataclass(frozen=True, slots=True)
class ReplaySummary:
    missed: int
    replayed: int
    truncated: bool
    last_seq: int

    def as_payload(self) -> JsonObject:
        return payloads.replay_summary(
            missed=self.missed, replayed=self.replayed, truncated=self.truncated, last_seq=self.last_seq
        )


class Replay:
    def __init__(self, store: Store, hold: LiveHold | None, *, max_messages: int = DEFAULT_MAX_MESSAGES) -> None:
        """``hold``: None where no socket server runs (unit tests); a rejoin is then refused."""
        self._store = store
        self._hold = hold
        self.max_messages = max_messages

    async def resume_point(self, command: JoinChannel) -> int | None:
        """The offset the socket saw last, from ``lastSeq`` or ``lastMessageId``; None: a plain join."""
        if command.last_seq is None and command.last_message_id is None:
            return None
        if self._hold is None:
            raise InvalidPayload(
                "This server cannot replay missed messages (no socket server); join without lastSeq.",
                field="lastSeq",
            )
        if command.last_seq is not None:
            return command.last_seq
        assert command.last_message_id is not None
        message = await self._store.get_message(command.last_message_id)
        if message is None or message.channel_id != command.channel_id:
            raise NotFound(
                f"lastMessageId {command.last_message_id} is not a message of channel {command.channel_id}"
                " (it may have been deleted). Send lastSeq (the 'seq' of the last messageBroadcast you"
                " received) instead, or join without either and read the history.",
                field="lastMessageId",
            )
        return message.seq

    def hold(self, sid: str, channel_id: str) -> None:
        assert self._hold is not None  # resume_point refused the rejoin otherwise
        self._hold.hold(sid, channel_id)

    async def release(self, sid: str, channel_id: str, replayed_through: int) -> None:
        assert self._hold is not None
        await self._hold.release(sid, channel_id, replayed_through=replayed_through)

    async def send(self, sid: str, channel: Channel, after_seq: int) -> ReplaySummary:
        """Send ``sid`` the channel's messages after ``after_seq`` (the newest ``max_messages``), in order."""
        newest_first = (
            await self._store.list_messages(channel.id, limit=self.max_messages, after_seq=after_seq)
            if self.max_messages > 0
            else []
        )
        through = newest_first[0].seq if newest_first else after_seq
        if self.max_messages > 0:
            missed = await self._store.count_messages_after_seq(channel.id, after_seq, through=through)
        else:  # nothing was read: count what there is now
            missed = await self._store.count_messages_after_seq(channel.id, after_seq)
        assert self._hold is not None
        for message in reversed(newest_first):
            payload = views.broadcast(message, channel.message_server_id, replayed=True)
            await self._hold.send_now(sid, Event.MESSAGE_BROADCAST, payload)
        return ReplaySummary(
            missed=missed, replayed=len(newest_first), truncated=missed > len(newest_first), last_seq=through
        )

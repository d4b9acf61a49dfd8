"""The messaging service: every path a message takes, whoever sent it.

Order matters and is the same for every entry point: validate, store durably, then
broadcast, then acknowledge, then hand to the agents' queue. Nothing is broadcast or
acknowledged that the store does not have.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from ..fanout.base import Fanout, NodeRecords, NodeRelay, SessionStore
from ..protocol import payloads
from ..protocol.commands import JoinChannel, SendMessage, Typing
from ..protocol.types import DEFAULT_SERVER_ID, Event
from ..queue.base import MessageQueue
from ..records import Channel, Message, MessageServer, StoredMessage
from ..store.base import Store
from ..types import JsonObject
from . import metrics, views
from .access import Access
from .channel_cache import ChannelCache
from .clock import new_id, now_ms
from .errors import MessagingError, StorageUnavailable
from .gate import Gate
from .identity import Caller, Identity
from .indexer import Indexer
from .nodes import Nodes
from .outbox import Outbox
from .presence import Presence, SocketState
from .replay import DEFAULT_MAX_MESSAGES as DEFAULT_REPLAY_MAX
from .replay import LiveHold, Replay
from .replies import ReplyWatchers, Watch
from .reply import Reply
from .runs import DEFAULT_KEEP as DEFAULT_RUNS_KEEP
from .runs import AgentRuns
from .search import Search
from .validation import Limits

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SendResult:
    message: Message
    channel: Channel
    ack: JsonObject
    duplicate: bool


class MessagingService:
    def __init__(
        self,
        store: Store,
        fanout: Fanout,
        queue: MessageQueue,
        limits: Limits | None = None,
        relay: NodeRelay | None = None,
        channel_relay: NodeRelay | None = None,
        outbox_timing: tuple[float, float] = (30.0, 5.0),
        *,
        isolation: bool = False,
        live_hold: LiveHold | None = None,
        replay_max: int = DEFAULT_REPLAY_MAX,
        node_records: NodeRecords | None = None,
        indexer: Indexer | None = None,
        sessions: SessionStore | None = None,
        runs_keep: int = DEFAULT_RUNS_KEEP,
    ) -> None:
        """``relay`` carries reply steps to the other nodes' watchers, ``channel_relay`` channel changes to
        their caches (several nodes); None: this node only. ``outbox_timing``: the outbox's lease and sweep (s).
        ``isolation``: only a channel's participants may join, post to or read it (see ``access.py``).
        ``live_hold`` and ``replay_max``: replay on rejoin (``replay.py``). ``node_records``: what this node holds,
        for another to clean up if it dies (``nodes.py``; several nodes). ``sessions``: connection-state
        recovery's, where the reaper saves a dead node's sockets. ``runs_keep``: agent runs kept per
        agent (``runs.py``). ``indexer``: keeps the messages' embeddings for semantic search (``indexer.py``;
        None: keyword search only)."""
        self.store = store
        self.fanout = fanout
        self.queue = queue
        self.limits = limits or Limits()
        self.channels = ChannelCache(store, channel_relay)
        self.outbox = Outbox(
            store,
            self.channels,
            lambda m, c, sid: self.publish(m, c, sender_sid=sid),
            lease_s=outbox_timing[0],
            sweep_s=outbox_timing[1],
        )
        self.presence = Presence()
        self.gate = Gate()  # closed by a graceful stop (gateway/shutdown.py)
        self.replies = ReplyWatchers(relay)
        self.identity = Identity(store, self.presence)
        self.access = Access(store, self.channels, isolation=isolation)
        self.runs = AgentRuns(store, self.access, keep=runs_keep)
        self.replay = Replay(store, live_hold, max_messages=replay_max)
        self.indexer = indexer
        self.search = Search(store, self.access, self.channels, indexer)
        self.nodes = (
            Nodes(node_records, fanout, self.replies.notify, self.presence.sockets, sessions=sessions)
            if node_records is not None
            else None
        )
        if self.nodes is not None:
            self.presence.on_change = self.nodes.socket_changed

    async def start(self) -> None:
        """Create the default message server (the nil UUID) on first start; hear other nodes' replies."""
        await self.replies.start()
        await self.channels.start()
        if self.nodes is not None:
            await self.nodes.start()
        if self.indexer is not None:
            await self.indexer.start()
        now = now_ms()
        await self.store.ensure_message_server(
            MessageServer(
                id=DEFAULT_SERVER_ID,
                name="Default Server",
                source_type="eliza_default",
                created_at=now,
                updated_at=now,
            )
        )

    async def health(self) -> dict[str, bool | None]:
        """What this node depends on, asked now: the store and the queue's backend (None: not used)."""
        store_ok, queue_ok = await asyncio.gather(self.store.ping(), self.queue.ping())
        return {"database": store_ok, "redis": queue_ok}

    async def close(self) -> None:
        if self.indexer is not None:
            await self.indexer.close()
        await self.outbox.close()
        await self.channels.close()
        if self.nodes is not None:
            await self.nodes.close()
        await self.replies.close()

    # connections ------------------------------------------------------------------------

    async def connect(
        self, sid: str, caller: Caller, *, pid: str | None = None, rooms: dict[str, str | None] | None = None
    ) -> None:
        """Raises IdentityMismatch when the caller claims an agent's id without the server token.
        ``pid``: the socket's private session id (connection-state recovery), kept with its state;
        ``rooms``: those of a recovered socket (``recover``)."""
        await self.identity.check_connect(caller)
        self.presence.connect(sid, caller, pid=pid, rooms=rooms)
        metrics.CONNECTIONS.inc()

    async def recover(
        self, sid: str, caller: Caller, *, pid: str, rooms: dict[str, str | None], announce: bool
    ) -> None:
        """A socket back within the recovery window: its identity and rooms as they were, no join.

        Its rooms hear ``userJoined`` only when they were told ``userLeft`` (``announce``): a socket
        recovered before anyone noticed it gone (its node killed, not yet reaped) is never announced.
        """
        await self.connect(sid, caller, pid=pid, rooms=rooms)
        for channel_id in rooms:
            await self.fanout.enter_room(sid, channel_id)
        if announce:
            for channel_id, entity_id in rooms.items():
                await self.fanout.emit(
                    Event.USER_JOINED, payloads.presence(entity_id, channel_id), room=channel_id, skip_sid=sid
                )

    async def welcome(self, sid: str) -> None:
        """What a socket hears on arrival, once it is connected (after its namespace CONNECT packet)."""
        state = self.presence.find(sid)
        if state is None:
            return  # gone already
        if entity_id := state.entity_id:  # ElizaOS sends this one first
            await self.fanout.emit(Event.AUTHENTICATED, payloads.authenticated(entity_id, now_ms()), to=sid)
        await self.fanout.emit(Event.CONNECTION_ESTABLISHED, payloads.connection_established(sid), to=sid)

    async def disconnect(self, sid: str) -> SocketState | None:
        """Its rooms hear ``userLeft``; its state as it was (None: it was not connected)."""
        state = self.presence.disconnect(sid)
        if state is None:
            return None
        metrics.CONNECTIONS.dec()
        for channel_id, entity_id in state.rooms.items():
            await self.fanout.emit(
                Event.USER_LEFT, payloads.presence(entity_id, channel_id), room=channel_id, skip_sid=sid
            )
        return state

    # joining ----------------------------------------------------------------------------

    async def join(self, sid: str, command: JoinChannel, *, caller: Caller) -> JsonObject:
        if command.entity_id:
            caller = await self.identity.check(
                caller, command.entity_id, "entityId", sid=sid, server_id=command.server_id
            )
        await self.access.may_enter(caller, command.channel_id)
        channel = await self._ensure_channel(command.channel_id, command.server_id, command.metadata, command.entity_id)
        if command.agent_id:  # the client brings an agent into the channel (ElizaOS: agentId on join)
            await self._add_member(command.channel_id, command.agent_id)
        resume_from = await self.replay.resume_point(command)  # None: a plain join
        if resume_from is None:
            await self.fanout.enter_room(sid, command.channel_id)
            joined = payloads.channel_joined(command.channel_id, channel.message_server_id, command.agent_id)
        else:  # live messages wait until the missed ones are sent (replay.py)
            self.replay.hold(sid, command.channel_id)
            through = resume_from
            try:
                await self.fanout.enter_room(sid, command.channel_id)
                summary = await self.replay.send(sid, channel, resume_from)
                through = summary.last_seq
            finally:
                await self.replay.release(sid, command.channel_id, through)
            joined = {
                **payloads.channel_joined(command.channel_id, channel.message_server_id, command.agent_id),
                **summary.as_payload(),
            }
        fresh = self.presence.join(sid, command.channel_id, command.entity_id)
        await self.fanout.emit(Event.CHANNEL_JOINED, joined, to=sid)
        await self.fanout.emit(Event.ROOM_JOINED, joined, to=sid)
        if fresh:
            await self.fanout.emit(
                Event.USER_JOINED,
                payloads.presence(command.entity_id, command.channel_id),
                room=command.channel_id,
                skip_sid=sid,
            )
        metrics.JOINS.inc()
        return joined

    # sending ----------------------------------------------------------------------------

    async def send(self, command: SendMessage, *, caller: Caller, sid: str | None = None) -> SendResult:
        """Store, broadcast, hand to agents; a retry of a stored client id changes nothing."""
        caller = await self.identity.check(
            caller, command.sender_id, "senderId", sid=sid, server_id=command.server_id, source=command.source
        )
        await self.access.may_enter(caller, command.channel_id)
        channel = await self._ensure_channel(command.channel_id, command.server_id, command.metadata, command.sender_id)
        now = now_ms()
        raw: JsonObject = {
            "senderName": command.sender_name,
            "source": command.source,
            "attachments": command.attachments,
            "serverId": channel.message_server_id,
        }
        if command.target_user_id:
            raw["targetUserId"] = command.target_user_id
        message = Message(
            id=new_id(),
            channel_id=command.channel_id,
            author_id=command.sender_id,
            author_name=command.sender_name,
            content=command.text,
            source_type=command.source,
            created_at=now,
            updated_at=now,
            raw_message=raw,
            in_reply_to_root_message_id=command.in_reply_to,
            metadata=command.metadata,
            client_message_id=command.client_message_id,
        )
        stored = await self.store_message(message)
        message = stored.message  # as stored: with its offset in the channel
        if not stored.created:  # a retry: the original's ack, and no second broadcast to the room,
            # unless it was never published (the first try failed there: messaging/outbox.py)
            if not stored.published and await self.outbox.redeliver(stored.message, channel, sender_sid=sid):
                return SendResult(stored.message, channel, views.ack(stored.message), duplicate=True)
            if sid is not None:  # but the sender's copy again: clients clear a pending message on it
                own_copy = views.broadcast(
                    stored.message, channel.message_server_id, client_message_id=stored.message.client_message_id
                )
                await self.fanout.emit(Event.MESSAGE_BROADCAST, own_copy, to=sid)
            return SendResult(stored.message, channel, views.ack(stored.message), duplicate=True)
        # Publish first: the message is stored, so it must reach the room and the agents even if the
        # sender has gone meanwhile (entering a room for a socket that left raises).
        metrics.MESSAGES_IN.inc()
        await self.outbox.deliver(message, channel, sender_sid=sid)
        if sid is not None:
            await self._enter_as_sender(sid, command.channel_id, command.sender_id)
        return SendResult(message, channel, views.ack(message), duplicate=False)

    async def store_message(self, message: Message) -> StoredMessage:
        """Store durably; ``created`` is False (with the original) when this client id was stored before."""
        try:
            with metrics.STORE_WRITE_SECONDS.time():
                stored = await self.store.append_message(message)
            if stored.created and self.indexer is not None:
                self.indexer.notify(stored.message.id)  # embedded later, off this path
            return stored
        except Exception as exc:
            log.exception("message not stored", extra={"channel": message.channel_id})
            raise StorageUnavailable(
                "The message could not be stored, so it was not delivered."
                " Send it again with the same messageId; it will be stored once."
            ) from exc

    async def publish(self, message: Message, channel: Channel, *, sender_sid: str | None = None) -> None:
        """Broadcast a stored message to its room and hand it to the agents."""
        server_id = channel.message_server_id
        metrics.BROADCASTS.inc()
        await self.fanout.emit(
            Event.MESSAGE_BROADCAST,
            views.broadcast(message, server_id),
            room=message.channel_id,
            skip_sid=sender_sid,
        )
        if sender_sid is not None:
            await self.fanout.emit(
                Event.MESSAGE_BROADCAST,
                views.broadcast(message, server_id, client_message_id=message.client_message_id),
                to=sender_sid,
            )
        await self.queue.publish(message, channel)

    async def _enter_as_sender(self, sid: str, channel_id: str, sender_id: str) -> None:
        """A socket that sends into a room hears the room's answers, as if it had joined."""
        state = self.presence.find(sid)
        if state is not None and channel_id not in state.rooms:  # None: it disconnected meanwhile
            await self.fanout.enter_room(sid, channel_id)
            self.presence.join(sid, channel_id, sender_id)

    # agent replies ----------------------------------------------------------------------

    def open_reply(self, agent_id: str, agent_name: str, channel: Channel, trigger: Message) -> Reply:
        """An agent's reply to ``trigger``, to use as ``async with``: see ``reply.Reply`` for what the room sees."""
        return Reply(self, agent_id, agent_name, channel, trigger)

    async def send_watched(self, command: SendMessage, *, caller: Caller) -> tuple[SendResult, Watch]:
        """Send, and watch for the agents' answer before any agent can run; close the watch when done.

        ``send`` returns right after handing the message to the queue without yielding to the
        event loop, and opening a watch does not yield either, so no agent step on this node can
        happen in between. Keep it that way: nothing may be awaited between the two lines.
        """
        result = await self.send(command, caller=caller)
        return result, self.replies.watch(result.message.id)

    # typing -----------------------------------------------------------------------------

    async def typing(self, sid: str, command: Typing, *, caller: Caller) -> None:
        caller = await self.identity.check(caller, command.user_id, "userId", sid=sid)
        await self.access.may_read(caller, command.channel_id)
        await self.fanout.emit(
            Event.USER_TYPING,
            payloads.user_typing(command.user_id, command.channel_id, command.is_typing),
            room=command.channel_id,
            skip_sid=sid,
        )

    # reading ----------------------------------------------------------------------------

    async def message(self, message_id: str) -> Message | None:
        return await self.store.get_message(message_id)

    async def participants(self, channel_id: str) -> list[str]:
        """The channel's members (none when it does not exist)."""
        return await self.store.list_participants(channel_id)

    async def history(
        self,
        channel_id: str,
        *,
        limit: int,
        before: int | None = None,
        after: int | None = None,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> list[Message]:
        """Newest first; with an offset bound (``Message.seq``) ordered by offset."""
        return await self.store.list_messages(
            channel_id, limit=limit, before=before, after=after, before_seq=before_seq, after_seq=after_seq
        )

    async def _add_member(self, channel_id: str, entity_id: str) -> None:
        try:
            await self.channels.add_member(channel_id, entity_id)
        except Exception as exc:
            raise StorageUnavailable(f"Could not add {entity_id} to channel {channel_id}; try again.") from exc

    async def _ensure_channel(
        self, channel_id: str, server_id: str, metadata: JsonObject, participant: str | None
    ) -> Channel:
        try:
            return await self.channels.ensure(
                channel_id, server_id=server_id, metadata=metadata, participant=participant
            )
        except MessagingError:
            raise
        except Exception as exc:
            log.exception("channel not stored", extra={"channel": channel_id})
            raise StorageUnavailable(
                f"The channel {channel_id} could not be created or read; nothing was delivered. Try again."
            ) from exc

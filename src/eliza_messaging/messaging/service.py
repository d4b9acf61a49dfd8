"""The messaging service: every path a message takes, whoever sent it.

Order matters and is the same for every entry point: validate, store durably, then
broadcast, then acknowledge, then hand to the agents' queue. Nothing is broadcast or
acknowledged that the store does not have.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..fanout.base import Fanout, NodeRelay
from ..protocol import payloads
from ..protocol.commands import JoinChannel, SendMessage, Typing
from ..protocol.types import DEFAULT_SERVER_ID, Event, SocketMessageType
from ..queue.base import MessageQueue
from ..records import Channel, Message, MessageServer, StoredMessage
from ..store.base import Store
from ..types import JsonObject
from . import views
from .channel_cache import ChannelCache
from .clock import new_id, now_ms
from .errors import MessagingError, StorageUnavailable
from .gate import Gate
from .outbox import Outbox
from .presence import Presence
from .ratelimit import RateLimiter
from .replies import ReplyEvent, ReplyWatchers
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
        rate_limiter: RateLimiter | None = None,
        relay: NodeRelay | None = None,
        channel_relay: NodeRelay | None = None,
        outbox_timing: tuple[float, float] = (30.0, 5.0),
    ) -> None:
        """``relay`` carries reply steps to the other nodes' watchers, ``channel_relay`` channel changes to
        their caches (several nodes); None: this node only. ``outbox_timing``: the outbox's lease and sweep (s)."""
        self.store = store
        self.rate_limiter = rate_limiter or RateLimiter(rate_per_s=0, burst=0)
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

    async def start(self) -> None:
        """Create the default message server (the nil UUID) on first start; hear other nodes' replies."""
        await self.replies.start()
        await self.channels.start()
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

    async def close(self) -> None:
        await self.outbox.close()
        await self.channels.close()
        await self.replies.close()

    # connections ------------------------------------------------------------------------

    async def connect(self, sid: str, entity_id: str | None) -> None:
        self.presence.connect(sid, entity_id)
        if entity_id:  # ElizaOS sends this one first
            await self.fanout.emit(Event.AUTHENTICATED, payloads.authenticated(entity_id, now_ms()), to=sid)
        await self.fanout.emit(Event.CONNECTION_ESTABLISHED, payloads.connection_established(sid), to=sid)

    def admit(self, sid: str) -> None:
        """Count one incoming message from ``sid`` against its rate; raises RateLimited when over."""
        self.rate_limiter.admit(sid)

    async def disconnect(self, sid: str) -> None:
        self.rate_limiter.forget(sid)
        state = self.presence.disconnect(sid)
        if state is None:
            return
        for channel_id, entity_id in state.rooms.items():
            await self.fanout.emit(
                Event.USER_LEFT, payloads.presence(entity_id, channel_id), room=channel_id, skip_sid=sid
            )

    # joining ----------------------------------------------------------------------------

    async def join(self, sid: str, command: JoinChannel) -> JsonObject:
        channel = await self._ensure_channel(command.channel_id, command.server_id, command.metadata, command.entity_id)
        if command.agent_id:  # the client brings an agent into the channel (ElizaOS: agentId on join)
            await self._add_member(command.channel_id, command.agent_id)
        await self.fanout.enter_room(sid, command.channel_id)
        fresh = self.presence.join(sid, command.channel_id, command.entity_id)
        joined = payloads.channel_joined(command.channel_id, channel.message_server_id, command.agent_id)
        await self.fanout.emit(Event.CHANNEL_JOINED, joined, to=sid)
        await self.fanout.emit(Event.ROOM_JOINED, joined, to=sid)
        if fresh:
            await self.fanout.emit(
                Event.USER_JOINED,
                payloads.presence(command.entity_id, command.channel_id),
                room=command.channel_id,
                skip_sid=sid,
            )
        return joined

    # sending ----------------------------------------------------------------------------

    async def send(self, command: SendMessage, *, sid: str | None = None) -> SendResult:
        """Store, broadcast, hand to agents; a retry of a stored client id changes nothing."""
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
        await self.outbox.deliver(message, channel, sender_sid=sid)
        if sid is not None:
            await self._enter_as_sender(sid, command.channel_id, command.sender_id)
        return SendResult(message, channel, views.ack(message), duplicate=False)

    async def store_message(self, message: Message) -> StoredMessage:
        """Store durably; ``created`` is False (with the original) when this client id was stored before."""
        try:
            return await self.store.append_message(message)
        except Exception as exc:
            log.exception("message not stored", extra={"channel": message.channel_id})
            raise StorageUnavailable(
                "The message could not be stored, so it was not delivered."
                " Send it again with the same messageId; it will be stored once."
            ) from exc

    async def publish(self, message: Message, channel: Channel, *, sender_sid: str | None = None) -> None:
        """Broadcast a stored message to its room and hand it to the agents."""
        server_id = channel.message_server_id
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
    # What the room sees for one message an agent takes, in order: controlMessage disable_input,
    # THINKING, messageStreamChunk per piece, the stored reply as messageBroadcast (or
    # messageStreamError), controlMessage enable_input, messageComplete.

    async def begin_reply(self, agent_id: str, channel: Channel, trigger: Message, reply_id: str) -> None:
        await self.fanout.emit(
            Event.CONTROL_MESSAGE, payloads.control_message("disable_input", channel.id, agent_id), room=channel.id
        )
        await self.fanout.emit(
            Event.MESSAGE,
            {
                "type": SocketMessageType.THINKING,
                "payload": {
                    **payloads.thinking(agent_id=agent_id, channel_id=channel.id, message_id=reply_id),
                    "inReplyTo": trigger.id,
                },
            },
            room=channel.id,
        )
        self.replies.notify(ReplyEvent("thinking", agent_id, channel.id, trigger.id, reply_id))

    async def reply_chunk(
        self, agent_id: str, channel: Channel, trigger: Message, reply_id: str, chunk: str, index: int
    ) -> None:
        await self.fanout.emit(
            Event.MESSAGE_STREAM_CHUNK,
            payloads.stream_chunk(
                message_id=reply_id, chunk=chunk, index=index, agent_id=agent_id, channel_id=channel.id
            ),
            room=channel.id,
        )
        self.replies.notify(ReplyEvent("chunk", agent_id, channel.id, trigger.id, reply_id, chunk, index))

    async def finish_reply(
        self,
        *,
        agent_id: str,
        agent_name: str,
        channel: Channel,
        trigger: Message,
        reply_id: str,
        text: str,
        metadata: JsonObject | None = None,
    ) -> Message:
        """Store the agent's reply, then broadcast it and hand it to the other agents."""
        now = now_ms()
        reply = Message(
            id=reply_id,
            channel_id=channel.id,
            author_id=agent_id,
            author_name=agent_name,
            content=text,
            source_type="agent_response",
            created_at=max(now, trigger.created_at + 1),
            updated_at=now,
            raw_message={
                "senderName": agent_name,
                "source": "agent_response",
                "attachments": [],
                "serverId": channel.message_server_id,
            },
            in_reply_to_root_message_id=trigger.id,
            metadata={"agentName": agent_name, **(metadata or {})},
        )
        await self.store_message(reply)
        await self.outbox.deliver(reply, channel)
        self.replies.notify(ReplyEvent("reply", agent_id, channel.id, trigger.id, reply_id, text, message=reply))
        return reply

    async def fail_reply(
        self,
        agent_id: str,
        channel: Channel,
        trigger: Message,
        reply_id: str,
        error: str,
        partial: str,
        *,
        superseded: bool = False,
    ) -> None:
        body = payloads.stream_error(
            message_id=reply_id, channel_id=channel.id, agent_id=agent_id, error=error, partial_text=partial
        )
        body["inReplyTo"] = trigger.id
        if superseded:
            body["superseded"] = True
        await self.fanout.emit(Event.MESSAGE_STREAM_ERROR, body, room=channel.id)
        if partial:  # clients that drew the streamed bubble but ignore stream errors (ElizaOS's) drop it on this
            gone = {
                **payloads.message_deleted(reply_id, channel.id),
                "reason": "superseded" if superseded else "failed",
            }
            await self.fanout.emit(Event.MESSAGE_DELETED, gone, room=channel.id)
        self.replies.notify(ReplyEvent("error", agent_id, channel.id, trigger.id, reply_id, error))

    async def end_reply(self, agent_id: str, channel: Channel, trigger: Message, *, took_it: bool) -> None:
        """Agent processing of ``trigger`` is over: re-enable input (if it was disabled) and say complete."""
        if took_it:
            await self.fanout.emit(
                Event.CONTROL_MESSAGE,
                payloads.control_message("enable_input", channel.id, agent_id),
                room=channel.id,
            )
        await self.fanout.emit(
            Event.MESSAGE_COMPLETE,
            {
                **payloads.message_complete(channel.id, channel.message_server_id),
                "agentId": agent_id,
                "inReplyTo": trigger.id,
            },
            room=channel.id,
        )
        self.replies.notify(ReplyEvent("done", agent_id, channel.id, trigger.id, ignored=not took_it))

    # typing -----------------------------------------------------------------------------

    async def typing(self, sid: str, command: Typing) -> None:
        await self.fanout.emit(
            Event.USER_TYPING,
            payloads.user_typing(command.user_id, command.channel_id, command.is_typing),
            room=command.channel_id,
            skip_sid=sid,
        )

    # reading ----------------------------------------------------------------------------

    async def history(
        self, channel_id: str, *, limit: int, before: int | None = None, after: int | None = None
    ) -> list[Message]:
        return await self.store.list_messages(channel_id, limit=limit, before=before, after=after)

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

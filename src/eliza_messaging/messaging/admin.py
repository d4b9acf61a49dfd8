"""Managing message servers, channels, participants and stored messages (the REST admin surface).

Every change a room should see goes out through the fanout to that room, so clients watching
a channel over Socket.IO learn about deletions, clears and updates as they happen. The
channel cache of :class:`Channels` is kept in step with every change made here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..protocol import payloads
from ..protocol.types import DEFAULT_SERVER_ID, ChannelType, Event
from ..records import Channel, MessageServer
from ..types import JsonObject
from . import views
from .channels import targeted_ids
from .clock import new_id, now_ms
from .errors import Conflict, InvalidPayload, NotFound
from .service import MessagingService
from .validation import check_json

# Namespace of the deterministic DM channel ids (uuid5 of the server and the sorted pair).
_DM_NAMESPACE = uuid.UUID("6f1f3a57-1c3e-4a58-9d43-7a0f1f0f6d1e")


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """What a client may set when it creates a channel."""

    name: str
    server_id: str = DEFAULT_SERVER_ID
    type: str = ChannelType.GROUP
    channel_id: str | None = None
    source_type: str | None = None
    source_id: str | None = None
    topic: str | None = None
    metadata: JsonObject | None = None
    participants: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class ChannelChanges:
    """What PATCH may change; ``None`` leaves a field as it is (metadata is replaced whole, as ElizaOS does)."""

    name: str | None = None
    type: str | None = None
    topic: str | None = None
    metadata: JsonObject | None = None
    participants: Sequence[str] | None = None


TITLE_MIN_MESSAGES = 4
TITLE_CONTEXT = 50
TITLE_WORDS = 6


def dm_channel_id(user_a: str, user_b: str, server_id: str) -> str:
    """The same pair on the same server always names the same channel, whoever asks first."""
    low, high = sorted((user_a.lower(), user_b.lower()))
    return str(uuid.uuid5(_DM_NAMESPACE, f"dm:{server_id.lower()}:{low}:{high}"))


def channel_type(value: str) -> str:
    kind = value.upper()
    if kind not in ChannelType.ALL:
        raise InvalidPayload(
            f"type '{value[:40]}' is not a channel type; use one of {', '.join(sorted(ChannelType.ALL))}.",
            field="type",
        )
    return kind


class ChannelAdmin:
    def __init__(self, service: MessagingService) -> None:
        self._service = service
        self._store = service.store

    # message servers --------------------------------------------------------------------

    async def create_server(
        self,
        *,
        name: str,
        source_type: str,
        source_id: str | None = None,
        metadata: JsonObject | None = None,
        server_id: str | None = None,
    ) -> MessageServer:
        meta = metadata or {}
        check_json(meta, "metadata", self._service.limits)
        wanted = server_id or new_id()
        if server_id and await self._store.get_message_server(server_id) is not None:
            raise Conflict(f"A message server with id {server_id} already exists; choose another id.", field="id")
        now = now_ms()
        return await self._store.ensure_message_server(
            MessageServer(
                id=wanted,
                name=name,
                source_type=source_type,
                source_id=source_id,
                metadata=meta,
                created_at=now,
                updated_at=now,
            )
        )

    async def require_server(self, server_id: str) -> MessageServer:
        server = await self._store.get_message_server(server_id)
        if server is None:
            raise NotFound(
                f"Message server {server_id} does not exist. GET /api/messaging/message-servers lists them;"
                f" the default one is {DEFAULT_SERVER_ID}.",
                field="serverId",
            )
        return server

    async def server_agents(self, server_id: str) -> list[str]:
        await self.require_server(server_id)
        return await self._store.list_server_agents(server_id)

    async def add_server_agent(self, server_id: str, agent_id: str) -> None:
        await self.require_server(server_id)
        await self._store.add_server_agent(server_id, agent_id)

    async def remove_server_agent(self, server_id: str, agent_id: str) -> None:
        await self.require_server(server_id)
        if not await self._store.remove_server_agent(server_id, agent_id):
            raise NotFound(f"Agent {agent_id} is not on message server {server_id}.", field="agentId")

    async def server_channels(self, server_id: str) -> list[Channel]:
        await self.require_server(server_id)
        return await self._store.list_channels(server_id)

    # channels ---------------------------------------------------------------------------

    async def create_channel(self, spec: ChannelSpec) -> Channel:
        await self.require_server(spec.server_id)
        meta = spec.metadata or {}
        check_json(meta, "metadata", self._service.limits)
        channel_id = spec.channel_id or new_id()
        if spec.channel_id and await self._service.channels.get(channel_id) is not None:
            raise Conflict(
                f"Channel {channel_id} already exists. PATCH /channels/{channel_id} changes it,"
                " or leave out the id to get a new channel.",
                field="id",
            )
        now = now_ms()
        channel = await self._store.ensure_channel(
            Channel(
                id=channel_id,
                message_server_id=spec.server_id,
                name=spec.name,
                type=channel_type(spec.type),
                source_type=spec.source_type,
                source_id=spec.source_id,
                topic=spec.topic,
                metadata=meta,
                created_at=now,
                updated_at=now,
            ),
            participants=list(dict.fromkeys(spec.participants)),
        )
        self._service.channels.forget(channel.id)
        return self._service.channels.remember(channel)

    async def require_channel(self, channel_id: str) -> Channel:
        channel = await self._service.channels.get(channel_id)
        if channel is None:
            raise NotFound(
                f"Channel {channel_id} does not exist. Create it with POST /api/messaging/channels,"
                " or by sending a message to it.",
                field="channelId",
            )
        return channel

    async def update_channel(self, channel_id: str, changes: ChannelChanges) -> Channel:
        channel = await self.require_channel(channel_id)
        if changes.metadata is not None:
            check_json(changes.metadata, "metadata", self._service.limits)
        updated = replace(
            channel,
            name=changes.name if changes.name is not None else channel.name,
            type=channel_type(changes.type) if changes.type is not None else channel.type,
            topic=changes.topic if changes.topic is not None else channel.topic,
            metadata=changes.metadata if changes.metadata is not None else channel.metadata,
            updated_at=max(now_ms(), channel.updated_at + 1),
        )
        stored = await self._store.update_channel(updated)
        if changes.participants is not None:
            await self._store.set_participants(channel_id, list(dict.fromkeys(changes.participants)))
        self._service.channels.forget(channel_id)
        self._service.channels.remember(stored)
        await self._service.fanout.emit(
            Event.CHANNEL_UPDATED, payloads.channel_updated(channel_id, views.channel_payload(stored)), room=channel_id
        )
        return stored

    async def agent_servers(self, agent_id: str) -> list[str]:
        """The message servers an agent is registered on."""
        servers = await self._store.list_message_servers()
        return [s.id for s in servers if agent_id in await self._store.list_server_agents(s.id)]

    async def generate_title(self, channel_id: str) -> str | None:
        """Name a conversation after how it began, once it has enough to go on (ElizaOS: 4 messages).

        The title is the first words of the earliest message from a person, so it needs no model
        and is the same every time; the channel is renamed and the room told (channelUpdated).
        """
        await self.require_channel(channel_id)
        recent = await self._store.list_messages(channel_id, limit=TITLE_CONTEXT)
        if len(recent) < TITLE_MIN_MESSAGES:
            return None
        opening = next((m for m in reversed(recent) if m.source_type != "agent_response" and m.content.strip()), None)
        if opening is None:
            return None
        words = opening.content.split()
        title = " ".join(words[:TITLE_WORDS]).strip(" .,;:!?")
        title = (title[:1].upper() + title[1:]) + ("…" if len(words) > TITLE_WORDS else "")
        await self.update_channel(channel_id, ChannelChanges(name=title))
        return title

    async def delete_channel(self, channel_id: str) -> None:
        await self.require_channel(channel_id)
        await self._store.delete_channel(channel_id)
        self._service.channels.forget(channel_id)
        await self._service.fanout.emit(Event.CHANNEL_DELETED, payloads.channel_deleted(channel_id), room=channel_id)

    async def participants(self, channel_id: str) -> list[str]:
        await self.require_channel(channel_id)
        return await self._store.list_participants(channel_id)

    async def channel_agents(self, channel_id: str) -> tuple[list[str], list[str]]:
        """(every participant, the participants that are agents registered on the channel's server)."""
        channel = await self.require_channel(channel_id)
        members = await self._store.list_participants(channel_id)
        known = set(await self._store.list_server_agents(channel.message_server_id))
        known.update(await self._store.list_server_agents(DEFAULT_SERVER_ID))
        return members, [m for m in members if m in known]

    async def answering_agents(self, channel_id: str, author_id: str, metadata: JsonObject) -> list[str]:
        """The registered agents that will consider a message to this channel (to wait for their answer).

        The agents' own rule: participants, an agent whose id is the channel's id, or an agent the
        channel's or the message's metadata targets. The channel may not exist yet.
        """
        channel = await self._service.channels.get(channel_id)
        server_id = channel.message_server_id if channel else DEFAULT_SERVER_ID
        known = set(await self._store.list_server_agents(server_id))
        known.update(await self._store.list_server_agents(DEFAULT_SERVER_ID))
        candidates = {channel_id, *targeted_ids(metadata)}
        if channel is not None:
            candidates.update(await self._store.list_participants(channel_id))
            candidates.update(targeted_ids(channel.metadata))
        return sorted(a for a in candidates & known if a != author_id)

    async def add_channel_agent(self, channel_id: str, agent_id: str) -> None:
        await self.require_channel(channel_id)
        await self._store.add_participants(channel_id, [agent_id])
        self._service.channels.forget(channel_id)

    async def remove_channel_agent(self, channel_id: str, agent_id: str) -> None:
        await self.require_channel(channel_id)
        if not await self._store.remove_participant(channel_id, agent_id):
            raise NotFound(f"Agent {agent_id} is not a participant of channel {channel_id}.", field="agentId")
        self._service.channels.forget(channel_id)

    async def dm_channel(self, current_user: str, target_user: str, server_id: str) -> Channel:
        """Find or create the DM channel of two users (same pair, either order, same channel)."""
        if current_user.lower() == target_user.lower():
            raise InvalidPayload(
                "currentUserId and targetUserId are the same: a DM channel needs two different users.",
                field="targetUserId",
            )
        if await self._store.get_message_server(server_id) is None:
            server_id = DEFAULT_SERVER_ID  # ElizaOS falls back to the default server for an unknown one
        channel_id = dm_channel_id(current_user, target_user, server_id)
        existing = await self._service.channels.get(channel_id)
        if existing is not None:
            return existing
        low, high = sorted((current_user, target_user))
        now = now_ms()
        channel = await self._store.ensure_channel(
            Channel(
                id=channel_id,
                message_server_id=server_id,
                name=f"DM {low[:8]}-{high[:8]}",
                type=ChannelType.DM,
                source_type="dm",
                metadata={"isDm": True, "user1": low, "user2": high, "typeExplicit": True},
                created_at=now,
                updated_at=now,
            ),
            participants=[low, high],
        )
        return self._service.channels.remember(channel)

    # stored messages --------------------------------------------------------------------

    async def delete_message(self, channel_id: str, message_id: str) -> None:
        if not await self._store.delete_message(channel_id, message_id):
            raise NotFound(f"Message {message_id} is not in channel {channel_id}.", field="messageId")
        await self._service.fanout.emit(
            Event.MESSAGE_DELETED, payloads.message_deleted(message_id, channel_id), room=channel_id
        )

    async def clear_messages(self, channel_id: str) -> int:
        await self.require_channel(channel_id)
        deleted = await self._store.clear_messages(channel_id)
        await self._service.fanout.emit(Event.CHANNEL_CLEARED, payloads.channel_cleared(channel_id), room=channel_id)
        return deleted

"""Channels: the rules that read a channel's kind and audience from metadata, and managing channels.

Creating, reading, changing and deleting a channel over REST. Every change a room should see goes
out through the fanout to that room (``channelUpdated``, ``channelDeleted``), and the channel
cache is kept in step with every change made here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..protocol import payloads
from ..protocol.types import DEFAULT_SERVER_ID, ChannelType, Event
from ..records import Channel
from ..types import JsonObject
from . import views
from .clock import new_id, now_ms
from .errors import Conflict, InvalidPayload, NotFound
from .identity import Caller
from .servers import MessageServers
from .validation import check_json

if TYPE_CHECKING:
    from .service import MessagingService

log = logging.getLogger(__name__)

# Metadata keys that name the user or agent a message or DM is meant for (ElizaOS clients use all four).
TARGET_KEYS = ("targetUserId", "recipientId", "forAgent", "agentId")
# Channel types where an agent always answers: one person and the agent.
DIRECT_TYPES = frozenset({ChannelType.DM, ChannelType.VOICE_DM, ChannelType.API, ChannelType.SELF})


def targeted_ids(*metadatas: dict[str, Any]) -> set[str]:
    """Every id the given metadata objects address: one rule for agents and for those waiting on them."""
    return {v for metadata in metadatas for k in TARGET_KEYS if isinstance(v := metadata.get(k), str)}


def requested_type(metadata: dict[str, Any]) -> str | None:
    """The channel type an event's metadata asks for, if it asks for one."""
    kind = metadata.get("channelType") or metadata.get("channel_type")
    if isinstance(kind, str) and kind.upper() in ChannelType.ALL:
        return kind.upper()
    if metadata.get("isDm") is True or metadata.get("isDM") is True:
        return ChannelType.DM
    return None


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


def channel_type(value: str) -> str:
    kind = value.upper()
    if kind not in ChannelType.ALL:
        raise InvalidPayload(
            f"type '{value[:40]}' is not a channel type; use one of {', '.join(sorted(ChannelType.ALL))}.",
            field="type",
        )
    return kind


class Channels:
    def __init__(self, service: MessagingService) -> None:
        self._service = service
        self._store = service.store

    async def create(self, spec: ChannelSpec, *, caller: Caller) -> Channel:
        """A caller with an entity becomes the channel's first participant (under isolation, its only way in)."""
        access = self._service.access
        if access.restricted(caller):
            access.identified(caller, spec.channel_id or "(new)")
        await MessageServers(self._service).require(spec.server_id)
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
            participants=list(dict.fromkeys([*([caller.entity_id] if caller.entity_id else []), *spec.participants])),
        )
        self._service.channels.forget(channel.id)
        return self._service.channels.remember(channel)

    async def require(self, channel_id: str) -> Channel:
        channel = await self._service.channels.get(channel_id)
        if channel is None:
            raise NotFound(
                f"Channel {channel_id} does not exist. Create it with POST /api/messaging/channels,"
                " or by sending a message to it.",
                field="channelId",
            )
        return channel

    async def update(self, channel_id: str, changes: ChannelChanges) -> Channel:
        channel = await self.require(channel_id)
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
        if changes.participants is not None and self._service.access.isolation:
            await self._evict_outsiders(channel_id, changes.participants)  # told first, then out
        return stored

    async def _evict_outsiders(self, channel_id: str, participants: Sequence[str]) -> None:
        """Under isolation, sockets of this node whose entity is no longer a participant stop hearing the room."""
        members = {p.lower() for p in participants}
        for sid, caller in self._service.presence.in_room(channel_id):
            if caller.trusted or (caller.entity_id is not None and caller.entity_id.lower() in members):
                continue
            self._service.presence.leave(sid, channel_id)
            try:
                await self._service.fanout.leave_room(sid, channel_id)
            except Exception:  # the socket went away meanwhile
                log.debug("leave_room failed", extra={"sid": sid, "channel": channel_id})

    async def delete(self, channel_id: str) -> None:
        await self.require(channel_id)
        await self._store.delete_channel(channel_id)
        self._service.channels.forget(channel_id)
        await self._service.fanout.emit(Event.CHANNEL_DELETED, payloads.channel_deleted(channel_id), room=channel_id)

"""Finding a channel, or creating it on first use, with a small cache in front of the store.

ElizaOS creates a channel the first time a message or join names it; whether it is a DM comes
from the event's metadata. A channel that was created without any hint and later receives
an explicit DM hint becomes a DM (the reference fixes the type on the first event instead).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from typing import Any

from ..fanout.base import NodeRelay
from ..protocol.types import DEFAULT_SERVER_ID, ChannelType
from ..records import Channel
from ..store.base import Store
from .channels import requested_type
from .clock import now_ms
from .errors import InvalidPayload

CACHE_SIZE = 10_000


class ChannelCache:
    """Channels by id, bounded (LRU), with the members known to be stored; creates a channel on first use."""

    def __init__(self, store: Store, relay: NodeRelay | None = None) -> None:
        """``relay`` tells the other nodes which channels changed (several nodes); None: this node only."""
        self._store = store
        self._relay = relay
        self._cache: OrderedDict[str, Channel] = OrderedDict()
        # members known to be stored, for cached channels only: evicted with them, so both stay bounded
        self._members: dict[str, set[str]] = {}
        self._servers: set[str] = set()

    async def start(self) -> None:
        """Start hearing which channels the other nodes changed (when there is a relay)."""
        if self._relay is not None:
            await self._relay.start(self._receive)

    async def close(self) -> None:
        if self._relay is not None:
            await self._relay.close()

    def forget(self, channel_id: str) -> None:
        """The channel changed or is gone: drop it here and on every other node."""
        self._drop(channel_id)
        if self._relay is not None:
            self._relay.send({"forget": channel_id})

    def _receive(self, data: dict[str, Any]) -> None:
        channel_id = data.get("forget")
        if isinstance(channel_id, str):
            self._drop(channel_id)

    def _drop(self, channel_id: str) -> None:
        self._cache.pop(channel_id, None)
        self._members.pop(channel_id, None)

    def remember(self, channel: Channel) -> Channel:
        self._cache[channel.id] = channel
        self._cache.move_to_end(channel.id)
        while len(self._cache) > CACHE_SIZE:
            evicted, _ = self._cache.popitem(last=False)
            self._members.pop(evicted, None)
        return channel

    async def _require_server(self, server_id: str) -> None:
        if server_id in self._servers:
            return
        if await self._store.get_message_server(server_id) is None:
            raise InvalidPayload(
                f"messageServerId {server_id} is not a message server here. Leave it out to use the"
                f" default server {DEFAULT_SERVER_ID}, or create the server first.",
                field="messageServerId",
            )
        self._servers.add(server_id)

    async def get(self, channel_id: str) -> Channel | None:
        cached = self._cache.get(channel_id)
        if cached is not None:
            return cached
        channel = await self._store.get_channel(channel_id)
        return self.remember(channel) if channel else None

    async def ensure(
        self,
        channel_id: str,
        *,
        server_id: str,
        metadata: dict[str, Any],
        participant: str | None,
        name: str | None = None,
    ) -> Channel:
        """The channel, created if needed, with ``participant`` recorded as a member."""
        wanted = requested_type(metadata)
        channel = await self.get(channel_id)
        if channel is None:
            await self._require_server(server_id)
            now = now_ms()
            channel = await self._store.ensure_channel(
                Channel(
                    id=channel_id,
                    message_server_id=server_id,
                    name=name or metadata.get("channelName") or f"channel-{channel_id[:8]}",
                    type=wanted or ChannelType.GROUP,
                    source_type="eliza_messaging",
                    metadata={**_channel_hints(metadata), "autoCreated": True, "typeExplicit": wanted is not None},
                    created_at=now,
                    updated_at=now,
                ),
                participants=[participant] if participant else [],
            )
            self.remember(channel)
            if participant:
                self._members[channel_id] = {participant}
        elif wanted == ChannelType.DM and channel.type != ChannelType.DM and _type_was_guessed(channel):
            channel = self.remember(
                await self._store.update_channel(
                    replace(
                        channel,
                        type=ChannelType.DM,
                        metadata={**channel.metadata, **_channel_hints(metadata), "typeExplicit": True},
                        updated_at=now_ms(),
                    )
                )
            )
        if participant:
            await self.add_member(channel_id, participant)
        return channel

    def knows_member(self, channel_id: str, entity_id: str) -> bool:
        """True when ``entity_id`` is known to be a stored member (False: unknown, ask the store)."""
        known = self._members.get(channel_id)
        return known is not None and entity_id in known

    async def add_member(self, channel_id: str, entity_id: str) -> None:
        known = self._members.get(channel_id)
        if known is not None and entity_id in known:
            return
        await self._store.add_participants(channel_id, [entity_id])
        if channel_id in self._cache:
            self._members.setdefault(channel_id, set()).add(entity_id)


def _type_was_guessed(channel: Channel) -> bool:
    return bool(channel.metadata.get("autoCreated")) and not channel.metadata.get("typeExplicit")


def _channel_hints(metadata: dict[str, Any]) -> dict[str, Any]:
    """The parts of an event's metadata that describe the channel rather than the message."""
    keys = ("isDm", "channelType", "targetUserId", "recipientId", "forAgent", "agentId", "sessionId")
    return {k: metadata[k] for k in keys if k in metadata}

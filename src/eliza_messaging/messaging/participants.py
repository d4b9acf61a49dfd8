"""Who takes part in a channel: its members, and which of them are agents that may answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..protocol.types import DEFAULT_SERVER_ID
from ..types import JsonObject
from .channels import Channels, targeted_ids
from .errors import NotFound

if TYPE_CHECKING:
    from .service import MessagingService


class Participants:
    def __init__(self, service: MessagingService) -> None:
        self._service = service
        self._store = service.store
        self._channels = Channels(service)

    async def of(self, channel_id: str) -> list[str]:
        await self._channels.require(channel_id)
        return await self._store.list_participants(channel_id)

    async def agents(self, channel_id: str) -> tuple[list[str], list[str]]:
        """(every participant, the participants that are agents registered on the channel's server)."""
        channel = await self._channels.require(channel_id)
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

    async def add_agent(self, channel_id: str, agent_id: str) -> None:
        await self._channels.require(channel_id)
        await self._store.add_participants(channel_id, [agent_id])
        self._service.channels.forget(channel_id)

    async def remove_agent(self, channel_id: str, agent_id: str) -> None:
        await self._channels.require(channel_id)
        if not await self._store.remove_participant(channel_id, agent_id):
            raise NotFound(f"Agent {agent_id} is not a participant of channel {channel_id}.", field="agentId")
        self._service.channels.forget(channel_id)

"""Message servers: creating them, and which agents are registered on which."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..protocol.types import DEFAULT_SERVER_ID
from ..records import Channel, MessageServer
from ..types import JsonObject
from .clock import new_id, now_ms
from .errors import Conflict, Forbidden, NotFound
from .identity import Caller
from .validation import check_json

if TYPE_CHECKING:
    from .service import MessagingService


class MessageServers:
    def __init__(self, service: MessagingService) -> None:
        self._service = service
        self._store = service.store

    async def create(
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

    async def require(self, server_id: str) -> MessageServer:
        server = await self._store.get_message_server(server_id)
        if server is None:
            raise NotFound(
                f"Message server {server_id} does not exist. GET /api/messaging/message-servers lists them;"
                f" the default one is {DEFAULT_SERVER_ID}.",
                field="serverId",
            )
        return server

    async def agents(self, server_id: str) -> list[str]:
        await self.require(server_id)
        return await self._store.list_server_agents(server_id)

    async def add_agent(self, server_id: str, agent_id: str, *, caller: Caller) -> None:
        self._may_register(caller)
        await self.require(server_id)
        await self._store.add_server_agent(server_id, agent_id)
        self._service.identity.forget_agents()

    async def remove_agent(self, server_id: str, agent_id: str, *, caller: Caller) -> None:
        self._may_register(caller)
        await self.require(server_id)
        if not await self._store.remove_server_agent(server_id, agent_id):
            raise NotFound(f"Agent {agent_id} is not on message server {server_id}.", field="agentId")
        self._service.identity.forget_agents()

    def _may_register(self, caller: Caller) -> None:
        """Who is an agent decides who may speak as whom: on a guarded server only the server token says so.

        Open (no isolation, anonymous callers): anyone, as in ElizaOS. A caller who showed a token, or
        any caller under isolation, would otherwise make any user an agent and so silence them."""
        if caller.trusted or (caller.entity_id is None and not self._service.access.isolation):
            return
        raise Forbidden(
            "Registering or removing an agent on a message server needs the server token"
            " (X-API-KEY: <ELIZA_SERVER_AUTH_TOKEN>), since agents may not be spoken for by users.",
            field="agentId",
        )

    async def channels(self, server_id: str, *, participant: str | None = None) -> list[Channel]:
        """The server's channels; with ``participant``, only those that entity takes part in."""
        await self.require(server_id)
        return await self._store.list_channels(server_id, participant=participant)

    async def of_agent(self, agent_id: str) -> list[str]:
        """The message servers an agent is registered on."""
        servers = await self._store.list_message_servers()
        return [s.id for s in servers if agent_id in await self._store.list_server_agents(s.id)]

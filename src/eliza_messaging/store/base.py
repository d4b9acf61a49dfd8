"""The store interface. Every backend (``sqlite``, later ``postgres``) implements it whole."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .records import Channel, Message, MessageServer, StoredMessage


class StoreError(Exception):
    """The database refused or failed an operation."""


class Store(Protocol):
    async def open(self) -> None:
        """Connect and bring the schema up to date."""
        ...

    async def close(self) -> None: ...

    async def ping(self) -> bool:
        """True when the database answers a trivial query."""
        ...

    # message servers
    async def ensure_message_server(self, server: MessageServer) -> MessageServer: ...
    async def get_message_server(self, server_id: str) -> MessageServer | None: ...
    async def list_message_servers(self) -> list[MessageServer]: ...
    async def add_server_agent(self, server_id: str, agent_id: str) -> None: ...
    async def list_server_agents(self, server_id: str) -> list[str]: ...

    # channels
    async def ensure_channel(self, channel: Channel, participants: Sequence[str] = ()) -> Channel:
        """Create the channel if it does not exist (then return the existing one) and add participants."""
        ...

    async def get_channel(self, channel_id: str) -> Channel | None: ...
    async def update_channel(self, channel: Channel) -> Channel:
        """Replace the channel's mutable fields (name, type, topic, metadata, updated_at)."""
        ...

    async def add_participants(self, channel_id: str, entity_ids: Sequence[str]) -> None: ...
    async def list_participants(self, channel_id: str) -> list[str]: ...

    # messages
    async def append_message(self, message: Message) -> StoredMessage:
        """Store a message durably; a repeat of (channel, author, client id) returns the original."""
        ...

    async def get_message(self, message_id: str) -> Message | None: ...

    async def list_messages(
        self, channel_id: str, *, limit: int, before: int | None = None, after: int | None = None
    ) -> list[Message]:
        """Newest first; ``before``/``after`` are epoch milliseconds, exclusive."""
        ...

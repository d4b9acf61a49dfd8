"""A channel's stored messages as a whole: deleting one, or clearing them all, with the room told."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..protocol import payloads
from ..protocol.types import Event
from .channels import Channels
from .errors import NotFound

if TYPE_CHECKING:
    from .service import MessagingService


class History:
    def __init__(self, service: MessagingService) -> None:
        self._service = service
        self._store = service.store

    async def delete(self, channel_id: str, message_id: str) -> None:
        if not await self._store.delete_message(channel_id, message_id):
            raise NotFound(f"Message {message_id} is not in channel {channel_id}.", field="messageId")
        await self._service.fanout.emit(
            Event.MESSAGE_DELETED, payloads.message_deleted(message_id, channel_id), room=channel_id
        )

    async def clear(self, channel_id: str) -> int:
        await Channels(self._service).require(channel_id)
        deleted = await self._store.clear_messages(channel_id)
        await self._service.fanout.emit(Event.CHANNEL_CLEARED, payloads.channel_cleared(channel_id), room=channel_id)
        return deleted

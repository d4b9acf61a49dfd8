"""Forgetting an entity: every message it wrote, in every channel, deleted, and each room told.

Deletes go through the store in bounded batches (so the search indexes' triggers see each row go
and no request holds one huge transaction); each deleted message is announced to its room as
``messageDeleted``, as a single delete is. Only the entity itself (shown by a signed token) or the
server token may ask: forgetting is not a moderation tool for other users.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..protocol import payloads
from ..protocol.types import Event
from .errors import Forbidden
from .identity import Caller, same_id

if TYPE_CHECKING:
    from .service import MessagingService

log = logging.getLogger(__name__)

BATCH = 500


class Forgetting:
    def __init__(self, service: MessagingService, *, batch: int = BATCH) -> None:
        self._service = service
        self._batch = batch

    async def forget(self, caller: Caller, entity_id: str) -> int:
        """How many messages were deleted."""
        if not caller.trusted and (caller.entity_id is None or not same_id(caller.entity_id, entity_id)):
            shown = (
                f"you are {caller.entity_id} ({caller.basis})" if caller.entity_id else "you have not said who you are"
            )
            raise Forbidden(
                f"Only {entity_id} itself or the server token may forget {entity_id}'s messages, and {shown}."
                " Send a signed token whose sub is that entity (Authorization: Bearer <JWT>), or the server"
                " token in X-API-KEY.",
                field="entityId",
            )
        deleted = 0
        while batch := await self._service.store.delete_messages_by_author(entity_id, limit=self._batch):
            deleted += len(batch)
            await tell_rooms(self._service, batch)
        log.info("entity forgotten", extra={"entity": entity_id, "deleted": deleted})
        return deleted


async def tell_rooms(service: MessagingService, deleted: list[tuple[str, str]]) -> None:
    """``messageDeleted`` to each deleted message's room."""
    for channel_id, message_id in deleted:
        await service.fanout.emit(
            Event.MESSAGE_DELETED, payloads.message_deleted(message_id, channel_id), room=channel_id
        )

"""A channel's whole history for its users to take away: page by page in offset order.

Pages follow ``seq`` (never reused, unlike times), so an export of any size reads in constant memory
and a message stored while it runs is either in it or after its last line, never half.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from ..records import Channel, Message
from .channels import Channels
from .identity import Caller

if TYPE_CHECKING:
    from .service import MessagingService

PAGE = 500


class Export:
    def __init__(self, service: MessagingService, *, page: int = PAGE) -> None:
        self._service = service
        self._page = page

    async def open(self, caller: Caller, channel_id: str) -> Channel:
        """The channel, once the caller may read it (checked before anything is sent)."""
        await self._service.access.may_read(caller, channel_id)
        return await Channels(self._service).require(channel_id)

    async def pages(self, channel_id: str) -> AsyncIterator[list[Message]]:
        after = 0
        while True:
            page = await self._service.store.page_messages(channel_id, after_seq=after, limit=self._page)
            if not page:
                return
            yield page
            if len(page) < self._page:
                return
            after = page[-1].seq

"""Conversation titles, taken from how a conversation began (ElizaOS: generate-title)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .channels import ChannelChanges, Channels

if TYPE_CHECKING:
    from .service import MessagingService

TITLE_MIN_MESSAGES = 3  # as ElizaOS 1.7 asks: a message, its reply and one more
TITLE_CONTEXT = 50
TITLE_WORDS = 6


class Titles:
    def __init__(self, service: MessagingService) -> None:
        self._store = service.store
        self._channels = Channels(service)

    async def generate(self, channel_id: str) -> str | None:
        """Name a conversation after how it began, once it has enough to go on (ElizaOS: 3 messages).

        The title is the first words of the earliest message from a person, so it needs no model
        and is the same every time; the channel is renamed and the room told (channelUpdated).
        """
        await self._channels.require(channel_id)
        recent = await self._store.list_messages(channel_id, limit=TITLE_CONTEXT)
        if len(recent) < TITLE_MIN_MESSAGES:
            return None
        opening = next((m for m in reversed(recent) if m.source_type != "agent_response" and m.content.strip()), None)
        if opening is None:
            return None
        words = opening.content.split()
        title = " ".join(words[:TITLE_WORDS]).strip(" .,;:!?")
        title = (title[:1].upper() + title[1:]) + ("…" if len(words) > TITLE_WORDS else "")
        await self._channels.update(channel_id, ChannelChanges(name=title))
        return title

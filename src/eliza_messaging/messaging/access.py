"""Who may read and write a channel: ElizaOS's data isolation (``ENABLE_DATA_ISOLATION``).

Open (the default, as in ElizaOS): anyone may join, post to and read any channel. Isolated:
only a channel's participants may, a caller that creates a channel by using it becomes its first
participant, a DM admits its two parties (its participants), and the server token may do
anything. An anonymous caller (no entity shown) reads and writes nothing.
"""

from __future__ import annotations

from ..store.base import Store
from .channel_cache import ChannelCache
from .errors import Forbidden
from .identity import Caller, same_id


class Access:
    def __init__(self, store: Store, channels: ChannelCache, *, isolation: bool = False) -> None:
        self.isolation = isolation
        self._store = store
        self._channels = channels

    def restricted(self, caller: Caller) -> bool:
        """Whether this caller's reach is limited to its channels."""
        return self.isolation and not caller.trusted

    async def is_member(self, channel_id: str, entity_id: str) -> bool:
        if self._channels.knows_member(channel_id, entity_id):
            return True
        return any(same_id(entity_id, p) for p in await self._store.list_participants(channel_id))

    async def may_enter(self, caller: Caller, channel_id: str) -> None:
        """Join or post: a participant, or anyone creating the channel by using it (it becomes the first)."""
        if not self.restricted(caller):
            return
        entity = self.identified(caller, channel_id)
        if await self._channels.get(channel_id) is None:
            return
        if not await self.is_member(channel_id, entity):
            raise self._outsider(channel_id, entity)

    async def may_read(self, caller: Caller, channel_id: str) -> None:
        """Read, search or change a channel's history or details: its participants only."""
        if not self.restricted(caller):
            return
        entity = self.identified(caller, channel_id)
        if not await self.is_member(channel_id, entity):
            raise self._outsider(channel_id, entity)

    async def visible(self, caller: Caller, channel_ids: list[str]) -> set[str]:
        """The channels among ``channel_ids`` this caller may see."""
        if not self.restricted(caller):
            return set(channel_ids)
        if caller.entity_id is None:
            return set()
        return {c for c in channel_ids if await self.is_member(c, caller.entity_id)}

    @staticmethod
    def identified(caller: Caller, channel_id: str) -> str:
        """The caller's entity; Forbidden for an anonymous caller (only asked when isolation applies)."""
        if caller.entity_id is None:
            raise Forbidden(
                f"Channel {channel_id} is private to its participants (data isolation is on) and you have not"
                " said who you are. Send a signed token (Authorization: Bearer <JWT>, or auth: {token} on"
                " the socket), or connect with auth: {entityId}.",
            )
        return caller.entity_id

    @staticmethod
    def _outsider(channel_id: str, entity_id: str) -> Forbidden:
        return Forbidden(
            f"Channel {channel_id} is private to its participants (data isolation is on) and {entity_id} is not"
            " one. A participant or the server token may add you: PATCH /api/messaging/channels/"
            f"{channel_id} with participantCentralUserIds.",
            field="channelId",
        )

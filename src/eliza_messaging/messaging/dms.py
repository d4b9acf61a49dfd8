"""Direct messages: the one channel of two users, named the same whoever opens it first."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from ..protocol.types import DEFAULT_SERVER_ID, ChannelType
from ..records import Channel
from .clock import now_ms
from .errors import InvalidPayload
from .identity import Caller

if TYPE_CHECKING:
    from .service import MessagingService

# Namespace of the deterministic DM channel ids (uuid5 of the server and the sorted pair).
_DM_NAMESPACE = uuid.UUID("6f1f3a57-1c3e-4a58-9d43-7a0f1f0f6d1e")


def dm_channel_id(user_a: str, user_b: str, server_id: str) -> str:
    """The same pair on the same server always names the same channel, whoever asks first."""
    low, high = sorted((user_a.lower(), user_b.lower()))
    return str(uuid.uuid5(_DM_NAMESPACE, f"dm:{server_id.lower()}:{low}:{high}"))


class DirectMessages:
    def __init__(self, service: MessagingService) -> None:
        self._service = service
        self._store = service.store

    async def channel(self, current_user: str, target_user: str, server_id: str, *, caller: Caller) -> Channel:
        """Find or create the DM channel of two users (same pair, either order, same channel).

        The caller is ``current_user``; under isolation only the two parties may open it."""
        await self._service.identity.check(caller, current_user, "currentUserId")
        if self._service.access.restricted(caller):
            self._service.access.identified(caller, "DM")
        if current_user.lower() == target_user.lower():
            raise InvalidPayload(
                "currentUserId and targetUserId are the same: a DM channel needs two different users.",
                field="targetUserId",
            )
        if await self._store.get_message_server(server_id) is None:
            server_id = DEFAULT_SERVER_ID  # ElizaOS falls back to the default server for an unknown one
        channel_id = dm_channel_id(current_user, target_user, server_id)
        existing = await self._service.channels.get(channel_id)
        if existing is not None:
            return existing
        low, high = sorted((current_user, target_user))
        now = now_ms()
        channel = await self._store.ensure_channel(
            Channel(
                id=channel_id,
                message_server_id=server_id,
                name=f"DM {low[:8]}-{high[:8]}",
                type=ChannelType.DM,
                source_type="dm",
                metadata={"isDm": True, "user1": low, "user2": high, "typeExplicit": True},
                created_at=now,
                updated_at=now,
            ),
            participants=[low, high],
        )
        return self._service.channels.remember(channel)

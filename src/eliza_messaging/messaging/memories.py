"""An agent's memories, as ElizaOS's memory API sees them: the stored messages of its channels.

ElizaOS keeps a copy of each message per agent (a "memory" in the agent's room for that channel);
we keep each message once, so an agent's memories are the messages of the channels it takes part
in (``takes_part``: the agents' own rule, or it has written there) and its rooms are our channels. Reading follows the
history's access rules; editing and deleting go through the same paths as the rest of the API, so
rooms hear an edit as the updated ``messageBroadcast``, a delete as ``messageDeleted`` and a clear
as ``channelCleared``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..protocol.types import DEFAULT_SERVER_ID, Event
from ..records import Message
from ..types import JsonObject
from . import views
from .channels import TARGET_KEYS, targeted_ids
from .clock import now_ms
from .errors import Forbidden, NotFound
from .history import History
from .identity import Caller, same_id
from .validation import check_json, check_text

if TYPE_CHECKING:
    from .service import MessagingService

# Messages read per step when clearing all of an agent's memories (each step clears whole channels).
CLEAR_STEP = 1000


@dataclass(frozen=True, slots=True)
class MemoryChanges:
    """What an edit may change; None leaves a part as it is."""

    text: str | None = None
    thought: str | None = None
    actions: list[str] | None = None
    attachments: list[object] | None = None
    metadata: JsonObject | None = None


class Memories:
    def __init__(self, service: MessagingService) -> None:
        self._service = service
        self._store = service.store
        self._access = service.access

    async def list(
        self,
        caller: Caller,
        agent_id: str,
        *,
        limit: int,
        before: int | None = None,
        channel_id: str | None = None,
    ) -> list[Message]:
        """Newest first; one channel's when ``channel_id`` is given, else across the agent's channels
        that the caller may read."""
        if channel_id is not None:
            await self._access.may_read(caller, channel_id)
            if not await self.takes_part(agent_id, channel_id):
                return []
            return await self._store.list_messages(channel_id, limit=limit, before=before)
        reader = None
        if self._access.restricted(caller):
            if caller.entity_id is None:
                return []  # an anonymous caller reads nothing while data isolation is on
            reader = caller.entity_id
        return await self._store.list_member_messages(
            agent_id, limit=limit, before=before, reader=reader, target_keys=TARGET_KEYS
        )

    async def get(self, caller: Caller, agent_id: str, memory_id: str) -> Message:
        """The agent's memory ``memory_id``, if the caller may read its channel."""
        message = await self._store.get_message(memory_id)
        if message is None or not await self.takes_part(agent_id, message.channel_id):
            raise NotFound(
                f"Agent {agent_id} has no memory {memory_id}: it is not a message of a channel the agent takes"
                f" part in. GET /api/memory/{agent_id}/memories lists them.",
                field="memoryId",
            )
        await self._access.may_read(caller, message.channel_id)
        return message

    async def takes_part(self, agent_id: str, channel_id: str) -> bool:
        """The agents' own rule (a participant, the channel named by its id or addressed to it in the
        channel's metadata), or it has written there."""
        channel = await self._service.channels.get(channel_id)
        if channel is None:
            return False
        if same_id(agent_id, channel_id) or agent_id in targeted_ids(channel.metadata):
            return True
        if await self._access.is_member(channel_id, agent_id):
            return True
        return bool(await self._store.list_member_messages(agent_id, limit=1, channel_id=channel_id))

    async def edit(self, caller: Caller, agent_id: str, memory_id: str, changes: MemoryChanges) -> Message:
        """Change a message's text, thought, actions, attachments or metadata; the room hears it again."""
        current = await self.get(caller, agent_id, memory_id)
        if not caller.trusted and caller.entity_id is not None and not same_id(caller.entity_id, current.author_id):
            raise Forbidden(
                f"Memory {memory_id} is a message of {current.author_id}, and you are {caller.entity_id}"
                f" ({caller.basis}): only its author or the server token may edit it.",
                field="memoryId",
            )
        limits = self._service.limits
        metadata = dict(current.metadata)
        raw = dict(current.raw_message)
        if changes.text is not None:
            check_text(changes.text, "content.text", limits)
        if changes.thought is not None:
            metadata["thought"] = changes.thought
        if changes.actions is not None:
            metadata["actions"] = changes.actions
        if changes.attachments is not None:
            raw["attachments"] = changes.attachments
            check_json(raw, "content.attachments", limits)
        if changes.metadata is not None:
            metadata.update(changes.metadata)
        check_json(metadata, "metadata", limits)
        updated = replace(
            current,
            content=changes.text if changes.text is not None else current.content,
            raw_message=raw,
            metadata=metadata,
            updated_at=max(now_ms(), current.updated_at + 1),
        )
        stored = await self._store.update_message(updated)
        channel = await self._service.channels.get(stored.channel_id)
        server_id = channel.message_server_id if channel else DEFAULT_SERVER_ID
        await self._service.fanout.emit(
            Event.MESSAGE_BROADCAST, views.edited(stored, server_id), room=stored.channel_id
        )
        return stored

    async def delete(self, caller: Caller, agent_id: str, memory_id: str) -> None:
        message = await self.get(caller, agent_id, memory_id)
        await History(self._service).delete(message.channel_id, message.id)

    async def clear_room(self, caller: Caller, agent_id: str, channel_id: str) -> int:
        """Every message of the channel, when the agent takes part in it (else nothing: it has none there)."""
        await self._access.may_read(caller, channel_id)
        if not await self.takes_part(agent_id, channel_id):
            return 0
        return await History(self._service).clear(channel_id)

    async def clear_all(self, caller: Caller, agent_id: str) -> int:
        """Clear each of the agent's channels the caller may read; how many messages went."""
        deleted = 0
        history = History(self._service)
        cleared: set[str] = set()
        while True:
            found = await self.list(caller, agent_id, limit=CLEAR_STEP)
            fresh = [c for c in dict.fromkeys(m.channel_id for m in found) if c not in cleared]
            if not fresh:  # nothing left, or only what was written to a cleared channel since
                return deleted
            for channel_id in fresh:
                deleted += await history.clear(channel_id)
                cleared.add(channel_id)

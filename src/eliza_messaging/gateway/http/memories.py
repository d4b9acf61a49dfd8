"""ElizaOS's memory API (``/api/memory``) over the messaging memory: an agent's memories are the
messages of its channels, and its rooms are our channels (``roomId`` = the channel id, as in every
other route). Shapes, statuses and codes as ElizaOS answers them (``INVALID_ID``, ``NOT_FOUND``);
the domain rules are ``messaging/memories.py``'s.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from ...messaging.directory import AgentDirectory
from ...messaging.errors import InvalidId, InvalidPayload, NotFound
from ...messaging.identity import Caller
from ...messaging.memories import Memories, MemoryChanges
from ...records import Message
from ...types import JsonObject, is_uuid
from . import schemas, views
from .deps import AgentIdPath, CallerDep, TimestampQuery, messaging, timestamp_ms
from .docs import responses
from .responses import JsonResponse, ok

router = APIRouter(prefix="/api/memory", tags=["memory"])

MAX_PAGE = 1000
MESSAGES_TABLE = "messages"
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
# Parts of a memory's content an edit may change, and those shown but fixed (they must come back as shown).
EDITABLE = ("text", "thought", "actions", "attachments")
FIXED = ("source", "inReplyTo")

TableQuery = Annotated[
    str,
    Query(
        alias="tableName",
        max_length=64,
        description="messages (the stored messages); every other table (facts, documents, ...) is empty here",
    ),
]
EmbeddingQuery = Annotated[
    str | None,
    Query(
        alias="includeEmbedding",
        max_length=5,
        description="ElizaOS's flag, accepted; no embedding is sent either way (this store keeps none)",
    ),
]
RoomIdPath = Annotated[str, Path(description="Room id: the channel id (UUID)", json_schema_extra={"format": "uuid"})]
MemoryIdPath = Annotated[
    str, Path(description="Memory id: the message id (UUID)", json_schema_extra={"format": "uuid"})
]


def memories(request: Request) -> Memories:
    return Memories(messaging(request))


MemoriesDep = Annotated[Memories, Depends(memories)]


def _agent(request: Request, agent_id: str) -> str:
    """The agent, as ElizaOS checks it: a UUID (else 400 INVALID_ID) of an agent here (else 404)."""
    _id(agent_id, "agentId", "Invalid agent ID")
    directory: AgentDirectory = request.app.state.agents
    if directory.profile(agent_id) is None:
        raise NotFound(
            f"Agent not found: no agent {agent_id} on this server; GET /api/agents lists them.", field="agentId"
        )
    return agent_id


def _id(value: str, field: str, what: str) -> str:
    if not is_uuid(value):
        raise InvalidId(f"{what} format: {field} must be a UUID, but got '{value[:40]}'.", field=field)
    return value


def _table(name: str) -> bool:
    """Whether the table holds our messages (True) or is one we keep nothing in (False)."""
    if not _TABLE_NAME.match(name):
        raise InvalidPayload(
            f"tableName must be a table name such as 'messages' or 'facts', but got '{name[:64]}'.", field="tableName"
        )
    return name == MESSAGES_TABLE


def _agent_and(request: Request, agent_id: str, other_id: str, field: str, noun: str) -> None:
    """Both ids are checked first, as ElizaOS does (one message names both), then that the agent is here."""
    what = f"Invalid agent ID or {noun} ID"
    _id(agent_id, "agentId", what)
    _id(other_id, field, what)
    _agent(request, agent_id)


async def _page(
    stored: Memories,
    caller: Caller,
    agent_id: str,
    table: str,
    limit: int,
    before: str | None,
    channel_id: str | None,
) -> JsonResponse:
    """One page of the agent's memories, newest first; a table we keep nothing in is empty."""
    if not _table(table):
        return ok({"memories": []})
    found = await stored.list(
        caller, agent_id, limit=limit, before=timestamp_ms(before, "before"), channel_id=channel_id
    )
    return ok({"memories": [views.memory(m, agent_id) for m in found]})


@router.get(
    "/{agent_id}/memories",
    summary="An agent's memories: the messages of the channels it takes part in, newest first",
    responses=responses(200, schemas.Ok[schemas.MemoryList], 403, 404),
)
async def list_memories(
    agent_id: AgentIdPath,
    request: Request,
    stored: MemoriesDep,
    caller: CallerDep,
    table: TableQuery = MESSAGES_TABLE,
    include_embedding: EmbeddingQuery = None,
    channel_id: Annotated[str | None, Query(alias="channelId", max_length=64, description="Only this channel")] = None,
    room_id: Annotated[str | None, Query(alias="roomId", max_length=64, description="The same as channelId")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many (1-1000), newest first")] = 200,
    before: TimestampQuery = None,
) -> JsonResponse:
    _agent(request, agent_id)
    channel = None
    if channel_id:
        channel = _id(channel_id, "channelId", "Invalid channel ID")
    elif room_id:
        channel = _id(room_id, "roomId", "Invalid room ID")
    return await _page(stored, caller, agent_id, table, limit, before, channel)


@router.get(
    "/{agent_id}/rooms/{room_id}/memories",
    summary="An agent's memories in one room (a channel), newest first",
    responses=responses(200, schemas.Ok[schemas.MemoryList], 403, 404),
)
async def list_room_memories(
    agent_id: AgentIdPath,
    room_id: RoomIdPath,
    request: Request,
    stored: MemoriesDep,
    caller: CallerDep,
    table: TableQuery = MESSAGES_TABLE,
    include_embedding: EmbeddingQuery = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many (1-1000)")] = 20,
    before: TimestampQuery = None,
) -> JsonResponse:
    _agent_and(request, agent_id, room_id, "roomId", "channel")
    return await _page(stored, caller, agent_id, table, limit, before, room_id)


@router.patch(
    "/{agent_id}/memories/{memory_id}",
    summary="Edit a memory (the message's text, thought, actions, attachments, metadata); the room hears it",
    responses=responses(200, schemas.Ok[schemas.MemoryUpdated], 403, 404),
)
async def update_memory(
    agent_id: AgentIdPath,
    memory_id: MemoryIdPath,
    request: Request,
    stored: MemoriesDep,
    caller: CallerDep,
    body: Annotated[JsonObject, Body(description="Partial ElizaOS Memory: content {text, ...} and/or metadata")],
) -> JsonResponse:
    _agent_and(request, agent_id, memory_id, "memoryId", "memory")
    current = await stored.get(caller, agent_id, memory_id)
    updated = await stored.edit(caller, agent_id, memory_id, _changes(body, current, agent_id))
    memory = views.memory(updated, agent_id)
    return ok({"id": memory_id, "message": "Memory updated successfully", "memory": memory})


def _changes(body: JsonObject, current: Message, agent_id: str) -> MemoryChanges:
    """The edit a partial ElizaOS memory asks for; a clear error for what cannot change."""
    shown = views.memory(current, agent_id)
    for key in ("entityId", "roomId", "agentId", "worldId"):
        if key in body and body[key] not in (None, shown[key]):
            raise InvalidPayload(
                f"{key} cannot change: a memory stays with its author, room and agent ({key} is {shown[key]}).",
                field=key,
            )
    content = body.get("content")
    metadata = body.get("metadata")
    if content is not None and not isinstance(content, dict):
        raise InvalidPayload('content must be an object such as {"text": "..."}.', field="content")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidPayload("metadata must be an object.", field="metadata")
    content = content or {}
    for key, value in content.items():
        if key in FIXED and value != shown["content"].get(key):
            raise InvalidPayload(
                f"content.{key} cannot change; send it as shown or leave it out.", field=f"content.{key}"
            )
        if key not in EDITABLE and key not in FIXED:
            raise InvalidPayload(
                f"content.{key} is not part of a message memory; an edit may change {', '.join(EDITABLE)}.",
                field=f"content.{key}",
            )
    text = _typed(content, "text", str)
    thought = _typed(content, "thought", str)
    actions = _typed(content, "actions", list)
    if actions is not None and not all(isinstance(a, str) for a in actions):
        raise InvalidPayload("content.actions must be a list of action names (strings).", field="content.actions")
    if text is not None and not text.strip():
        raise InvalidPayload("content.text is empty: a message memory needs some text.", field="content.text")
    return MemoryChanges(
        text=text,
        thought=thought,
        actions=actions,
        attachments=_typed(content, "attachments", list),
        metadata={k: v for k, v in metadata.items() if k not in views.MEMORY_METADATA} if metadata else None,
    )


def _typed(content: JsonObject, key: str, kind: type) -> Any:
    value = content.get(key)
    if value is not None and not isinstance(value, kind):
        name = "a string" if kind is str else "a list"
        raise InvalidPayload(f"content.{key} must be {name}.", field=f"content.{key}")
    return value


@router.delete(
    "/{agent_id}/memories",
    summary="Delete all of an agent's memories: clears each of its channels (rooms get channelCleared)",
    responses=responses(200, schemas.Ok[schemas.MemoriesCleared], 403, 404),
)
async def clear_memories(
    agent_id: AgentIdPath, request: Request, stored: MemoriesDep, caller: CallerDep
) -> JsonResponse:
    _agent(request, agent_id)
    deleted = await stored.clear_all(caller, agent_id)
    return ok({"deleted": deleted, "message": "All agent memories cleared successfully"})


@router.delete(
    "/{agent_id}/memories/all/{room_id}",
    status_code=204,
    summary="Delete an agent's memories in one room: clears the channel (the room gets channelCleared)",
    responses=responses(204, None, 403, 404, description="Deleted"),
)
async def clear_room_memories(
    agent_id: AgentIdPath, room_id: RoomIdPath, request: Request, stored: MemoriesDep, caller: CallerDep
) -> Response:
    _agent(request, agent_id)
    await stored.clear_room(caller, agent_id, _id(room_id, "roomId", "Invalid room ID"))
    return Response(status_code=204)


@router.delete(
    "/{agent_id}/memories/{memory_id}",
    summary="Delete one memory (the message; its room gets messageDeleted)",
    responses=responses(200, schemas.Ok[schemas.MemoryDeleted], 403, 404),
)
async def delete_memory(
    agent_id: AgentIdPath, memory_id: MemoryIdPath, request: Request, stored: MemoriesDep, caller: CallerDep
) -> JsonResponse:
    _agent_and(request, agent_id, memory_id, "memoryId", "memory")
    await stored.delete(caller, agent_id, memory_id)
    return ok({"message": "Memory deleted successfully"})

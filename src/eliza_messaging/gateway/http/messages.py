"""A channel's messages: post (handed to the agents like a Socket.IO send), read, delete, clear.

Each route is also served under ElizaOS's older ``/central-channels`` prefix (left out of the
OpenAPI document). Posting goes through ``MessagingService.send``: validated, stored,
broadcast as ``messageBroadcast`` and queued for the agents, exactly as over Socket.IO.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from ...messaging import validation
from ...messaging.errors import IdentityMismatch, MessagingError
from ...messaging.history import History
from ...messaging.participants import Participants
from ...messaging.service import MessagingService, SendResult
from ...protocol.commands import SendMessage
from ...protocol.types import DEFAULT_SERVER_ID
from ...types import JsonObject
from . import schemas, views
from .bodies import PostMessageBody, TransportName
from .deps import (
    AfterSeqQuery,
    BeforeSeqQuery,
    CallerDep,
    ChannelIdPath,
    MessageIdPath,
    TimestampQuery,
    history,
    messaging,
    participants,
    reply_timeout,
    require_uuid,
    timestamp_ms,
)
from .docs import event_stream, responses
from .replies import answer_with_reply
from .responses import JsonResponse, ok

router = APIRouter(tags=["messages"])
Service = Annotated[MessagingService, Depends(messaging)]
HistoryDep = Annotated[History, Depends(history)]
ParticipantsDep = Annotated[Participants, Depends(participants)]

MAX_PAGE = 1000
# Socket.IO payload names -> the REST names clients sent, for error messages.
_REST_NAMES = {
    "message": "content",
    "senderId": "author_id",
    "messageServerId": "message_server_id",
    "source": "source_type",
    "senderName": "metadata.user_display_name",
    "inReplyTo": "in_reply_to_message_id",
}
_MODES: dict[str, TransportName] = {"sync": "http", "stream": "sse"}


def rest_send_command(
    *,
    channel_id: str,
    author_id: str,
    content: str,
    limits: validation.Limits,
    server_id: str | None = None,
    client_message_id: str | None = None,
    source: str = "eliza_gui",
    sender_name: str | None = None,
    attachments: list[Any] | None = None,
    raw_message: JsonObject | str | None = None,
    metadata: JsonObject | None = None,
    in_reply_to: str | None = None,
) -> SendMessage:
    """A REST post as the send command a Socket.IO client would have produced, with the same checks."""
    meta = metadata or {}
    raw = raw_message if isinstance(raw_message, dict) else {}
    payload: dict[str, Any] = {
        "channelId": channel_id,
        "senderId": author_id,
        "senderName": (sender_name or validation.display_name(meta))[:256],
        "message": content,
        "messageServerId": server_id,
        "messageId": client_message_id,
        "source": source,
        "attachments": attachments if attachments is not None else raw.get("attachments"),
        "metadata": meta,
        "inReplyTo": in_reply_to,
    }
    with rest_field_names():
        return validation.send(payload, socket_entity_id=None, limits=limits)


@contextmanager
def rest_field_names(kind: type[MessagingError] = MessagingError) -> Iterator[None]:
    """Errors about a send name the fields as a REST caller spelled them (author_id, not senderId)."""
    try:
        yield
    except kind as exc:
        count = -1 if isinstance(exc, IdentityMismatch) else 1  # it names the field in its fix too
        for name in dict.fromkeys([*exc.fields, *([exc.field] if exc.field else [])]):
            if name in _REST_NAMES:
                exc.message = exc.message.replace(name, _REST_NAMES[name], -1 if len(exc.fields) > 1 else count)
        exc.fields = [_REST_NAMES.get(name, name) for name in exc.fields]
        if exc.field is not None:
            exc.field = _REST_NAMES.get(exc.field, exc.field)
        raise


def posted(result: SendResult, **extra: Any) -> JsonResponse:
    message = views.bus_message(result.message, result.channel.message_server_id)
    body = {"success": True, "data": message, "userMessage": message, "duplicate": result.duplicate, **extra}
    return JsonResponse(body, status_code=201)


@router.post("/central-channels/{channel_id}/messages", status_code=201, include_in_schema=False)
@router.post(
    "/channels/{channel_id}/messages",
    status_code=201,
    summary="Post a user's message to a channel (stored, broadcast and handed to the agents)",
    description=(
        "The channel is created on first use. transport 'websocket' (default) answers at once and the agents'"
        " replies arrive over Socket.IO; 'http' waits for the first reply of an agent taking part in the"
        " channel; 'sse' streams it as user_message, chunk, done and error events."
    ),
    responses={
        **responses(201, schemas.PostedMessage, 502, 504),
        **event_stream("transport sse: user_message, chunk..., then done (the reply) or error"),
    },
)
async def post_channel_message(
    channel_id: ChannelIdPath,
    body: PostMessageBody,
    service: Service,
    members: ParticipantsDep,
    timeout_s: Annotated[float, Depends(reply_timeout)],
    caller: CallerDep,
) -> Response:
    require_uuid(channel_id, "channelId")
    command = rest_send_command(
        channel_id=channel_id,
        author_id=body.author_id,
        content=body.content,
        limits=service.limits,
        server_id=body.message_server_id,
        client_message_id=body.messageId,
        source=body.source_type or "eliza_gui",
        attachments=body.attachments,
        raw_message=body.raw_message,
        metadata=body.metadata,
        in_reply_to=body.in_reply_to_message_id,
    )
    transport = body.transport or _MODES.get(body.mode or "", "websocket")
    if transport == "websocket":
        with rest_field_names(IdentityMismatch):
            return posted(await service.send(command, caller=caller))
    agents = await members.answering_agents(channel_id, command.sender_id, command.metadata)
    with rest_field_names(IdentityMismatch):
        result, watch = await service.send_watched(command, caller=caller)
    return await answer_with_reply(
        transport,
        result,
        watch,
        agents=agents,
        timeout_s=timeout_s,
        posted=lambda reply: posted(result, agentResponse=reply),
    )


@router.get("/central-channels/{channel_id}/messages", include_in_schema=False)
@router.get(
    "/channels/{channel_id}/messages",
    summary="A channel's messages, newest first",
    responses=responses(200, schemas.Ok[schemas.MessageList]),
)
async def list_channel_messages(
    channel_id: ChannelIdPath,
    service: Service,
    caller: CallerDep,
    limit: Annotated[
        int, Query(ge=1, description="How many messages (at most 1000; more means 1000, as ElizaOS answers)")
    ] = 50,
    before: TimestampQuery = None,
    after: TimestampQuery = None,
    after_seq: AfterSeqQuery = None,
    before_seq: BeforeSeqQuery = None,
) -> JsonResponse:
    require_uuid(channel_id, "channelId")
    await service.access.may_read(caller, channel_id)
    limit = min(limit, MAX_PAGE)
    channel = await service.channels.get(channel_id)
    server_id = channel.message_server_id if channel else DEFAULT_SERVER_ID
    messages = await service.history(
        channel_id,
        limit=limit,
        before=timestamp_ms(before, "before"),
        after=timestamp_ms(after, "after"),
        before_seq=before_seq,
        after_seq=after_seq,
    )
    return ok({"messages": [views.rest_message(m, server_id) for m in messages], "limit": limit})


@router.delete("/central-channels/{channel_id}/messages/{message_id}", status_code=204, include_in_schema=False)
@router.delete(
    "/channels/{channel_id}/messages/{message_id}",
    status_code=204,
    summary="Delete one message (emits messageDeleted to the room)",
    responses=responses(204, None, 404, description="Deleted"),
)
async def delete_channel_message(
    channel_id: ChannelIdPath, message_id: MessageIdPath, stored: HistoryDep, service: Service, caller: CallerDep
) -> Response:
    await service.access.may_read(caller, require_uuid(channel_id, "channelId"))
    await stored.delete(require_uuid(channel_id, "channelId"), require_uuid(message_id, "messageId"))
    return Response(status_code=204)


@router.delete("/central-channels/{channel_id}/messages", status_code=204, include_in_schema=False)
@router.delete(
    "/channels/{channel_id}/messages",
    status_code=204,
    summary="Delete every message of a channel (emits channelCleared to the room)",
    responses=responses(204, None, 404, description="Cleared"),
)
async def clear_channel_messages(
    channel_id: ChannelIdPath, stored: HistoryDep, service: Service, caller: CallerDep
) -> Response:
    await service.access.may_read(caller, require_uuid(channel_id, "channelId"))
    await stored.clear(require_uuid(channel_id, "channelId"))
    return Response(status_code=204)

"""What agent runtimes and platform bridges post: ``/submit``, ``/action``, ``PATCH /action/:id``,
``/ingest-external``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from ...messaging.agent_posts import ActionChanges, AgentPost, AgentPosts
from ...messaging.errors import IdentityMismatch
from ...messaging.service import MessagingService
from . import schemas, views
from .bodies import AgentMessageBody, IngestBody, UpdateActionBody
from .deps import CallerDep, MessageIdPath, messaging, require_uuid
from .docs import responses
from .messages import rest_field_names, rest_send_command
from .responses import JsonResponse, ok

router = APIRouter(tags=["agent runtimes"])
Service = Annotated[MessagingService, Depends(messaging)]


def agent_posts(request: Request) -> AgentPosts:
    posts: AgentPosts = request.app.state.agent_posts
    return posts


Posts = Annotated[AgentPosts, Depends(agent_posts)]


def _post(body: AgentMessageBody) -> AgentPost:
    return AgentPost(
        channel_id=body.channel_id,
        server_id=body.message_server_id,
        author_id=body.author_id,
        content=body.content,
        source_type=body.source_type,
        raw_message=body.raw_message,
        metadata=body.metadata or {},
        in_reply_to=body.in_reply_to_message_id,
        message_id=body.messageId,
    )


@router.post(
    "/submit",
    status_code=201,
    summary="Post an agent's reply (from an agent runtime outside this server)",
    description="Stored, broadcast to the channel as messageBroadcast, and handed to the other agents.",
    responses=responses(201, schemas.Ok[schemas.MessageView], 409),
)
async def submit(body: AgentMessageBody, posts: Posts, caller: CallerDep) -> JsonResponse:
    message, _ = await posts.submit(_post(body), caller=caller)  # a retry with the same messageId returns the original
    return ok(views.rest_message(message, body.message_server_id), status=201)


@router.post(
    "/action",
    status_code=201,
    summary="Post an action message (an agent's progress), to be updated in place later",
    responses=responses(201, schemas.Ok[schemas.MessageView], 409),
)
async def create_action(body: AgentMessageBody, posts: Posts, caller: CallerDep) -> JsonResponse:
    message, _ = await posts.create_action(_post(body), caller=caller)
    return ok(views.rest_message(message, body.message_server_id), status=201)


@router.patch(
    "/action/{message_id}",
    summary="Update an action message in place (broadcast again under the same id)",
    responses=responses(200, schemas.Ok[schemas.MessageView], 404),
)
async def update_action(
    message_id: MessageIdPath, body: UpdateActionBody, posts: Posts, caller: CallerDep
) -> JsonResponse:
    changes = ActionChanges(
        content=body.content,
        raw_message=body.raw_message,
        source_type=body.source_type,
        in_reply_to=body.in_reply_to_message_id,
        metadata=body.metadata,
    )
    message, server_id = await posts.update_action(require_uuid(message_id, "messageId"), changes, caller=caller)
    return ok(views.rest_message(message, server_id))


@router.post(
    "/ingest-external",
    status_code=202,
    summary="Ingest a message from another platform (stored, broadcast and handed to the agents)",
    responses=responses(202, schemas.Ingested),
)
async def ingest_external(body: IngestBody, service: Service, caller: CallerDep) -> JsonResponse:
    metadata = dict(body.metadata or {})
    if body.source_id is not None:
        metadata.setdefault("sourceId", body.source_id)
    command = rest_send_command(
        channel_id=body.channel_id,
        author_id=body.author_id,
        content=body.content,
        limits=service.limits,
        server_id=body.message_server_id,
        source=body.source_type or "external",
        sender_name=body.author_display_name,
        raw_message=body.raw_message,
        metadata=metadata,
        in_reply_to=body.in_reply_to_message_id,
    )
    with rest_field_names(IdentityMismatch):
        result = await service.send(command, caller=caller)
    return JsonResponse(
        {
            "success": True,
            "message": "Message ingested and published to bus",
            "data": {"messageId": result.message.id},
        },
        status_code=202,
    )

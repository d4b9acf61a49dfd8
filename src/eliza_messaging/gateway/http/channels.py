"""Channels: create, read, change, delete, and who takes part (users and agents).

Each route is also served under ElizaOS's older ``/central-channels`` prefix (left out of the
OpenAPI document). Changes reach the channel's room over Socket.IO (``channelUpdated``,
``channelDeleted``) through the messaging layer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from ...messaging.channels import ChannelChanges, Channels, ChannelSpec
from ...messaging.participants import Participants
from ...messaging.titles import Titles
from ...protocol.types import DEFAULT_SERVER_ID
from . import schemas, views
from .bodies import AgentRef, CreateChannelBody, UpdateChannelBody
from .deps import AgentIdPath, CallerDep, ChannelIdPath, ServiceDep, channels, participants, require_uuid, titles
from .docs import responses
from .responses import JsonResponse, ok

router = APIRouter(tags=["channels"])
ChannelsDep = Annotated[Channels, Depends(channels)]
ParticipantsDep = Annotated[Participants, Depends(participants)]
TitlesDep = Annotated[Titles, Depends(titles)]


def _spec(body: CreateChannelBody) -> ChannelSpec:
    return ChannelSpec(
        name=body.name,
        server_id=body.messageServerId or DEFAULT_SERVER_ID,
        type=body.type,
        channel_id=body.id,
        source_type=body.sourceType,
        source_id=body.sourceId,
        topic=body.topic,
        metadata=body.metadata,
        participants=body.participantCentralUserIds or (),
    )


@router.post("/central-channels", status_code=201, include_in_schema=False)
@router.post(
    "/channels",
    status_code=201,
    summary="Create a channel (optionally with your own id and its participants)",
    responses=responses(201, schemas.Ok[schemas.ChannelView], 404, 409),
)
async def create_channel(body: CreateChannelBody, channels: ChannelsDep, caller: CallerDep) -> JsonResponse:
    """``data`` is the channel itself, as ElizaOS answers (its web client opens ``data.id``)."""
    channel = await channels.create(_spec(body), caller=caller)
    return ok(views.rest_channel(channel), status=201)


@router.get("/central-channels/{channel_id}/details", include_in_schema=False)
@router.get(
    "/channels/{channel_id}/details",
    summary="A channel's details",
    responses=responses(200, schemas.Ok[schemas.ChannelView], 404),
)
async def channel_details(
    channel_id: ChannelIdPath, channels: ChannelsDep, service: ServiceDep, caller: CallerDep
) -> JsonResponse:
    await service.access.may_read(caller, require_uuid(channel_id, "channelId"))
    channel = await channels.require(require_uuid(channel_id, "channelId"))
    return ok(views.rest_channel(channel))


@router.patch("/central-channels/{channel_id}", include_in_schema=False)
@router.patch(
    "/channels/{channel_id}",
    summary="Change a channel's name, type, topic, metadata or participants (emits channelUpdated)",
    responses=responses(200, schemas.Ok[schemas.ChannelView], 404),
)
async def update_channel(
    channel_id: ChannelIdPath, body: UpdateChannelBody, channels: ChannelsDep, service: ServiceDep, caller: CallerDep
) -> JsonResponse:
    await service.access.may_read(caller, require_uuid(channel_id, "channelId"))
    changes = ChannelChanges(
        name=body.name,
        type=body.type,
        topic=body.topic,
        metadata=body.metadata,
        participants=body.participantCentralUserIds,
    )
    channel = await channels.update(require_uuid(channel_id, "channelId"), changes)
    return ok(views.rest_channel(channel))


@router.delete("/central-channels/{channel_id}", status_code=204, include_in_schema=False)
@router.delete(
    "/channels/{channel_id}",
    status_code=204,
    summary="Delete a channel with its messages (emits channelDeleted)",
    responses=responses(204, None, 404, description="Deleted"),
)
async def delete_channel(
    channel_id: ChannelIdPath, channels: ChannelsDep, service: ServiceDep, caller: CallerDep
) -> Response:
    await service.access.may_read(caller, require_uuid(channel_id, "channelId"))
    await channels.delete(require_uuid(channel_id, "channelId"))
    return Response(status_code=204)


@router.get("/central-channels/{channel_id}/participants", include_in_schema=False)
@router.get(
    "/channels/{channel_id}/participants",
    summary="The channel's participants (entity ids)",
    responses=responses(200, schemas.Ok[list[str]], 404),
)
async def channel_participants(
    channel_id: ChannelIdPath, members: ParticipantsDep, service: ServiceDep, caller: CallerDep
) -> JsonResponse:
    await service.access.may_read(caller, require_uuid(channel_id, "channelId"))
    """``data`` is the list of ids itself, as ElizaOS answers."""
    return ok(await members.of(require_uuid(channel_id, "channelId")))


@router.get("/central-channels/{channel_id}/agents", include_in_schema=False)
@router.get(
    "/channels/{channel_id}/agents",
    summary="The channel's participants, and which of them are agents",
    responses=responses(200, schemas.Ok[schemas.ChannelAgents], 404),
)
async def channel_agents(
    channel_id: ChannelIdPath, members: ParticipantsDep, service: ServiceDep, caller: CallerDep
) -> JsonResponse:
    await service.access.may_read(caller, require_uuid(channel_id, "channelId"))
    everyone, agents = await members.agents(require_uuid(channel_id, "channelId"))
    return ok({"channelId": channel_id, "participants": everyone, "agents": agents})


@router.post("/central-channels/{channel_id}/agents", status_code=201, include_in_schema=False)
@router.post(
    "/channels/{channel_id}/agents",
    status_code=201,
    summary="Add an agent to a channel",
    responses=responses(201, schemas.Ok[schemas.ChannelAgentChange], 404),
)
async def add_channel_agent(
    channel_id: ChannelIdPath, body: AgentRef, members: ParticipantsDep, service: ServiceDep, caller: CallerDep
) -> JsonResponse:
    await service.access.may_read(caller, require_uuid(channel_id, "channelId"))
    await members.add_agent(require_uuid(channel_id, "channelId"), body.agentId)
    return ok(
        {"channelId": channel_id, "agentId": body.agentId, "message": "Agent added to channel successfully"},
        status=201,
    )


@router.delete("/central-channels/{channel_id}/agents/{agent_id}", include_in_schema=False)
@router.delete(
    "/channels/{channel_id}/agents/{agent_id}",
    summary="Remove an agent from a channel",
    responses=responses(200, schemas.Ok[schemas.ChannelAgentChange], 404),
)
async def remove_channel_agent(
    channel_id: ChannelIdPath, agent_id: AgentIdPath, members: ParticipantsDep, service: ServiceDep, caller: CallerDep
) -> JsonResponse:
    await service.access.may_read(caller, require_uuid(channel_id, "channelId"))
    await members.remove_agent(require_uuid(channel_id, "channelId"), require_uuid(agent_id, "agentId"))
    return ok({"channelId": channel_id, "agentId": agent_id, "message": "Agent removed from channel successfully"})


@router.post("/central-channels/{channel_id}/generate-title", include_in_schema=False)
@router.post(
    "/channels/{channel_id}/generate-title",
    summary="Name the channel after how its conversation began (renames it; emits channelUpdated)",
    responses=responses(200, schemas.Ok[schemas.GeneratedTitle], 404),
)
async def generate_title(
    channel_id: ChannelIdPath, titles: TitlesDep, service: ServiceDep, caller: CallerDep
) -> JsonResponse:
    await service.access.may_read(caller, require_uuid(channel_id, "channelId"))
    title = await titles.generate(require_uuid(channel_id, "channelId"))
    if title is None:
        return ok({"channelId": channel_id, "title": None, "reason": "Not enough messages to name it yet."})
    return ok({"channelId": channel_id, "title": title})

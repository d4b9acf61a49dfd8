"""Message servers: listing, creating, their agents and their channels.

ElizaOS 1.7 names them ``/message-servers``; older clients use ``/servers`` and
``/central-servers``, served here too (left out of the OpenAPI document).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ...messaging.servers import MessageServers
from ...messaging.service import MessagingService
from ...protocol.types import DEFAULT_SERVER_ID
from . import schemas, views
from .bodies import AgentRef, CreateServerBody
from .deps import AgentIdPath, CallerDep, ServerIdPath, ServiceDep, message_servers, messaging, require_uuid
from .docs import responses
from .responses import JsonResponse, ok

router = APIRouter(tags=["message servers"])
Servers = Annotated[MessageServers, Depends(message_servers)]


@router.get(
    "/message-server/current",
    summary="The id of this server's default message server",
    responses=responses(200, schemas.Ok[schemas.CurrentServer]),
)
async def current_message_server() -> JsonResponse:
    return ok({"messageServerId": DEFAULT_SERVER_ID, "serverId": DEFAULT_SERVER_ID})


@router.get("/central-servers", include_in_schema=False)
@router.get("/message-servers", summary="All message servers", responses=responses(200, schemas.Ok[schemas.ServerList]))
async def list_message_servers(service: Annotated[MessagingService, Depends(messaging)]) -> JsonResponse:
    servers = [views.rest_server(s) for s in await service.store.list_message_servers()]
    return ok({"messageServers": servers, "servers": servers})


@router.post("/servers", status_code=201, include_in_schema=False)
@router.post(
    "/message-servers",
    status_code=201,
    summary="Create a message server",
    responses=responses(201, schemas.Ok[schemas.ServerCreated], 409),
)
async def create_message_server(body: CreateServerBody, servers: Servers) -> JsonResponse:
    server = await servers.create(
        name=body.name, source_type=body.sourceType, source_id=body.sourceId, metadata=body.metadata, server_id=body.id
    )
    view = views.rest_server(server)
    return ok({"server": view, "messageServer": view}, status=201)


@router.get("/servers/{server_id}/agents", include_in_schema=False)
@router.get(
    "/message-servers/{server_id}/agents",
    summary="The agents on a message server",
    responses=responses(200, schemas.Ok[schemas.ServerAgents], 404),
)
async def list_server_agents(server_id: ServerIdPath, servers: Servers) -> JsonResponse:
    require_uuid(server_id, "serverId")
    agents = await servers.agents(server_id)
    return ok({"serverId": server_id, "messageServerId": server_id, "agents": agents})


@router.post("/servers/{server_id}/agents", status_code=201, include_in_schema=False)
@router.post(
    "/message-servers/{server_id}/agents",
    status_code=201,
    summary="Add an agent to a message server (registers it as an agent there)",
    responses=responses(201, schemas.Ok[schemas.ServerAgentChange], 404),
)
async def add_server_agent(
    server_id: ServerIdPath, body: AgentRef, servers: Servers, caller: CallerDep
) -> JsonResponse:
    require_uuid(server_id, "serverId")
    await servers.add_agent(server_id, body.agentId, caller=caller)
    return ok(_agent_change(server_id, body.agentId, "Agent added to server successfully"), status=201)


@router.delete("/servers/{server_id}/agents/{agent_id}", include_in_schema=False)
@router.delete(
    "/message-servers/{server_id}/agents/{agent_id}",
    summary="Remove an agent from a message server",
    responses=responses(200, schemas.Ok[schemas.ServerAgentChange], 404),
)
async def remove_server_agent(
    server_id: ServerIdPath, agent_id: AgentIdPath, servers: Servers, caller: CallerDep
) -> JsonResponse:
    require_uuid(server_id, "serverId")
    require_uuid(agent_id, "agentId")
    await servers.remove_agent(server_id, agent_id, caller=caller)
    return ok(_agent_change(server_id, agent_id, "Agent removed from server successfully"))


@router.get("/central-servers/{server_id}/channels", include_in_schema=False)
@router.get(
    "/message-servers/{server_id}/channels",
    summary="The channels of a message server",
    responses=responses(200, schemas.Ok[schemas.ChannelList], 404),
)
async def list_server_channels(
    server_id: ServerIdPath,
    servers: Servers,
    service: ServiceDep,
    caller: CallerDep,
    participant_id: Annotated[
        str | None,
        Query(alias="participantId", description="Only the channels this entity takes part in (the web chat's list)"),
    ] = None,
) -> JsonResponse:
    """Under data isolation, only the channels the caller takes part in."""
    require_uuid(server_id, "serverId")
    participant = require_uuid(participant_id, "participantId").lower() if participant_id is not None else None
    found = await servers.channels(server_id, participant=participant)
    visible = await service.access.visible(caller, [c.id for c in found])
    found = [c for c in found if c.id in visible]
    return ok({"channels": [views.rest_channel(c) for c in found]})


def _agent_change(server_id: str, agent_id: str, message: str) -> dict[str, str]:
    return {"serverId": server_id, "messageServerId": server_id, "agentId": agent_id, "message": message}


@router.get(
    "/agents/{agent_id}/message-servers",
    summary="The message servers an agent is registered on",
    responses=responses(200, schemas.Ok[schemas.AgentServers], 400),
)
async def agent_message_servers(agent_id: AgentIdPath, servers: Servers) -> JsonResponse:
    found = await servers.of_agent(require_uuid(agent_id, "agentId"))
    return ok({"agentId": agent_id, "messageServers": found})

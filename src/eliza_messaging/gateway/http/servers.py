"""Message servers: the list and the current (default) one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from ...messaging import views
from ...messaging.service import MessagingService
from ...protocol.types import DEFAULT_SERVER_ID
from .deps import messaging
from .responses import JsonResponse, ok

router = APIRouter()


@router.get("/message-server/current", summary="The id of this server's default message server")
async def current_message_server() -> JsonResponse:
    return ok({"messageServerId": DEFAULT_SERVER_ID, "serverId": DEFAULT_SERVER_ID})


@router.get("/message-servers", summary="All message servers")
async def list_message_servers(service: Annotated[MessagingService, Depends(messaging)]) -> JsonResponse:
    servers = [views.rest_server(s) for s in await service.store.list_message_servers()]
    return ok({"messageServers": servers, "servers": servers})

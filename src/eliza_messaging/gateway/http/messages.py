"""Reading a channel's messages back: ``GET /api/messaging/channels/:id/messages``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ...messaging import views
from ...messaging.service import MessagingService
from ...protocol.types import DEFAULT_SERVER_ID
from .deps import messaging, require_uuid
from .responses import JsonResponse, ok

router = APIRouter()

MAX_PAGE = 1000


@router.get("/channels/{channel_id}/messages", summary="A channel's messages, newest first")
async def list_channel_messages(
    channel_id: str,
    service: Annotated[MessagingService, Depends(messaging)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="How many messages (1-1000)")] = 50,
    before: Annotated[int | None, Query(ge=0, description="Only messages created before (epoch ms)")] = None,
    after: Annotated[int | None, Query(ge=0, description="Only messages created after (epoch ms)")] = None,
) -> JsonResponse:
    require_uuid(channel_id, "channelId")
    channel = await service.channels.get(channel_id)
    server_id = channel.message_server_id if channel else DEFAULT_SERVER_ID
    messages = await service.history(channel_id, limit=limit, before=before, after=after)
    return ok({"messages": [views.rest_message(m, server_id) for m in messages]})

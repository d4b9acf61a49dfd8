"""A channel's export: ``GET /api/messaging/channels/:id/export``, JSON Lines, streamed.

Access is checked before the first byte (so a refusal is an ordinary error answer); then the
store is read page by page (``messaging/export.py``) and each page written as it is read, so the
server holds one page whatever the channel's size. A failure after the start cannot change the
status any more: the stream ends early, and the log says why (the last line is then not a
complete export; each line is a complete message).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from ...messaging.export import Export
from . import views
from .deps import CallerDep, ChannelIdPath, messaging, require_uuid
from .docs import json_lines, responses

log = logging.getLogger(__name__)
router = APIRouter(tags=["messages"])


def export(request: Request) -> Export:
    return Export(messaging(request))


ExportDep = Annotated[Export, Depends(export)]


@router.get(
    "/channels/{channel_id}/export",
    summary="Every message of a channel, oldest first, as JSON Lines (one message per line, every field)",
    response_class=StreamingResponse,
    responses={**responses(200, None, 403, 404), **json_lines("One JSON object per stored message, by seq")},
)
async def export_channel(channel_id: ChannelIdPath, exporter: ExportDep, caller: CallerDep) -> StreamingResponse:
    channel = await exporter.open(caller, require_uuid(channel_id, "channelId"))

    async def lines() -> AsyncIterator[bytes]:
        try:
            async for page in exporter.pages(channel.id):
                yield b"".join(orjson.dumps(views.export_record(m, channel.message_server_id)) + b"\n" for m in page)
        except Exception:
            log.exception("channel export ended early", extra={"channel": channel.id})
            raise

    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"content-disposition": f'attachment; filename="channel-{channel.id}.jsonl"'},
    )

"""Shared request dependencies: the messaging services and parameter checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request

from ...messaging.admin import ChannelAdmin
from ...messaging.errors import InvalidPayload
from ...messaging.service import MessagingService
from ...messaging.sessions import Sessions
from ...messaging.validation import is_uuid

# Largest epoch-millisecond value accepted in before/after (JavaScript's largest safe integer).
MAX_TIMESTAMP_MS = 2**53 - 1

ChannelIdPath = Annotated[str, Path(description="Channel id (UUID)", json_schema_extra={"format": "uuid"})]
ServerIdPath = Annotated[str, Path(description="Message server id (UUID)", json_schema_extra={"format": "uuid"})]
AgentIdPath = Annotated[str, Path(description="Agent id (UUID)", json_schema_extra={"format": "uuid"})]
MessageIdPath = Annotated[str, Path(description="Message id (UUID)", json_schema_extra={"format": "uuid"})]


def messaging(request: Request) -> MessagingService:
    service: MessagingService = request.app.state.messaging
    return service


def admin(request: Request) -> ChannelAdmin:
    channel_admin: ChannelAdmin = request.app.state.admin
    return channel_admin


def sessions(request: Request) -> Sessions:
    service: Sessions = request.app.state.sessions
    return service


def reply_timeout(request: Request) -> float:
    """How long the http and sse transports wait for an agent's reply, in seconds."""
    seconds: float = request.app.state.reply_timeout_s
    return seconds


def require_uuid(value: str, name: str) -> str:
    if not is_uuid(value):
        raise InvalidPayload(f"{name} must be a UUID, but got '{value[:40]}'.", field=name)
    return value

"""Shared request dependencies: the messaging service and parameter checks."""

from __future__ import annotations

from fastapi import Request

from ...messaging.errors import InvalidPayload
from ...messaging.service import MessagingService
from ...messaging.validation import is_uuid


def messaging(request: Request) -> MessagingService:
    service: MessagingService = request.app.state.messaging
    return service


def require_uuid(value: str, name: str) -> str:
    if not is_uuid(value):
        raise InvalidPayload(f"{name} must be a UUID, but got '{value[:40]}'.", field=name)
    return value

"""Shared request dependencies: the messaging services and parameter checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Path, Query, Request

from ...messaging.channels import Channels
from ...messaging.dms import DirectMessages
from ...messaging.errors import InvalidPayload
from ...messaging.history import History
from ...messaging.identity import ANONYMOUS, Caller
from ...messaging.participants import Participants
from ...messaging.servers import MessageServers
from ...messaging.service import MessagingService
from ...messaging.sessions import Sessions
from ...messaging.titles import Titles
from ...types import is_uuid

# Largest epoch-millisecond value accepted in before/after (JavaScript's largest safe integer).
MAX_TIMESTAMP_MS = 2**53 - 1

ChannelIdPath = Annotated[str, Path(description="Channel id (UUID)", json_schema_extra={"format": "uuid"})]
ServerIdPath = Annotated[str, Path(description="Message server id (UUID)", json_schema_extra={"format": "uuid"})]
AgentIdPath = Annotated[str, Path(description="Agent id (UUID)", json_schema_extra={"format": "uuid"})]
MessageIdPath = Annotated[str, Path(description="Message id (UUID)", json_schema_extra={"format": "uuid"})]


def caller(request: Request) -> Caller:
    """Who calls, as ``auth.AuthMiddleware`` found it (anonymous when it set nothing)."""
    found = getattr(request.state, "caller", None)
    return found if isinstance(found, Caller) else ANONYMOUS


CallerDep = Annotated[Caller, Depends(caller)]


def messaging(request: Request) -> MessagingService:
    service: MessagingService = request.app.state.messaging
    return service


ServiceDep = Annotated[MessagingService, Depends(messaging)]


def message_servers(request: Request) -> MessageServers:
    return MessageServers(messaging(request))


def channels(request: Request) -> Channels:
    return Channels(messaging(request))


def participants(request: Request) -> Participants:
    return Participants(messaging(request))


def direct_messages(request: Request) -> DirectMessages:
    return DirectMessages(messaging(request))


def titles(request: Request) -> Titles:
    return Titles(messaging(request))


def history(request: Request) -> History:
    return History(messaging(request))


def sessions(request: Request) -> Sessions:
    service: Sessions = request.app.state.sessions
    return service


def reply_timeout(request: Request) -> float:
    """How long the http and sse transports wait for an agent's reply, in seconds."""
    seconds: float = request.app.state.reply_timeout_s
    return seconds


# Channel offsets (``seq`` of every message and broadcast), exclusive bounds like ``before``/``after``.
AfterSeqQuery = Annotated[
    int | None,
    Query(alias="afterSeq", ge=0, description="Only messages after this offset (exclusive): the last seq you saw"),
]
BeforeSeqQuery = Annotated[
    int | None, Query(alias="beforeSeq", ge=1, description="Only messages before this offset (exclusive)")
]
TimestampQuery = Annotated[
    str | None,
    Query(
        description="Epoch milliseconds, or an ISO 8601 time (the ElizaOS web client sends ISO)",
        examples=["1795326419282", "2026-11-22T06:00:00.000Z"],
        max_length=40,
    ),
]


def timestamp_ms(value: str | None, name: str) -> int | None:
    """A ``before``/``after`` bound in epoch milliseconds, from either spelling clients use."""
    if value is None or value == "":
        return None
    text = value.strip()
    if text.isdigit():
        number = int(text)
    else:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidPayload(
                f"{name} must be epoch milliseconds (e.g. 1795326419282) or an ISO 8601 time"
                f" (e.g. 2026-11-22T06:00:00Z), but got '{text[:40]}'.",
                field=name,
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        number = int(moment.timestamp() * 1000)
    if not 0 <= number <= MAX_TIMESTAMP_MS:
        raise InvalidPayload(f"{name} is out of range: use a time between 1970 and the year 287396.", field=name)
    return number


def require_uuid(value: str, name: str) -> str:
    if not is_uuid(value):
        raise InvalidPayload(f"{name} must be a UUID, but got '{value[:40]}'.", field=name)
    return value

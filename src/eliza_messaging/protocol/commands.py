"""Incoming requests, with both dialects already folded into one shape.

The seed dialect says ``roomId`` and never names a server; the eliza17 dialect says
``channelId`` and ``messageServerId`` (older 1.x: ``serverId``). Whatever a client sent,
the rest of the server sees these commands only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..types import JsonObject

CHANNEL_ID_FIELDS = ("channelId", "roomId")
SERVER_ID_FIELDS = ("messageServerId", "serverId")


@dataclass(frozen=True, slots=True)
class JoinChannel:
    """ROOM_JOINING (type 1, or the event ``"1"``)."""

    channel_id: str
    server_id: str
    entity_id: str | None
    agent_id: str | None = None
    username: str | None = None
    display_name: str | None = None
    metadata: JsonObject = field(default_factory=dict)
    # A rejoin: the last channel offset (``seq``) the client saw, or the server's id of that message;
    # the server sends what it missed since. Neither: a plain join.
    last_seq: int | None = None
    last_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class SendMessage:
    """SEND_MESSAGE (type 2, or the event ``"2"``)."""

    channel_id: str
    server_id: str
    sender_id: str
    sender_name: str
    text: str
    client_message_id: str | None
    source: str
    attachments: list[Any] = field(default_factory=list)
    metadata: JsonObject = field(default_factory=dict)
    target_user_id: str | None = None
    in_reply_to: str | None = None
    text_field: str = "message"  # the spelling the client used for the text ("message" or "text"), for errors


@dataclass(frozen=True, slots=True)
class Typing:
    """The ``typing`` event."""

    channel_id: str
    user_id: str
    is_typing: bool

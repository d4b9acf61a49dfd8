"""Typed views of what the server sends, parsed leniently so both ElizaOS and this server fit.

A broadcast, a REST history row and an acknowledgement all become the same :class:`Message`,
so callers never see which path a message came by.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..protocol.types import DEFAULT_SERVER_ID
from ..types import JsonObject


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def epoch_ms(value: Any, default: int | None = None) -> int:
    """Epoch milliseconds from what servers send: ms, seconds, digit strings or ISO-8601 text."""
    if isinstance(value, bool) or value is None:
        return now_ms() if default is None else default
    if isinstance(value, int | float):
        number = float(value)
        return int(number * 1000) if number < 1e11 else int(number)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return epoch_ms(int(text), default)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return now_ms() if default is None else default
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp() * 1000)
    return now_ms() if default is None else default


def _str(data: JsonObject, *names: str, default: str = "") -> str:
    for name in names:
        value = data.get(name)
        if isinstance(value, str) and value:
            return value
    return default


def _opt_str(data: JsonObject, *names: str) -> str | None:
    value = _str(data, *names)
    return value or None


def _opt_int(data: JsonObject, name: str) -> int | None:
    value = data.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _obj(value: Any) -> JsonObject:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class Message:
    """One stored chat message, whichever way it reached the client."""

    id: str
    channel_id: str
    sender_id: str
    sender_name: str
    text: str
    created_at: int
    """Epoch milliseconds, as the server stored it."""
    server_id: str = DEFAULT_SERVER_ID
    source: str | None = None
    in_reply_to: str | None = None
    client_message_id: str | None = None
    attachments: list[Any] = field(default_factory=list)
    metadata: JsonObject = field(default_factory=dict)
    raw: JsonObject = field(default_factory=dict, repr=False, compare=False)
    seq: int | None = None
    """The message's offset in its channel (servers that give one): 1, 2, 3, ... in storage order."""

    @property
    def created(self) -> datetime:
        """``created_at`` as an aware UTC datetime."""
        return datetime.fromtimestamp(self.created_at / 1000, tz=UTC)

    @classmethod
    def from_broadcast(cls, data: JsonObject) -> Message:
        """A ``messageBroadcast`` payload (``text``, ``roomId``/``channelId``, ``createdAt`` ms)."""
        return cls(
            id=_str(data, "id", "messageId"),
            channel_id=_str(data, "channelId", "roomId"),
            sender_id=_str(data, "senderId", "authorId", "entityId"),
            sender_name=_str(data, "senderName", "name", "authorDisplayName"),
            text=_str(data, "text", "content", "message"),
            created_at=epoch_ms(data.get("createdAt")),
            server_id=_str(data, "messageServerId", "serverId", default=DEFAULT_SERVER_ID),
            source=_opt_str(data, "source", "sourceType"),
            in_reply_to=_opt_str(data, "inReplyTo", "inReplyToRootMessageId"),
            client_message_id=_opt_str(data, "clientMessageId"),
            attachments=list(data.get("attachments") or []),
            metadata=_obj(data.get("metadata")),
            raw=data,
            seq=_opt_int(data, "seq"),
        )

    @classmethod
    def from_rest(cls, data: JsonObject) -> Message:
        """A row of ``GET /channels/:id/messages`` (ElizaOS's central-message shape)."""
        raw_message = _obj(data.get("rawMessage"))
        metadata = _obj(data.get("metadata"))
        content = data.get("content")
        text = content if isinstance(content, str) else _str(data, "text") or _str(raw_message, "text", "message")
        return cls(
            id=_str(data, "id"),
            channel_id=_str(data, "channelId", "roomId", "channel_id"),
            sender_id=_str(data, "senderId", "authorId", "author_id"),
            sender_name=_str(data, "senderName", "authorDisplayName")
            or _str(metadata, "authorDisplayName", "agentName", "senderName")
            or _str(raw_message, "senderName"),
            text=text,
            created_at=epoch_ms(data.get("createdAt", data.get("created_at"))),
            server_id=_str(data, "messageServerId", "serverId", default=DEFAULT_SERVER_ID),
            source=_opt_str(data, "sourceType", "source") or _opt_str(raw_message, "source"),
            in_reply_to=_opt_str(data, "inReplyToRootMessageId", "inReplyTo"),
            client_message_id=_opt_str(data, "clientMessageId"),
            attachments=list(data.get("attachments") or raw_message.get("attachments") or []),
            metadata=metadata,
            raw=data,
            seq=_opt_int(data, "seq"),
        )


@dataclass(frozen=True, slots=True)
class ReplyChunk:
    """One piece of an agent's streamed reply (``messageStreamChunk``)."""

    message_id: str
    """The id the final reply will be stored under."""
    text: str
    index: int
    agent_id: str
    channel_id: str


@dataclass(frozen=True, slots=True)
class TypingEvent:
    """Someone else in a channel started or stopped typing (``userTyping``)."""

    user_id: str
    channel_id: str
    is_typing: bool


@dataclass(frozen=True, slots=True)
class Agent:
    """An agent as ``GET /api/agents`` lists it."""

    id: str
    name: str
    status: str | None = None

    @classmethod
    def from_rest(cls, data: JsonObject) -> Agent:
        return cls(id=_str(data, "id", "agentId"), name=_str(data, "name"), status=_opt_str(data, "status"))


def chunk_from_payload(data: JsonObject) -> ReplyChunk:
    index = data.get("index")
    return ReplyChunk(
        message_id=_str(data, "messageId", "id"),
        text=data["chunk"] if isinstance(data.get("chunk"), str) else "",
        index=index if isinstance(index, int) and not isinstance(index, bool) else -1,
        agent_id=_str(data, "agentId", "senderId"),
        channel_id=_str(data, "channelId", "roomId"),
    )

"""Turning raw client payloads into commands, or into errors a person can act on.

Each error names the field, what was wrong with it, and what to send instead; both
dialects' spellings are accepted and folded (``roomId`` ⇔ ``channelId``,
``serverId`` ⇔ ``messageServerId``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ..protocol.commands import (
    CHANNEL_ID_FIELDS,
    SERVER_ID_FIELDS,
    JoinChannel,
    SendMessage,
    Typing,
    first_present,
)
from ..protocol.types import DEFAULT_SERVER_ID, SocketMessageType
from .errors import InvalidPayload, PayloadTooLarge, UnknownMessageType

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_EXAMPLE_UUID = "5f3c1a52-8e1b-4a43-9a0e-2b7f0c1d9e11"


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one message may carry (all configurable in settings)."""

    max_text_chars: int = 100_000
    max_metadata_bytes: int = 64_000
    max_json_depth: int = 32
    max_attachments: int = 32
    max_name_chars: int = 256


def is_uuid(value: object) -> bool:
    return isinstance(value, str) and bool(_UUID.match(value))


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"'{shown}'"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _uuid_field(value: object, field: str, hint: str) -> str:
    if not is_uuid(value):
        raise InvalidPayload(
            f"{field} must be a UUID such as '{_EXAMPLE_UUID}', but got {_describe(value)}. {hint}",
            field=field,
        )
    assert isinstance(value, str)
    return value


def _optional_uuid(payload: dict[str, Any], field: str, hint: str) -> str | None:
    value = payload.get(field)
    if value is None or value == "":
        return None
    return _uuid_field(value, field, hint)


def _optional_str(payload: dict[str, Any], field: str, limits: Limits) -> str | None:
    value = payload.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidPayload(f"{field} must be a string, but got {_describe(value)}.", field=field)
    if len(value) > limits.max_name_chars:
        raise InvalidPayload(
            f"{field} is {len(value)} characters long; the limit is {limits.max_name_chars}.", field=field
        )
    if "\x00" in value:
        raise InvalidPayload(f"{field} contains the NUL character (U+0000); remove it.", field=field)
    return value


def _inspect(value: Any, limit: int) -> tuple[int, bool]:
    """(nesting depth, whether any key or string holds U+0000), iteratively; stops once ``limit`` is passed."""
    deepest, nul = 0, False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            nul = nul or "\x00" in item
        elif isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest, nul
            if isinstance(item, dict):
                stack.extend((key, level) for key in item)
                stack.extend((child, level + 1) for child in item.values())
            else:
                stack.extend((child, level + 1) for child in item)
    return deepest, nul


def _json_field(value: Any, field: str, limits: Limits) -> bytes:
    depth, nul = _inspect(value, limits.max_json_depth)
    if depth > limits.max_json_depth:
        raise InvalidPayload(
            f"{field} is nested more than {limits.max_json_depth} levels deep; flatten it.", field=field
        )
    if nul:
        raise InvalidPayload(
            f"{field} contains the NUL character (U+0000) in a key or string, which cannot be stored; remove it.",
            field=field,
        )
    try:
        encoded = orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise InvalidPayload(f"{field} cannot be stored as JSON: {exc}.", field=field) from exc
    if len(encoded) > limits.max_metadata_bytes:
        raise PayloadTooLarge(
            f"{field} is {len(encoded)} bytes as JSON; the limit is {limits.max_metadata_bytes}."
            " Keep large data elsewhere and send a reference to it.",
            field=field,
        )
    return encoded


def _metadata(payload: dict[str, Any], limits: Limits) -> dict[str, Any]:
    value = payload.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidPayload(
            f"metadata must be an object (for example {{}}), but got {_describe(value)}.", field="metadata"
        )
    _json_field(value, "metadata", limits)
    return value


def _channel_id(payload: dict[str, Any]) -> str:
    found = first_present(payload, CHANNEL_ID_FIELDS)
    if found is None:
        raise InvalidPayload(
            "The payload has no roomId (or channelId): add roomId: '<channel UUID>' naming the room to use"
            " (to talk to an agent directly, use the agent's id).",
            field="roomId",
        )
    name, value = found
    return _uuid_field(value, name, "Room ids must match exactly on every client in the room.")


def _server_id(payload: dict[str, Any]) -> str:
    found = first_present(payload, SERVER_ID_FIELDS)
    if found is None:
        return DEFAULT_SERVER_ID
    name, value = found
    return _uuid_field(value, name, f"Leave it out to use the default server {DEFAULT_SERVER_ID}.")


def _require_object(payload: object, what: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidPayload(
            f"The {what} payload must be an object, but got {_describe(payload)}."
            " Send socket.emit('message', {type: 2, payload: {...}}).",
            field="payload",
        )
    return payload


def parse_envelope(data: object) -> tuple[SocketMessageType, dict[str, Any]]:
    """The ``message`` event: ``{type, payload}``."""
    if not isinstance(data, dict):
        raise InvalidPayload(
            f"A 'message' event must carry an object like {{type: 2, payload: {{...}}}}, but got {_describe(data)}.",
            field="payload",
        )
    raw_type = data.get("type")
    if raw_type is None:
        raise InvalidPayload(
            "The 'message' event has no type: use type 1 (ROOM_JOINING) to join a room or"
            " 2 (SEND_MESSAGE) to send a message.",
            field="type",
        )
    if isinstance(raw_type, str) and re.fullmatch(r"[0-9]{1,3}", raw_type.strip()):
        raw_type = int(raw_type)
    if (
        isinstance(raw_type, bool)
        or not isinstance(raw_type, int)
        or raw_type not in (SocketMessageType.ROOM_JOINING, SocketMessageType.SEND_MESSAGE)
    ):
        sent_by_server = isinstance(raw_type, int) and raw_type in {t.value for t in SocketMessageType}
        why = " Types 3 to 6 are sent by the server, not by clients." if sent_by_server else ""
        raise UnknownMessageType(
            f"Unknown message type {_describe(raw_type)}.{why} Use type 1 (ROOM_JOINING) to join a room or"
            " 2 (SEND_MESSAGE) to send a message.",
            field="type",
        )
    if "payload" not in data:
        raise InvalidPayload(
            "The 'message' event has no payload: send {type, payload: {...}} with the fields inside payload.",
            field="payload",
        )
    kind = SocketMessageType(raw_type)
    what = "ROOM_JOINING" if kind is SocketMessageType.ROOM_JOINING else "SEND_MESSAGE"
    return kind, _require_object(data["payload"], what)


def parse_join(payload: object, *, socket_entity_id: str | None, limits: Limits) -> JoinChannel:
    body = _require_object(payload, "ROOM_JOINING")
    channel_id = _channel_id(body)
    entity_id = _optional_uuid(body, "entityId", "Use the same entity id you send as senderId.")
    metadata = _metadata(body, limits)
    return JoinChannel(
        channel_id=channel_id,
        server_id=_server_id(body),
        entity_id=entity_id or socket_entity_id,
        agent_id=_optional_uuid(body, "agentId", "Use the id of an agent on this server."),
        username=_optional_str(body, "username", limits),
        display_name=_optional_str(body, "displayName", limits),
        metadata=metadata,
    )


MAX_CLIENT_ID_CHARS = 128


def _client_message_id(body: dict[str, Any]) -> str | None:
    """The sender's own id for the message: any short string (ElizaOS treats it as opaque), kept for retries."""
    value = body.get("messageId")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_CLIENT_ID_CHARS or not value.isprintable():
        raise InvalidPayload(
            f"messageId must be a string of at most {MAX_CLIENT_ID_CHARS} printable characters, but got"
            f" {_describe(value)}. Generate one per message with crypto.randomUUID(), and reuse it on retries.",
            field="messageId",
        )
    return value


def parse_send(payload: object, *, socket_entity_id: str | None, limits: Limits) -> SendMessage:
    body = _require_object(payload, "SEND_MESSAGE")
    channel_id = _channel_id(body)
    raw_sender = body.get("senderId") or socket_entity_id
    if raw_sender is None:
        raise InvalidPayload(
            "senderId is missing: add senderId: '<your entity UUID>' to the payload"
            " (or connect with auth: {entityId}).",
            field="senderId",
        )
    sender_id = _uuid_field(raw_sender, "senderId", "Use one stable UUID per user or client.")
    text_field = "message" if "message" in body else "text"
    text = body.get(text_field)
    if text is None:
        raise InvalidPayload("message is missing: put the text to send in payload.message (a string).", field="message")
    if not isinstance(text, str):
        raise InvalidPayload(f"{text_field} must be a string, but got {_describe(text)}.", field=text_field)
    if len(text) > limits.max_text_chars:
        raise PayloadTooLarge(
            f"{text_field} is {len(text)} characters long; the limit is {limits.max_text_chars}."
            " Split it into several messages.",
            field=text_field,
        )
    if "\x00" in text:
        raise InvalidPayload(
            f"{text_field} contains the NUL character (U+0000), which cannot be stored; remove it.",
            field=text_field,
        )
    attachments = body.get("attachments") or []
    if not isinstance(attachments, list):
        raise InvalidPayload(
            f"attachments must be an array (for example []), but got {_describe(attachments)}.",
            field="attachments",
        )
    if len(attachments) > limits.max_attachments:
        raise PayloadTooLarge(
            f"attachments has {len(attachments)} entries; the limit is {limits.max_attachments}.",
            field="attachments",
        )
    if attachments:
        _json_field(attachments, "attachments", limits)
    if not text.strip() and not attachments:
        raise InvalidPayload("message is empty: send some text, or at least one attachment.", field=text_field)
    source = _optional_str(body, "source", limits) or "socketio"
    return SendMessage(
        channel_id=channel_id,
        server_id=_server_id(body),
        sender_id=sender_id,
        sender_name=_optional_str(body, "senderName", limits) or "User",
        text=text,
        client_message_id=_client_message_id(body),
        source=source,
        attachments=attachments,
        metadata=_metadata(body, limits),
        target_user_id=_optional_uuid(body, "targetUserId", "Use the id of the user or agent addressed."),
        in_reply_to=_optional_uuid(body, "inReplyTo", "Use the id of the message being answered."),
    )


def parse_typing(payload: object, *, socket_entity_id: str | None) -> Typing:
    body = _require_object(payload, "typing")
    found = first_present(body, CHANNEL_ID_FIELDS)
    if found is None:
        raise InvalidPayload("typing needs roomId (or channelId): the room you are typing in.", field="roomId")
    name, value = found
    channel_id = _uuid_field(value, name, "Use the id of the room you joined.")
    raw_user = body.get("userId") or body.get("entityId") or socket_entity_id
    if raw_user is None:
        raise InvalidPayload("typing needs userId: the id of the user who is typing.", field="userId")
    user_id = _uuid_field(raw_user, "userId", "Use the same id you send as senderId.")
    return Typing(channel_id=channel_id, user_id=user_id, is_typing=bool(body.get("isTyping", True)))


def check_json(value: Any, field: str, limits: Limits) -> None:
    """Refuse JSON that is nested too deeply, too large, or not storable (REST bodies use this too)."""
    _json_field(value, field, limits)


def check_text(text: str, field: str, limits: Limits, *, max_chars: int | None = None) -> str:
    """Refuse text the store cannot keep or the limits do not allow, naming ``field``."""
    limit = max_chars if max_chars is not None else limits.max_text_chars
    if len(text) > limit:
        raise PayloadTooLarge(
            f"{field} is {len(text)} characters long; the limit is {limit}. Split it into several messages.",
            field=field,
        )
    if "\x00" in text:
        raise InvalidPayload(
            f"{field} contains the NUL character (U+0000), which cannot be stored; remove it.", field=field
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidPayload(
            f"{field} contains an unpaired surrogate (\\u{ord(text[exc.start]):04x}), which is not valid"
            " Unicode; send valid UTF-8 text.",
            field=field,
        ) from exc
    return text


DISPLAY_NAME_KEYS = ("user_display_name", "author_display_name", "displayName", "username", "userName", "senderName")


def display_name(*sources: Mapping[str, Any]) -> str:
    """The sender's name from whichever metadata spelling a client used (ElizaOS clients vary), else 'User'."""
    for meta in sources:
        for key in DISPLAY_NAME_KEYS:
            value = meta.get(key)
            if isinstance(value, str) and value.strip():
                return value[:256]
    return "User"

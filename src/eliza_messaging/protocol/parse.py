"""Reading raw client payloads of either dialect into commands, or into errors a person can act on.

This is the wire's shape only: which fields exist, their types, their id formats, and how
both dialects' spellings fold together (``roomId`` ⇔ ``channelId``, ``serverId`` ⇔
``messageServerId``). What a message may hold (lengths, sizes, nesting) is the domain's call:
``messaging.validation`` checks it on the command this returns.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from ..types import JsonObject, is_uuid
from .commands import CHANNEL_ID_FIELDS, SERVER_ID_FIELDS, JoinChannel, SendMessage, Typing
from .types import DEFAULT_SERVER_ID, SocketMessageType

EXAMPLE_UUID = "5f3c1a52-8e1b-4a43-9a0e-2b7f0c1d9e11"
MAX_CLIENT_ID_CHARS = 128


class ProtocolError(Exception):
    """A payload that does not follow the wire contract; ``message`` names the field and the fix.

    ``fields``: every field that is wrong when there are several (``field`` is the first), so a
    client fixes them all at once instead of one per try.
    """

    def __init__(self, message: str, *, field: str | None = None, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.fields = fields or ([field] if field else [])


class UnknownType(ProtocolError):
    """A ``message`` event whose ``type`` is not one a client may send."""


MAX_SAFE_INTEGER = 2**53 - 1  # the largest offset a JavaScript client can hold exactly
T = TypeVar("T")


class _Problems:
    """Reads each field of a payload, keeping every complaint, and raises them together at the end."""

    def __init__(self) -> None:
        self.found: list[ProtocolError] = []

    def read(self, reader: Callable[[], T], fallback: T) -> T:
        """What ``reader`` returns, or ``fallback`` (never used: ``check`` raises) after noting its complaint."""
        try:
            return reader()
        except ProtocolError as exc:
            self.found.append(exc)
            return fallback

    def check(self) -> None:
        if not self.found:
            return
        if len(self.found) == 1:
            raise self.found[0]
        fields = [p.field or "payload" for p in self.found]
        raise ProtocolError(
            f"{len(self.found)} fields need fixing ({', '.join(fields)}): " + " ".join(p.message for p in self.found),
            field=fields[0],
            fields=fields,
        )


def describe(value: object) -> str:
    """A value as a sentence names it: ``'abc'``, ``the number 3``, ``an array``."""
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


def first_present(payload: JsonObject, names: tuple[str, ...]) -> tuple[str, Any] | None:
    """The first of ``names`` that the payload carries with a non-empty value, and that value."""
    for name in names:
        value = payload.get(name)
        if value is not None and value != "":
            return name, value
    return None


def uuid_field(value: object, field: str, hint: str) -> str:
    if not is_uuid(value):
        raise ProtocolError(
            f"{field} must be a UUID such as '{EXAMPLE_UUID}', but got {describe(value)}. {hint}", field=field
        )
    assert isinstance(value, str)
    return value


def _optional_uuid(payload: JsonObject, field: str, hint: str) -> str | None:
    value = payload.get(field)
    if value is None or value == "":
        return None
    return uuid_field(value, field, hint)


def _optional_str(payload: JsonObject, field: str) -> str | None:
    value = payload.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"{field} must be a string, but got {describe(value)}.", field=field)
    return value


def _metadata(payload: JsonObject) -> JsonObject:
    value = payload.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(
            f"metadata must be an object (for example {{}}), but got {describe(value)}.", field="metadata"
        )
    return value


def _channel_id(payload: JsonObject) -> str:
    found = first_present(payload, CHANNEL_ID_FIELDS)
    if found is None:
        raise ProtocolError(
            "The payload has no roomId (or channelId): add roomId: '<channel UUID>' naming the room to use"
            " (to talk to an agent directly, use the agent's id).",
            field="roomId",
        )
    name, value = found
    return uuid_field(value, name, "Room ids must match exactly on every client in the room.")


def _server_id(payload: JsonObject) -> str:
    found = first_present(payload, SERVER_ID_FIELDS)
    if found is None:
        return DEFAULT_SERVER_ID
    name, value = found
    return uuid_field(value, name, f"Leave it out to use the default server {DEFAULT_SERVER_ID}.")


def _require_object(payload: object, what: str) -> JsonObject:
    if not isinstance(payload, dict):
        raise ProtocolError(
            f"The {what} payload must be an object, but got {describe(payload)}."
            " Send socket.emit('message', {type: 2, payload: {...}}).",
            field="payload",
        )
    return payload


def parse_envelope(data: object) -> tuple[SocketMessageType, JsonObject]:
    """The ``message`` event: ``{type, payload}``."""
    if not isinstance(data, dict):
        raise ProtocolError(
            f"A 'message' event must carry an object like {{type: 2, payload: {{...}}}}, but got {describe(data)}.",
            field="payload",
        )
    raw_type = data.get("type")
    if raw_type is None:
        raise ProtocolError(
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
        raise UnknownType(
            f"Unknown message type {describe(raw_type)}.{why} Use type 1 (ROOM_JOINING) to join a room or"
            " 2 (SEND_MESSAGE) to send a message.",
            field="type",
        )
    if "payload" not in data:
        raise ProtocolError(
            "The 'message' event has no payload: send {type, payload: {...}} with the fields inside payload.",
            field="payload",
        )
    kind = SocketMessageType(raw_type)
    what = "ROOM_JOINING" if kind is SocketMessageType.ROOM_JOINING else "SEND_MESSAGE"
    return kind, _require_object(data["payload"], what)


def parse_join(payload: object, *, socket_entity_id: str | None) -> JoinChannel:
    body = _require_object(payload, "ROOM_JOINING")
    problems = _Problems()
    channel_id = problems.read(lambda: _channel_id(body), "")
    entity_id = problems.read(
        lambda: _optional_uuid(body, "entityId", "Use the same entity id you send as senderId."), None
    )
    server_id = problems.read(lambda: _server_id(body), DEFAULT_SERVER_ID)
    agent_id = problems.read(lambda: _optional_uuid(body, "agentId", "Use the id of an agent on this server."), None)
    username = problems.read(lambda: _optional_str(body, "username"), None)
    display_name = problems.read(lambda: _optional_str(body, "displayName"), None)
    metadata: JsonObject = problems.read(lambda: _metadata(body), {})
    last_seq = problems.read(lambda: _last_seq(body), None)
    last_message_id = problems.read(
        lambda: _optional_uuid(
            body, "lastMessageId", "Send the id of the last message you received (its 'id'), or lastSeq instead."
        ),
        None,
    )
    problems.check()
    return JoinChannel(
        channel_id=channel_id,
        server_id=server_id,
        entity_id=entity_id or socket_entity_id,
        agent_id=agent_id,
        username=username,
        display_name=display_name,
        metadata=metadata,
        last_seq=last_seq,
        last_message_id=last_message_id,
    )


def _last_seq(body: JsonObject) -> int | None:
    """The offset a rejoining client saw last: a whole number from 0 (0: it saw nothing yet)."""
    value = body.get("lastSeq")
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit() and len(value) <= 16:
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SAFE_INTEGER:
        raise ProtocolError(
            f"lastSeq must be a whole number from 0 to {MAX_SAFE_INTEGER}, but got {describe(value)}."
            " Send the 'seq' of the last messageBroadcast you received in this room (0 if none), or leave it out.",
            field="lastSeq",
        )
    return value


def _client_message_id(body: JsonObject) -> str | None:
    """The sender's own id for the message: any short string (ElizaOS treats it as opaque), kept for retries."""
    value = body.get("messageId")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_CLIENT_ID_CHARS or not value.isprintable():
        raise ProtocolError(
            f"messageId must be a string of at most {MAX_CLIENT_ID_CHARS} printable characters, but got"
            f" {describe(value)}. Generate one per message with crypto.randomUUID(), and reuse it on retries.",
            field="messageId",
        )
    return value


def _sender_id(body: JsonObject, socket_entity_id: str | None) -> str:
    raw_sender = body.get("senderId") or socket_entity_id
    if raw_sender is None:
        raise ProtocolError(
            "senderId is missing: add senderId: '<your entity UUID>' to the payload"
            " (or connect with auth: {entityId}).",
            field="senderId",
        )
    return uuid_field(raw_sender, "senderId", "Use one stable UUID per user or client.")


def _text(body: JsonObject, text_field: str) -> str:
    text = body.get(text_field)
    if text is None:
        raise ProtocolError("message is missing: put the text to send in payload.message (a string).", field="message")
    if not isinstance(text, str):
        raise ProtocolError(f"{text_field} must be a string, but got {describe(text)}.", field=text_field)
    return text


def _attachments(body: JsonObject) -> list[Any]:
    attachments = body.get("attachments") or []
    if not isinstance(attachments, list):
        raise ProtocolError(
            f"attachments must be an array (for example []), but got {describe(attachments)}.",
            field="attachments",
        )
    return attachments


def parse_send(payload: object, *, socket_entity_id: str | None) -> SendMessage:
    body = _require_object(payload, "SEND_MESSAGE")
    problems = _Problems()
    channel_id = problems.read(lambda: _channel_id(body), "")
    sender_id = problems.read(lambda: _sender_id(body, socket_entity_id), "")
    text_field = "message" if "message" in body else "text"
    text = problems.read(lambda: _text(body, text_field), "")
    attachments: list[Any] = problems.read(lambda: _attachments(body), [])
    server_id = problems.read(lambda: _server_id(body), DEFAULT_SERVER_ID)
    sender_name = problems.read(lambda: _optional_str(body, "senderName"), None)
    client_message_id = problems.read(lambda: _client_message_id(body), None)
    source = problems.read(lambda: _optional_str(body, "source"), None)
    metadata: JsonObject = problems.read(lambda: _metadata(body), {})
    target_user_id = problems.read(
        lambda: _optional_uuid(body, "targetUserId", "Use the id of the user or agent addressed."), None
    )
    in_reply_to = problems.read(
        lambda: _optional_uuid(body, "inReplyTo", "Use the id of the message being answered."), None
    )
    problems.check()
    return SendMessage(
        channel_id=channel_id,
        server_id=server_id,
        sender_id=sender_id,
        sender_name=sender_name or "User",
        text=text,
        text_field=text_field,
        client_message_id=client_message_id,
        source=source or "socketio",
        attachments=attachments,
        metadata=metadata,
        target_user_id=target_user_id,
        in_reply_to=in_reply_to,
    )


def _typing_room(body: JsonObject) -> str:
    found = first_present(body, CHANNEL_ID_FIELDS)
    if found is None:
        raise ProtocolError("typing needs roomId (or channelId): the room you are typing in.", field="roomId")
    name, value = found
    return uuid_field(value, name, "Use the id of the room you joined.")


def _typing_user(body: JsonObject, socket_entity_id: str | None) -> str:
    raw_user = body.get("userId") or body.get("entityId") or socket_entity_id
    if raw_user is None:
        raise ProtocolError("typing needs userId: the id of the user who is typing.", field="userId")
    return uuid_field(raw_user, "userId", "Use the same id you send as senderId.")


def parse_typing(payload: object, *, socket_entity_id: str | None) -> Typing:
    body = _require_object(payload, "typing")
    problems = _Problems()
    channel_id = problems.read(lambda: _typing_room(body), "")
    user_id = problems.read(lambda: _typing_user(body, socket_entity_id), "")
    problems.check()
    return Typing(channel_id=channel_id, user_id=user_id, is_typing=bool(body.get("isTyping", True)))

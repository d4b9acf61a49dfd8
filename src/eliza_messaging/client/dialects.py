"""What each dialect puts on the wire, in one place (SPEC.md "Wire contract").

``eliza17`` is what ElizaOS 1.7 and its official clients send: handshake ``auth: {entityId}``,
``channelId`` and ``messageServerId``. ``seed`` is what the ElizaOS Socket.IO guide's client
sends: no handshake auth and ``roomId`` only. Both travel as the ``message`` event with
``{type, payload}``.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any, Literal

from ..protocol.types import DEFAULT_SERVER_ID, SocketMessageType
from ..types import JsonObject

Dialect = Literal["eliza17", "seed"]
DIALECTS: tuple[Dialect, ...] = ("eliza17", "seed")
# uuid5 namespace of direct-message channel ids: the same two participants always get the same channel.
DM_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://eliza-messaging/dm-channel")


def check_dialect(dialect: str) -> Dialect:
    if dialect == "eliza17":
        return "eliza17"
    if dialect == "seed":
        return "seed"
    raise ValueError(f"dialect must be 'eliza17' or 'seed', not {dialect!r}")


def dm_channel_id(entity_id: str, other_id: str) -> str:
    """The deterministic id of the DM channel between two participants (order does not matter)."""
    low, high = sorted((entity_id.lower(), other_id.lower()))
    return str(uuid.uuid5(DM_NAMESPACE, f"{low}:{high}"))


def dm_metadata(target_id: str) -> JsonObject:
    """What makes a new channel a DM with ``target_id`` on ElizaOS and on this server."""
    return {"isDm": True, "channelType": "DM", "targetUserId": target_id}


def handshake_auth(
    dialect: Dialect, entity_id: str, api_key: str | None, token: str | None = None
) -> JsonObject | None:
    """eliza17 sends ``{entityId, apiKey?, token?}``; seed sends none (its key and token go in headers)."""
    if dialect == "eliza17":
        auth: JsonObject = {"entityId": entity_id}
        if api_key:
            auth["apiKey"] = api_key
        if token:
            auth["token"] = token
        return auth
    return None


def handshake_headers(api_key: str | None, token: str | None = None) -> dict[str, str]:
    """The API key as ``X-API-KEY`` and a signed token as ``Authorization: Bearer`` (REST and handshake alike)."""
    headers = {"X-API-KEY": api_key} if api_key else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def token_subject(token: str) -> str:
    """The ``sub`` a signed token names (read, not verified: the server verifies it)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        subject = claims["sub"]
    except (IndexError, ValueError, KeyError, TypeError) as exc:
        raise ValueError("token must be a signed JWT (header.payload.signature) whose sub is your entity id") from exc
    if not isinstance(subject, str):
        raise ValueError(f"the token's sub must be your entity id (a UUID), not {subject!r}")
    return subject


def _channel(dialect: Dialect, channel_id: str, server_id: str) -> JsonObject:
    if dialect == "eliza17":
        return {"channelId": channel_id, "messageServerId": server_id}
    return {"roomId": channel_id}


def join_envelope(
    dialect: Dialect,
    channel_id: str,
    entity_id: str,
    *,
    server_id: str = DEFAULT_SERVER_ID,
    metadata: JsonObject | None = None,
    agent_id: str | None = None,
    last_seq: int | None = None,
) -> JsonObject:
    """``last_seq``: a rejoin; the server sends what the channel got after that offset first."""
    payload: JsonObject = {**_channel(dialect, channel_id, server_id), "entityId": entity_id}
    if metadata:
        payload["metadata"] = metadata
    if agent_id:
        payload["agentId"] = agent_id
    if last_seq is not None:
        payload["lastSeq"] = last_seq
    return {"type": int(SocketMessageType.ROOM_JOINING), "payload": payload}


def send_envelope(
    dialect: Dialect,
    channel_id: str,
    *,
    sender_id: str,
    sender_name: str,
    text: str,
    client_message_id: str,
    server_id: str = DEFAULT_SERVER_ID,
    source: str = "python-sdk",
    attachments: list[Any] | None = None,
    metadata: JsonObject | None = None,
    target_user_id: str | None = None,
) -> JsonObject:
    payload: JsonObject = {
        "senderId": sender_id,
        "senderName": sender_name,
        "message": text,
        **_channel(dialect, channel_id, server_id),
        "messageId": client_message_id,
        "source": source,
        "attachments": attachments or [],
        "metadata": metadata or {},
    }
    if target_user_id:
        payload["targetUserId"] = target_user_id
    return {"type": int(SocketMessageType.SEND_MESSAGE), "payload": payload}


def typing_payload(dialect: Dialect, channel_id: str, user_id: str, is_typing: bool) -> JsonObject:
    key = "channelId" if dialect == "eliza17" else "roomId"
    return {key: channel_id, "userId": user_id, "isTyping": is_typing}

"""The REST shapes of stored records: ElizaOS's central message, bus message, agent responses, sessions.

Pure functions of stored records, like the socket payloads of ``messaging/views.py``, so what
REST returns is what the store holds and history read back matches what was broadcast.
ElizaOS sends its internal bus shape (snake_case) back from message posts; its api-client reads
camelCase: both spellings are given.
"""

from __future__ import annotations

from ...messaging.clock import iso
from ...messaging.views import channel_payload
from ...protocol.types import DEFAULT_SERVER_ID
from ...records import Channel, ChatSession, Message, MessageServer
from ...types import JsonObject


def bus_message(message: Message, server_id: str) -> JsonObject:
    """ElizaOS's ``MessageServiceStructure``, with the camelCase names alongside."""
    return {
        "id": message.id,
        "channel_id": message.channel_id,
        "message_server_id": server_id,
        "server_id": server_id,
        "author_id": message.author_id,
        "author_display_name": message.author_name,
        "content": message.content,
        "raw_message": message.raw_message,
        "source_id": message.source_id,
        "source_type": message.source_type,
        "in_reply_to_message_id": message.in_reply_to_root_message_id,
        "created_at": message.created_at,
        "metadata": message.metadata,
        "channelId": message.channel_id,
        "messageServerId": server_id,
        "authorId": message.author_id,
        "text": message.content,
        "sourceType": message.source_type,
        "inReplyTo": message.in_reply_to_root_message_id,
        "createdAt": message.created_at,
        "clientMessageId": message.client_message_id,
        "seq": message.seq,
    }


def agent_response(message: Message) -> JsonObject:
    """An agent's stored reply as ElizaOS's response content (``text``, ``thought``, ``actions``)."""
    meta = message.metadata
    body: JsonObject = {
        "id": message.id,
        "messageId": message.id,
        "text": message.content,
        "agentId": message.author_id,
        "channelId": message.channel_id,
        "inReplyTo": message.in_reply_to_root_message_id,
        "createdAt": message.created_at,
        "seq": message.seq,
        "metadata": meta,
    }
    if isinstance(meta.get("thought"), str):
        body["thought"] = meta["thought"]
    if isinstance(meta.get("actions"), list):
        body["actions"] = meta["actions"]
    return body


def timeout_config(session: ChatSession) -> JsonObject:
    return {
        "timeoutMinutes": _number(session.timeout_minutes),
        "autoRenew": session.auto_renew,
        "maxDurationMinutes": _number(session.max_duration_minutes),
        "warningThresholdMinutes": _number(session.warning_threshold_minutes),
    }


def session_created(session: ChatSession) -> JsonObject:
    return {
        "sessionId": session.id,
        "channelId": session.channel_id,
        "agentId": session.agent_id,
        "userId": session.user_id,
        "createdAt": iso(session.created_at),
        "metadata": session.metadata,
        "expiresAt": iso(session.expires_at),
        "timeoutConfig": timeout_config(session),
    }


def session_info(session: ChatSession, now: int) -> JsonObject:
    remaining = max(0, session.expires_at - now)
    warning_ms = session.warning_threshold_minutes * 60_000
    return {
        **session_created(session),
        "lastActivity": iso(session.last_activity),
        "renewalCount": session.renewal_count,
        "timeRemaining": remaining,
        "isNearExpiration": 0 < remaining <= warning_ms,
    }


def simplified_message(message: Message) -> JsonObject:
    """ElizaOS's ``SimplifiedMessage``; ``createdAtMs`` added for computing cursors without parsing dates."""
    return {
        "id": message.id,
        "content": message.content,
        "authorId": message.author_id,
        "isAgent": message.source_type == "agent_response",
        "createdAt": iso(message.created_at),
        "createdAtMs": message.created_at,
        "seq": message.seq,
        "metadata": history_metadata(message),
    }


def _number(value: float) -> int | float:
    """Minutes as given: whole numbers stay integers on the wire."""
    return int(value) if float(value).is_integer() else value


def rest_message(message: Message, server_id: str) -> JsonObject:
    """ElizaOS's central-message shape, with the broadcast's names alongside for easy clients."""
    return {
        "id": message.id,
        "channelId": message.channel_id,
        "roomId": message.channel_id,
        "serverId": server_id,
        "messageServerId": server_id,
        "authorId": message.author_id,
        "senderId": message.author_id,
        "senderName": message.author_name,
        "authorDisplayName": message.author_name,
        "content": message.content,
        "text": message.content,
        "rawMessage": message.raw_message,
        "inReplyToRootMessageId": message.in_reply_to_root_message_id,
        "sourceType": message.source_type,
        "sourceId": message.source_id,
        "metadata": history_metadata(message),
        "attachments": list(message.raw_message.get("attachments") or []),
        "clientMessageId": message.client_message_id,
        "createdAt": message.created_at,
        "updatedAt": message.updated_at,
        "created_at": message.created_at,
        "updated_at": message.updated_at,
        "seq": message.seq,
    }


def history_metadata(message: Message) -> JsonObject:
    """ElizaOS's history puts ``thought``, ``actions`` and ``attachments`` in ``metadata``, where its web
    client reads them back; the stored metadata wins where it has them already."""
    extra: JsonObject = {k: message.raw_message[k] for k in ("thought", "actions") if k in message.raw_message}
    if message.raw_message.get("attachments"):
        extra["attachments"] = message.raw_message["attachments"]
    return {**extra, **message.metadata}


def _times(created_at: int, updated_at: int) -> JsonObject:
    """ElizaOS's REST sends a server's and a channel's times as ISO text (its web client keeps them as
    strings); the epoch milliseconds stay alongside, for clients that compute with them."""
    return {
        "createdAt": iso(created_at),
        "updatedAt": iso(updated_at),
        "createdAtMs": created_at,
        "updatedAtMs": updated_at,
    }


# What a memory's metadata says of its message; ours, so an edit's metadata cannot overwrite them.
MEMORY_METADATA = ("type", "source", "entityName", "timestamp", "seq", "updatedAt", "messageServerId")


def memory(message: Message, agent_id: str) -> JsonObject:
    """ElizaOS's ``Memory`` of a stored message, as the agent ``agent_id`` holds it (``roomId``: the
    channel). No ``embedding``: ElizaOS leaves it out unless asked, and this store keeps none to send."""
    meta = history_metadata(message)
    content: JsonObject = {"text": message.content, "source": message.source_type}
    if isinstance(meta.get("thought"), str):
        content["thought"] = meta["thought"]
    if isinstance(meta.get("actions"), list):
        content["actions"] = meta["actions"]
    if message.raw_message.get("attachments"):
        content["attachments"] = message.raw_message["attachments"]
    if message.in_reply_to_root_message_id:
        content["inReplyTo"] = message.in_reply_to_root_message_id
    server = str(message.raw_message.get("serverId") or DEFAULT_SERVER_ID)  # its channel's, stored at send
    return {
        "id": message.id,
        "entityId": message.author_id,
        "agentId": agent_id,
        "roomId": message.channel_id,
        "channelId": message.channel_id,
        "worldId": server,
        "content": content,
        "createdAt": message.created_at,
        "unique": False,
        "metadata": {
            **meta,
            "type": "message",
            "source": message.source_type,
            "entityName": message.author_name,
            "timestamp": message.created_at,
            "seq": message.seq,
            "updatedAt": message.updated_at,
            "messageServerId": server,
        },
    }


def export_record(message: Message, server_id: str) -> JsonObject:
    """Every stored field of a message, for a channel's export (one JSON Lines row)."""
    return {
        "id": message.id,
        "channelId": message.channel_id,
        "messageServerId": server_id,
        "seq": message.seq,
        "authorId": message.author_id,
        "authorName": message.author_name,
        "content": message.content,
        "rawMessage": message.raw_message,
        "inReplyToRootMessageId": message.in_reply_to_root_message_id,
        "sourceType": message.source_type,
        "sourceId": message.source_id,
        "metadata": message.metadata,
        "clientMessageId": message.client_message_id,
        "createdAt": message.created_at,
        "updatedAt": message.updated_at,
    }


def rest_server(server: MessageServer) -> JsonObject:
    return {
        "id": server.id,
        "name": server.name,
        "sourceType": server.source_type,
        "sourceId": server.source_id,
        "metadata": server.metadata,
        **_times(server.created_at, server.updated_at),
    }


def rest_channel(channel: Channel) -> JsonObject:
    return {**channel_payload(channel), **_times(channel.created_at, channel.updated_at)}

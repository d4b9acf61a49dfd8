"""Builders of every payload the server sends, so each event has one shape everywhere.

Every payload that names a channel carries both ``roomId`` and ``channelId``; every one that
names a server carries both ``serverId`` and ``messageServerId`` (SPEC.md: both dialects).
"""

from __future__ import annotations

from typing import Any

from ..types import JsonObject


def channel_ids(channel_id: str) -> JsonObject:
    return {"channelId": channel_id, "roomId": channel_id}


def server_ids(server_id: str) -> JsonObject:
    return {"serverId": server_id, "messageServerId": server_id}


def connection_established(socket_id: str) -> JsonObject:
    return {"message": "Connected to Eliza messaging server", "socketId": socket_id}


def authenticated(entity_id: str, timestamp_ms: int) -> JsonObject:
    return {"entityId": entity_id, "timestamp": timestamp_ms}


def channel_joined(channel_id: str, server_id: str, agent_id: str | None = None) -> JsonObject:
    payload: JsonObject = {
        "message": f"Successfully joined channel {channel_id}",
        **channel_ids(channel_id),
        **server_ids(server_id),
    }
    if agent_id:
        payload["agentId"] = agent_id
    return payload


def replay_summary(*, missed: int, replayed: int, truncated: bool, last_seq: int) -> JsonObject:
    """What ``channel_joined`` adds after a rejoin with ``lastSeq``: how many messages the socket had
    missed, how many of them were sent again (the newest, when ``truncated``), and the channel's
    latest offset the socket has now seen."""
    return {"missed": missed, "replayed": replayed, "truncated": truncated, "lastSeq": last_seq}


def presence(user_id: str | None, channel_id: str) -> JsonObject:
    return {"userId": user_id, **channel_ids(channel_id)}


def user_typing(user_id: str, channel_id: str, is_typing: bool) -> JsonObject:
    return {"userId": user_id, "isTyping": is_typing, **channel_ids(channel_id)}


def message_broadcast(
    *,
    message_id: str,
    sender_id: str,
    sender_name: str,
    text: str,
    channel_id: str,
    server_id: str,
    created_at_ms: int,
    source: str,
    attachments: list[Any],
    metadata: JsonObject | None,
    in_reply_to: str | None = None,
    thought: str | None = None,
    actions: list[Any] | None = None,
    client_message_id: str | None = None,
    seq: int | None = None,
    replayed: bool = False,
) -> JsonObject:
    """``seq``: the message's offset in its channel (a client resumes from the last one it saw);
    ``replayed``: sent again on a rejoin because the socket missed it."""
    payload: JsonObject = {
        "id": message_id,
        "messageId": message_id,
        "senderId": sender_id,
        "senderName": sender_name,
        "text": text,
        **channel_ids(channel_id),
        **server_ids(server_id),
        "createdAt": created_at_ms,
        "source": source,
        "attachments": attachments,
        "metadata": metadata or {},
    }
    if in_reply_to:
        payload["inReplyTo"] = in_reply_to
    if thought is not None:
        payload["thought"] = thought
    if actions is not None:
        payload["actions"] = actions
    if client_message_id:
        payload["clientMessageId"] = client_message_id
    if seq is not None:
        payload["seq"] = seq
    if replayed:
        payload["replayed"] = True
    return payload


def message_ack(
    *,
    client_message_id: str | None,
    message_id: str,
    channel_id: str,
    status: str,
    created_at_ms: int,
    seq: int | None = None,
) -> JsonObject:
    payload: JsonObject = {
        "clientMessageId": client_message_id,
        "messageId": message_id,
        "status": status,
        "createdAt": created_at_ms,
        **channel_ids(channel_id),
    }
    if seq is not None:
        payload["seq"] = seq
    return payload


def message_error(error: str, *, code: str, field: str | None = None, **context: Any) -> JsonObject:
    payload: JsonObject = {"error": error, "code": code}
    if field:
        payload["field"] = field
    payload.update({k: v for k, v in context.items() if v is not None})
    return payload


def ack_ok(fields: JsonObject) -> JsonObject:
    return {"success": True, **fields}


def ack_error(error: JsonObject) -> JsonObject:
    return {"success": False, **error}


def stream_chunk(*, message_id: str, chunk: str, index: int, agent_id: str, channel_id: str) -> JsonObject:
    return {
        "messageId": message_id,
        "chunk": chunk,
        "index": index,
        "agentId": agent_id,
        **channel_ids(channel_id),
    }


def stream_error(
    *, message_id: str, channel_id: str, agent_id: str, error: str, partial_text: str | None
) -> JsonObject:
    payload: JsonObject = {
        "messageId": message_id,
        "agentId": agent_id,
        "error": error,
        **channel_ids(channel_id),
    }
    if partial_text:
        payload["partialText"] = partial_text
    return payload


def message_complete(channel_id: str, server_id: str) -> JsonObject:
    return {**channel_ids(channel_id), **server_ids(server_id)}


def control_message(action: str, channel_id: str, target: str | None = None) -> JsonObject:
    payload: JsonObject = {"action": action, **channel_ids(channel_id)}
    if target:
        payload["target"] = target
    return payload


def thinking(*, agent_id: str, channel_id: str, message_id: str) -> JsonObject:
    return {"agentId": agent_id, "messageId": message_id, **channel_ids(channel_id)}


def message_deleted(message_id: str, channel_id: str) -> JsonObject:
    return {"messageId": message_id, **channel_ids(channel_id)}


def channel_cleared(channel_id: str) -> JsonObject:
    return {**channel_ids(channel_id)}


def channel_deleted(channel_id: str) -> JsonObject:
    return {**channel_ids(channel_id)}


def channel_updated(channel_id: str, channel: JsonObject) -> JsonObject:
    """ElizaOS sends the new channel as ``updates``; ``channel`` names the same object plainly."""
    return {**channel_ids(channel_id), "updates": channel, "channel": channel}

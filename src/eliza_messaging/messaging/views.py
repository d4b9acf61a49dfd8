"""What messaging emits to sockets about stored records: the broadcast, the ack, a channel.

Pure functions of what the store holds, so a broadcast never shows anything the store does
not have. The REST shapes of the same records live with the routes, in ``gateway/http/views.py``.
"""

from __future__ import annotations

from ..protocol import payloads
from ..records import Channel, Message
from ..types import JsonObject


def broadcast(
    message: Message, server_id: str, *, client_message_id: str | None = None, replayed: bool = False
) -> JsonObject:
    meta = message.metadata
    return payloads.message_broadcast(
        message_id=message.id,
        sender_id=message.author_id,
        sender_name=message.author_name,
        text=message.content,
        channel_id=message.channel_id,
        server_id=server_id,
        created_at_ms=message.created_at,
        source=message.source_type,
        attachments=list(message.raw_message.get("attachments") or []),
        metadata=meta,
        in_reply_to=message.in_reply_to_root_message_id,
        thought=meta.get("thought") if isinstance(meta.get("thought"), str) else None,
        actions=meta.get("actions") if isinstance(meta.get("actions"), list) else None,
        client_message_id=client_message_id,
        seq=message.seq or None,
        replayed=replayed,
    )


def edited(message: Message, server_id: str) -> JsonObject:
    """A stored message changed after it was sent: its broadcast again, with when it changed."""
    return {**broadcast(message, server_id), "updatedAt": message.updated_at, "rawMessage": message.raw_message}


def ack(message: Message) -> JsonObject:
    return payloads.message_ack(
        client_message_id=message.client_message_id,
        message_id=message.id,
        channel_id=message.channel_id,
        status="received_by_server_and_processing",
        created_at_ms=message.created_at,
        seq=message.seq or None,
    )


def channel_payload(channel: Channel) -> JsonObject:
    """A channel as ``channelUpdated`` carries it (REST answers with the same shape)."""
    return {
        "id": channel.id,
        "messageServerId": channel.message_server_id,
        "serverId": channel.message_server_id,
        "name": channel.name,
        "type": channel.type,
        "sourceType": channel.source_type,
        "sourceId": channel.source_id,
        "topic": channel.topic,
        "metadata": channel.metadata,
        "createdAt": channel.created_at,
        "updatedAt": channel.updated_at,
    }

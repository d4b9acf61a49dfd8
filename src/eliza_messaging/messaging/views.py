"""How a stored message looks on the wire: the broadcast and the REST shapes.

Both are pure functions of what the store holds, so a broadcast never shows anything the
store does not have, and history read back over REST matches what was broadcast.
"""

from __future__ import annotations

from ..protocol import payloads
from ..records import Channel, Message, MessageServer
from ..types import JsonObject


def broadcast(message: Message, server_id: str, *, client_message_id: str | None = None) -> JsonObject:
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
    )


def ack(message: Message) -> JsonObject:
    return payloads.message_ack(
        client_message_id=message.client_message_id,
        message_id=message.id,
        channel_id=message.channel_id,
        status="received_by_server_and_processing",
        created_at_ms=message.created_at,
    )


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
    }


def history_metadata(message: Message) -> JsonObject:
    """ElizaOS's history puts ``thought``, ``actions`` and ``attachments`` in ``metadata``, where its web
    client reads them back; the stored metadata wins where it has them already."""
    extra: JsonObject = {k: message.raw_message[k] for k in ("thought", "actions") if k in message.raw_message}
    if message.raw_message.get("attachments"):
        extra["attachments"] = message.raw_message["attachments"]
    return {**extra, **message.metadata}


def rest_server(server: MessageServer) -> JsonObject:
    return {
        "id": server.id,
        "name": server.name,
        "sourceType": server.source_type,
        "sourceId": server.source_id,
        "metadata": server.metadata,
        "createdAt": server.created_at,
        "updatedAt": server.updated_at,
    }


def rest_channel(channel: Channel) -> JsonObject:
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

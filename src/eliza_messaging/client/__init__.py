"""The Python SDK: connect, join, send, receive, stream agent replies, survive reconnects.

Quick start (see docs/python-sdk.md)::

    from eliza_messaging.client import ElizaClient

    async with ElizaClient("http://localhost:3000") as client:
        eliza = await client.find_agent("Eliza")
        channel = await client.join_dm(eliza.id)
        sent = await client.send(channel, "Hello, I feel anxious.")
        async for chunk in client.stream_reply(sent.id):
            print(chunk.text, end="", flush=True)
"""

from __future__ import annotations

from .async_client import ElizaClient
from .dialects import DIALECTS, Dialect, dm_channel_id, dm_metadata
from .errors import (
    AgentNotFound,
    ConnectError,
    ConnectionLost,
    ElizaClientError,
    JoinError,
    JoinTimeout,
    NotConnected,
    ReplyError,
    ReplyTimeout,
    RequestError,
    SendError,
    SendTimeout,
)
from .models import Agent, Message, ReplyChunk, TypingEvent
from .streams import MessageSubscription, ReplyStream
from .sync_client import ElizaClientSync, SyncReplyStream

__all__ = [
    "DIALECTS",
    "Agent",
    "AgentNotFound",
    "ConnectError",
    "ConnectionLost",
    "Dialect",
    "ElizaClient",
    "ElizaClientError",
    "ElizaClientSync",
    "JoinError",
    "JoinTimeout",
    "Message",
    "MessageSubscription",
    "NotConnected",
    "ReplyChunk",
    "ReplyError",
    "ReplyStream",
    "ReplyTimeout",
    "RequestError",
    "SendError",
    "SendTimeout",
    "SyncReplyStream",
    "TypingEvent",
    "dm_channel_id",
    "dm_metadata",
]

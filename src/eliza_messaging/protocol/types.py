"""Message types and event names exactly as ElizaOS clients spell them."""

from __future__ import annotations

from enum import IntEnum
from typing import Final

DEFAULT_SERVER_ID: Final = "00000000-0000-0000-0000-000000000000"
MAX_FRAME_BYTES: Final = 1_000_000


class SocketMessageType(IntEnum):
    """The ``type`` field of the ``message`` event."""

    ROOM_JOINING = 1
    SEND_MESSAGE = 2
    MESSAGE = 3
    ACK = 4
    THINKING = 5
    CONTROL = 6


class ChannelType:
    """Channel types of the ElizaOS data model."""

    SELF: Final = "SELF"
    DM: Final = "DM"
    GROUP: Final = "GROUP"
    VOICE_DM: Final = "VOICE_DM"
    VOICE_GROUP: Final = "VOICE_GROUP"
    FEED: Final = "FEED"
    THREAD: Final = "THREAD"
    WORLD: Final = "WORLD"
    FORUM: Final = "FORUM"
    API: Final = "API"

    ALL: Final = frozenset({SELF, DM, GROUP, VOICE_DM, VOICE_GROUP, FEED, THREAD, WORLD, FORUM, API})


class Event:
    """Socket.IO event names, both directions."""

    # client -> server
    MESSAGE: Final = "message"
    JOIN_SHORT: Final = "1"
    SEND_SHORT: Final = "2"
    TYPING: Final = "typing"
    # server -> client
    CONNECTION_ESTABLISHED: Final = "connection_established"
    AUTHENTICATED: Final = "authenticated"
    CHANNEL_JOINED: Final = "channel_joined"
    ROOM_JOINED: Final = "room_joined"
    MESSAGE_BROADCAST: Final = "messageBroadcast"
    MESSAGE_ACK: Final = "messageAck"
    MESSAGE_ERROR: Final = "messageError"
    MESSAGE_STREAM_CHUNK: Final = "messageStreamChunk"
    MESSAGE_STREAM_ERROR: Final = "messageStreamError"
    MESSAGE_COMPLETE: Final = "messageComplete"
    CONTROL_MESSAGE: Final = "controlMessage"
    USER_JOINED: Final = "userJoined"
    USER_LEFT: Final = "userLeft"
    USER_TYPING: Final = "userTyping"
    MESSAGE_DELETED: Final = "messageDeleted"
    CHANNEL_CLEARED: Final = "channelCleared"
    CHANNEL_DELETED: Final = "channelDeleted"
    CHANNEL_UPDATED: Final = "channelUpdated"

"""Request bodies of the REST API, as ElizaOS clients send them.

Field names follow ElizaOS (its routes mix snake_case and camelCase); where clients of
different versions spell a field differently, every spelling is accepted (the first is the
one documented). The models check shapes and ids; the messaging layer checks the rest
(lengths, NUL characters, nesting), so a socket and a REST client get the same answers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, model_validator

from ...types import JsonObject, is_uuid

EXAMPLE_UUID = "5f3c1a52-8e1b-4a43-9a0e-2b7f0c1d9e11"
NO_NUL = "^[^\u0000]*$"  # documents what the messaging layer refuses: text with U+0000


def _uuid(value: str) -> str:
    if not is_uuid(value):
        raise ValueError(f"must be a UUID such as '{EXAMPLE_UUID}', but got '{value[:40]}'")
    return value


Uuid = Annotated[str, AfterValidator(_uuid), Field(json_schema_extra={"format": "uuid"})]
Name = Annotated[str, Field(min_length=1, max_length=256, json_schema_extra={"pattern": NO_NUL})]
Text = Annotated[str, Field(json_schema_extra={"pattern": NO_NUL})]


def _aliases(*names: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(*names))


class Body(BaseModel):
    """Unknown fields are ignored, as ElizaOS ignores them; text anywhere must be valid Unicode."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        """JSON may escape half a surrogate pair (``"\\ud800"``); no database can store that text."""
        where = _unpaired_surrogate(data)
        if where is not None:
            raise ValueError(
                f"{where or 'the body'} contains an unpaired surrogate, which is not valid Unicode; send UTF-8 text"
            )
        return data


def _unpaired_surrogate(data: Any) -> str | None:
    """The path of the first string (or key) holding half a surrogate pair, iteratively (bodies may be deep)."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if not value.isascii() and not _encodable(value):
                return path
        elif isinstance(value, dict):
            for key, item in value.items():
                inner = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and not key.isascii() and not _encodable(key):
                    return inner
                stack.append((item, inner))
        elif isinstance(value, list):
            stack.extend((item, f"{path}.{i}") for i, item in enumerate(value))
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# message servers ------------------------------------------------------------------------


class CreateServerBody(Body):
    name: Name
    sourceType: Name
    sourceId: str | None = None
    metadata: JsonObject | None = None
    id: Uuid | None = Field(default=None, description="Optional id chosen by the client")


class AgentRef(Body):
    agentId: Uuid


# channels -------------------------------------------------------------------------------


class CreateChannelBody(Body):
    name: Name
    type: str = Field(default="GROUP", description="GROUP, DM, API, ... (ElizaOS channel types)")
    messageServerId: Uuid | None = _aliases("messageServerId", "serverId", "server_id", "message_server_id")
    id: Uuid | None = Field(default=None, description="Optional channel id chosen by the client")
    sourceType: str | None = None
    sourceId: str | None = None
    topic: str | None = _aliases("topic", "description")
    metadata: JsonObject | None = None
    participantCentralUserIds: list[Uuid] | None = Field(
        default=None, max_length=1000, validation_alias=AliasChoices("participantCentralUserIds", "participantIds")
    )


class UpdateChannelBody(Body):
    name: Name | None = None
    type: str | None = None
    topic: str | None = _aliases("topic", "description")
    metadata: JsonObject | None = Field(default=None, description="Replaces the channel's metadata")
    participantCentralUserIds: list[Uuid] | None = Field(
        default=None, max_length=1000, validation_alias=AliasChoices("participantCentralUserIds", "participantIds")
    )


# messages -------------------------------------------------------------------------------

TransportName = Literal["websocket", "http", "sse"]
LegacyMode = Literal["websocket", "sync", "stream"]


class PostMessageBody(Body):
    """A user's message to a channel, handed to the agents like one sent over Socket.IO."""

    author_id: Uuid = Field(validation_alias=AliasChoices("author_id", "authorId", "senderId"))
    content: Text = Field(validation_alias=AliasChoices("content", "text", "message"))
    message_server_id: Uuid | None = _aliases("message_server_id", "server_id", "messageServerId", "serverId")
    in_reply_to_message_id: Uuid | None = _aliases("in_reply_to_message_id", "inReplyTo")
    raw_message: JsonObject | str | None = None
    metadata: JsonObject | None = None
    source_type: str | None = None
    messageId: Uuid | None = Field(default=None, description="The client's own id; a retry with it is stored once")
    attachments: list[Any] | None = None
    transport: TransportName | None = Field(
        default=None, description="websocket (default): answer at once; http: wait for the reply; sse: stream it"
    )
    mode: LegacyMode | None = Field(default=None, description="Older name of transport (sync = http, stream = sse)")


class AgentMessageBody(Body):
    """A message an agent runtime posts (``/submit``, ``/action``)."""

    channel_id: Uuid
    message_server_id: Uuid = Field(
        validation_alias=AliasChoices("message_server_id", "server_id", "messageServerId", "serverId")
    )
    author_id: Uuid
    content: Text
    source_type: Name
    raw_message: JsonObject | str
    in_reply_to_message_id: Uuid | None = None
    metadata: JsonObject | None = None
    messageId: Uuid | None = Field(default=None, description="Id to store the message under (stream coordination)")


class UpdateActionBody(Body):
    content: Text | None = None
    raw_message: JsonObject | str | None = None
    source_type: Name | None = None
    in_reply_to_message_id: Uuid | None = None
    metadata: JsonObject | None = None
    author_id: Uuid | None = None
    server_message_id: Uuid | None = None


class IngestBody(Body):
    """A message from another platform (Discord, Telegram, ...), handed to the agents."""

    channel_id: Uuid
    message_server_id: Uuid = Field(
        validation_alias=AliasChoices("message_server_id", "server_id", "messageServerId", "serverId")
    )
    author_id: Uuid
    content: Text
    author_display_name: str | None = None
    raw_message: JsonObject | str | None = None
    source_id: str | None = None
    source_type: str | None = None
    in_reply_to_message_id: Uuid | None = None
    metadata: JsonObject | None = None


# sessions -------------------------------------------------------------------------------


class TimeoutConfigBody(Body):
    timeoutMinutes: float | None = Field(default=None, description="Inactivity timeout, 5-1440 (default 30)")
    autoRenew: bool | None = Field(default=None, description="Renew on activity (default true)")
    maxDurationMinutes: float | None = Field(default=None, description="Longest life of the session (default 720)")
    warningThresholdMinutes: float | None = Field(default=None, description="Near-expiry warning (default 5)")


class CreateSessionBody(Body):
    agentId: str = Field(json_schema_extra={"format": "uuid"})
    userId: str = Field(json_schema_extra={"format": "uuid"})
    metadata: JsonObject | None = None
    timeoutConfig: TimeoutConfigBody | None = None


class SessionMessageBody(Body):
    content: str = Field(json_schema_extra={"minLength": 1, "maxLength": 4000, "pattern": NO_NUL})
    attachments: list[Any] | None = None
    metadata: JsonObject | None = None
    transport: TransportName | None = Field(
        default=None, description="websocket (default): answer at once; http: wait for the reply; sse: stream it"
    )
    mode: LegacyMode | None = Field(default=None, description="Older name of transport (sync = http, stream = sse)")


# jobs -------------------------------------------------------------------------------------


class CreateJobBody(Body):
    """ElizaOS's CreateJobRequest; the bounds are checked by ``messaging.jobs`` (ElizaOS's sentences)."""

    agentId: str | None = Field(
        default=None, json_schema_extra={"format": "uuid"}, description="The agent (default: the first one)"
    )
    userId: str = Field(json_schema_extra={"format": "uuid"}, description="Who asks (a client may only be itself)")
    content: str = Field(
        json_schema_extra={"minLength": 1, "maxLength": 50_000, "pattern": NO_NUL}, description="The prompt"
    )
    timeoutMs: float | None = Field(
        default=None, json_schema_extra={"minimum": 1000, "maximum": 300_000}, description="1000-300000 (30000)"
    )
    metadata: JsonObject | None = Field(default=None, description="Kept with the job (at most 10 KiB as JSON)")

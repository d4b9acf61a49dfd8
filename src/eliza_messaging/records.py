"""The domain records: what the messaging memory holds, independent of any database."""

from __future__ import annotations

from dataclasses import dataclass, field

from .types import JsonObject


@dataclass(frozen=True, slots=True)
class MessageServer:
    id: str
    name: str
    source_type: str
    source_id: str | None = None
    metadata: JsonObject = field(default_factory=dict)
    created_at: int = 0
    updated_at: int = 0


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    message_server_id: str
    name: str
    type: str
    source_type: str | None = None
    source_id: str | None = None
    topic: str | None = None
    metadata: JsonObject = field(default_factory=dict)
    created_at: int = 0
    updated_at: int = 0


@dataclass(frozen=True, slots=True)
class Message:
    """A stored message. ``client_message_id`` is the sender's own id, kept for idempotency.

    ``seq`` is the message's offset in its channel: assigned by the store when it is appended
    (1, 2, 3, ... per channel, in commit order, never reused), 0 before that. A client that
    remembers the last ``seq`` it saw can ask for exactly what it missed.
    """

    id: str
    channel_id: str
    author_id: str
    author_name: str
    content: str
    source_type: str
    created_at: int
    updated_at: int
    raw_message: JsonObject = field(default_factory=dict)
    in_reply_to_root_message_id: str | None = None
    source_id: str | None = None
    metadata: JsonObject = field(default_factory=dict)
    client_message_id: str | None = None
    seq: int = 0


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """The outcome of an append: the message as stored, whether this call created it, and (for one
    stored before) whether it has been published to its room and the agents yet (the outbox)."""

    message: Message
    created: bool
    published: bool = True


@dataclass(frozen=True, slots=True)
class ChatSession:
    """A Sessions API conversation: one user, one agent, one channel, and its timeout policy.

    Times are epoch milliseconds; timeout settings are minutes, as ElizaOS takes them.
    """

    id: str
    agent_id: str
    user_id: str
    channel_id: str
    timeout_minutes: float
    auto_renew: bool
    max_duration_minutes: float
    warning_threshold_minutes: float
    created_at: int
    last_activity: int
    expires_at: int
    renewal_count: int = 0
    metadata: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Job:
    """A one-off prompt to an agent (the Jobs API): its channel, its status and, once answered, the result.

    ``status``: pending, processing, completed, failed or timeout. Times are epoch milliseconds;
    ``result`` is ElizaOS's ``{message: {id, content, authorId, createdAt, metadata}, processingTimeMs}``.
    """

    id: str
    agent_id: str
    user_id: str
    channel_id: str
    content: str
    status: str
    created_at: int
    expires_at: int
    user_message_id: str | None = None
    result: JsonObject | None = None
    error: str | None = None
    finished_at: int | None = None
    metadata: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelCall:
    """One call an agent made to its model: sizes and timing only, never the text (logs stay quiet).

    ``kind`` is ElizaOS's model type (``TEXT_LARGE`` for a reply, ``TEXT_SMALL`` for deciding whether
    to answer); ``outcome`` is ``ok``, ``error``, ``timeout`` or ``cancelled``.
    """

    id: str
    kind: str
    model: str
    started_at: int
    duration_ms: int
    prompt_chars: int
    response_chars: int
    outcome: str


@dataclass(frozen=True, slots=True)
class AgentRun:
    """An agent's processing of one message (ElizaOS's "run"): from taking it to its outcome.

    ``status`` is ElizaOS's (``started``, ``completed``, ``timeout``, ``error``); ``outcome`` says
    which ending (``replied``, ``ignored``, ``superseded``, ``failed``, ...). ``calls`` holds the
    first calls in detail; ``model_calls`` and ``errors`` count them all.
    """

    id: str
    agent_id: str
    message_id: str
    channel_id: str
    entity_id: str
    started_at: int
    status: str = "started"
    ended_at: int | None = None
    outcome: str | None = None
    error: str | None = None
    model_calls: int = 0
    errors: int = 0
    calls: tuple[ModelCall, ...] = ()

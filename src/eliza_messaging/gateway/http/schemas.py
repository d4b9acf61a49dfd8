"""Response bodies, for the OpenAPI document only: routes build their JSON from gateway/http/views.py.

Each model mirrors one view function; the schemathesis test checks every response against
these, so a view and its model cannot drift apart unnoticed.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from ...types import JsonObject

T = TypeVar("T")


class Ok(BaseModel, Generic[T]):
    success: Literal[True]
    data: T


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable code, e.g. INVALID_PAYLOAD, VALIDATION_ERROR, NOT_FOUND")
    message: str = Field(description="What is wrong and how to fix it")
    field: str | None = Field(None, description="The field at fault (the first, when several are)")
    fields: list[str] | None = Field(None, description="Every field at fault, when more than one is")
    allowed: list[str] | None = Field(None, description="Uploads: the types that may be uploaded (415)")
    retryAfterMs: int | None = Field(None, description="Over the rate (429): when to try again")


class ErrorEnvelope(BaseModel):
    success: Literal[False]
    error: ErrorDetail


class SessionErrorDetail(BaseModel):
    code: str = Field(description="VALIDATION_ERROR, SESSION_NOT_FOUND, SESSION_EXPIRED, AGENT_NOT_FOUND, ...")
    message: str
    timestamp: str


class SessionErrorBody(BaseModel):
    error: SessionErrorDetail


class AuthErrorBody(BaseModel):
    error: str
    message: str


# message servers and channels -----------------------------------------------------------


class ServerView(BaseModel):
    id: str
    name: str
    sourceType: str
    sourceId: str | None
    metadata: JsonObject
    createdAt: str = Field(description="ISO 8601, as ElizaOS sends it")
    updatedAt: str = Field(description="ISO 8601, as ElizaOS sends it")
    createdAtMs: int
    updatedAtMs: int


class ServerList(BaseModel):
    messageServers: list[ServerView]
    servers: list[ServerView]


class CurrentServer(BaseModel):
    messageServerId: str
    serverId: str


class ServerCreated(BaseModel):
    server: ServerView
    messageServer: ServerView


class ServerAgents(BaseModel):
    serverId: str
    messageServerId: str
    agents: list[str]


class AgentServers(BaseModel):
    agentId: str
    messageServers: list[str]


class GeneratedTitle(BaseModel):
    channelId: str
    title: str | None
    reason: str | None = None


class ServerAgentChange(BaseModel):
    serverId: str
    messageServerId: str
    agentId: str
    message: str


class ChannelView(BaseModel):
    id: str
    messageServerId: str
    serverId: str
    name: str
    type: str
    sourceType: str | None
    sourceId: str | None
    topic: str | None
    metadata: JsonObject
    createdAt: str = Field(description="ISO 8601, as ElizaOS sends it")
    updatedAt: str = Field(description="ISO 8601, as ElizaOS sends it")
    createdAtMs: int
    updatedAtMs: int


class ChannelList(BaseModel):
    channels: list[ChannelView]


class ChannelAgents(BaseModel):
    channelId: str
    participants: list[str] = Field(description="Every participant, users and agents")
    agents: list[str] = Field(description="The participants that are registered agents")


class ChannelAgentChange(BaseModel):
    channelId: str
    agentId: str
    message: str


# messages -------------------------------------------------------------------------------


class MessageView(BaseModel):
    id: str
    channelId: str
    roomId: str
    serverId: str
    messageServerId: str
    authorId: str
    senderId: str
    senderName: str
    authorDisplayName: str
    content: str
    text: str
    rawMessage: JsonObject
    inReplyToRootMessageId: str | None
    sourceType: str
    sourceId: str | None
    metadata: JsonObject
    attachments: list[Any]
    clientMessageId: str | None
    createdAt: int
    updatedAt: int
    created_at: int
    updated_at: int
    seq: int = Field(description="The message's offset in its channel (1, 2, 3, ...): resume with afterSeq")


class MessageList(BaseModel):
    messages: list[MessageView]
    limit: int = Field(description="The page size used: the one asked for, at most 1000")


class SearchHitView(BaseModel):
    message: MessageView
    score: float = Field(description="Higher is better; comparable only within one answer")
    snippet: str = Field(description="Where it matched, matched words between ** (keyword); else the text's start")


class SearchResults(BaseModel):
    results: list[SearchHitView]
    mode: Literal["keyword", "semantic", "hybrid"] = Field(description="The mode that answered")
    notice: str | None = Field(None, description="Why the answer's mode differs from the one asked for")


class BusMessageView(BaseModel):
    """ElizaOS's MessageServiceStructure (snake_case) with camelCase names alongside."""

    id: str
    channel_id: str
    message_server_id: str
    server_id: str
    author_id: str
    author_display_name: str
    content: str
    raw_message: JsonObject
    source_id: str | None
    source_type: str
    in_reply_to_message_id: str | None
    created_at: int
    metadata: JsonObject
    channelId: str
    messageServerId: str
    authorId: str
    text: str
    sourceType: str
    inReplyTo: str | None
    createdAt: int
    clientMessageId: str | None
    seq: int = Field(description="The message's offset in its channel (1, 2, 3, ...): resume with afterSeq")


class AgentResponseView(BaseModel):
    id: str
    messageId: str
    text: str
    agentId: str
    channelId: str
    inReplyTo: str | None
    createdAt: int
    seq: int = Field(description="The message's offset in its channel (1, 2, 3, ...): resume with afterSeq")
    metadata: JsonObject
    thought: str | None = None
    actions: list[Any] | None = None


class PostedMessage(BaseModel):
    """``data`` (ElizaOS 1.x) and ``userMessage`` (1.7 transports) are the same stored message."""

    success: Literal[True]
    data: BusMessageView
    userMessage: BusMessageView
    duplicate: bool = Field(description="True when this client messageId was stored before (nothing re-sent)")
    agentResponse: AgentResponseView | None = Field(
        default=None, description="transport http only: the agent's stored reply, null when it stayed silent"
    )


class Ingested(BaseModel):
    success: Literal[True]
    message: str
    data: dict[str, str]


# sessions -------------------------------------------------------------------------------


class TimeoutConfigView(BaseModel):
    timeoutMinutes: float
    autoRenew: bool
    maxDurationMinutes: float
    warningThresholdMinutes: float


class SessionCreated(BaseModel):
    sessionId: str
    channelId: str
    agentId: str
    userId: str
    createdAt: str
    metadata: JsonObject
    expiresAt: str
    timeoutConfig: TimeoutConfigView


class SessionInfo(SessionCreated):
    lastActivity: str
    renewalCount: int
    timeRemaining: int = Field(description="Milliseconds until expiry")
    isNearExpiration: bool


class SessionStatus(BaseModel):
    expiresAt: str
    renewalCount: int
    wasRenewed: bool
    isNearExpiration: bool


class SessionMessageSent(BaseModel):
    success: Literal[True]
    userMessage: BusMessageView
    sessionStatus: SessionStatus
    agentResponse: AgentResponseView | None = Field(
        default=None, description="transport http only: the agent's stored reply, null when it stayed silent"
    )


class SimplifiedMessage(BaseModel):
    id: str
    content: str
    authorId: str
    isAgent: bool
    createdAt: str
    createdAtMs: int
    seq: int = Field(description="The message's offset in its channel (1, 2, 3, ...): resume with afterSeq")
    metadata: JsonObject


class Cursors(BaseModel):
    before: int | None = Field(description="Pass as before= for older messages")
    after: int | None = Field(description="Pass as after= for newer messages")
    beforeSeq: int | None = Field(description="Pass as beforeSeq= for older messages, by offset")
    afterSeq: int | None = Field(description="Pass as afterSeq= for newer messages, by offset")


class SessionMessages(BaseModel):
    messages: list[SimplifiedMessage]
    hasMore: bool
    limit: int = Field(description="The page size used: the one asked for, at most 100")
    cursors: Cursors


class SessionStats(BaseModel):
    totalSessions: int
    activeSessions: int
    expiredSessions: int


class SessionList(BaseModel):
    sessions: list[SessionInfo]
    total: int
    stats: SessionStats


class SessionDeleted(BaseModel):
    success: Literal[True]
    message: str


class SessionsHealth(BaseModel):
    status: str
    activeSessions: int
    expiringSoon: int
    timestamp: str
    uptime: float


# the ElizaOS web client's views of the server and its agents -------------------------------


class VersionInfo(BaseModel):
    version: str
    source: str
    timestamp: str
    environment: str
    uptime: float = Field(description="Seconds since the server started")


class LogEntry(BaseModel):
    time: int
    level: int = Field(description="pino's numbers: 10 trace ... 60 fatal")
    levelName: str
    logger: str
    msg: str
    agentName: str | None = None


class ServerLogs(BaseModel):
    logs: list[LogEntry]
    count: int
    total: int
    requestedLevel: str
    agentName: str
    levels: list[str]


class RunCounts(BaseModel):
    actions: int
    modelCalls: int
    errors: int
    evaluators: int


class RunSummary(BaseModel):
    runId: str
    status: str = Field(description="started, completed, timeout or error")
    startedAt: int
    endedAt: int | None
    durationMs: int | None
    messageId: str
    roomId: str
    entityId: str
    counts: RunCounts
    metadata: JsonObject


class RunList(BaseModel):
    runs: list[RunSummary]
    total: int
    hasMore: bool


class RunEvent(BaseModel):
    type: str
    timestamp: int
    data: JsonObject


class RunDetail(BaseModel):
    summary: RunSummary
    events: list[RunEvent]


class ModelCallLog(BaseModel):
    id: str
    entityId: str
    roomId: str
    type: str = Field(description="useModel:<model type>")
    createdAt: str
    body: JsonObject = Field(description="sizes, duration, model and outcome; never the prompt or the reply")


# the memory API (ElizaOS's /api/memory) and the user's control over the memory --------------


class MemoryContent(BaseModel):
    text: str
    source: str
    thought: str | None = None
    actions: list[str] | None = None
    attachments: list[Any] | None = None
    inReplyTo: str | None = None


class MemoryView(BaseModel):
    """ElizaOS's Memory of a stored message; roomId is the channel id."""

    id: str
    entityId: str = Field(description="The message's author")
    agentId: str
    roomId: str = Field(description="The channel id")
    channelId: str
    worldId: str = Field(description="The channel's message server id")
    content: MemoryContent
    createdAt: int
    unique: bool
    metadata: JsonObject


class MemoryList(BaseModel):
    memories: list[MemoryView]


class MemoryUpdated(BaseModel):
    id: str
    message: str
    memory: MemoryView


class MemoriesCleared(BaseModel):
    deleted: int
    message: str


class MemoryDeleted(BaseModel):
    message: str


class EntityForgotten(BaseModel):
    entityId: str
    deleted: int = Field(description="How many of the entity's messages were deleted")


class UploadedMedia(BaseModel):
    """ElizaOS's upload answer: where the file is served and what it is."""

    url: str = Field(description="Where it is served, relative to the server: put it in a message's attachments")
    type: str = Field(description="Channel uploads: the MIME type found in the bytes; agent uploads: the category")
    mimeType: str = Field(description="The MIME type found in the file's bytes")
    filename: str = Field(description="The stored file's name (random)")
    originalName: str = Field(description="The name the client gave the file (shown only)")
    size: int = Field(description="Bytes")


# jobs -------------------------------------------------------------------------------------

JobStatus = Literal["pending", "processing", "completed", "failed", "timeout"]


class JobCreated(BaseModel):
    jobId: str
    status: JobStatus
    createdAt: int = Field(description="Epoch milliseconds")
    expiresAt: int = Field(description="Epoch milliseconds: when it times out without an answer")


class JobResultMessage(BaseModel):
    id: str
    content: str
    authorId: str
    createdAt: int
    metadata: JsonObject


class JobResult(BaseModel):
    message: JobResultMessage
    processingTimeMs: int


class JobDetails(BaseModel):
    jobId: str
    status: JobStatus
    agentId: str
    userId: str
    prompt: str
    createdAt: int
    expiresAt: int
    result: JobResult | None = None
    error: str | None = None
    metadata: JsonObject


class JobList(BaseModel):
    jobs: list[JobDetails]
    total: int = Field(description="Jobs stored that you may see")
    filtered: int = Field(description="Jobs in this answer")


class JobMetrics(BaseModel):
    averageProcessingTimeMs: int
    successRate: float
    failureRate: float
    timeoutRate: float


class JobsHealth(BaseModel):
    healthy: bool
    timestamp: int
    totalJobs: int
    statusCounts: dict[str, int]
    metrics: JobMetrics
    maxJobs: int


class JobErrorBody(BaseModel):
    """ElizaOS's jobs error: the sentence in ``error``, our code beside it."""

    success: Literal[False]
    error: str
    code: str
    field: str | None = None
    fields: list[str] | None = None

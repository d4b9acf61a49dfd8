"""The Sessions API: a user talks to one agent in a channel of its own, within a timeout policy.

ElizaOS's rules, limits and error codes, with one difference that matters: sessions are stored,
so they survive a restart and every node sees them. Messages go through the same send path as
everything else (:meth:`MessagingService.send`), so agents, history and Socket.IO see them too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import orjson

from ..protocol.commands import SendMessage
from ..protocol.types import DEFAULT_SERVER_ID, ChannelType
from ..records import Channel, ChatSession, Message
from ..types import JsonObject, is_uuid
from .clock import iso, new_id, now_ms
from .errors import (
    MessagingError,
    SessionAgentNotFound,
    SessionExpired,
    SessionNotFound,
    SessionRenewalFailed,
    SessionValidationError,
)
from .identity import Caller, same_id
from .replies import Watch
from .service import MessagingService, SendResult
from .validation import check_json, check_text, display_name

Transport = Literal["websocket", "http", "sse"]

# ElizaOS's defaults and bounds (SESSION_* settings), in minutes.
DEFAULT_TIMEOUT_MINUTES = 30
MIN_TIMEOUT_MINUTES = 5
MAX_TIMEOUT_MINUTES = 1440
DEFAULT_MAX_DURATION_MINUTES = 720
DEFAULT_WARNING_THRESHOLD_MINUTES = 5
MAX_CONTENT_CHARS = 4000
MAX_METADATA_CHARS = 10 * 1024
MAX_PAGE = 100
DEFAULT_PAGE = 50
# Expired sessions answer 410 for a day, then are removed.
EXPIRED_RETENTION_MS = 24 * 60 * 60_000

_TRANSPORTS: Mapping[str, Transport] = {
    "websocket": "websocket",
    "http": "http",
    "sse": "sse",
    "sync": "http",  # the older ``mode`` names
    "stream": "sse",
}


@dataclass(frozen=True, slots=True)
class TimeoutPolicy:
    timeout_minutes: float = DEFAULT_TIMEOUT_MINUTES
    auto_renew: bool = True
    max_duration_minutes: float = DEFAULT_MAX_DURATION_MINUTES
    warning_threshold_minutes: float = DEFAULT_WARNING_THRESHOLD_MINUTES


@dataclass(frozen=True, slots=True)
class SessionSend:
    """A stored session message, the session after this activity, and whether it was renewed."""

    session: ChatSession
    result: SendResult
    was_renewed: bool
    watch: Watch | None  # the agent's answer, when asked to watch for it (close it when done)


@dataclass(frozen=True, slots=True)
class SessionPage:
    messages: list[Message]
    has_more: bool


def parse_transport(value: object) -> Transport:
    if value is None:
        return "websocket"
    if isinstance(value, str) and value in _TRANSPORTS:
        return _TRANSPORTS[value]
    raise SessionValidationError(
        f"Invalid content: transport must be 'websocket', 'http' or 'sse' (got {str(value)[:40]!r}).",
        field="transport",
    )


def _minutes(config: Mapping[str, Any], name: str) -> float | None:
    value = config.get(name)
    if value is None:
        return None
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise SessionValidationError(
            f"Invalid timeout configuration: {name} must be a number of minutes, but got {str(value)[:40]!r}.",
            field="timeoutConfig",
        )
    return number


def merge_policy(config: object, base: TimeoutPolicy) -> TimeoutPolicy:
    """ElizaOS's precedence and clamping: timeout within [5, 1440], max duration ≥ timeout, warning ≥ 1."""
    if config is None:
        return base
    if not isinstance(config, Mapping):
        raise SessionValidationError(
            "Invalid timeout configuration: timeoutConfig must be an object such as {timeoutMinutes: 30}.",
            field="timeoutConfig",
        )
    auto_renew = config.get("autoRenew")
    if auto_renew is not None and not isinstance(auto_renew, bool):
        raise SessionValidationError(
            "Invalid timeout configuration: autoRenew must be true or false.", field="timeoutConfig"
        )
    timeout = _minutes(config, "timeoutMinutes")
    max_duration = _minutes(config, "maxDurationMinutes")
    warning = _minutes(config, "warningThresholdMinutes")
    policy = base
    if timeout is not None:
        policy = replace(policy, timeout_minutes=min(MAX_TIMEOUT_MINUTES, max(MIN_TIMEOUT_MINUTES, timeout)))
    if auto_renew is not None:
        policy = replace(policy, auto_renew=auto_renew)
    if max_duration is not None:
        policy = replace(
            policy, max_duration_minutes=max(policy.timeout_minutes, min(MAX_TIMEOUT_MINUTES * 2, max_duration))
        )
    if warning is not None:
        policy = replace(policy, warning_threshold_minutes=max(1.0, warning))
    return policy


def policy_of(session: ChatSession) -> TimeoutPolicy:
    return TimeoutPolicy(
        session.timeout_minutes, session.auto_renew, session.max_duration_minutes, session.warning_threshold_minutes
    )


def expires_at(created_at: int, last_activity: int, policy: TimeoutPolicy, now: int) -> int:
    """Inactivity timeout from the last activity (or from creation without auto-renew), capped by max duration."""
    timeout_ms = round(policy.timeout_minutes * 60_000)
    max_ms = round(policy.max_duration_minutes * 60_000)
    if (now - created_at) + timeout_ms > max_ms:
        return created_at + max_ms
    base = last_activity if policy.auto_renew else created_at
    return base + timeout_ms


def renewed(session: ChatSession, now: int, *, force: bool = False) -> ChatSession | None:
    """The session renewed by activity at ``now``, or None when it may not be (auto-renew off, max duration)."""
    policy = policy_of(session)
    if not (policy.auto_renew or force):
        return None
    if now - session.created_at >= round(policy.max_duration_minutes * 60_000):
        return None
    policy = replace(policy, auto_renew=True) if force else policy
    return replace(
        session,
        last_activity=now,
        renewal_count=session.renewal_count + 1,
        expires_at=expires_at(session.created_at, now, policy, now),
    )


def near_expiration(session: ChatSession, now: int) -> bool:
    remaining = session.expires_at - now
    return 0 < remaining <= session.warning_threshold_minutes * 60_000


def _session_metadata(value: object, what: str = "metadata") -> JsonObject:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SessionValidationError(f"Invalid metadata: {what} must be an object such as {{}}.", field="metadata")
    try:
        encoded = orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise SessionValidationError(
            f"Invalid metadata: it cannot be stored as JSON ({exc}).", field="metadata"
        ) from exc
    if len(encoded) > MAX_METADATA_CHARS:
        raise SessionValidationError(
            f"Invalid metadata: Metadata exceeds maximum size of {MAX_METADATA_CHARS} bytes", field="metadata"
        )
    return value


class Sessions:
    def __init__(self, service: MessagingService, *, clock: Callable[[], int] = now_ms) -> None:
        self._service = service
        self._store = service.store
        self._clock = clock

    def now(self) -> int:
        return self._clock()

    # lifecycle --------------------------------------------------------------------------

    async def create(
        self,
        *,
        agent_id: object,
        user_id: object,
        caller: Caller,
        metadata: object = None,
        timeout_config: object = None,
    ) -> ChatSession:
        if not isinstance(agent_id, str) or not isinstance(user_id, str):
            missing = [n for n, v in (("agentId", agent_id), ("userId", user_id)) if not isinstance(v, str)]
            raise SessionValidationError(f"Missing required fields: {', '.join(missing)}")
        for name, value in (("agentId", agent_id), ("userId", user_id)):
            if not is_uuid(value):
                raise SessionValidationError(f"Invalid UUID format for field '{name}'", field=name)
        if agent_id not in await self._store.list_server_agents(DEFAULT_SERVER_ID):
            raise SessionAgentNotFound(f"Agent with ID '{agent_id}' not found", field="agentId")
        await self._service.identity.check(caller, user_id, "userId")
        if self._service.access.restricted(caller):
            self._service.access.identified(caller, "(new session)")
        meta = _session_metadata(metadata)
        self._check_json(meta, "metadata")
        policy = merge_policy(timeout_config, TimeoutPolicy())
        now = self.now()
        await self._store.delete_sessions_expired_before(now - EXPIRED_RETENTION_MS)
        session_id = new_id()
        channel = await self._store.ensure_channel(
            Channel(
                id=new_id(),
                message_server_id=DEFAULT_SERVER_ID,
                name=f"session-{session_id}",
                type=ChannelType.DM,
                source_type="session",
                metadata={
                    **meta,
                    "sessionId": session_id,
                    "agentId": agent_id,
                    "userId": user_id,
                    "timeoutConfig": {
                        "timeoutMinutes": policy.timeout_minutes,
                        "autoRenew": policy.auto_renew,
                        "maxDurationMinutes": policy.max_duration_minutes,
                        "warningThresholdMinutes": policy.warning_threshold_minutes,
                    },
                },
                created_at=now,
                updated_at=now,
            ),
            participants=[agent_id, user_id],
        )
        self._service.channels.remember(channel)
        session = ChatSession(
            id=session_id,
            agent_id=agent_id,
            user_id=user_id,
            channel_id=channel.id,
            timeout_minutes=policy.timeout_minutes,
            auto_renew=policy.auto_renew,
            max_duration_minutes=policy.max_duration_minutes,
            warning_threshold_minutes=policy.warning_threshold_minutes,
            created_at=now,
            last_activity=now,
            expires_at=expires_at(now, now, policy, now),
            metadata=meta,
        )
        await self._store.save_session(session)
        return session

    async def get(self, session_id: str, *, caller: Caller) -> ChatSession:
        """The session while it is active: 404 when unknown, 410 once expired; under isolation, its parties'."""
        session = await self._store.get_session(session_id)
        if session is None:
            raise SessionNotFound(f"Session with ID '{session_id}' not found")
        self._check_party(session, caller)
        if session.expires_at <= self.now():
            raise SessionExpired(f"Session '{session_id}' expired at {iso(session.expires_at)}")
        return session

    async def renew(self, session_id: str, *, caller: Caller) -> ChatSession:
        """Manual renewal, allowed even with auto-renew off; refused past the maximum duration."""
        session = await self.get(session_id, caller=caller)
        fresh = renewed(session, self.now(), force=True)
        if fresh is None:
            raise SessionRenewalFailed(f"Cannot renew session '{session_id}': Maximum duration reached")
        await self._store.save_session(fresh)
        return fresh

    async def heartbeat(self, session_id: str, *, caller: Caller) -> ChatSession:
        session = await self.get(session_id, caller=caller)
        now = self.now()
        fresh = renewed(session, now) or replace(session, last_activity=now)
        await self._store.save_session(fresh)
        return fresh

    async def update_timeout(self, session_id: str, config: object, *, caller: Caller) -> ChatSession:
        session = await self.get(session_id, caller=caller)
        if isinstance(config, Mapping):
            timeout = _minutes(config, "timeoutMinutes")
            if timeout is not None and not MIN_TIMEOUT_MINUTES <= timeout <= MAX_TIMEOUT_MINUTES:
                raise SessionValidationError(
                    f"Invalid timeout configuration: Timeout must be between {MIN_TIMEOUT_MINUTES} and"
                    f" {MAX_TIMEOUT_MINUTES} minutes",
                    field="timeoutMinutes",
                )
        policy = merge_policy(config, policy_of(session))
        fresh = replace(
            session,
            timeout_minutes=policy.timeout_minutes,
            auto_renew=policy.auto_renew,
            max_duration_minutes=policy.max_duration_minutes,
            warning_threshold_minutes=policy.warning_threshold_minutes,
            expires_at=expires_at(session.created_at, session.last_activity, policy, self.now()),
        )
        await self._store.save_session(fresh)
        return fresh

    async def delete(self, session_id: str, *, caller: Caller) -> None:
        found = await self._store.get_session(session_id)
        if found is not None:
            self._check_party(found, caller)
        if not await self._store.delete_session(session_id):
            raise SessionNotFound(f"Session with ID '{session_id}' not found")

    async def active(self) -> list[ChatSession]:
        return await self._store.list_sessions(active_at=self.now())

    async def visible(self, caller: Caller) -> tuple[list[ChatSession], int, int]:
        """(the caller's active sessions, its stored sessions, its active ones); all of them for the server token.

        Even on an open server a list of everyone's sessions is not handed to anyone who asks."""
        if caller.trusted:
            stored, live, _ = await self.counts()
            return await self.active(), stored, live
        if caller.entity_id is None:
            return [], 0, 0
        mine = [s for s in await self._store.list_sessions() if same_id(s.user_id, caller.entity_id)]
        now = self.now()
        active = [s for s in mine if s.expires_at > now]
        return active, len(mine), len(active)

    def _check_party(self, session: ChatSession, caller: Caller) -> None:
        access = self._service.access
        if not access.restricted(caller):
            return
        entity = access.identified(caller, session.channel_id)
        if not (same_id(entity, session.user_id) or same_id(entity, session.agent_id)):
            raise SessionNotFound(f"Session with ID '{session.id}' not found")

    async def counts(self) -> tuple[int, int, int]:
        """(stored, active, expiring soon)."""
        return await self._store.session_counts(self.now())

    # messages ---------------------------------------------------------------------------

    async def send(
        self,
        session_id: str,
        *,
        content: object,
        attachments: object = None,
        caller: Caller,
        metadata: object = None,
        watch: bool = False,
    ) -> SessionSend:
        """Store and broadcast a user message; with ``watch``, also watch for the agent's answer."""
        session = await self.get(session_id, caller=caller)
        text = self._content(content)
        extra = _session_metadata(metadata)
        self._check_json(extra, "metadata")
        files = self._attachments(attachments)
        now = self.now()
        fresh = renewed(session, now)
        was_renewed = fresh is not None
        session = fresh or replace(session, last_activity=now)
        await self._store.save_session(session)
        channel = await self._service.channels.get(session.channel_id)
        channel_meta = channel.metadata if channel else {}
        server_id = channel.message_server_id if channel else DEFAULT_SERVER_ID
        command = SendMessage(
            channel_id=session.channel_id,
            server_id=server_id,
            sender_id=session.user_id,
            sender_name=display_name(extra, session.metadata),
            text=text,
            client_message_id=None,
            source="user",
            attachments=files,
            metadata={**channel_meta, "sessionId": session.id, **extra},
            target_user_id=session.agent_id,
        )
        if not watch:
            return SessionSend(session, await self._service.send(command, caller=caller), was_renewed, None)
        result, watching = await self._service.send_watched(command, caller=caller)
        return SessionSend(session, result, was_renewed, watching)

    async def history(
        self,
        session_id: str,
        *,
        caller: Caller,
        limit: int = DEFAULT_PAGE,
        before: int | None = None,
        after: int | None = None,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> SessionPage:
        """Newest first; with only ``after``, the oldest page after it (forward paging), still newest first.
        With an offset bound (``afterSeq``/``beforeSeq``), the newest page within the bounds, by offset."""
        session = await self.get(session_id, caller=caller)
        size = min(MAX_PAGE, max(1, limit))
        if before_seq is not None or after_seq is not None:
            rows = await self._store.list_messages(
                session.channel_id,
                limit=size + 1,
                before=before,
                after=after,
                before_seq=before_seq,
                after_seq=after_seq,
            )
            return SessionPage(rows[:size], len(rows) > size)
        if after is not None and before is None:
            rows = await self._store.list_messages_after(session.channel_id, after=after, limit=size + 1)
            return SessionPage(list(reversed(rows[:size])), len(rows) > size)
        rows = await self._store.list_messages(session.channel_id, limit=size + 1, before=before, after=after)
        return SessionPage(rows[:size], len(rows) > size)

    # checks -----------------------------------------------------------------------------

    def _content(self, content: object) -> str:
        if not isinstance(content, str):
            raise SessionValidationError("Invalid content: Content must be a string", field="content")
        if not content:
            raise SessionValidationError("Invalid content: Content cannot be empty", field="content")
        if len(content) > MAX_CONTENT_CHARS:
            raise SessionValidationError(
                f"Invalid content: Content exceeds maximum length of {MAX_CONTENT_CHARS} characters", field="content"
            )
        try:
            return check_text(content, "content", self._service.limits, max_chars=MAX_CONTENT_CHARS)
        except MessagingError as exc:
            raise SessionValidationError(f"Invalid content: {exc.message}", field="content") from exc

    def _attachments(self, attachments: object) -> list[Any]:
        if attachments is None:
            return []
        limits = self._service.limits
        if not isinstance(attachments, list):
            raise SessionValidationError("Invalid content: attachments must be an array.", field="attachments")
        if len(attachments) > limits.max_attachments:
            raise SessionValidationError(
                f"Invalid content: attachments has {len(attachments)} entries; the limit is {limits.max_attachments}.",
                field="attachments",
            )
        self._check_json(attachments, "attachments")
        return attachments

    def _check_json(self, value: Any, field: str) -> None:
        try:
            check_json(value, field, self._service.limits)
        except MessagingError as exc:
            raise SessionValidationError(f"Invalid {field}: {exc.message}", field=field) from exc

"""Messages agent runtimes post over REST: replies (``/submit``) and action messages (``/action``).

An agent running outside this server posts its reply here. The reply is stored, broadcast to
the room and handed to the other agents, and anyone on this node waiting for it (the ``http``
and ``sse`` transports) is told, just as for a reply from an agent inside the server. Action
messages (an agent's progress on a task) are broadcast but not handed to agents, and can be
updated in place: the update is broadcast again under the same id; only messages created as
actions can be, and only by their author (or the server token).

Who may post here: the server token, a caller whose token names the author, or (open mode,
no server token set) anyone: these are the agents' own routes, closed by setting
``ELIZA_SERVER_AUTH_TOKEN``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..protocol.types import DEFAULT_SERVER_ID, Event
from ..records import Message
from ..types import JsonObject
from . import views
from .clock import new_id, now_ms
from .errors import Conflict, InvalidPayload, NotFound
from .identity import Caller, mismatch, same_id
from .replies import ReplyEvent
from .service import MessagingService
from .validation import check_json, check_text


@dataclass(frozen=True, slots=True)
class AgentPost:
    channel_id: str
    server_id: str
    author_id: str
    content: str
    source_type: str
    raw_message: JsonObject | str
    metadata: JsonObject = field(default_factory=dict)
    in_reply_to: str | None = None
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class ActionChanges:
    content: str | None = None
    raw_message: JsonObject | str | None = None
    source_type: str | None = None
    in_reply_to: str | None = None
    metadata: JsonObject | None = None


def _raw(raw: JsonObject | str | None) -> JsonObject:
    if raw is None:
        return {}
    return dict(raw) if isinstance(raw, dict) else {"content": raw}


class AgentPosts:
    def __init__(self, service: MessagingService) -> None:
        self._service = service
        self._store = service.store

    async def submit(self, post: AgentPost, *, caller: Caller) -> tuple[Message, bool]:
        """Store and publish an agent's reply; (the message, whether it was stored before)."""
        await self._check_author(caller, post.author_id, post.channel_id)
        message, duplicate = await self._store_post(post)
        if duplicate:
            return message, True
        channel = await self._service.channels.get(message.channel_id)
        assert channel is not None  # _store_post ensured it
        await self._service.outbox.deliver(message, channel)
        if post.in_reply_to:
            replies = self._service.replies
            replies.notify(
                ReplyEvent(
                    "reply",
                    post.author_id,
                    post.channel_id,
                    post.in_reply_to,
                    message.id,
                    message.content,
                    message=message,
                )
            )
            replies.notify(ReplyEvent("done", post.author_id, post.channel_id, post.in_reply_to))
        return message, False

    async def create_action(self, post: AgentPost, *, caller: Caller) -> tuple[Message, bool]:
        """Store and broadcast an action message (agents are not asked to answer it)."""
        await self._check_author(caller, post.author_id, post.channel_id)
        message, duplicate = await self._store_post(post, action=True)
        if not duplicate:
            await self._broadcast(message, post.server_id)
        return message, duplicate

    async def update_action(self, message_id: str, changes: ActionChanges, *, caller: Caller) -> tuple[Message, str]:
        """The updated message and its channel's server id."""
        current = await self._store.get_message(message_id)
        if current is None or current.raw_message.get(ACTION_MARK) is not True:
            raise NotFound(
                f"Message {message_id} is not an action message (or does not exist); only messages created with"
                " POST /api/messaging/action can be updated here.",
                field="messageId",
            )
        await self._check_author(caller, current.author_id, current.channel_id)
        limits = self._service.limits
        if changes.content is not None:
            check_text(changes.content, "content", limits)
        raw = current.raw_message
        if changes.raw_message is not None:
            raw = {**current.raw_message, **_raw(changes.raw_message), ACTION_MARK: True}
            check_json(raw, "raw_message", limits)
        metadata = current.metadata
        if changes.metadata is not None:
            check_json(changes.metadata, "metadata", limits)
            metadata = {**current.metadata, **changes.metadata}
        updated = replace(
            current,
            content=changes.content if changes.content is not None else current.content,
            raw_message=raw,
            source_type=changes.source_type or current.source_type,
            in_reply_to_root_message_id=changes.in_reply_to or current.in_reply_to_root_message_id,
            metadata=_with_thoughts(metadata, raw),
            updated_at=max(now_ms(), current.updated_at + 1),
        )
        stored = await self._store.update_message(updated)
        if stored.content != current.content and self._service.indexer is not None:
            self._service.indexer.notify(stored.id)  # its old vector went with the edit
        channel = await self._service.channels.get(stored.channel_id)
        server_id = channel.message_server_id if channel else DEFAULT_SERVER_ID
        await self._broadcast(stored, server_id)
        return stored, server_id

    async def _check_author(self, caller: Caller, author_id: str, channel_id: str) -> None:
        """The server token, or the author itself (a verified token); anyone on an open server without one."""
        if caller.trusted:
            return
        if caller.entity_id is not None and not same_id(caller.entity_id, author_id):
            raise mismatch("author_id", author_id, caller)
        await self._service.access.may_enter(caller, channel_id)

    async def _store_post(self, post: AgentPost, *, action: bool = False) -> tuple[Message, bool]:
        limits = self._service.limits
        if not post.content.strip():
            raise InvalidPayload("content is empty: an agent message needs some text.", field="content")
        check_text(post.content, "content", limits)
        check_json(post.metadata, "metadata", limits)
        if post.message_id is not None:
            existing = await self._store.get_message(post.message_id)
            if existing is not None:
                if existing.channel_id != post.channel_id:
                    raise Conflict(
                        f"messageId {post.message_id} is already a message of another channel; use a new id.",
                        field="messageId",
                    )
                return existing, True
        channel = await self._service.channels.ensure(
            post.channel_id, server_id=post.server_id, metadata={}, participant=post.author_id
        )
        name = _agent_name(post.metadata)
        raw = _raw(post.raw_message)
        attachments = raw.get("attachments") or post.metadata.get("attachments") or []
        raw.update(senderName=name, source=post.source_type, serverId=channel.message_server_id)
        raw["attachments"] = attachments if isinstance(attachments, list) else []
        if action:
            raw[ACTION_MARK] = True
        else:
            raw.pop(ACTION_MARK, None)
        check_json(raw, "raw_message", limits)
        now = now_ms()
        trigger = await self._store.get_message(post.in_reply_to) if post.in_reply_to else None
        message = Message(
            id=post.message_id or new_id(),
            channel_id=post.channel_id,
            author_id=post.author_id,
            author_name=name,
            content=post.content,
            source_type=post.source_type,
            created_at=max(now, trigger.created_at + 1) if trigger else now,
            updated_at=now,
            raw_message=raw,
            in_reply_to_root_message_id=post.in_reply_to,
            metadata=_with_thoughts({"agentName": name, **post.metadata}, raw),
        )
        return (await self._service.store_message(message)).message, False

    async def _broadcast(self, message: Message, server_id: str) -> None:
        await self._service.fanout.emit(
            Event.MESSAGE_BROADCAST, views.edited(message, server_id), room=message.channel_id
        )


# Marks, in the stored raw message, a message created by POST /action: the only kind PATCH /action changes.
ACTION_MARK = "isActionMessage"


def _agent_name(metadata: JsonObject) -> str:
    for key in ("agentName", "agent_name", "senderName"):
        value = metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value[:256]
    return "Agent"


def _with_thoughts(metadata: JsonObject, raw: JsonObject) -> JsonObject:
    """ElizaOS carries thought and actions in the raw message; the broadcast reads them from metadata."""
    merged = dict(metadata)
    for key in ("thought", "actions"):
        if key in raw and key not in merged:
            merged[key] = raw[key]
    return merged

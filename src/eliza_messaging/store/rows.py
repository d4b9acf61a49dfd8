"""Table columns and row-to-record mapping shared by every backend.

Both stores select these columns in this order, so one mapper per record serves both; a
backend passes how it decodes its JSON columns (SQLite keeps text, PostgreSQL's codec decodes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..records import AgentRun, Channel, ChatSession, Job, Message, MessageServer, ModelCall

DecodeJson = Callable[[Any], Any]
EncodeJson = Callable[[Any], Any]

SERVER_COLUMNS = "id, name, source_type, source_id, metadata, created_at, updated_at"
CHANNEL_COLUMNS = "id, message_server_id, name, type, source_type, source_id, topic, metadata, created_at, updated_at"
MESSAGE_COLUMNS = (
    "id, channel_id, author_id, author_name, content, raw_message, in_reply_to_root_message_id,"
    " source_type, source_id, metadata, client_message_id, created_at, updated_at, channel_seq"
)
RUN_COLUMNS = (
    "id, agent_id, message_id, channel_id, entity_id, status, started_at, ended_at, outcome, error,"
    " model_calls, errors, calls"
)
SESSION_COLUMNS = (
    "id, agent_id, user_id, channel_id, metadata, timeout_minutes, auto_renew, max_duration_minutes,"
    " warning_threshold_minutes, created_at, last_activity, expires_at, renewal_count"
)

JOB_COLUMNS = (
    "id, agent_id, user_id, channel_id, content, status, created_at, expires_at, user_message_id, result, error,"
    " finished_at, metadata"
)
UNFINISHED_JOB_STATUSES = ("pending", "processing")


def server_from_row(row: Sequence[Any], decode: DecodeJson) -> MessageServer:
    return MessageServer(
        id=row[0],
        name=row[1],
        source_type=row[2],
        source_id=row[3],
        metadata=decode(row[4]),
        created_at=row[5],
        updated_at=row[6],
    )


def channel_from_row(row: Sequence[Any], decode: DecodeJson) -> Channel:
    return Channel(
        id=row[0],
        message_server_id=row[1],
        name=row[2],
        type=row[3],
        source_type=row[4],
        source_id=row[5],
        topic=row[6],
        metadata=decode(row[7]),
        created_at=row[8],
        updated_at=row[9],
    )


def message_from_row(row: Sequence[Any], decode: DecodeJson, offset: int = 0) -> Message:
    """A message from its columns in ``MESSAGE_COLUMNS`` order, starting at ``offset``."""
    return Message(
        id=row[offset],
        channel_id=row[offset + 1],
        author_id=row[offset + 2],
        author_name=row[offset + 3],
        content=row[offset + 4],
        raw_message=decode(row[offset + 5]),
        in_reply_to_root_message_id=row[offset + 6],
        source_type=row[offset + 7],
        source_id=row[offset + 8],
        metadata=decode(row[offset + 9]),
        client_message_id=row[offset + 10],
        created_at=row[offset + 11],
        updated_at=row[offset + 12],
        seq=row[offset + 13],
    )


def session_from_row(row: Sequence[Any], decode: DecodeJson) -> ChatSession:
    return ChatSession(
        id=row[0],
        agent_id=row[1],
        user_id=row[2],
        channel_id=row[3],
        metadata=decode(row[4]),
        timeout_minutes=row[5],
        auto_renew=bool(row[6]),
        max_duration_minutes=row[7],
        warning_threshold_minutes=row[8],
        created_at=row[9],
        last_activity=row[10],
        expires_at=row[11],
        renewal_count=row[12],
    )


def job_from_row(row: Sequence[Any], decode: DecodeJson) -> Job:
    return Job(
        id=row[0],
        agent_id=row[1],
        user_id=row[2],
        channel_id=row[3],
        content=row[4],
        status=row[5],
        created_at=row[6],
        expires_at=row[7],
        user_message_id=row[8],
        result=decode(row[9]) if row[9] is not None else None,
        error=row[10],
        finished_at=row[11],
        metadata=decode(row[12]),
    )


def session_values(session: ChatSession, encode: EncodeJson) -> tuple[Any, ...]:
    """A session's column values in ``SESSION_COLUMNS`` order; ``encode`` turns its JSON column into what the
    backend stores (SQLite text; PostgreSQL's codec takes the value as it is)."""
    return (
        session.id,
        session.agent_id,
        session.user_id,
        session.channel_id,
        encode(session.metadata),
        session.timeout_minutes,
        session.auto_renew,
        session.max_duration_minutes,
        session.warning_threshold_minutes,
        session.created_at,
        session.last_activity,
        session.expires_at,
        session.renewal_count,
    )


def job_values(job: Job, encode: EncodeJson) -> tuple[Any, ...]:
    """A job's column values in ``JOB_COLUMNS`` order, its JSON columns through ``encode`` (no result stays NULL)."""
    return (
        job.id,
        job.agent_id,
        job.user_id,
        job.channel_id,
        job.content,
        job.status,
        job.created_at,
        job.expires_at,
        job.user_message_id,
        encode(job.result) if job.result is not None else None,
        job.error,
        job.finished_at,
        encode(job.metadata),
    )


def deleted_in_batch_order(deleted: Sequence[Sequence[Any]], by_age: bool) -> list[tuple[str, str]]:
    """(channel id, message id) of deleted ``channel_id, id, created_at, seq`` rows, in the order the batch was
    chosen (oldest first when ``by_age``, else by seq): RETURNING itself gives no order."""
    ordered = sorted(deleted, key=lambda r: (r[2], r[3]) if by_age else r[3])
    return [(r[0], r[1]) for r in ordered]


def run_values(run: AgentRun) -> tuple[Any, ...]:
    """A run's column values in ``RUN_COLUMNS`` order; its calls as a JSON-ready list."""
    calls = [
        {
            "id": c.id,
            "kind": c.kind,
            "model": c.model,
            "startedAt": c.started_at,
            "durationMs": c.duration_ms,
            "promptChars": c.prompt_chars,
            "responseChars": c.response_chars,
            "outcome": c.outcome,
        }
        for c in run.calls
    ]
    return (
        run.id,
        run.agent_id,
        run.message_id,
        run.channel_id,
        run.entity_id,
        run.status,
        run.started_at,
        run.ended_at,
        run.outcome,
        run.error,
        run.model_calls,
        run.errors,
        calls,
    )


def run_from_row(row: Sequence[Any], decode: DecodeJson) -> AgentRun:
    calls = tuple(
        ModelCall(
            id=c["id"],
            kind=c["kind"],
            model=c["model"],
            started_at=c["startedAt"],
            duration_ms=c["durationMs"],
            prompt_chars=c["promptChars"],
            response_chars=c["responseChars"],
            outcome=c["outcome"],
        )
        for c in decode(row[12]) or ()
    )
    return AgentRun(
        id=row[0],
        agent_id=row[1],
        message_id=row[2],
        channel_id=row[3],
        entity_id=row[4],
        status=row[5],
        started_at=row[6],
        ended_at=row[7],
        outcome=row[8],
        error=row[9],
        model_calls=row[10],
        errors=row[11],
        calls=calls,
    )

"""The shared store: PostgreSQL through an asyncpg connection pool, for several nodes at once.

It answers as ``SQLiteStore`` does (tests/store/test_conformance.py holds both to one contract).
What differs is how concurrency is made safe:
several processes write at the same time, so every "create unless it exists" is one
``INSERT ... ON CONFLICT DO NOTHING`` statement that also returns the row that won, and the
schema is migrated under an advisory lock so nodes starting together do not both migrate.

Every operation is a function of a connection run by ``_read`` or ``_write``, the same shape as
SQLite's write queue, and each append or ensure is one statement, so one round trip (plus a
second only when it lost a race). Gathering writes into shared transactions later only has to
change ``_write``.

PostgreSQL cannot store U+0000 in TEXT nor inside JSONB strings, while SQLite can. Rather than
failing such a write (an error the callers would turn into a 5xx), this store replaces U+0000
with U+FFFD (the replacement character) in every text argument and in every JSON string and key,
on writes and lookups alike, and an append returns the message as stored, so a broadcast matches
the history; all other text round-trips unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import fields, replace
from typing import Any, Final, TypeVar

import asyncpg
import orjson

from ..records import AgentRun, Channel, ChatSession, Job, Message, MessageServer, StoredMessage
from . import postgres_search, rows
from .base import StoreError
from .pg_batch import AppendBatcher
from .postgres_schema import MIGRATIONS
from .search import KeywordQuery, SearchHit, SearchScope

T = TypeVar("T")

NUL: Final = "\x00"
REPLACEMENT: Final = "\ufffd"
# pg_advisory_lock's first key (ASCII "ElzM"); the second is the schema, so each schema migrates alone.
MIGRATION_LOCK: Final = 0x456C7A4D
JSONB_VERSION: Final = b"\x01"  # the binary jsonb format: a version byte, then the JSON text
PING_TIMEOUT_S: Final = 5.0
COMMAND_TIMEOUT_S: Final = 30.0  # a stuck database fails the call (the sender may retry) rather than hang it
CLOSE_TIMEOUT_S: Final = 10.0
RACE_RETRIES: Final = 3

DB_ERRORS: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class PostgresStore:
    """``Store`` on a PostgreSQL database given by a libpq-style URL (``postgresql://user:pw@host/db``).

    ``server_settings`` are sent when each connection starts (for example ``{"search_path": "x"}``
    to keep the tables in schema ``x``); query parameters of the URL that are not connection
    options are sent the same way.
    """

    def __init__(self, dsn: str, *, pool_size: int = 10, server_settings: Mapping[str, str] | None = None) -> None:
        self._dsn = dsn
        self._pool_size = pool_size
        self._server_settings = dict(server_settings) if server_settings else None
        self._pool: Any = None  # asyncpg.Pool
        self._batcher = AppendBatcher(self._append_batch, self._append_one)
        self._vector_schema: str | None = None  # where pgvector lives, once enable_vectors succeeded

    # lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        try:
            conn = await asyncpg.connect(self._dsn, server_settings=self._server_settings)
        except DB_ERRORS as exc:
            raise StoreError(f"Could not connect to PostgreSQL (POSTGRES_URL): {exc}") from exc
        # Migrations get a connection of their own: no command timeout (a migration may take long),
        # and closing it releases the advisory lock whatever happened.
        try:
            await _migrate(conn)
        except DB_ERRORS as exc:
            raise StoreError(f"Could not migrate the PostgreSQL schema: {exc}") from exc
        finally:
            await conn.close()
        try:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=self._pool_size,
                init=_init_connection,
                reset=_keep_session,
                command_timeout=COMMAND_TIMEOUT_S,
                server_settings=self._server_settings,
            )
        except DB_ERRORS as exc:
            raise StoreError(f"Could not connect to PostgreSQL (POSTGRES_URL): {exc}") from exc

    async def close(self) -> None:
        await self._batcher.close()  # appends in flight are committed (or fail) before the pool goes
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT_S)
        except TimeoutError:  # a connection was never released: do not hold the shutdown
            pool.terminate()

    async def ping(self) -> bool:
        if self._pool is None:
            return False
        try:
            async with asyncio.timeout(PING_TIMEOUT_S):
                return bool(await self._pool.fetchval("SELECT 1") == 1)
        except Exception:
            return False

    # the two paths ----------------------------------------------------------------------

    async def _read(self, op: Callable[[_Connection], Awaitable[T]]) -> T:
        return await self._run(op)

    async def _write(self, op: Callable[[_Connection], Awaitable[T]]) -> T:
        """Run ``op`` on a pooled connection; each op is one atomic statement (autocommit)."""
        return await self._run(op)

    async def _run(self, op: Callable[[_Connection], Awaitable[T]]) -> T:
        pool = self._pool
        if pool is None:
            raise StoreError("The store is not open.")
        try:
            async with pool.acquire() as conn:
                return await op(_Connection(conn))
        except DB_ERRORS as exc:
            raise StoreError(f"PostgreSQL refused the operation: {exc}") from exc

    # message servers --------------------------------------------------------------------

    async def ensure_message_server(self, server: MessageServer) -> MessageServer:
        args = (
            server.id,
            server.name,
            server.source_type,
            server.source_id,
            server.metadata,
            server.created_at,
            server.updated_at,
        )

        async def op(c: _Connection) -> MessageServer:
            return _server(await _insert_or_select(c, _ENSURE_SERVER, _GET_SERVER, args, server.id))

        return await self._write(op)

    async def get_message_server(self, server_id: str) -> MessageServer | None:
        row = await self._read(lambda c: c.fetchrow(_GET_SERVER, server_id))
        return _server(row) if row else None

    async def list_message_servers(self) -> list[MessageServer]:
        rows = await self._read(
            lambda c: c.fetch(f"SELECT {_SERVER_COLUMNS} FROM message_servers ORDER BY created_at, id")
        )
        return [_server(r) for r in rows]

    async def add_server_agent(self, server_id: str, agent_id: str) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO message_server_agents (message_server_id, agent_id) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING",
                server_id,
                agent_id,
            )
        )

    async def list_server_agents(self, server_id: str) -> list[str]:
        rows = await self._read(
            lambda c: c.fetch(
                "SELECT agent_id FROM message_server_agents WHERE message_server_id = $1 ORDER BY agent_id", server_id
            )
        )
        return [r[0] for r in rows]

    # channels ---------------------------------------------------------------------------

    async def ensure_channel(self, channel: Channel, participants: Sequence[str] = ()) -> Channel:
        args = (
            channel.id,
            channel.message_server_id,
            channel.name,
            channel.type,
            channel.source_type,
            channel.source_id,
            channel.topic,
            channel.metadata,
            channel.created_at,
            channel.updated_at,
            list(participants),
        )

        async def op(c: _Connection) -> Channel:
            return _channel(await _insert_or_select(c, _ENSURE_CHANNEL, _GET_CHANNEL, args, channel.id))

        return await self._write(op)

    async def get_channel(self, channel_id: str) -> Channel | None:
        row = await self._read(lambda c: c.fetchrow(_GET_CHANNEL, channel_id))
        return _channel(row) if row else None

    async def update_channel(self, channel: Channel) -> Channel:
        async def op(c: _Connection) -> Channel:
            row = await c.fetchrow(
                "UPDATE channels SET name = $1, type = $2, topic = $3, metadata = $4, updated_at = $5"
                f" WHERE id = $6 RETURNING {_CHANNEL_COLUMNS}",
                channel.name,
                channel.type,
                channel.topic,
                channel.metadata,
                channel.updated_at,
                channel.id,
            )
            if row is None:
                raise StoreError(f"channel {channel.id} does not exist")
            return _channel(row)

        return await self._write(op)

    async def add_participants(self, channel_id: str, entity_ids: Sequence[str]) -> None:
        if not entity_ids:
            return
        await self._write(
            lambda c: c.execute(
                "INSERT INTO channel_participants (channel_id, entity_id)"
                " SELECT $1, e FROM unnest($2::text[]) AS e ON CONFLICT DO NOTHING",
                channel_id,
                list(entity_ids),
            )
        )

    async def list_participants(self, channel_id: str) -> list[str]:
        rows = await self._read(
            lambda c: c.fetch(
                "SELECT entity_id FROM channel_participants WHERE channel_id = $1 ORDER BY entity_id", channel_id
            )
        )
        return [r[0] for r in rows]

    # messages ---------------------------------------------------------------------------

    async def append_message(self, message: Message) -> StoredMessage:
        """Gathered with the appends that arrive meanwhile into one statement (``pg_batch``)."""
        if self._pool is None:
            raise StoreError("The store is not open.")
        return await self._batcher.append(_as_stored(message))  # what the room is sent is what history shows

    async def _append_batch(self, messages: list[Message]) -> list[StoredMessage]:
        """One statement for the batch; a client id stored before is not inserted, and found after."""
        columns = list(zip(*(_append_args(m) for m in messages), strict=True))
        rows_in = await self._write(lambda c: c.fetch(_APPEND_BATCH, *columns))
        seqs = {row["id"]: row["channel_seq"] for row in rows_in}
        outcomes: list[StoredMessage] = []
        for message in messages:
            seq = seqs.get(message.id)
            if seq is not None:
                outcomes.append(StoredMessage(replace(message, seq=seq), created=True))
            else:  # its client id was stored before: the original
                outcomes.append(await self._append_one(message))
        return outcomes

    async def _append_one(self, message: Message) -> StoredMessage:
        """One message on its own, one statement: repeats, and the messages of a batch that failed."""
        args = _append_args(message)

        async def op(c: _Connection) -> StoredMessage:
            for _ in range(RACE_RETRIES):
                try:
                    seq = await c.fetchval(_APPEND, *args)
                except asyncpg.UniqueViolationError:
                    # A repeat of a stored client id: the statement, and its bump of the channel's
                    # offset, was rolled back whole. The original is committed (its statement held
                    # the channel's offset row until then), so this next statement sees it.
                    row = await c.fetchrow(
                        _FIND_BY_CLIENT_ID, message.channel_id, message.author_id, message.client_message_id
                    )
                    if row is not None:
                        return StoredMessage(_message(row), created=False, published=row["published"])
                    continue  # ... and it was deleted in between (or an id collided): try again
                return StoredMessage(replace(message, seq=seq), created=True)
            raise StoreError(f"message {message.id} kept colliding with concurrent writes; try again")

        return await self._write(op)

    async def get_message(self, message_id: str) -> Message | None:
        row = await self._read(
            lambda c: c.fetchrow(f"SELECT {_MESSAGE_COLUMNS} FROM central_messages WHERE id = $1", message_id)
        )
        return _message(row) if row else None

    # the outbox -------------------------------------------------------------------------

    async def claim_unpublished(
        self, *, now: int, lease_ms: int, limit: int, message_id: str | None = None
    ) -> list[Message]:
        """One statement: rows another node is claiming right now are skipped (SKIP LOCKED), and a row
        whose lease another node renewed meanwhile fails the re-checked condition, so no two callers
        ever hold the same row."""
        found = await self._write(
            lambda c: c.fetch(_CLAIM_ONE if message_id else _CLAIM, now + lease_ms, now, lease_ms, limit, message_id)
        )
        return [_message(r, offset=1) for r in sorted(found, key=lambda r: r["seq"])]

    async def mark_published(self, message_ids: Sequence[str], at: int) -> None:
        if not message_ids:
            return
        await self._write(
            lambda c: c.execute(
                "UPDATE central_messages SET published_at = $1, publish_claimed_until = NULL"
                " WHERE id = ANY($2::text[])",
                at,
                list(message_ids),
            )
        )

    async def release_claim(self, message_id: str) -> None:
        await self._write(
            lambda c: c.execute(
                "UPDATE central_messages SET publish_claimed_until = 0 WHERE id = $1 AND published_at IS NULL",
                message_id,
            )
        )

    async def list_messages(
        self,
        channel_id: str,
        *,
        limit: int,
        before: int | None = None,
        after: int | None = None,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> list[Message]:
        sql = f"SELECT {_MESSAGE_COLUMNS} FROM central_messages WHERE channel_id = $1"
        args: list[Any] = [channel_id]
        for column, op, bound in (
            ("created_at", "<", before),
            ("created_at", ">", after),
            ("channel_seq", "<", before_seq),
            ("channel_seq", ">", after_seq),
        ):
            if bound is not None:
                args.append(bound)
                sql += f" AND {column} {op} ${len(args)}"
        args.append(_limit(limit))
        by_seq = before_seq is not None or after_seq is not None
        order = "channel_seq DESC" if by_seq else "created_at DESC, seq DESC"
        sql += f" ORDER BY {order} LIMIT ${len(args)}"
        rows = await self._read(lambda c: c.fetch(sql, *args))
        return [_message(r) for r in rows]

    async def count_messages_after_seq(self, channel_id: str, after_seq: int, *, through: int | None = None) -> int:
        count = await self._read(
            lambda c: c.fetchval(
                "SELECT count(*) FROM central_messages WHERE channel_id = $1 AND channel_seq > $2"
                " AND ($3::bigint IS NULL OR channel_seq <= $3)",
                channel_id,
                after_seq,
                through,
            )
        )
        return int(count)

    # administration ---------------------------------------------------------------------

    async def remove_server_agent(self, server_id: str, agent_id: str) -> bool:
        status = await self._write(
            lambda c: c.execute(
                "DELETE FROM message_server_agents WHERE message_server_id = $1 AND agent_id = $2", server_id, agent_id
            )
        )
        return _count(status) > 0

    async def list_channels(self, server_id: str, *, participant: str | None = None) -> list[Channel]:
        if participant is None:
            rows = await self._read(
                lambda c: c.fetch(
                    f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE message_server_id = $1 ORDER BY created_at, id",
                    server_id,
                )
            )
        else:
            columns = ", ".join(f"channels.{c.strip()}" for c in _CHANNEL_COLUMNS.split(","))
            rows = await self._read(
                lambda c: c.fetch(
                    f"SELECT {columns} FROM channels JOIN channel_participants p ON p.channel_id = channels.id"
                    " WHERE channels.message_server_id = $1 AND p.entity_id = $2"
                    " ORDER BY channels.created_at, channels.id",
                    server_id,
                    participant,
                )
            )
        return [_channel(r) for r in rows]

    async def delete_channel(self, channel_id: str) -> bool:
        status = await self._write(lambda c: c.execute("DELETE FROM channels WHERE id = $1", channel_id))
        return _count(status) > 0

    async def remove_participant(self, channel_id: str, entity_id: str) -> bool:
        status = await self._write(
            lambda c: c.execute(
                "DELETE FROM channel_participants WHERE channel_id = $1 AND entity_id = $2", channel_id, entity_id
            )
        )
        return _count(status) > 0

    async def set_participants(self, channel_id: str, entity_ids: Sequence[str]) -> None:
        # One statement, so atomic: the two parts touch disjoint rows (those leaving, those arriving).
        await self._write(
            lambda c: c.execute(
                "WITH leaving AS (DELETE FROM channel_participants"
                " WHERE channel_id = $1 AND NOT (entity_id = ANY($2::text[])))"
                " INSERT INTO channel_participants (channel_id, entity_id)"
                " SELECT DISTINCT $1, e FROM unnest($2::text[]) AS e ON CONFLICT DO NOTHING",
                channel_id,
                list(entity_ids),
            )
        )

    async def delete_message(self, channel_id: str, message_id: str) -> bool:
        status = await self._write(
            lambda c: c.execute(
                "DELETE FROM central_messages WHERE id = $1 AND channel_id = $2", message_id, channel_id
            )
        )
        return _count(status) > 0

    async def clear_messages(self, channel_id: str) -> int:
        status = await self._write(
            lambda c: c.execute("DELETE FROM central_messages WHERE channel_id = $1", channel_id)
        )
        return _count(status)

    async def update_message(self, message: Message) -> Message:
        async def op(c: _Connection) -> Message:
            row = await c.fetchrow(
                "UPDATE central_messages SET content = $1, raw_message = $2, source_type = $3,"
                " in_reply_to_root_message_id = $4, metadata = $5, updated_at = $6"
                f" WHERE id = $7 RETURNING {_MESSAGE_COLUMNS}",
                message.content,
                message.raw_message,
                message.source_type,
                message.in_reply_to_root_message_id,
                message.metadata,
                message.updated_at,
                message.id,
            )
            if row is None:
                raise StoreError(f"message {message.id} does not exist")
            return _message(row)

        return await self._write(op)

    async def list_messages_after(self, channel_id: str, *, after: int, limit: int) -> list[Message]:
        rows = await self._read(
            lambda c: c.fetch(
                f"SELECT {_MESSAGE_COLUMNS} FROM central_messages WHERE channel_id = $1 AND created_at > $2"
                " ORDER BY created_at, seq LIMIT $3",
                channel_id,
                after,
                _limit(limit),
            )
        )
        return [_message(r) for r in rows]

    # search -----------------------------------------------------------------------------

    async def keyword_search(self, query: KeywordQuery, scope: SearchScope, limit: int) -> list[SearchHit]:
        found = await self._read(lambda c: postgres_search.keyword_search(c, query, scope, limit))
        n = _MESSAGE_COLUMN_COUNT
        return [SearchHit(_message(r), float(r[n]), r[n + 1]) for r in found]

    async def member_channels(self, entity_id: str) -> list[str]:
        return await self._read(lambda c: postgres_search.member_channels(c, entity_id))

    async def enable_vectors(self) -> None:
        if self._vector_schema is not None:
            return
        pool = self._pool
        if pool is None:
            raise StoreError("The store is not open.")
        try:
            async with pool.acquire() as conn:
                self._vector_schema = await postgres_search.ensure_vectors(conn)
        except DB_ERRORS as exc:
            raise StoreError(f"PostgreSQL refused to set up vectors (pgvector): {exc}") from exc

    def _vectors(self) -> str:
        if self._vector_schema is None:
            raise StoreError("Vectors are not enabled on this store (enable_vectors).")
        return self._vector_schema

    async def vector_search(
        self, model: str, vector: Sequence[float], scope: SearchScope, limit: int
    ) -> list[SearchHit]:
        schema = self._vectors()
        found = await self._read(lambda c: postgres_search.vector_search(c, schema, model, vector, scope, limit))
        n = _MESSAGE_COLUMN_COUNT
        return [SearchHit(_message(r), float(r[n]), "") for r in found]

    async def pending_embeddings(self, model: str, *, after: int, limit: int) -> list[tuple[int, str, str]]:
        return await self._read(lambda c: postgres_search.pending_embeddings(c, model, after, limit))

    async def message_texts(self, message_ids: Sequence[str]) -> list[tuple[str, str]]:
        return await self._read(lambda c: postgres_search.texts(c, message_ids))

    async def save_vectors(self, model: str, items: Sequence[tuple[str, str, Sequence[float]]]) -> int:
        schema = self._vectors()
        return await self._write(lambda c: postgres_search.save_vectors(c, schema, model, items))

    # the user's control over the memory -------------------------------------------------

    async def list_member_messages(
        self,
        entity_id: str,
        *,
        limit: int,
        before: int | None = None,
        channel_id: str | None = None,
        reader: str | None = None,
        target_keys: Sequence[str] = (),
    ) -> list[Message]:
        args: list[Any] = [entity_id]
        addressed = ""
        for key in target_keys:
            args.append(key)
            addressed += f" OR metadata ->> ${len(args)} = $1"
        sql = (
            f"SELECT {_MESSAGE_COLUMNS} FROM central_messages WHERE channel_id IN ({_MEMBER_CHANNELS}"
            f" UNION SELECT id FROM channels WHERE id = $1{addressed})"
        )
        if channel_id is not None:
            args.append(channel_id)
            sql += f" AND channel_id = ${len(args)}"
        if reader is not None:
            args.append(reader)
            sql += f" AND channel_id IN (SELECT channel_id FROM channel_participants WHERE entity_id = ${len(args)})"
        if before is not None:
            args.append(before)
            sql += f" AND created_at < ${len(args)}"
        args.append(_limit(limit))
        sql += f" ORDER BY created_at DESC, seq DESC LIMIT ${len(args)}"
        rows = await self._read(lambda c: c.fetch(sql, *args))
        return [_message(r) for r in rows]

    async def page_messages(self, channel_id: str, *, after_seq: int, limit: int) -> list[Message]:
        rows = await self._read(
            lambda c: c.fetch(
                f"SELECT {_MESSAGE_COLUMNS} FROM central_messages WHERE channel_id = $1 AND channel_seq > $2"
                " ORDER BY channel_seq LIMIT $3",
                channel_id,
                after_seq,
                _limit(limit),
            )
        )
        return [_message(r) for r in rows]

    async def delete_messages_by_author(self, author_id: str, *, limit: int) -> list[tuple[str, str]]:
        return await self._delete_returning("author_id = $1 ORDER BY seq", author_id, limit, by_age=False)

    async def delete_messages_before(self, before: int, *, limit: int) -> list[tuple[str, str]]:
        return await self._delete_returning("created_at < $1 ORDER BY created_at, seq", before, limit, by_age=True)

    async def _delete_returning(self, where: str, bound: Any, limit: int, *, by_age: bool) -> list[tuple[str, str]]:
        """One bounded batch in one statement; rows another transaction is deleting are skipped."""
        found = await self._write(
            lambda c: c.fetch(
                "DELETE FROM central_messages WHERE seq IN"
                f" (SELECT seq FROM central_messages WHERE {where} LIMIT $2 FOR UPDATE SKIP LOCKED)"
                " RETURNING channel_id, id, created_at, seq",
                bound,
                _limit(limit),
            )
        )
        return rows.deleted_in_batch_order(found, by_age=by_age)

    # sessions ---------------------------------------------------------------------------

    async def save_session(self, session: ChatSession) -> None:
        await self._write(
            lambda c: c.execute(
                _SAVE_SESSION,
                *rows.session_values(session, _as_is),
            )
        )

    async def get_session(self, session_id: str) -> ChatSession | None:
        row = await self._read(
            lambda c: c.fetchrow(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id = $1", session_id)
        )
        return _session(row) if row else None

    async def delete_session(self, session_id: str) -> bool:
        status = await self._write(lambda c: c.execute("DELETE FROM sessions WHERE id = $1", session_id))
        return _count(status) > 0

    async def list_sessions(self, *, active_at: int | None = None) -> list[ChatSession]:
        sql = f"SELECT {_SESSION_COLUMNS} FROM sessions"
        args: tuple[Any, ...] = ()
        if active_at is not None:
            sql += " WHERE expires_at > $1"
            args = (active_at,)
        rows = await self._read(lambda c: c.fetch(sql + " ORDER BY created_at, id", *args))
        return [_session(r) for r in rows]

    async def session_counts(self, now: int) -> tuple[int, int, int]:
        row = await self._read(
            lambda c: c.fetchrow(
                "SELECT count(*), count(*) FILTER (WHERE expires_at > $1),"
                " count(*) FILTER (WHERE expires_at > $1 AND expires_at - $1 <= warning_threshold_minutes * 60000)"
                " FROM sessions",
                now,
            )
        )
        return int(row[0]), int(row[1]), int(row[2])

    async def delete_sessions_expired_before(self, before: int) -> int:
        status = await self._write(lambda c: c.execute("DELETE FROM sessions WHERE expires_at < $1", before))
        return _count(status)

    # jobs ---------------------------------------------------------------------------------

    async def save_job(self, job: Job) -> None:
        await self._write(
            lambda c: c.execute(
                _SAVE_JOB,
                *rows.job_values(job, _as_is),
            )
        )

    async def get_job(self, job_id: str) -> Job | None:
        row = await self._read(lambda c: c.fetchrow(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = $1", job_id))
        return _job(row) if row else None

    async def list_jobs(self, *, limit: int, status: str | None = None, user_id: str | None = None) -> list[Job]:
        found = await self._read(
            lambda c: c.fetch(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE ($1::text IS NULL OR status = $1)"
                " AND ($2::text IS NULL OR user_id = $2) ORDER BY created_at DESC, id DESC LIMIT $3",
                status,
                user_id,
                _limit(limit),
            )
        )
        return [_job(r) for r in found]

    async def list_unfinished_jobs(self) -> list[Job]:
        found = await self._read(
            lambda c: c.fetch(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status = ANY($1::text[]) ORDER BY created_at, id",
                list(rows.UNFINISHED_JOB_STATUSES),
            )
        )
        return [_job(r) for r in found]

    async def job_counts(self, *, user_id: str | None = None) -> dict[str, int]:
        found = await self._read(
            lambda c: c.fetch(
                "SELECT status, count(*) FROM jobs WHERE ($1::text IS NULL OR user_id = $1) GROUP BY status", user_id
            )
        )
        return {r[0]: int(r[1]) for r in found}

    async def completed_job_average_ms(self) -> float:
        value = await self._read(
            lambda c: c.fetchval(
                "SELECT avg(finished_at - created_at) FROM jobs WHERE status = 'completed' AND finished_at IS NOT NULL"
            )
        )
        return float(value or 0.0)

    async def delete_jobs_finished_before(self, before: int) -> int:
        status = await self._write(
            lambda c: c.execute(
                "DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < $1"
                " AND NOT (status = ANY($2::text[]))",
                before,
                list(rows.UNFINISHED_JOB_STATUSES),
            )
        )
        return _count(status)

    async def delete_oldest_finished_jobs(self, count: int) -> int:
        status = await self._write(
            lambda c: c.execute(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE NOT (status = ANY($1::text[]))"
                " ORDER BY created_at, id LIMIT $2)",
                list(rows.UNFINISHED_JOB_STATUSES),
                count,
            )
        )
        return _count(status)

    # agent runs -------------------------------------------------------------------------

    async def save_agent_run(self, run: AgentRun, *, keep: int) -> None:
        async def op(c: _Connection) -> None:
            await c.execute(_SAVE_RUN, *rows.run_values(run))
            await c.execute(_TRIM_RUNS, run.agent_id, keep)  # idempotent: a lost one is redone by the next

        await self._write(op)

    async def get_agent_run(self, agent_id: str, run_id: str) -> AgentRun | None:
        row = await self._read(
            lambda c: c.fetchrow(
                f"SELECT {rows.RUN_COLUMNS} FROM agent_runs WHERE id = $1 AND agent_id = $2", run_id, agent_id
            )
        )
        return rows.run_from_row(row, _as_is) if row else None

    async def list_agent_runs(
        self, agent_id: str, *, limit: int, channel_id: str | None = None, status: str | None = None
    ) -> tuple[list[AgentRun], int]:
        where = "agent_id = $1"
        args: list[Any] = [agent_id]
        if channel_id is not None:
            args.append(channel_id)
            where += f" AND channel_id = ${len(args)}"
        if status is not None:
            args.append(status)
            where += f" AND status = ${len(args)}"

        async def op(c: _Connection) -> tuple[list[Any], int]:
            found = await c.fetch(
                f"SELECT {rows.RUN_COLUMNS} FROM agent_runs WHERE {where}"
                f" ORDER BY started_at DESC, id DESC LIMIT ${len(args) + 1}",
                *args,
                limit,
            )
            total = await c.fetchval(f"SELECT count(*) FROM agent_runs WHERE {where}", *args)
            return found, int(total)

        found, total = await self._read(op)
        return [rows.run_from_row(r, _as_is) for r in found], total


# connections ----------------------------------------------------------------------------


class _Connection:
    """A pooled connection whose text arguments are made storable (U+0000 becomes U+FFFD)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        return list(await self._conn.fetch(sql, *map(_storable, args)))

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        return await self._conn.fetchrow(sql, *map(_storable, args))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._conn.fetchval(sql, *map(_storable, args))

    async def execute(self, sql: str, *args: Any) -> str:
        return str(await self._conn.execute(sql, *map(_storable, args)))


async def _init_connection(conn: Any) -> None:
    """JSONB in and out as Python objects, through orjson, in the binary format (no text round trip)."""
    await conn.set_type_codec("jsonb", schema="pg_catalog", encoder=_encode_json, decoder=_decode_json, format="binary")


async def _keep_session(conn: Any) -> None:
    """Released connections need no reset: the store never changes a pooled connection's session state.

    asyncpg's default reset costs a second round trip on every release (asyncpg still rolls back a
    transaction left open).
    """


async def _migrate(conn: Any) -> None:
    """Apply the missing migrations, one transaction each, while holding the schema's advisory lock.

    A node that starts while another migrates waits here, then finds nothing left to do.
    """
    lock_key = "hashtext(coalesce(current_schema(), ''))"
    await conn.execute(f"SELECT pg_advisory_lock($1, {lock_key})", MIGRATION_LOCK)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        applied = {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, script in MIGRATIONS:
            if version in applied:
                continue
            async with conn.transaction():
                await conn.execute(script)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
    finally:
        if not conn.is_closed():
            await conn.execute(f"SELECT pg_advisory_unlock($1, {lock_key})", MIGRATION_LOCK)


async def _insert_or_select(c: _Connection, ensure_sql: str, get_sql: str, args: Sequence[Any], key: str) -> Any:
    """The row ``ensure_sql`` inserted or found; when a concurrent insert won after this statement's
    snapshot was taken, the row is read again by a second statement, which sees it."""
    row = await c.fetchrow(ensure_sql, *args)
    if row is None:
        row = await c.fetchrow(get_sql, key)
    if row is None:
        raise StoreError(f"{key} was deleted while being created; try again")
    return row


# values ---------------------------------------------------------------------------------


def _storable(value: Any) -> Any:
    if type(value) is str:
        return value.replace(NUL, REPLACEMENT) if NUL in value else value
    if type(value) is list:
        return [_storable(v) for v in value]
    return value


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(NUL, REPLACEMENT)
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value


def _encode_json(value: Any) -> bytes:
    data = orjson.dumps(value)
    if b"\\u0000" in data:  # orjson writes U+0000 as this escape, which JSONB refuses
        data = orjson.dumps(_without_nul(value))
    return JSONB_VERSION + data


def _decode_json(data: bytes) -> Any:
    return orjson.loads(memoryview(data)[1:])


def _json_has_nul(value: Any) -> bool:
    return b"\\u0000" in orjson.dumps(value)


def _append_args(message: Message) -> tuple[Any, ...]:
    """The columns of _APPEND and _APPEND_BATCH, in order."""
    return (
        message.id,
        message.channel_id,
        message.author_id,
        message.author_name,
        message.content,
        message.raw_message,
        message.in_reply_to_root_message_id,
        message.source_type,
        message.source_id,
        message.metadata,
        message.client_message_id,
        message.created_at,
        message.updated_at,
    )


def _as_stored(message: Message) -> Message:
    """``message`` as PostgreSQL keeps it: the same object unless some text of it holds U+0000."""
    texts = (
        message.id,
        message.channel_id,
        message.author_id,
        message.author_name,
        message.content,
        message.in_reply_to_root_message_id,
        message.source_type,
        message.source_id,
        message.client_message_id,
    )
    if (
        any(t is not None and NUL in t for t in texts)
        or _json_has_nul(message.metadata)
        or _json_has_nul(message.raw_message)
    ):
        return replace(message, **{f.name: _without_nul(getattr(message, f.name)) for f in fields(message)})
    return message


def _count(status: str) -> int:
    """The row count of a command tag such as ``DELETE 3``."""
    return int(status.rsplit(" ", 1)[-1])


def _limit(limit: int) -> int | None:
    """SQLite reads a negative LIMIT as no limit; PostgreSQL refuses it, and reads NULL so."""
    return None if limit < 0 else limit


# statements and rows --------------------------------------------------------------------

# The channels an entity takes part in: a participant of, or written in ($1: the entity).
_MEMBER_CHANNELS = (
    "SELECT channel_id FROM channel_participants WHERE entity_id = $1"
    " UNION SELECT channel_id FROM central_messages WHERE author_id = $1"
)
_SERVER_COLUMNS = rows.SERVER_COLUMNS
_GET_SERVER = f"SELECT {_SERVER_COLUMNS} FROM message_servers WHERE id = $1"
_ENSURE_SERVER = f"""
WITH inserted AS (
    INSERT INTO message_servers ({_SERVER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (id) DO NOTHING
    RETURNING {_SERVER_COLUMNS}
)
SELECT {_SERVER_COLUMNS} FROM inserted
UNION ALL
SELECT {_SERVER_COLUMNS} FROM message_servers WHERE id = $1 AND NOT EXISTS (SELECT FROM inserted)
"""

_CHANNEL_COLUMNS = rows.CHANNEL_COLUMNS
_GET_CHANNEL = f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE id = $1"
# The participants' foreign keys are checked at the end of the statement, so they see the new channel.
_ENSURE_CHANNEL = f"""
WITH inserted AS (
    INSERT INTO channels ({_CHANNEL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    ON CONFLICT (id) DO NOTHING
    RETURNING {_CHANNEL_COLUMNS}
), members AS (
    INSERT INTO channel_participants (channel_id, entity_id)
    SELECT $1, e FROM unnest($11::text[]) AS e
    ON CONFLICT DO NOTHING
)
SELECT {_CHANNEL_COLUMNS} FROM inserted
UNION ALL
SELECT {_CHANNEL_COLUMNS} FROM channels WHERE id = $1 AND NOT EXISTS (SELECT FROM inserted)
"""

_MESSAGE_COLUMNS = rows.MESSAGE_COLUMNS
_MESSAGE_COLUMN_COUNT = len(_MESSAGE_COLUMNS.split(","))
_PREFIXED_MESSAGE_COLUMNS = ", ".join(f"m.{c.strip()}" for c in _MESSAGE_COLUMNS.split(","))
# One statement: take the channel's next offset (the row stays locked until the statement commits,
# so concurrent appends to the channel, from any node, queue there and get 1, 2, 3, ... in commit
# order) and insert with it. A repeat of a client id fails the whole statement with a unique
# violation, its bump included, so no offset is ever skipped.
_FIND_BY_CLIENT_ID = f"""
SELECT {_MESSAGE_COLUMNS}, published_at IS NOT NULL AS published FROM central_messages
WHERE channel_id = $1 AND author_id = $2 AND client_message_id = $3
"""

# A batch in one statement: the messages whose client id is not stored yet are inserted, each channel's
# offset row is bumped once by its count (in channel order: concurrent batches never deadlock), and they
# are numbered in arrival order from there. The caller passes no two messages with one client id.
_APPEND_BATCH = f"""
WITH input AS (
    SELECT * FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[],
        $8::text[], $9::text[], $10::jsonb[], $11::text[], $12::bigint[], $13::bigint[]
    ) WITH ORDINALITY AS t(
        id, channel_id, author_id, author_name, content, raw_message, in_reply_to_root_message_id,
        source_type, source_id, metadata, client_message_id, created_at, updated_at, ord
    )
), fresh AS (
    SELECT i.* FROM input AS i
    WHERE i.client_message_id IS NULL OR NOT EXISTS (
        SELECT 1 FROM central_messages AS m
        WHERE m.channel_id = i.channel_id COLLATE "C" AND m.author_id = i.author_id COLLATE "C"
          AND m.client_message_id = i.client_message_id COLLATE "C"
    )
), counts AS (
    SELECT channel_id, count(*)::bigint AS n FROM fresh GROUP BY channel_id
), bump AS (
    INSERT INTO channel_offsets (channel_id, last_seq)
    SELECT channel_id, n FROM counts ORDER BY channel_id COLLATE "C"
    ON CONFLICT (channel_id) DO UPDATE SET last_seq = channel_offsets.last_seq + EXCLUDED.last_seq
    RETURNING channel_id, last_seq
)
INSERT INTO central_messages ({_MESSAGE_COLUMNS})
SELECT f.id, f.channel_id, f.author_id, f.author_name, f.content, f.raw_message, f.in_reply_to_root_message_id,
       f.source_type, f.source_id, f.metadata, f.client_message_id, f.created_at, f.updated_at,
       b.last_seq - c.n + row_number() OVER (PARTITION BY f.channel_id ORDER BY f.ord)
FROM fresh AS f JOIN counts AS c USING (channel_id) JOIN bump AS b USING (channel_id)
ORDER BY f.channel_id COLLATE "C", f.ord
RETURNING id, channel_seq
"""

_APPEND = f"""
WITH bump AS (
    INSERT INTO channel_offsets (channel_id, last_seq) VALUES ($2, 1)
    ON CONFLICT (channel_id) DO UPDATE SET last_seq = channel_offsets.last_seq + 1
    RETURNING last_seq
)
INSERT INTO central_messages ({_MESSAGE_COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, (SELECT last_seq FROM bump))
RETURNING channel_seq
"""

# $1 the lease's end, $2 now, $3 the lease (how long a live send holds its new row), $4 how many,
# $5 the one message id (_CLAIM_ONE) or NULL (_CLAIM; still passed so both take the same arguments).
_CLAIMABLE = "published_at IS NULL AND COALESCE(publish_claimed_until, created_at + $3) <= $2"
# The rows are picked in a CTE (evaluated once, its rows locked) rather than an IN subquery, which
# the planner may evaluate again and so take more than $4 rows.
_CLAIM = f"""
WITH picked AS (
    SELECT seq FROM central_messages WHERE {_CLAIMABLE} AND $5::text IS NULL
    ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED
)
UPDATE central_messages AS m SET publish_claimed_until = $1
FROM picked WHERE m.seq = picked.seq
RETURNING m.seq, {_PREFIXED_MESSAGE_COLUMNS}
"""
_CLAIM_ONE = f"""
UPDATE central_messages SET publish_claimed_until = $1
WHERE id = $5 AND {_CLAIMABLE} AND $4::bigint > 0
RETURNING seq, {_MESSAGE_COLUMNS}
"""

_SESSION_COLUMNS = rows.SESSION_COLUMNS
_SAVE_RUN = (
    f"INSERT INTO agent_runs ({rows.RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    " ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c.strip()} = EXCLUDED.{c.strip()}" for c in rows.RUN_COLUMNS.split(",")[1:])
)
# Every run of an agent beyond its newest ``keep`` (by start) goes.
_TRIM_RUNS = (
    "DELETE FROM agent_runs WHERE agent_id = $1 AND id NOT IN"
    " (SELECT id FROM agent_runs WHERE agent_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2)"
)
_SAVE_SESSION = (
    f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    " ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c.strip()} = EXCLUDED.{c.strip()}" for c in _SESSION_COLUMNS.split(",")[1:])
)

_JOB_COLUMNS = rows.JOB_COLUMNS
_SAVE_JOB = (
    f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    " ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c.strip()} = EXCLUDED.{c.strip()}" for c in _JOB_COLUMNS.split(",")[1:])
)


def _as_is(value: Any) -> Any:
    """JSONB columns arrive decoded (the connection's codec)."""
    return value


def _server(row: Any) -> MessageServer:
    return rows.server_from_row(row, _as_is)


def _channel(row: Any) -> Channel:
    return rows.channel_from_row(row, _as_is)


def _message(row: Any, offset: int = 0) -> Message:
    return rows.message_from_row(row, _as_is, offset)


def _session(row: Any) -> ChatSession:
    return rows.session_from_row(row, _as_is)


def _job(row: Any) -> Job:
    return rows.job_from_row(row, _as_is)

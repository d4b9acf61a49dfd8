"""The embedded store: one SQLite file in WAL mode, writes gathered into shared transactions.

Writes run on one dedicated thread. Whatever writes arrive while a transaction is being
committed wait in a batch and are committed together in the next one (group commit), so a
burst costs one fsync per batch rather than one per message, while every caller still
returns only after its own row is durable. Reads use their own connection and thread, so
they never wait behind a commit (WAL lets them see the last committed state).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import orjson

from ..records import AgentRun, Channel, ChatSession, Job, Message, MessageServer, StoredMessage
from . import rows, sqlite_search
from .base import StoreError
from .search import KeywordQuery, SearchHit, SearchScope
from .sqlite_schema import MIGRATIONS

log = logging.getLogger(__name__)
T = TypeVar("T")
WriteOp = Callable[[sqlite3.Connection], Any]

MAX_BATCH = 512
CATCH_UP_DELAY_S = 0.2  # how long appends gather before the keyword index takes them in one batch


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _loads(text: str | None) -> Any:
    return orjson.loads(text) if text else {}


class SQLiteStore:
    """``Store`` on a SQLite file (``path``), or in memory with ``":memory:"`` for unit tests."""

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._writer_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-write")
        self._reader_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-read")
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._pending: list[tuple[WriteOp, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._vectors: Any = None  # a reader with sqlite-vec (enable_vectors), on the reader thread
        # the keyword index catches up in batches (sqlite_search.catch_up): appends made / indexed so far
        self._appends = 0
        self._indexed_appends = 0
        self._catch_up: asyncio.TimerHandle | None = None
        self._catch_up_tasks: set[asyncio.Task[None]] = set()

    # lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = await loop.run_in_executor(self._writer_pool, self._connect_writer)
        self._reader = await loop.run_in_executor(self._reader_pool, self._connect_reader)
        await self._index_now(force=True)  # rows stored but not indexed when the last process stopped

    def _connect_writer(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        self._migrate(conn)
        # One process owns the file: whatever a previous process had claimed to publish, it never will.
        conn.execute("UPDATE central_messages SET publish_claimed_until = 0 WHERE published_at IS NULL")
        return conn

    def _connect_reader(self) -> sqlite3.Connection:
        if self._path == ":memory:":
            assert self._writer is not None
            return self._writer
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA query_only=ON")
        return conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER)")
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, script in MIGRATIONS:
            if version in applied:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(script):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations VALUES (?, strftime('%s','now'))", (version,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    async def close(self) -> None:
        if self._catch_up is not None:
            self._catch_up.cancel()
            self._catch_up = None
        await self._index_now()
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
        loop = asyncio.get_running_loop()
        if self._reader is not None and self._reader is not self._writer:
            await loop.run_in_executor(self._reader_pool, self._reader.close)
        if self._vectors is not None:
            await loop.run_in_executor(self._reader_pool, self._vectors.close)
            self._vectors = None
        if self._writer is not None:
            await loop.run_in_executor(self._writer_pool, self._writer.close)
        self._reader = self._writer = None
        self._writer_pool.shutdown(wait=True)
        self._reader_pool.shutdown(wait=True)

    async def ping(self) -> bool:
        try:
            return bool(await self._read(lambda c: c.execute("SELECT 1").fetchone()[0] == 1))
        except Exception:
            return False

    # the two paths ----------------------------------------------------------------------

    async def _read(self, op: Callable[[sqlite3.Connection], T]) -> T:
        if self._reader is None:
            raise StoreError("The store is not open.")
        reader = self._reader
        pool = self._writer_pool if reader is self._writer else self._reader_pool
        return await asyncio.get_running_loop().run_in_executor(pool, op, reader)

    async def _write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Queue ``op`` for the next transaction and wait until that transaction has committed."""
        if self._writer is None:
            raise StoreError("The store is not open.")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((op, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                outcomes = await loop.run_in_executor(self._writer_pool, self._run_batch, batch)
            except Exception as exc:  # the commit itself failed: nobody's write is durable
                outcomes = [StoreError(f"The database could not commit: {exc}")] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    def _run_batch(self, batch: list[tuple[WriteOp, asyncio.Future[Any]]]) -> list[Any]:
        """One transaction; each op in its own savepoint so one failure spares the others."""
        conn = self._writer
        assert conn is not None
        outcomes: list[Any] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for op, _ in batch:
                conn.execute("SAVEPOINT op")
                try:
                    outcomes.append(op(conn))
                    conn.execute("RELEASE op")
                except Exception as exc:
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    outcomes.append(exc)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return outcomes

    # message servers --------------------------------------------------------------------

    async def ensure_message_server(self, server: MessageServer) -> MessageServer:
        def op(c: sqlite3.Connection) -> MessageServer:
            c.execute(
                "INSERT OR IGNORE INTO message_servers VALUES (?,?,?,?,?,?,?)",
                (
                    server.id,
                    server.name,
                    server.source_type,
                    server.source_id,
                    _dumps(server.metadata),
                    server.created_at,
                    server.updated_at,
                ),
            )
            row = c.execute("SELECT * FROM message_servers WHERE id = ?", (server.id,)).fetchone()
            return _server(row)

        return await self._write(op)

    async def get_message_server(self, server_id: str) -> MessageServer | None:
        row = await self._read(
            lambda c: c.execute("SELECT * FROM message_servers WHERE id = ?", (server_id,)).fetchone()
        )
        return _server(row) if row else None

    async def list_message_servers(self) -> list[MessageServer]:
        rows = await self._read(lambda c: c.execute("SELECT * FROM message_servers ORDER BY created_at, id").fetchall())
        return [_server(r) for r in rows]

    async def add_server_agent(self, server_id: str, agent_id: str) -> None:
        await self._write(
            lambda c: c.execute("INSERT OR IGNORE INTO message_server_agents VALUES (?, ?)", (server_id, agent_id))
        )

    async def list_server_agents(self, server_id: str) -> list[str]:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT agent_id FROM message_server_agents WHERE message_server_id = ? ORDER BY agent_id",
                (server_id,),
            ).fetchall()
        )
        return [r[0] for r in rows]

    # channels ---------------------------------------------------------------------------

    async def ensure_channel(self, channel: Channel, participants: Sequence[str] = ()) -> Channel:
        def op(c: sqlite3.Connection) -> Channel:
            c.execute(
                "INSERT OR IGNORE INTO channels VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    channel.id,
                    channel.message_server_id,
                    channel.name,
                    channel.type,
                    channel.source_type,
                    channel.source_id,
                    channel.topic,
                    _dumps(channel.metadata),
                    channel.created_at,
                    channel.updated_at,
                ),
            )
            c.executemany(
                "INSERT OR IGNORE INTO channel_participants VALUES (?, ?)",
                [(channel.id, p) for p in participants],
            )
            return _channel(c.execute("SELECT * FROM channels WHERE id = ?", (channel.id,)).fetchone())

        return await self._write(op)

    async def get_channel(self, channel_id: str) -> Channel | None:
        row = await self._read(lambda c: c.execute("SELECT * FROM channels WHERE id = ?", (channel_id,)).fetchone())
        return _channel(row) if row else None

    async def update_channel(self, channel: Channel) -> Channel:
        def op(c: sqlite3.Connection) -> Channel:
            c.execute(
                "UPDATE channels SET name = ?, type = ?, topic = ?, metadata = ?, updated_at = ? WHERE id = ?",
                (channel.name, channel.type, channel.topic, _dumps(channel.metadata), channel.updated_at, channel.id),
            )
            row = c.execute("SELECT * FROM channels WHERE id = ?", (channel.id,)).fetchone()
            if row is None:
                raise StoreError(f"channel {channel.id} does not exist")
            return _channel(row)

        return await self._write(op)

    async def add_participants(self, channel_id: str, entity_ids: Sequence[str]) -> None:
        await self._write(
            lambda c: c.executemany(
                "INSERT OR IGNORE INTO channel_participants VALUES (?, ?)",
                [(channel_id, e) for e in entity_ids],
            )
        )

    async def list_participants(self, channel_id: str) -> list[str]:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT entity_id FROM channel_participants WHERE channel_id = ? ORDER BY entity_id",
                (channel_id,),
            ).fetchall()
        )
        return [r[0] for r in rows]

    # messages ---------------------------------------------------------------------------

    async def append_message(self, message: Message) -> StoredMessage:
        def op(c: sqlite3.Connection) -> StoredMessage:
            if message.client_message_id is not None:
                row = c.execute(
                    f"SELECT {_MESSAGE_COLUMNS}, published_at IS NOT NULL FROM central_messages"
                    " WHERE channel_id = ? AND author_id = ? AND client_message_id = ?",
                    (message.channel_id, message.author_id, message.client_message_id),
                ).fetchone()
                if row:
                    return StoredMessage(_message(row), created=False, published=bool(row[-1]))
            # The next offset of the channel, in this op's savepoint: a failed insert takes it back.
            seq = c.execute(_NEXT_SEQ, (message.channel_id,)).fetchone()[0]
            c.execute(
                f"INSERT INTO central_messages ({_MESSAGE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    message.id,
                    message.channel_id,
                    message.author_id,
                    message.author_name,
                    message.content,
                    _dumps(message.raw_message),
                    message.in_reply_to_root_message_id,
                    message.source_type,
                    message.source_id,
                    _dumps(message.metadata),
                    message.client_message_id,
                    message.created_at,
                    message.updated_at,
                    seq,
                ),
            )
            return StoredMessage(replace(message, seq=seq), created=True)

        stored: StoredMessage = await self._write(op)
        if stored.created:
            self._appended()
        return stored

    def _appended(self) -> None:
        """A row to index: the keyword index catches up soon, in one batch with the others."""
        self._appends += 1
        if self._catch_up is None:
            self._catch_up = asyncio.get_running_loop().call_later(CATCH_UP_DELAY_S, self._start_catch_up)

    def _start_catch_up(self) -> None:
        self._catch_up = None
        task = asyncio.get_running_loop().create_task(self._index_now())
        self._catch_up_tasks.add(task)
        task.add_done_callback(self._catch_up_tasks.discard)

    async def _index_now(self, *, force: bool = False) -> None:
        """Bring the keyword index up to every append made so far (errors: the next call retries)."""
        wanted = self._appends
        if (self._indexed_appends >= wanted and not force) or self._writer is None:
            return
        try:
            await self._write(sqlite_search.catch_up)
        except Exception:  # the store is closing, or the disk failed: the next append or search tries again
            log.warning("the keyword index could not catch up; retrying later", exc_info=True)
            return
        self._indexed_appends = max(self._indexed_appends, wanted)

    async def get_message(self, message_id: str) -> Message | None:
        row = await self._read(
            lambda c: c.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM central_messages WHERE id = ?", (message_id,)
            ).fetchone()
        )
        return _message(row) if row else None

    # the outbox -------------------------------------------------------------------------

    async def claim_unpublished(
        self, *, now: int, lease_ms: int, limit: int, message_id: str | None = None
    ) -> list[Message]:
        sql = (
            f"SELECT seq, {_MESSAGE_COLUMNS} FROM central_messages WHERE published_at IS NULL"
            " AND COALESCE(publish_claimed_until, created_at + ?) <= ?"
        )
        args: list[Any] = [lease_ms, now]
        if message_id is not None:
            sql += " AND id = ?"
            args.append(message_id)
        sql += " ORDER BY seq LIMIT ?"
        args.append(limit)

        def op(c: sqlite3.Connection) -> list[Message]:
            found = c.execute(sql, args).fetchall()
            c.executemany(
                "UPDATE central_messages SET publish_claimed_until = ? WHERE seq = ?",
                [(now + lease_ms, r[0]) for r in found],
            )
            return [rows.message_from_row(r, _loads, offset=1) for r in found]

        return await self._write(op)

    async def mark_published(self, message_ids: Sequence[str], at: int) -> None:
        await self._write(
            lambda c: c.executemany(
                "UPDATE central_messages SET published_at = ?, publish_claimed_until = NULL WHERE id = ?",
                [(at, i) for i in message_ids],
            )
        )

    async def release_claim(self, message_id: str) -> None:
        await self._write(
            lambda c: c.execute(
                "UPDATE central_messages SET publish_claimed_until = 0 WHERE id = ? AND published_at IS NULL",
                (message_id,),
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
        sql = f"SELECT {_MESSAGE_COLUMNS} FROM central_messages WHERE channel_id = ?"
        args: list[Any] = [channel_id]
        for column, op, bound in (
            ("created_at", "<", before),
            ("created_at", ">", after),
            ("channel_seq", "<", before_seq),
            ("channel_seq", ">", after_seq),
        ):
            if bound is not None:
                sql += f" AND {column} {op} ?"
                args.append(bound)
        by_seq = before_seq is not None or after_seq is not None
        sql += " ORDER BY channel_seq DESC LIMIT ?" if by_seq else " ORDER BY created_at DESC, seq DESC LIMIT ?"
        args.append(limit)
        rows = await self._read(lambda c: c.execute(sql, args).fetchall())
        return [_message(r) for r in rows]

    async def count_messages_after_seq(self, channel_id: str, after_seq: int, *, through: int | None = None) -> int:
        row = await self._read(
            lambda c: c.execute(
                "SELECT COUNT(*) FROM central_messages WHERE channel_id = ? AND channel_seq > ?"
                " AND (? IS NULL OR channel_seq <= ?)",
                (channel_id, after_seq, through, through),
            ).fetchone()
        )
        return int(row[0])

    # administration ---------------------------------------------------------------------

    async def remove_server_agent(self, server_id: str, agent_id: str) -> bool:
        count: int = await self._write(
            lambda c: (
                c.execute(
                    "DELETE FROM message_server_agents WHERE message_server_id = ? AND agent_id = ?",
                    (server_id, agent_id),
                ).rowcount
            )
        )
        return count > 0

    async def list_channels(self, server_id: str, *, participant: str | None = None) -> list[Channel]:
        args: tuple[str, ...] = (server_id,)
        if participant is None:
            sql = "SELECT * FROM channels WHERE message_server_id = ? ORDER BY created_at, id"
        else:
            sql = (
                "SELECT channels.* FROM channels JOIN channel_participants p ON p.channel_id = channels.id"
                " WHERE channels.message_server_id = ? AND p.entity_id = ? ORDER BY channels.created_at, channels.id"
            )
            args = (server_id, participant)
        rows = await self._read(lambda c: c.execute(sql, args).fetchall())
        return [_channel(r) for r in rows]

    async def delete_channel(self, channel_id: str) -> bool:
        count: int = await self._write(lambda c: c.execute("DELETE FROM channels WHERE id = ?", (channel_id,)).rowcount)
        return count > 0

    async def remove_participant(self, channel_id: str, entity_id: str) -> bool:
        count: int = await self._write(
            lambda c: (
                c.execute(
                    "DELETE FROM channel_participants WHERE channel_id = ? AND entity_id = ?", (channel_id, entity_id)
                ).rowcount
            )
        )
        return count > 0

    async def set_participants(self, channel_id: str, entity_ids: Sequence[str]) -> None:
        def op(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM channel_participants WHERE channel_id = ?", (channel_id,))
            c.executemany(
                "INSERT OR IGNORE INTO channel_participants VALUES (?, ?)", [(channel_id, e) for e in entity_ids]
            )

        await self._write(op)

    async def delete_message(self, channel_id: str, message_id: str) -> bool:
        count: int = await self._write(
            lambda c: (
                c.execute(
                    "DELETE FROM central_messages WHERE id = ? AND channel_id = ?", (message_id, channel_id)
                ).rowcount
            )
        )
        return count > 0

    async def clear_messages(self, channel_id: str) -> int:
        count: int = await self._write(
            lambda c: c.execute("DELETE FROM central_messages WHERE channel_id = ?", (channel_id,)).rowcount
        )
        return count

    async def update_message(self, message: Message) -> Message:
        def op(c: sqlite3.Connection) -> Message:
            c.execute(
                "UPDATE central_messages SET content = ?, raw_message = ?, source_type = ?,"
                " in_reply_to_root_message_id = ?, metadata = ?, updated_at = ? WHERE id = ?",
                (
                    message.content,
                    _dumps(message.raw_message),
                    message.source_type,
                    message.in_reply_to_root_message_id,
                    _dumps(message.metadata),
                    message.updated_at,
                    message.id,
                ),
            )
            row = c.execute(f"SELECT {_MESSAGE_COLUMNS} FROM central_messages WHERE id = ?", (message.id,)).fetchone()
            if row is None:
                raise StoreError(f"message {message.id} does not exist")
            return _message(row)

        return await self._write(op)

    async def list_messages_after(self, channel_id: str, *, after: int, limit: int) -> list[Message]:
        rows = await self._read(
            lambda c: c.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM central_messages WHERE channel_id = ? AND created_at > ?"
                " ORDER BY created_at, seq LIMIT ?",
                (channel_id, after, limit),
            ).fetchall()
        )
        return [_message(r) for r in rows]

    # search -----------------------------------------------------------------------------

    async def keyword_search(self, query: KeywordQuery, scope: SearchScope, limit: int) -> list[SearchHit]:
        await self._index_now()  # whatever was acknowledged before this search is found by it
        found = await self._read(lambda c: sqlite_search.keyword_search(c, query, scope, limit))
        n = sqlite_search.COLUMN_COUNT
        return [SearchHit(_message(r), float(r[n]), r[n + 1]) for r in found]

    async def member_channels(self, entity_id: str) -> list[str]:
        return await self._read(lambda c: sqlite_search.member_channels(c, entity_id))

    async def enable_vectors(self) -> None:
        if self._vectors is None:
            loop = asyncio.get_running_loop()
            self._vectors = await loop.run_in_executor(self._reader_pool, sqlite_search.connect_vectors, self._path)

    async def vector_search(
        self, model: str, vector: Sequence[float], scope: SearchScope, limit: int
    ) -> list[SearchHit]:
        conn = self._vectors
        if conn is None:
            raise StoreError("Vectors are not enabled on this store (enable_vectors).")
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(
            self._reader_pool, sqlite_search.vector_search, conn, model, vector, scope, limit
        )
        n = sqlite_search.COLUMN_COUNT
        return [SearchHit(_message(r), float(r[n]), "") for r in found]

    async def pending_embeddings(self, model: str, *, after: int, limit: int) -> list[tuple[int, str, str]]:
        return await self._read(lambda c: sqlite_search.pending_embeddings(c, model, after, limit))

    async def message_texts(self, message_ids: Sequence[str]) -> list[tuple[str, str]]:
        return await self._read(lambda c: sqlite_search.texts(c, message_ids))

    async def save_vectors(self, model: str, items: Sequence[tuple[str, str, Sequence[float]]]) -> int:
        saved: int = await self._write(lambda c: sqlite_search.save_vectors(c, model, items))
        return saved

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
        addressed = "".join(" OR json_extract(metadata, ?) = ?" for _ in target_keys)
        sql = (
            f"SELECT {_MESSAGE_COLUMNS} FROM central_messages WHERE channel_id IN ({_MEMBER_CHANNELS}"
            f" UNION SELECT id FROM channels WHERE id = ?{addressed})"
        )
        args: list[Any] = [entity_id, entity_id, entity_id]
        for key in target_keys:
            args += [f'$."{key}"', entity_id]
        if channel_id is not None:
            sql += " AND channel_id = ?"
            args.append(channel_id)
        if reader is not None:
            sql += " AND channel_id IN (SELECT channel_id FROM channel_participants WHERE entity_id = ?)"
            args.append(reader)
        if before is not None:
            sql += " AND created_at < ?"
            args.append(before)
        sql += " ORDER BY created_at DESC, seq DESC LIMIT ?"
        args.append(limit)
        rows = await self._read(lambda c: c.execute(sql, args).fetchall())
        return [_message(r) for r in rows]

    async def page_messages(self, channel_id: str, *, after_seq: int, limit: int) -> list[Message]:
        rows = await self._read(
            lambda c: c.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM central_messages WHERE channel_id = ? AND channel_seq > ?"
                " ORDER BY channel_seq LIMIT ?",
                (channel_id, after_seq, limit),
            ).fetchall()
        )
        return [_message(r) for r in rows]

    async def delete_messages_by_author(self, author_id: str, *, limit: int) -> list[tuple[str, str]]:
        return await self._delete_returning("author_id = ? ORDER BY seq", author_id, limit, by_age=False)

    async def delete_messages_before(self, before: int, *, limit: int) -> list[tuple[str, str]]:
        return await self._delete_returning("created_at < ? ORDER BY created_at, seq", before, limit, by_age=True)

    async def _delete_returning(self, where: str, bound: Any, limit: int, *, by_age: bool) -> list[tuple[str, str]]:
        """One bounded batch, deleted row by row (so any trigger on the table sees each row go)."""
        found = await self._write(
            lambda c: c.execute(
                "DELETE FROM central_messages WHERE seq IN"
                f" (SELECT seq FROM central_messages WHERE {where} LIMIT ?) RETURNING channel_id, id, created_at, seq",
                (bound, limit),
            ).fetchall()
        )
        return rows.deleted_in_batch_order(found, by_age=by_age)

    # sessions ---------------------------------------------------------------------------

    async def save_session(self, session: ChatSession) -> None:
        await self._write(
            lambda c: c.execute(
                f"INSERT OR REPLACE INTO sessions ({_SESSION_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows.session_values(session, _dumps),
            )
        )

    async def get_session(self, session_id: str) -> ChatSession | None:
        row = await self._read(
            lambda c: c.execute(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,)).fetchone()
        )
        return _session(row) if row else None

    async def delete_session(self, session_id: str) -> bool:
        count: int = await self._write(lambda c: c.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount)
        return count > 0

    async def list_sessions(self, *, active_at: int | None = None) -> list[ChatSession]:
        sql = f"SELECT {_SESSION_COLUMNS} FROM sessions"
        args: tuple[Any, ...] = ()
        if active_at is not None:
            sql += " WHERE expires_at > ?"
            args = (active_at,)
        rows = await self._read(lambda c: c.execute(sql + " ORDER BY created_at, id", args).fetchall())
        return [_session(r) for r in rows]

    async def session_counts(self, now: int) -> tuple[int, int, int]:
        row = await self._read(
            lambda c: c.execute(
                "SELECT COUNT(*),"
                " COALESCE(SUM(expires_at > ?), 0),"
                " COALESCE(SUM(expires_at > ? AND expires_at - ? <= warning_threshold_minutes * 60000), 0)"
                " FROM sessions",
                (now, now, now),
            ).fetchone()
        )
        return int(row[0]), int(row[1]), int(row[2])

    async def delete_sessions_expired_before(self, before: int) -> int:
        count: int = await self._write(
            lambda c: c.execute("DELETE FROM sessions WHERE expires_at < ?", (before,)).rowcount
        )
        return count

    # jobs ---------------------------------------------------------------------------------

    async def save_job(self, job: Job) -> None:
        await self._write(
            lambda c: c.execute(
                f"INSERT OR REPLACE INTO jobs ({_JOB_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows.job_values(job, _dumps),
            )
        )

    async def get_job(self, job_id: str) -> Job | None:
        row = await self._read(
            lambda c: c.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        )
        return _job(row) if row else None

    async def list_jobs(self, *, limit: int, status: str | None = None, user_id: str | None = None) -> list[Job]:
        where, args = _job_filter(status, user_id)
        sql = f"SELECT {_JOB_COLUMNS} FROM jobs{where} ORDER BY created_at DESC, id DESC LIMIT ?"
        found = await self._read(lambda c: c.execute(sql, (*args, limit)).fetchall())
        return [_job(r) for r in found]

    async def list_unfinished_jobs(self) -> list[Job]:
        found = await self._read(
            lambda c: c.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status IN (?, ?) ORDER BY created_at, id",
                rows.UNFINISHED_JOB_STATUSES,
            ).fetchall()
        )
        return [_job(r) for r in found]

    async def job_counts(self, *, user_id: str | None = None) -> dict[str, int]:
        where, args = _job_filter(None, user_id)
        found = await self._read(
            lambda c: c.execute(f"SELECT status, COUNT(*) FROM jobs{where} GROUP BY status", args).fetchall()
        )
        return {status: int(n) for status, n in found}

    async def completed_job_average_ms(self) -> float:
        row = await self._read(
            lambda c: c.execute(
                "SELECT AVG(finished_at - created_at) FROM jobs WHERE status = 'completed' AND finished_at IS NOT NULL"
            ).fetchone()
        )
        return float(row[0] or 0.0)

    async def delete_jobs_finished_before(self, before: int) -> int:
        count: int = await self._write(
            lambda c: (
                c.execute(
                    "DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ? AND status NOT IN (?, ?)",
                    (before, *rows.UNFINISHED_JOB_STATUSES),
                ).rowcount
            )
        )
        return count

    async def delete_oldest_finished_jobs(self, count: int) -> int:
        deleted: int = await self._write(
            lambda c: (
                c.execute(
                    "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE status NOT IN (?, ?)"
                    " ORDER BY created_at, id LIMIT ?)",
                    (*rows.UNFINISHED_JOB_STATUSES, count),
                ).rowcount
            )
        )
        return deleted

    # agent runs -------------------------------------------------------------------------

    async def save_agent_run(self, run: AgentRun, *, keep: int) -> None:
        values = rows.run_values(run)
        args = (*values[:-1], _dumps(values[-1]))

        def op(c: sqlite3.Connection) -> None:
            c.execute(_SAVE_RUN, args)
            c.execute(_TRIM_RUNS, (run.agent_id, run.agent_id, keep))

        await self._write(op)

    async def get_agent_run(self, agent_id: str, run_id: str) -> AgentRun | None:
        row = await self._read(
            lambda c: c.execute(
                f"SELECT {rows.RUN_COLUMNS} FROM agent_runs WHERE id = ? AND agent_id = ?", (run_id, agent_id)
            ).fetchone()
        )
        return rows.run_from_row(row, _loads_list) if row else None

    async def list_agent_runs(
        self, agent_id: str, *, limit: int, channel_id: str | None = None, status: str | None = None
    ) -> tuple[list[AgentRun], int]:
        where = "agent_id = ?"
        args: tuple[Any, ...] = (agent_id,)
        if channel_id is not None:
            where += " AND channel_id = ?"
            args += (channel_id,)
        if status is not None:
            where += " AND status = ?"
            args += (status,)

        def op(c: sqlite3.Connection) -> tuple[list[Any], int]:
            found = c.execute(
                f"SELECT {rows.RUN_COLUMNS} FROM agent_runs WHERE {where} ORDER BY started_at DESC, id DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
            total = c.execute(f"SELECT COUNT(*) FROM agent_runs WHERE {where}", args).fetchone()[0]
            return found, int(total)

        found, total = await self._read(op)
        return [rows.run_from_row(r, _loads_list) for r in found], total


def _job_filter(status: str | None, user_id: str | None) -> tuple[str, tuple[Any, ...]]:
    clauses, args = [], []
    if status is not None:
        clauses.append("status = ?")
        args.append(status)
    if user_id is not None:
        clauses.append("user_id = ?")
        args.append(user_id)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(args)


_MESSAGE_COLUMNS = rows.MESSAGE_COLUMNS
_NEXT_SEQ = (
    "INSERT INTO channel_offsets (channel_id, last_seq) VALUES (?, 1)"
    " ON CONFLICT (channel_id) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq"
)
_SESSION_COLUMNS = rows.SESSION_COLUMNS
_JOB_COLUMNS = rows.JOB_COLUMNS
# The channels an entity takes part in: a participant of, or written in (two parameters: the entity).
_MEMBER_CHANNELS = (
    "SELECT channel_id FROM channel_participants WHERE entity_id = ?"
    " UNION SELECT channel_id FROM central_messages WHERE author_id = ?"
)

_SAVE_RUN = f"INSERT OR REPLACE INTO agent_runs ({rows.RUN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
# Every run of an agent beyond its newest ``keep`` (by start) goes.
_TRIM_RUNS = (
    "DELETE FROM agent_runs WHERE agent_id = ? AND id NOT IN"
    " (SELECT id FROM agent_runs WHERE agent_id = ? ORDER BY started_at DESC, id DESC LIMIT ?)"
)


def _loads_list(text: str | None) -> Any:
    return orjson.loads(text) if text else []


def _statements(script: str) -> list[str]:
    """A migration's statements, one by one: split at each ``;`` that ends a whole statement (a trigger's
    body holds several)."""
    statements: list[str] = []
    current = ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \n;"):
                statements.append(current)
            current = ""
    if current.strip(" \n;"):
        statements.append(current)
    return statements


def _server(row: Sequence[Any]) -> MessageServer:
    return rows.server_from_row(row, _loads)


def _channel(row: Sequence[Any]) -> Channel:
    return rows.channel_from_row(row, _loads)


def _message(row: Sequence[Any]) -> Message:
    return rows.message_from_row(row, _loads)


def _session(row: Sequence[Any]) -> ChatSession:
    return rows.session_from_row(row, _loads)


def _job(row: Sequence[Any]) -> Job:
    return rows.job_from_row(row, _loads)

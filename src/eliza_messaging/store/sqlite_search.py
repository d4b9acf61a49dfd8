"""Search on the embedded store: FTS5 for words, sqlite-vec for meaning.

Both are functions of a connection, run on the store's reader (or, for vectors, on a reader that
has sqlite-vec loaded: Python's own ``sqlite3`` is often built without extension loading, so that
one comes from ``sqlean.py`` when it is installed, the ``[semantic]`` extra). The FTS5 query is
written here from ``Term``s, each word or phrase a quoted string, so no user text is ever read as
FTS5 syntax.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Sequence
from typing import Any, Final, Literal

import orjson

from . import rows
from .search import KeywordQuery, SearchScope, VectorsUnavailable, snippet

_COLUMNS: Final = ", ".join(f"m.{c.strip()}" for c in rows.MESSAGE_COLUMNS.split(","))
COLUMN_COUNT: Final = len(rows.MESSAGE_COLUMNS.split(","))


VECTOR_MMAP_BYTES: Final = 1 << 30
CATCH_UP_ROWS: Final = 2000  # rows indexed per statement when catching up


def catch_up(conn: sqlite3.Connection) -> int:
    """Index the rows stored since the last catch-up (in the caller's write transaction); how many.

    One ``INSERT ... SELECT`` per ``CATCH_UP_ROWS`` writes one FTS5 segment for them all, where a
    trigger per row would write (and later merge) one per transaction.
    """
    done = 0
    while True:
        indexed = conn.execute("SELECT indexed_seq FROM search_progress").fetchone()[0]
        last = conn.execute(
            "SELECT MAX(seq) FROM (SELECT seq FROM central_messages WHERE seq > ? ORDER BY seq LIMIT ?)",
            (indexed, CATCH_UP_ROWS),
        ).fetchone()[0]
        if last is None:
            return done
        done += conn.execute(
            "INSERT INTO messages_fts (rowid, content) SELECT seq, content FROM central_messages"
            " WHERE seq > ? AND seq <= ?",
            (indexed, last),
        ).rowcount
        conn.execute("UPDATE search_progress SET indexed_seq = ?", (last,))


def fts_query(query: KeywordQuery) -> str:
    """``"word"``, ``"prefix"*`` and ``"a phrase"``, all required (or any, for recall)."""
    parts = []
    for term in query.terms:
        quoted = '"' + term.text.replace('"', '""') + '"'
        parts.append(quoted + "*" if term.prefix else quoted)
    return (" OR " if query.any_term else " AND ").join(parts)


def _scope(scope: SearchScope, args: list[Any]) -> str:
    sql = ""
    if scope.channel_ids is not None:
        sql += " AND m.channel_id IN (SELECT value FROM json_each(?))"
        args.append(orjson.dumps(list(scope.channel_ids)).decode())
    if scope.author_id is not None:
        sql += " AND m.author_id = ?"
        args.append(scope.author_id)
    if scope.before is not None:
        sql += " AND m.created_at < ?"
        args.append(scope.before)
    if scope.after is not None:
        sql += " AND m.created_at > ?"
        args.append(scope.after)
    if scope.exclude_ids:
        sql += " AND m.id NOT IN (SELECT value FROM json_each(?))"
        args.append(orjson.dumps(list(scope.exclude_ids)).decode())
    return sql


def keyword_search(conn: sqlite3.Connection, query: KeywordQuery, scope: SearchScope, limit: int) -> list[Any]:
    """Rows of the message columns, then the score (higher is better) and the snippet; best first.

    Two steps: the best ``limit`` row ids by bm25 (the sort holds ids and scores only, and the
    messages table is joined only when the scope needs it), then those rows; snippets are made from
    their text (``search.snippet``), not by a second full-text query.
    """
    match = fts_query(query)
    args: list[Any] = [match]
    where = _scope(scope, args)
    join = " JOIN central_messages AS m ON m.seq = messages_fts.rowid" if where else ""
    args.append(limit)
    ranked = conn.execute(
        f"SELECT messages_fts.rowid, -bm25(messages_fts) FROM messages_fts{join}"
        f" WHERE messages_fts MATCH ?{where} ORDER BY bm25(messages_fts) LIMIT ?",
        args,
    ).fetchall()
    if not ranked:
        return []
    found = _messages_by(conn, "seq", [r[0] for r in ranked])
    return [(*found[rowid], score, snippet(found[rowid][4], query.terms)) for rowid, score in ranked if rowid in found]


def _messages_by(conn: Any, key: Literal["seq", "id"], keys: Sequence[Any]) -> dict[Any, tuple[Any, ...]]:
    """The message columns of the messages whose ``key`` is one of ``keys``, by that key: the second step of a
    ranked search (the ranking held only keys and scores); a message deleted meanwhile is simply absent."""
    return {
        r[-1]: tuple(r[:-1])
        for r in conn.execute(
            f"SELECT {_COLUMNS}, m.{key} FROM central_messages AS m WHERE m.{key} IN (SELECT value FROM json_each(?))",
            (orjson.dumps(list(keys)).decode(),),
        )
    }


def member_channels(conn: sqlite3.Connection, entity_id: str) -> list[str]:
    return [r[0] for r in conn.execute("SELECT channel_id FROM channel_participants WHERE entity_id = ?", (entity_id,))]


# vectors --------------------------------------------------------------------------------------


def pack(vector: Sequence[float]) -> bytes:
    """float32, little-endian: the blob format sqlite-vec reads."""
    return struct.pack(f"<{len(vector)}f", *vector)


def connect_vectors(path: str) -> Any:
    """A read-only connection with sqlite-vec loaded, or ``VectorsUnavailable`` saying what to install."""
    if path == ":memory:":
        raise VectorsUnavailable("Semantic search needs the SQLite store in a file (not ':memory:').")
    try:
        import sqlite_vec
    except ImportError as exc:
        raise VectorsUnavailable(
            "Semantic search on SQLite needs sqlite-vec: pip install 'eliza-messaging[semantic]'."
        ) from exc
    conn = _loadable_connection(path)
    try:
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        conn.enable_load_extension(False)
    except (sqlite3.Error, AttributeError) as exc:
        conn.close()
        raise VectorsUnavailable(f"sqlite-vec could not be loaded into SQLite: {exc}") from exc
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA query_only=ON")
    # an exact search reads every vector (1.5 KiB each at 384 dimensions): mapped, not copied page by page
    conn.execute(f"PRAGMA mmap_size={VECTOR_MMAP_BYTES}")
    return conn


def _loadable_connection(path: str) -> Any:
    """Python's sqlite3 when it can load extensions, else sqlean.py's (the same API, with loading)."""
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        import sqlean
    except ImportError as exc:
        raise VectorsUnavailable(
            "This Python's sqlite3 cannot load extensions, so sqlite-vec needs sqlean.py:"
            " pip install 'eliza-messaging[semantic]'."
        ) from exc
    return sqlean.connect(path, isolation_level=None, check_same_thread=False)


def vector_search(conn: Any, model: str, vector: Sequence[float], scope: SearchScope, limit: int) -> list[Any]:
    """Rows of the message columns, then the cosine similarity; nearest first (exact: every vector in
    scope is compared, in C; the sort holds ids and distances only)."""
    args: list[Any] = [pack(vector), model]
    where = _scope(scope, args)
    join = " JOIN central_messages AS m ON m.id = v.message_id" if where else ""
    args.append(limit)
    nearest = conn.execute(
        # a zero vector has no cosine distance (NULL): similar to nothing, 0, as on PostgreSQL
        "SELECT v.message_id, coalesce(1.0 - vec_distance_cosine(v.vector, ?), 0.0) AS similarity"
        f" FROM message_vectors AS v{join}"
        f" WHERE v.model = ?{where} ORDER BY similarity DESC LIMIT ?",
        args,
    ).fetchall()
    if not nearest:
        return []
    found = _messages_by(conn, "id", [n[0] for n in nearest])
    return [(*found[message_id], similarity) for message_id, similarity in nearest if message_id in found]


def pending_embeddings(conn: sqlite3.Connection, model: str, after: int, limit: int) -> list[tuple[int, str, str]]:
    """(position, id, text) of up to ``limit`` messages after ``after`` with no vector of ``model``."""
    return [
        (r[0], r[1], r[2])
        for r in conn.execute(
            "SELECT m.seq, m.id, m.content FROM central_messages AS m WHERE m.seq > ? AND NOT EXISTS"
            " (SELECT 1 FROM message_vectors AS v WHERE v.message_id = m.id AND v.model = ?)"
            " ORDER BY m.seq LIMIT ?",
            (after, model, limit),
        )
    ]


def texts(conn: sqlite3.Connection, ids: Sequence[str]) -> list[tuple[str, str]]:
    return [
        (r[0], r[1])
        for r in conn.execute(
            "SELECT id, content FROM central_messages WHERE id IN (SELECT value FROM json_each(?))",
            (orjson.dumps(list(ids)).decode(),),
        )
    ]


def save_vectors(conn: sqlite3.Connection, model: str, items: Sequence[tuple[str, str, Sequence[float]]]) -> int:
    """Store each (id, text it was made from, vector) unless the message is gone or its text changed since."""
    saved = 0
    for message_id, text, vector in items:
        saved += conn.execute(
            "INSERT INTO message_vectors (message_id, model, vector)"
            " SELECT id, ?, ? FROM central_messages WHERE id = ? AND content = ?"
            " ON CONFLICT (message_id) DO UPDATE SET model = excluded.model, vector = excluded.vector",
            (model, pack(vector), message_id, text),
        ).rowcount
    return saved

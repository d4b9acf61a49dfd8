"""Search on PostgreSQL: the generated ``search_tsv`` column for words, pgvector for meaning.

The tsquery is built in SQL from ``Term``s passed as parameters (``plainto_tsquery`` for a word,
``phraseto_tsquery`` for a phrase, ``to_tsquery`` only over a prefix this module wrote itself from
letters and digits), so no user text is ever read as tsquery syntax. pgvector is found in whatever
schema holds it and named with that schema, so the store works whatever its ``search_path``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final, Protocol

from . import rows
from .search import KeywordQuery, SearchScope, snippet

CONFIG: Final = "'simple'::regconfig"
_COLUMNS: Final = ", ".join(f"m.{c.strip()}" for c in rows.MESSAGE_COLUMNS.split(","))
_WORD_PIECES: Final = re.compile(r"[^\W_]+")
# pg_advisory_xact_lock's first key for making the vector table ("ElzV"), so nodes starting together wait.
VECTOR_LOCK: Final = 0x456C7A56


class Connection(Protocol):
    async def fetch(self, sql: str, *args: Any) -> list[Any]: ...
    async def fetchval(self, sql: str, *args: Any) -> Any: ...
    async def execute(self, sql: str, *args: Any) -> str: ...


def prefix_query(text: str) -> str:
    """``foo-ba*`` as tsquery text: ``'foo' <-> 'ba':*`` (only letters and digits, each quoted)."""
    pieces = _WORD_PIECES.findall(text)
    return " <-> ".join(f"'{p}'" for p in pieces) + ":*"


def tsquery(query: KeywordQuery, args: list[Any]) -> str:
    """The SQL expression of the query; its parameters are appended to ``args``."""
    parts = []
    for term in query.terms:
        if term.prefix:
            args.append(prefix_query(term.text))
            parts.append(f"to_tsquery({CONFIG}, ${len(args)})")
        else:
            args.append(term.text)
            function = "phraseto_tsquery" if term.phrase else "plainto_tsquery"
            parts.append(f"{function}({CONFIG}, ${len(args)})")
    return "(" + (" || " if query.any_term else " && ").join(parts) + ")"


def _scope(scope: SearchScope, args: list[Any]) -> str:
    sql = ""
    if scope.channel_ids is not None:
        args.append(list(scope.channel_ids))
        sql += f" AND m.channel_id = ANY(${len(args)}::text[])"
    for clause, value in (
        ("m.author_id = ${}", scope.author_id),
        ("m.created_at < ${}", scope.before),
        ("m.created_at > ${}", scope.after),
    ):
        if value is not None:
            args.append(value)
            sql += " AND " + clause.format(len(args))
    if scope.exclude_ids:
        args.append(list(scope.exclude_ids))
        sql += f" AND NOT (m.id = ANY(${len(args)}::text[]))"
    return sql


async def keyword_search(c: Connection, query: KeywordQuery, scope: SearchScope, limit: int) -> list[Any]:
    """Rows of the message columns, then the score (ts_rank_cd) and the snippet (``search.snippet``); best first."""
    args: list[Any] = []
    q = tsquery(query, args)
    where = _scope(scope, args)
    args.append(limit)
    sql = (
        f"WITH q AS (SELECT {q} AS q)"
        f" SELECT {_COLUMNS}, ts_rank_cd(m.search_tsv, q.q) AS score FROM central_messages AS m, q"
        f" WHERE m.search_tsv @@ q.q{where} ORDER BY score DESC, m.created_at DESC LIMIT ${len(args)}"
    )
    return [(*r, snippet(r[4], query.terms)) for r in await c.fetch(sql, *args)]


async def member_channels(c: Connection, entity_id: str) -> list[str]:
    return [r[0] for r in await c.fetch("SELECT channel_id FROM channel_participants WHERE entity_id = $1", entity_id)]


# vectors --------------------------------------------------------------------------------------


def literal(vector: Sequence[float]) -> str:
    """pgvector's text form, ``[0.1,0.2,...]`` (sent as text and cast: no codec needed)."""
    return "[" + ",".join(_float4(x) for x in vector) + "]"


def array_literal(vector: Sequence[float]) -> str:
    """The same as a ``real[]`` literal, ``{0.1,0.2,...}``."""
    return "{" + literal(vector)[1:-1] + "}"


def _float4(x: float) -> str:
    """One component as PostgreSQL's float4 reads it: below its smallest normal it is 0 (not an underflow)."""
    value = float(x)
    return "0" if abs(value) < 1e-37 else f"{value:.8g}"


async def ensure_vectors(c: Any) -> str:
    """Make ``message_vectors`` ready (once per database); returns pgvector's schema, or "" when the
    vectors are ``real[]`` (no pgvector on this server).

    ``c`` is a raw asyncpg connection: this runs in a transaction of its own.
    """
    async with c.transaction():
        await c.execute("SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))", VECTOR_LOCK)
        made = await c.fetchval(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = to_regclass('message_vectors') AND attname = 'embedding'"
        )
        schema = await c.fetchval("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'vector'")
        if made is not None and made.startswith("real"):
            schema = ""  # made without pgvector: stay with it
        elif schema is None:
            available = await c.fetchval("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
            if available is not None:
                await c.execute("CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public")
            schema = "public" if available is not None else ""
        column = f"{schema}.vector" if schema else "real[]"
        await c.execute(
            "CREATE TABLE IF NOT EXISTS message_vectors ("
            ' message_id TEXT COLLATE "C" PRIMARY KEY REFERENCES central_messages(id) ON DELETE CASCADE,'
            f" model TEXT NOT NULL, embedding {column} NOT NULL)"
        )
        # An edited text's vector goes with the edit; the indexer makes the new one.
        await c.execute(
            "CREATE OR REPLACE FUNCTION message_vectors_stale() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN DELETE FROM message_vectors WHERE message_id = NEW.id; RETURN NULL; END $$"
        )
        await c.execute(
            "CREATE OR REPLACE TRIGGER central_messages_vector_stale AFTER UPDATE OF content ON central_messages"
            " FOR EACH ROW WHEN (NEW.content IS DISTINCT FROM OLD.content) EXECUTE FUNCTION message_vectors_stale()"
        )
    return str(schema)


async def vector_search(
    c: Connection, schema: str, model: str, vector: Sequence[float], scope: SearchScope, limit: int
) -> list[Any]:
    """Rows of the message columns, then the cosine similarity; nearest first (exact).

    A zero vector has no direction: its similarity is 0 (pgvector's distance to it is NaN), as on SQLite."""
    args: list[Any] = [literal(vector) if schema else array_literal(vector), model]
    where = _scope(scope, args)
    args.append(limit)
    if schema:
        distance = f"v.embedding OPERATOR({schema}.<=>) $1::text::{schema}.vector"
        similarity, order = f"coalesce(1 - nullif({distance}, 'NaN'::float8), 0)", distance
    else:
        # cosine, not the dot product: an OpenAI-compatible endpoint need not return unit vectors. In
        # float8: a product of two small float4s would underflow (an error in PostgreSQL).
        similarity = (
            "coalesce((SELECT sum(a::float8 * b::float8) / nullif(sqrt(sum(a::float8 * a::float8))"
            " * sqrt(sum(b::float8 * b::float8)), 0) FROM unnest(v.embedding, $1::text::real[]) AS t(a, b)), 0)"
        )
        order = "similarity DESC"
    sql = (
        f"SELECT {_COLUMNS}, {similarity} AS similarity"
        " FROM message_vectors AS v JOIN central_messages AS m ON m.id = v.message_id"
        f" WHERE v.model = $2{where} ORDER BY {order} LIMIT ${len(args)}"
    )
    return await c.fetch(sql, *args)


async def pending_embeddings(c: Connection, model: str, after: int, limit: int) -> list[tuple[int, str, str]]:
    found = await c.fetch(
        "SELECT m.seq, m.id, m.content FROM central_messages AS m WHERE m.seq > $1 AND NOT EXISTS"
        " (SELECT 1 FROM message_vectors AS v WHERE v.message_id = m.id AND v.model = $2)"
        " ORDER BY m.seq LIMIT $3",
        after,
        model,
        limit,
    )
    return [(r[0], r[1], r[2]) for r in found]


async def texts(c: Connection, ids: Sequence[str]) -> list[tuple[str, str]]:
    found = await c.fetch("SELECT id, content FROM central_messages WHERE id = ANY($1::text[])", list(ids))
    return [(r[0], r[1]) for r in found]


async def save_vectors(
    c: Connection, schema: str, model: str, items: Sequence[tuple[str, str, Sequence[float]]]
) -> int:
    if not items:
        return 0
    cast = f"{schema}.vector" if schema else "real[]"
    status = await c.execute(
        f"INSERT INTO message_vectors (message_id, model, embedding)"
        f" SELECT m.id, $1, i.vector::{cast}"
        " FROM unnest($2::text[], $3::text[], $4::text[]) AS i(id, content, vector)"
        " JOIN central_messages AS m ON m.id = i.id AND m.content = i.content"
        " ON CONFLICT (message_id) DO UPDATE SET model = EXCLUDED.model, embedding = EXCLUDED.embedding",
        model,
        [i[0] for i in items],
        [i[1] for i in items],
        [literal(i[2]) if schema else array_literal(i[2]) for i in items],
    )
    return int(status.rsplit(" ", 1)[-1])

"""Search latency over a large stored history, and what keeping the keyword index costs each append.

    .venv/bin/python bench/run.py search                          # 100,000 and 1,000,000 messages, both stores
    .venv/bin/python bench/run.py search --sizes 100000 --store sqlite
    .venv/bin/python bench/run.py search --size smoke             # 2,000 messages (the test suite's run)

Latency: each store is filled in bulk (SQLite: executemany in transactions of 20,000, then the FTS5
index rebuilt once; PostgreSQL: COPY, the tsvector column generated as it goes, the GIN index made
after) with synthetic messages (8 to 24 words drawn from a Zipf-like vocabulary of 20,000 words, 1,000
channels), then queried through the store's own ``keyword_search`` and ``vector_search``: a common
word, a rare word, a phrase, a prefix, a two-word query and a recall query (any of six words),
everywhere and in one channel. Each figure is the p50 and p99 of ``--queries`` runs, or fewer (at
least 5) once it has taken 8 s, so the whole run stays bounded; ``runs`` says how many. Vectors (384
dimensions, random unit vectors: the cost of an exact search does not depend on what they mean) are
stored for at most ``--vectors`` messages (default 100,000; 10,000 on a PostgreSQL without pgvector,
where the ``real[]`` fallback compares them in SQL), since an exact search reads every one of them.

Append cost: ``--appends`` messages appended one by one by 20 concurrent writers through the real
``append_message`` (group commit included), first with the search index as migrated, then in a fresh
store with it removed (SQLite: no catch-up and the FTS5 triggers dropped; PostgreSQL: the tsvector
column and its GIN index dropped): this process's CPU per append (SQLite runs in this process), and
PostgreSQL's own CPU per append (its backends' /proc counters). PostgreSQL is POSTGRES_TEST_URL
(default the local ``test`` database), each run in a fresh schema dropped afterwards.
Results: bench/results/search.md and .json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, Final
from unittest.mock import patch
from urllib.parse import quote

import asyncpg

from eliza_messaging.protocol.types import DEFAULT_SERVER_ID
from eliza_messaging.records import Channel, Message, MessageServer
from eliza_messaging.store import postgres_search, sqlite_search
from eliza_messaging.store.base import Store
from eliza_messaging.store.postgres import PostgresStore
from eliza_messaging.store.search import KeywordQuery, SearchScope, Term
from eliza_messaging.store.sqlite import SQLiteStore

POSTGRES_TEST_URL = os.environ.get("POSTGRES_TEST_URL", "postgresql://postgres@127.0.0.1:5432/test")
RESULTS: Final = Path(__file__).resolve().parent / "results"
VOCABULARY: Final = 20_000
CHANNELS: Final = 1_000
DIMENSIONS: Final = 384
CHUNK: Final = 20_000
WRITERS: Final = 20
MODEL: Final = "bench-random"
SIZES: Final = {
    "full": {
        "sizes": [100_000, 1_000_000],
        "queries": 200,
        "vector_queries": 20,
        "vectors": 100_000,
        "vectors_without_pgvector": 10_000,
        "appends": 5_000,
    },
    "smoke": {
        "sizes": [2_000],
        "queries": 10,
        "vector_queries": 3,
        "vectors": 2_000,
        "vectors_without_pgvector": 1_000,
        "appends": 300,
    },
}
SYLLABLES: Final = ["ka", "lo", "mi", "ter", "san", "vo", "ri", "den", "pa", "shu", "gel", "no", "fi", "ba", "tor"]


def vocabulary(rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


class Corpus:
    """Deterministic synthetic text: word i is drawn with weight 1/(i+1) (a Zipf-like spread)."""

    def __init__(self, seed: int = 13) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary(self.rng)
        weights = [1.0 / (i + 1) for i in range(VOCABULARY)]
        total = sum(weights)
        self.cumulative = []
        running = 0.0
        for w in weights:
            running += w / total
            self.cumulative.append(running)

    def text(self) -> str:
        picks = self.rng.choices(self.words, cum_weights=self.cumulative, k=self.rng.randint(8, 24))
        return " ".join(picks)

    def queries(self) -> dict[str, KeywordQuery]:
        w = self.words
        return {
            "common word": KeywordQuery((Term(w[3]),)),
            "rare word": KeywordQuery((Term(w[15_000]),)),
            "two words": KeywordQuery((Term(w[40]), Term(w[90]))),
            "phrase": KeywordQuery((Term(f"{w[1]} {w[2]}", phrase=True),)),
            "prefix": KeywordQuery((Term(w[200][:4], prefix=True),)),
            "recall (any of 6)": KeywordQuery(
                tuple(Term(x) for x in (w[5], w[60], w[700], w[3000], w[9000], w[19000])), any_term=True
            ),
        }


def unit_vector(rng: random.Random) -> list[float]:
    v = [rng.gauss(0.0, 1.0) for _ in range(DIMENSIONS)]
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


def unit_vectors(count: int, seed: int) -> Any:
    """``count`` random unit vectors as a float32 array (numpy: the [semantic] extra brings it)."""
    import numpy as np

    v = np.random.default_rng(seed).standard_normal((count, DIMENSIONS), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


FIGURE_BUDGET_S: Final = 8.0  # a figure stops after this long (at least MIN_RUNS runs): the run stays bounded
MIN_RUNS: Final = 5


async def timed(call: Callable[[], Awaitable[Any]], runs: int) -> dict[str, float]:
    await call()  # warm
    took: list[float] = []
    spent = 0.0
    while len(took) < runs and (len(took) < MIN_RUNS or spent < FIGURE_BUDGET_S):
        started = time.perf_counter()
        await call()
        took.append((time.perf_counter() - started) * 1000)
        spent += took[-1] / 1000
    return {"p50_ms": round(statistics.median(took), 2), "p99_ms": round(percentile(took, 0.99), 2), "runs": len(took)}


# stores ---------------------------------------------------------------------------------------


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_TEST_URL)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


def postgres_url(schema: str) -> str:
    return f"{POSTGRES_TEST_URL}?options={quote(f'-c search_path={schema}')}"


def rows(corpus: Corpus, count: int, now: int, channel_ids: list[str], seqs: dict[str, int]) -> list[tuple[Any, ...]]:
    """``count`` message rows spread over the channels; ``seqs`` holds each channel's last offset so far."""
    out = []
    for i in range(count):
        cid = channel_ids[i % len(channel_ids)]
        seqs[cid] = seqs.get(cid, 0) + 1
        at = now - (count - i) * 1000
        out.append(
            (
                str(uuid.uuid4()),
                cid,
                "author-" + str(i % 500),
                "a",
                corpus.text(),
                "{}",
                None,
                "bench",
                None,
                "{}",
                None,
                at,
                at,
                seqs[cid],
            )
        )
    return out


async def fill_sqlite(path: Path, corpus: Corpus, count: int, vectors: int) -> tuple[list[str], float]:
    store = SQLiteStore(path)
    channel_ids = await prepare(store)
    await store.close()
    started = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    columns = (
        "id, channel_id, author_id, author_name, content, raw_message, in_reply_to_root_message_id,"
        " source_type, source_id, metadata, client_message_id, created_at, updated_at, channel_seq"
    )
    now = int(time.time() * 1000)
    made = 0
    seqs: dict[str, int] = {}
    matrix = unit_vectors(min(vectors, count), 7)
    while made < count:
        batch = rows(corpus, min(CHUNK, count - made), now - (count - made) * 1000, channel_ids, seqs)
        conn.execute("BEGIN")
        conn.executemany(
            f"INSERT INTO central_messages ({columns}, published_at) VALUES ({', '.join('?' * 14)}, 0)", batch
        )
        with_vectors = batch[: max(0, min(len(batch), vectors - made))]
        conn.executemany(
            "INSERT INTO message_vectors (message_id, model, vector) VALUES (?, ?, ?)",
            [(row[0], MODEL, matrix[made + i].tobytes()) for i, row in enumerate(with_vectors)],
        )
        conn.execute("COMMIT")
        made += len(batch)
    # in bulk the keyword index is built once, at the end (as the migration does for existing rows)
    conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")
    conn.execute("UPDATE search_progress SET indexed_seq = (SELECT MAX(seq) FROM central_messages)")
    conn.execute(
        "INSERT OR REPLACE INTO channel_offsets"
        " SELECT channel_id, MAX(channel_seq) FROM central_messages GROUP BY channel_id"
    )
    conn.execute("PRAGMA optimize")
    conn.close()
    return channel_ids, time.perf_counter() - started


async def fill_postgres(schema: str, corpus: Corpus, count: int, vectors: int) -> tuple[list[str], float]:
    store = PostgresStore(postgres_url(schema))
    channel_ids = await prepare(store)
    await store.enable_vectors()
    vector_schema = store._vector_schema or ""
    await store.close()
    started = time.perf_counter()
    conn = await asyncpg.connect(postgres_url(schema))
    columns = [
        "id",
        "channel_id",
        "author_id",
        "author_name",
        "content",
        "raw_message",
        "in_reply_to_root_message_id",
        "source_type",
        "source_id",
        "metadata",
        "client_message_id",
        "created_at",
        "updated_at",
        "channel_seq",
    ]
    now = int(time.time() * 1000)
    made = 0
    seqs: dict[str, int] = {}
    matrix = unit_vectors(min(vectors, count), 7)
    try:
        await conn.execute("DROP INDEX central_messages_search")  # in bulk, the GIN index is built once at the end
        while made < count:
            batch = rows(corpus, min(CHUNK, count - made), now - (count - made) * 1000, channel_ids, seqs)
            records = [(*r, 0) for r in batch]  # the default jsonb codec takes the JSON text; published
            await conn.copy_records_to_table("central_messages", records=records, columns=[*columns, "published_at"])
            with_vectors = batch[: max(0, min(len(batch), vectors - made))]
            if with_vectors:
                literal = postgres_search.literal if vector_schema else postgres_search.array_literal
                cast = f"{vector_schema}.vector" if vector_schema else "real[]"
                await conn.execute(
                    f"INSERT INTO message_vectors (message_id, model, embedding) SELECT i, $1, v::{cast}"
                    " FROM unnest($2::text[], $3::text[]) AS t(i, v)",
                    MODEL,
                    [r[0] for r in with_vectors],
                    [literal(matrix[made + i].tolist()) for i in range(len(with_vectors))],
                )
            made += len(batch)
        await conn.execute("CREATE INDEX central_messages_search ON central_messages USING gin (search_tsv)")
        await conn.execute(
            "INSERT INTO channel_offsets SELECT channel_id, MAX(channel_seq) FROM central_messages"
            " GROUP BY channel_id ON CONFLICT (channel_id) DO UPDATE SET last_seq = EXCLUDED.last_seq"
        )
        await conn.execute("VACUUM ANALYZE central_messages")
        await conn.execute("VACUUM ANALYZE message_vectors")
    finally:
        await conn.close()
    return channel_ids, time.perf_counter() - started


async def has_pgvector() -> bool:
    conn = await asyncpg.connect(POSTGRES_TEST_URL)
    try:
        return await conn.fetchval("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'") is not None
    finally:
        await conn.close()


async def prepare(store: Store, channels: int = CHANNELS) -> list[str]:
    await store.open()
    await store.ensure_message_server(MessageServer(id=DEFAULT_SERVER_ID, name="d", source_type="bench"))
    ids = [str(uuid.uuid4()) for _ in range(channels)]
    for cid in ids:
        await store.ensure_channel(Channel(id=cid, message_server_id=DEFAULT_SERVER_ID, name="c", type="GROUP"))
    return ids


async def measure(store: Store, corpus: Corpus, channel_ids: list[str], settings: dict[str, Any]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    one = SearchScope(channel_ids=[channel_ids[7]])
    for name, query in corpus.queries().items():
        for where, scope in (("everywhere", SearchScope()), ("one channel", one)):
            figures[f"keyword: {name}, {where}"] = await timed(
                partial(store.keyword_search, query, scope, 20), settings["queries"]
            )
    rng = random.Random(3)
    await store.enable_vectors()
    for where, scope in (("everywhere", SearchScope()), ("one channel", one)):

        async def nearest(within: SearchScope = scope) -> Any:
            return await store.vector_search(MODEL, unit_vector(rng), within, 20)

        figures[f"semantic: nearest 20, {where}"] = await timed(nearest, settings["vector_queries"])
    return figures


# append cost ------------------------------------------------------------------------------------


def postgres_cpu_ticks() -> int:
    """CPU of every postgres process on this machine, in clock ticks: each one's utime + stime, and the
    children's times the server has collected (backends that ended meanwhile count there). Other users of
    the same PostgreSQL server are counted too: compare runs made on a quiet server."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)
            name = fields[0].split("(", 1)[1]
            if name.startswith("postgres"):
                parts = fields[1].split()
                total += int(parts[11]) + int(parts[12]) + int(parts[13]) + int(parts[14])
        except (OSError, IndexError, ValueError):
            continue
    return total


async def appends(store: Store, corpus: Corpus, count: int) -> dict[str, float]:
    channel_ids = await prepare(store, 20)
    texts = [corpus.text() for _ in range(count)]
    each = count // WRITERS

    async def writer(n: int) -> None:
        for i in range(each):
            now = int(time.time() * 1000)
            await store.append_message(
                Message(
                    id=str(uuid.uuid4()),
                    channel_id=channel_ids[(n + i) % len(channel_ids)],
                    author_id=f"w{n}",
                    author_name="w",
                    content=texts[n * each + i],
                    source_type="bench",
                    created_at=now,
                    updated_at=now,
                    client_message_id=f"{n}-{i}",
                )
            )

    cpu, pg, wall = time.process_time(), postgres_cpu_ticks(), time.perf_counter()
    await asyncio.gather(*(writer(n) for n in range(WRITERS)))
    wall = time.perf_counter() - wall
    await store.close()  # included in the CPU: it indexes what is still pending
    cpu = time.process_time() - cpu
    pg_s = (postgres_cpu_ticks() - pg) / os.sysconf("SC_CLK_TCK")
    done = each * WRITERS
    return {
        "appends_per_s": round(done / wall),
        "our_cpu_us_per_append": round(cpu / done * 1e6, 1),
        "postgres_cpu_us_per_append": round(pg_s / done * 1e6, 1),
    }


async def append_cost(kind: str, corpus: Corpus, count: int) -> dict[str, dict[str, float]]:
    result: dict[str, dict[str, float]] = {}
    for index in ("on", "off"):
        if kind == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "a.sqlite3"
                if index == "off":
                    first = SQLiteStore(path)
                    await first.open()
                    await first.close()
                    conn = sqlite3.connect(path)
                    for trigger in ("delete", "update"):
                        conn.execute(f"DROP TRIGGER central_messages_fts_{trigger}")
                    conn.commit()
                    conn.close()
                    # and no catch-up: nothing is indexed
                    with patch.object(sqlite_search, "catch_up", lambda _conn: 0):
                        result[index] = await appends(SQLiteStore(path), corpus, count)
                else:
                    result[index] = await appends(SQLiteStore(path), corpus, count)
        else:
            async with postgres_schema() as schema:
                if index == "off":
                    made = PostgresStore(postgres_url(schema))
                    await made.open()
                    await made.close()
                    conn = await asyncpg.connect(postgres_url(schema))
                    await conn.execute("ALTER TABLE central_messages DROP COLUMN search_tsv")
                    await conn.close()
                result[index] = await appends(PostgresStore(postgres_url(schema)), corpus, count)
    return result


# the run ----------------------------------------------------------------------------------------


async def bench(stores: list[str], settings: dict[str, Any]) -> dict[str, Any]:
    corpus = Corpus()
    results: dict[str, Any] = {"settings": settings, "latency": {}, "append": {}}
    for kind in stores:
        for size in settings["sizes"]:
            vectors = min(size, settings["vectors"])
            if kind == "postgres" and not await has_pgvector():
                vectors = min(vectors, settings["vectors_without_pgvector"])  # real[]: an exact scan in SQL
            print(f"[bench search] {kind}: filling {size:,} messages ({vectors:,} with vectors)", flush=True)
            if kind == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp) / "s.sqlite3"
                    channel_ids, took = await fill_sqlite(path, corpus, size, vectors)
                    store: Store = SQLiteStore(path)
                    await store.open()
                    figures = await measure(store, corpus, channel_ids, settings)
                    await store.close()
            else:
                async with postgres_schema() as schema:
                    channel_ids, took = await fill_postgres(schema, corpus, size, vectors)
                    store = PostgresStore(postgres_url(schema))
                    await store.open()
                    figures = await measure(store, corpus, channel_ids, settings)
                    await store.close()
            figures["fill_s"] = round(took, 1)
            figures["vectors"] = vectors
            results["latency"][f"{kind} {size}"] = figures
            print(f"[bench search] {kind} {size:,}: {json.dumps(figures)}", flush=True)
        print(f"[bench search] {kind}: append cost, index on and off", flush=True)
        results["append"][kind] = await append_cost(kind, corpus, settings["appends"])
    return results


def markdown(results: dict[str, Any]) -> str:
    lines = ["# Search benchmark", ""]
    runs = list(results["latency"])
    if runs:
        lines += [
            "| query | " + " | ".join(f"{r}: p50 / p99 ms (runs)" for r in runs) + " |",
            "|---|" + "---|" * len(runs),
        ]
        for key in results["latency"][runs[0]]:
            if key in ("fill_s", "vectors"):
                continue
            cells = [
                f"{results['latency'][r][key]['p50_ms']} / {results['latency'][r][key]['p99_ms']}"
                f" ({results['latency'][r][key]['runs']})"
                for r in runs
            ]
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
        lines.append("| vectors stored | " + " | ".join(f"{results['latency'][r]['vectors']:,}" for r in runs) + " |")
        lines.append("| bulk fill, s | " + " | ".join(str(results["latency"][r]["fill_s"]) for r in runs) + " |")
    for kind, cost in results["append"].items():
        on, off = cost["on"], cost["off"]
        lines += ["", f"Append cost on {kind} (index on / off):", ""]
        for key in ("appends_per_s", "our_cpu_us_per_append", "postgres_cpu_us_per_append"):
            ratio = f" ({(on[key] / off[key] - 1) * 100:+.1f} %)" if off[key] else ""
            lines.append(f"- {key}: {on[key]} / {off[key]}{ratio}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--sizes", help="comma-separated message counts, e.g. 100000,1000000 (none: append cost only)")
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--queries", type=int, help="keyword queries per figure")
    parser.add_argument("--vectors", type=int, help="at most this many messages get a vector")
    parser.add_argument("--appends", type=int, help="appends per append-cost run")
    parser.add_argument("--out", type=Path, default=RESULTS / "search.md")
    parser.add_argument("--json", type=Path, default=RESULTS / "search.json")
    args = parser.parse_args(argv)
    settings: dict[str, Any] = dict(SIZES[args.size])
    if args.sizes:
        settings["sizes"] = [] if args.sizes == "none" else [int(s) for s in args.sizes.split(",")]
    for name in ("queries", "vectors", "appends"):
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    results = asyncio.run(bench(stores, settings))
    text = markdown(results)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0

"""Search in the store, on SQLite and PostgreSQL alike: the keyword index (FTS5 / tsvector) and the
vectors beside the messages (sqlite-vec / pgvector or real[]), kept in step with every insert, edit
and delete, and built for rows stored before the index existed."""

from __future__ import annotations

import asyncio
import math
import sqlite3
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from eliza_messaging.store import postgres, sqlite
from eliza_messaging.store.base import Store
from eliza_messaging.store.search import KeywordQuery, SearchScope, Term
from eliza_messaging.store.sqlite import CATCH_UP_DELAY_S, SQLiteStore
from tests.store.conftest import WITH_PGVECTOR, Backend, postgres_backend, postgres_schema, postgres_url
from tests.store.test_conformance import channel, message, with_server

ALL = SearchScope()
# every test here on each backend, and on a PostgreSQL that has pgvector (the vector column's own path)
on_each_backend = pytest.mark.parametrize("backend", WITH_PGVECTOR, indirect=True)


def words(*texts: str, any_term: bool = False) -> KeywordQuery:
    return KeywordQuery(tuple(Term(t) for t in texts), any_term=any_term)


async def found(store: Store, query: KeywordQuery, scope: SearchScope = ALL, limit: int = 20) -> list[str]:
    return [hit.message.content for hit in await store.keyword_search(query, scope, limit)]


@on_each_backend
async def test_words_phrases_prefixes_and_ranking(any_store: Store) -> None:
    store = await with_server(any_store)
    c = await channel(store)
    for i, text in enumerate(
        [
            "The deploy of release 4.2 is on Thursday",
            "release notes for the deploy, deploy, deploy",
            "Notes about the release",
            "deployment pipeline is green",
            "nothing to see here",
        ]
    ):
        await store.append_message(message(c, text, at=i + 1))
    assert set(await found(store, words("deploy"))) == {
        "The deploy of release 4.2 is on Thursday",
        "release notes for the deploy, deploy, deploy",
    }
    # the one saying it three times ranks first, and every hit has a snippet with the word marked
    hits = await store.keyword_search(words("deploy"), ALL, 10)
    assert hits[0].message.content.startswith("release notes")
    assert hits[0].score > hits[1].score
    assert all("**deploy**" in h.snippet.lower() for h in hits)
    assert await found(store, KeywordQuery((Term("release notes", phrase=True),))) == [
        "release notes for the deploy, deploy, deploy"
    ]
    assert await found(store, KeywordQuery((Term("notes release", phrase=True),))) == []
    assert set(await found(store, KeywordQuery((Term("deplo", prefix=True),)))) == {
        "The deploy of release 4.2 is on Thursday",
        "release notes for the deploy, deploy, deploy",
        "deployment pipeline is green",
    }
    assert await found(store, words("deploy", "thursday")) == ["The deploy of release 4.2 is on Thursday"]
    assert len(await found(store, words("thursday", "green", any_term=True))) == 2
    # text that would be syntax in FTS5 or tsquery is only ever words
    for hostile in ['"', "OR", "NEAR(a b)", "a:*", "!&|", "col:deploy", "'", "\\"]:
        assert await found(store, words(hostile)) == [] or hostile == "OR"


@on_each_backend
async def test_unicode_case_folding(any_store: Store, backend: Backend) -> None:
    store = await with_server(any_store)
    c = await channel(store)
    await store.append_message(message(c, "Rendez-vous à l'ÉCOLE près du café", at=1))
    await store.append_message(message(c, "Встреча в МОСКВЕ завтра", at=2))
    await store.append_message(message(c, "東京 meeting", at=3))
    assert await found(store, words("école")) == ["Rendez-vous à l'ÉCOLE près du café"]
    assert await found(store, words("москве")) == ["Встреча в МОСКВЕ завтра"]
    assert await found(store, words("東京")) == ["東京 meeting"]
    if backend.name == "sqlite":  # FTS5's remove_diacritics; PostgreSQL's 'simple' keeps accents
        assert await found(store, words("cafe")) == ["Rendez-vous à l'ÉCOLE près du café"]


@on_each_backend
async def test_scope_channel_author_time_and_exclusions(any_store: Store) -> None:
    store = await with_server(any_store)
    a, b = await channel(store), await channel(store)
    first = message(a, "budget review", at=100, author="ann")
    for m in (first, message(a, "budget draft", at=200, author="bob"), message(b, "budget final", at=300)):
        await store.append_message(m)
    q = words("budget")
    assert set(await found(store, q, SearchScope(channel_ids=[a]))) == {"budget review", "budget draft"}
    assert await found(store, q, SearchScope(channel_ids=[])) == []
    assert await found(store, q, SearchScope(author_id="bob")) == ["budget draft"]
    assert await found(store, q, SearchScope(before=200)) == ["budget review"]
    assert await found(store, q, SearchScope(after=200)) == ["budget final"]
    assert set(await found(store, q, SearchScope(exclude_ids=[first.id]))) == {"budget draft", "budget final"}
    assert len(await found(store, q, limit=2)) == 2
    assert await store.member_channels("nobody") == []


@on_each_backend
async def test_index_follows_edits_and_every_kind_of_delete(any_store: Store) -> None:
    store = await with_server(any_store)
    c, other = await channel(store), await channel(store)
    stored = (await store.append_message(message(c, "the password is swordfish", at=1))).message
    await store.update_message(replace(stored, content="the password is changed", updated_at=2))
    assert await found(store, words("swordfish")) == []
    assert await found(store, words("changed")) == ["the password is changed"]
    await store.delete_message(c, stored.id)
    assert await found(store, words("password")) == []
    await store.append_message(message(c, "cleared words", at=3))
    await store.clear_messages(c)
    assert await found(store, words("cleared")) == []
    await store.append_message(message(other, "cascaded words", at=4))
    await store.delete_channel(other)
    assert await found(store, words("cascaded")) == []


@on_each_backend
async def test_existing_rows_are_indexed_by_the_migration(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    module = sqlite if backend.name == "sqlite" else postgres
    before_search = tuple(m for m in module.MIGRATIONS if m[0] < 8)
    monkeypatch.setattr(module, "MIGRATIONS", before_search)
    old = backend.make()
    await old.open()
    await with_server(old)
    c = await channel(old)
    await old.append_message(message(c, "written before search existed", at=1))
    await old.close()
    monkeypatch.undo()
    store = backend.make()
    await store.open()
    try:
        assert 8 in await backend.migrations()
        assert await found(store, words("existed")) == ["written before search existed"]
    finally:
        await store.close()


def unit(*values: float) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


@on_each_backend
async def test_vectors_beside_messages(any_store: Store) -> None:
    store = await with_server(any_store)
    await store.enable_vectors()
    await store.enable_vectors()  # twice is fine (every start does it)
    c = await channel(store)
    texts = {"north": unit(1, 0, 0), "east": unit(0, 1, 0), "north-east": unit(1, 1, 0)}
    stored = {}
    for i, text in enumerate(texts):
        stored[text] = (await store.append_message(message(c, text, at=i + 1))).message
    pending = await store.pending_embeddings("m1", after=0, limit=10)
    assert [p[2] for p in pending] == list(texts)
    assert await store.pending_embeddings("m1", after=pending[0][0], limit=1) == [pending[1]]
    items = [(stored[t].id, t, v) for t, v in texts.items()]
    assert await store.save_vectors("m1", items) == 3
    assert await store.pending_embeddings("m1", after=0, limit=10) == []
    assert len(await store.pending_embeddings("m2", after=0, limit=10)) == 3  # another model: not its vectors
    hits = await store.vector_search("m1", unit(1, 0.1, 0), ALL, 3)
    assert [h.message.content for h in hits] == ["north", "north-east", "east"]
    assert hits[0].score == pytest.approx(unit(1, 0.1, 0)[0], abs=1e-4)
    assert await store.vector_search("m2", unit(1, 0, 0), ALL, 3) == []
    only_east = SearchScope(channel_ids=[c], exclude_ids=[stored["north"].id, stored["north-east"].id])
    assert [h.message.content for h in await store.vector_search("m1", unit(1, 0, 0), only_east, 3)] == ["east"]
    # an edit removes the vector (the indexer makes a new one); a vector of the old text is refused
    edited = await store.update_message(replace(stored["east"], content="west", updated_at=9))
    assert [p[1] for p in await store.pending_embeddings("m1", after=0, limit=10)] == [edited.id]
    assert await store.save_vectors("m1", [(edited.id, "east", unit(0, 1, 0))]) == 0
    assert await store.save_vectors("m1", [(edited.id, "west", unit(0, -1, 0))]) == 1
    assert await store.message_texts([edited.id, "gone"]) == [(edited.id, "west")]
    # a deleted message takes its vector with it
    await store.delete_message(c, stored["north"].id)
    assert "north" not in [h.message.content for h in await store.vector_search("m1", unit(1, 0, 0), ALL, 5)]
    await store.delete_channel(c)
    assert await store.vector_search("m1", unit(1, 0, 0), ALL, 5) == []


TEXTS = ("long", "short", "zero")


@on_each_backend
async def test_similarity_is_the_cosine_and_zero_for_a_zero_vector(any_store: Store) -> None:
    """Vectors need not be unit length (an OpenAI-compatible endpoint may return any); a zero vector has no
    direction, so it is similar to nothing (0), never NaN or an error. Every backend gives the same scores."""
    store = await with_server(any_store)
    await store.enable_vectors()
    c = await channel(store)
    long, short, zero = [(await store.append_message(message(c, t, at=i + 1))).message for i, t in enumerate(TEXTS)]
    # "long" points further from the query than "short" but is ten times longer: a dot product would rank it first
    vectors = {long.id: [30.0, 40.0, 0.0], short.id: [0.9, 0.1, 0.0], zero.id: [0.0, 0.0, 0.0]}
    assert await store.save_vectors("m", [(m.id, m.content, vectors[m.id]) for m in (long, short, zero)]) == 3
    hits = await store.vector_search("m", [2.0, 0.0, 0.0], ALL, 5)
    assert [h.message.content for h in hits] == ["short", "long", "zero"]
    assert [h.score for h in hits] == pytest.approx([0.9 / math.hypot(0.9, 0.1), 0.6, 0.0], abs=1e-6)
    hits = await store.vector_search("m", [0.0, 0.0, 0.0], ALL, 5)
    assert sorted(h.message.content for h in hits) == ["long", "short", "zero"]
    assert [h.score for h in hits] == [0.0, 0.0, 0.0]


async def test_pgvector_server_stores_vectors_in_a_vector_column(pgvector_url: str) -> None:
    """On a server with pgvector the vectors are pgvector's ``vector`` (not the ``real[]`` fallback), so the
    ``pgvector`` cases of this module test that path and cannot pass on the fallback unnoticed."""
    async with postgres_schema(pgvector_url) as schema:
        store = postgres_backend(schema, pgvector_url, "pgvector").make()
        await store.open()
        try:
            await with_server(store)
            await store.enable_vectors()
            kept = (await store.append_message(message(await channel(store), "a vector", at=1))).message
            assert await store.save_vectors("m", [(kept.id, kept.content, unit(3, 4))]) == 1
            conn = await asyncpg.connect(postgres_url(schema, pgvector_url))
            try:
                column = await conn.fetchval(
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
                    " WHERE attrelid = 'message_vectors'::regclass AND attname = 'embedding'"
                )
                extension = await conn.fetchval(
                    "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'vector'"
                )
                stored = await conn.fetchval("SELECT embedding::text FROM message_vectors")
            finally:
                await conn.close()
            assert (extension, column) == ("public", "public.vector")
            assert stored == "[0.6,0.8]"  # pgvector's text form ({0.6,0.8} would be real[])
            hits = await store.vector_search("m", unit(1, 0), ALL, 1)
            assert [h.message.id for h in hits] == [kept.id]
            assert hits[0].score == pytest.approx(0.6, abs=1e-6)
        finally:
            await store.close()


async def test_sqlite_indexes_appends_in_batches_soon_after_and_on_open(tmp_path: Path) -> None:
    """New rows reach FTS5 in one batch shortly after they are appended (no search needed), and rows a
    stopped process left unindexed are indexed when the store opens again."""
    path = tmp_path / "m.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    await with_server(store)
    c = await channel(store)
    await store.append_message(message(c, "batched words", at=1))

    def indexed() -> int:
        with sqlite3.connect(path) as db:
            return int(db.execute("SELECT indexed_seq FROM search_progress").fetchone()[0])

    assert indexed() == 0
    await asyncio.sleep(CATCH_UP_DELAY_S * 3)
    assert indexed() == 1
    await store.close()
    with sqlite3.connect(path) as db:  # a row written as a process that stopped before indexing it would leave it
        db.execute(
            "INSERT INTO central_messages (id, channel_id, author_id, content, source_type, created_at, updated_at,"
            " channel_seq) VALUES ('late', ?, 'a', 'left unindexed', 't', 2, 2, 2)",
            (c,),
        )
    reopened = SQLiteStore(path)
    await reopened.open()
    try:
        assert indexed() == 2
        assert await found(reopened, words("unindexed")) == ["left unindexed"]
    finally:
        await reopened.close()


@on_each_backend
async def test_forgotten_and_expired_messages_leave_both_indexes(any_store: Store) -> None:
    """Forgetting an entity and retention delete through the store's own methods: the keyword index and
    the vectors lose those messages in the same statement."""
    store = await with_server(any_store)
    await store.enable_vectors()
    c = await channel(store)
    old = (await store.append_message(message(c, "ancient lighthouse", at=1, author="x"))).message
    said = (await store.append_message(message(c, "forgotten lighthouse", at=100, author="gone"))).message
    kept = (await store.append_message(message(c, "kept lighthouse", at=200, author="x"))).message
    assert len(await found(store, words("lighthouse"))) == 3  # indexed (SQLite: caught up by the search)
    await store.save_vectors("m", [(m.id, m.content, unit(1, i, 0)) for i, m in enumerate((old, said, kept))])
    await store.delete_messages_by_author("gone", limit=10)
    await store.delete_messages_before(50, limit=10)
    assert await found(store, words("lighthouse")) == ["kept lighthouse"]
    assert [h.message.id for h in await store.vector_search("m", unit(1, 0, 0), ALL, 5)] == [kept.id]
    if isinstance(store, SQLiteStore):  # the FTS5 index itself holds no entry of a deleted row
        entries = await store._read(
            lambda c: c.execute("SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'lighthouse'").fetchall()
        )
        assert [e[0] for e in entries] == [3]  # the third row stored

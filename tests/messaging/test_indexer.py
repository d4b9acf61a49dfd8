"""The indexer keeps embeddings off the send path: a bounded queue, a backfill for what it dropped or
never saw, and sends that never wait for it. Real SQLite and the offline model of the [semantic] extra;
the only addition is a gate that holds the model back, so the test decides when embedding may happen."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from eliza_messaging.app import create_app
from eliza_messaging.config import Settings
from eliza_messaging.messaging.identity import ANONYMOUS
from eliza_messaging.messaging.indexer import Indexer
from eliza_messaging.messaging.service import MessagingService
from eliza_messaging.models.local_embedder import LocalEmbedder
from eliza_messaging.protocol.commands import SendMessage
from eliza_messaging.store.search import SearchScope
from eliza_messaging.store.sqlite import SQLiteStore
from tests.conftest import new_id
from tests.store.test_conformance import channel, message, with_server

pytestmark = pytest.mark.timeout(120)


class GatedEmbedder:
    """The offline model, run only once ``gate`` is open; counts the texts it was asked for."""

    def __init__(self) -> None:
        self.inner = LocalEmbedder()
        self.gate = asyncio.Event()
        self.asked = 0

    @property
    def name(self) -> str:
        return self.inner.name

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        await self.gate.wait()
        self.asked += len(texts)
        return await self.inner.embed(texts)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "m.sqlite3")
    await opened.open()
    await with_server(opened)
    yield opened
    await opened.close()


async def test_a_full_queue_drops_ids_and_the_backfill_embeds_their_messages(store: SQLiteStore) -> None:
    embedder = GatedEmbedder()
    indexer = Indexer(store, embedder, queue_max=2, batch=4, retry_s=0.05)
    await indexer.start()
    try:
        c = await channel(store)
        ids = []
        for i in range(7):
            stored = await store.append_message(message(c, f"note number {i} about apples", at=i + 1))
            ids.append(stored.message.id)
            indexer.notify(stored.message.id)
        # the worker holds one batch at the gate; the queue's two places are taken; the rest is dropped
        assert indexer.dropped >= 7 - 2 - 4
        assert indexer._queue.qsize() <= 2
        embedder.gate.set()
        await indexer.idle()
        assert await store.pending_embeddings(embedder.name, after=0, limit=100) == []
        hits = await store.vector_search(embedder.name, (await embedder.embed(["apples"]))[0], SearchScope(), 10)
        assert {h.message.id for h in hits} == set(ids)
    finally:
        await indexer.close()


async def test_rows_stored_before_the_indexer_started_are_backfilled(store: SQLiteStore) -> None:
    c = await channel(store)
    for i in range(5):
        await store.append_message(message(c, f"old message {i}", at=i + 1))
    embedder = GatedEmbedder()
    embedder.gate.set()
    indexer = Indexer(store, embedder, batch=2)
    await indexer.start()
    try:
        await indexer.idle()
        assert embedder.asked == 5
        assert await store.pending_embeddings(embedder.name, after=0, limit=100) == []
    finally:
        await indexer.close()


async def test_sends_are_never_held_by_an_embedder_that_does_not_answer(tmp_path: Path) -> None:
    asgi = create_app(Settings(data_dir=tmp_path / "data", ui_enable=False))
    service: MessagingService = asgi.components.messaging
    stuck = GatedEmbedder()  # its gate never opens
    service.indexer = Indexer(service.store, stuck, queue_max=3)
    service.search.indexer = service.indexer
    api = asgi.other_asgi_app
    lifespan = api.router.lifespan_context(api)
    await lifespan.__aenter__()
    try:
        room, me = new_id(), new_id()
        for i in range(20):
            command = SendMessage(
                channel_id=room,
                server_id="00000000-0000-0000-0000-000000000000",
                sender_id=me,
                sender_name="Me",
                text=f"message {i}",
                client_message_id=None,
                source="test",
            )
            result = await asyncio.wait_for(service.send(command, caller=ANONYMOUS), 10)
            assert not result.duplicate
        assert service.indexer.dropped >= 20 - 3 - 1
        assert stuck.asked == 0
        found = await service.search.search(ANONYMOUS, "message", channel_id=room, mode="keyword", limit=100)
        assert len(found.hits) == 20  # keyword search never waits for the embedder either
    finally:
        await lifespan.__aexit__(None, None, None)


class BadVectors:
    """An endpoint that answers some texts with vectors no store can keep (the rest are fine)."""

    name = "bad-endpoint"

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        bad = {"nan": [float("nan"), 1.0], "huge": [1e39, 1.0], "long": [1.0, 0.0, 0.0]}
        return [bad.get(t, [1.0, 0.0]) for t in texts]


async def test_vectors_no_store_can_keep_are_left_out_and_the_rest_indexed(store: SQLiteStore) -> None:
    indexer = Indexer(store, BadVectors(), batch=8, retry_s=0.05)
    await indexer.start()
    try:
        c = await channel(store)
        ids = {}
        for i, text in enumerate(["fine one", "nan", "huge", "long", "fine two"]):
            stored = await store.append_message(message(c, text, at=i + 1))
            ids[text] = stored.message.id
            indexer.notify(stored.message.id)
        await indexer.idle()
        assert indexer.refused >= 3
        hits = await store.vector_search("bad-endpoint", [1.0, 0.0], SearchScope(), 10)
        assert {h.message.id for h in hits} == {ids["fine one"], ids["fine two"]}
    finally:
        await indexer.close()

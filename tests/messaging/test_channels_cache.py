"""The channel cache stays bounded, members included, and still avoids repeated writes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eliza_messaging.messaging import channel_cache as channels_module
from eliza_messaging.messaging.channel_cache import ChannelCache
from eliza_messaging.protocol.types import DEFAULT_SERVER_ID
from eliza_messaging.records import MessageServer
from eliza_messaging.store.sqlite import SQLiteStore
from tests.conftest import new_id


class CountingStore(SQLiteStore):
    writes = 0

    async def add_participants(self, channel_id: str, entity_ids: object) -> None:  # type: ignore[override]
        self.writes += 1
        await super().add_participants(channel_id, entity_ids)  # type: ignore[arg-type]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CountingStore]:
    s = CountingStore(tmp_path / "c.sqlite3")
    await s.open()
    await s.ensure_message_server(MessageServer(id=DEFAULT_SERVER_ID, name="d", source_type="t"))
    yield s
    await s.close()


async def test_members_are_written_once_and_evicted_with_their_channel(
    store: CountingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channels_module, "CACHE_SIZE", 3)
    cache = ChannelCache(store)
    first, user = new_id(), new_id()
    await cache.ensure(first, server_id=DEFAULT_SERVER_ID, metadata={}, participant=user)
    writes = store.writes
    await cache.ensure(first, server_id=DEFAULT_SERVER_ID, metadata={}, participant=user)
    await cache.add_member(first, user)
    assert store.writes == writes  # known member: no write
    for _ in range(5):
        await cache.ensure(new_id(), server_id=DEFAULT_SERVER_ID, metadata={}, participant=new_id())
    assert len(cache._cache) == 3 and len(cache._members) <= 3
    await cache.add_member(first, user)  # evicted: written through again, harmlessly
    assert await store.list_participants(first) == [user]

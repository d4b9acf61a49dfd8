"""The channel cache stays bounded, members included, and still avoids repeated writes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eliza_messaging.messaging import channel_cache as channels_module
from eliza_messaging.messaging.channel_cache import ChannelCache
from eliza_messaging.protocol.types import DEFAULT_SERVER_ID
from eliza_messaging.records import Channel, MessageServer
from eliza_messaging.store.sqlite import SQLiteStore
from tests.conftest import new_id


class CountingStore(SQLiteStore):
    writes = 0  # member writes
    reads = 0  # channel reads

    async def add_participants(self, channel_id: str, entity_ids: object) -> None:  # type: ignore[override]
        self.writes += 1
        await super().add_participants(channel_id, entity_ids)  # type: ignore[arg-type]

    async def get_channel(self, channel_id: str) -> Channel | None:
        self.reads += 1
        return await super().get_channel(channel_id)


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
    later = [(new_id(), new_id()) for _ in range(5)]
    for channel_id, member in later:
        await cache.ensure(channel_id, server_id=DEFAULT_SERVER_ID, metadata={}, participant=member)
    # Seen through the store: the three newest channels and their members are cached (no read, no
    # write); the three oldest were evicted, members included (each is written through again).
    reads, writes = store.reads, store.writes
    for channel_id, member in later[-3:]:
        assert await cache.get(channel_id) is not None
        await cache.add_member(channel_id, member)
    assert (store.reads, store.writes) == (reads, writes)
    for channel_id, member in [(first, user), *later[:2]]:
        await cache.add_member(channel_id, member)  # evicted: written through again, harmlessly
    assert store.writes == writes + 3
    for channel_id in (first, later[0][0], later[1][0]):
        assert await cache.get(channel_id) is not None
    assert store.reads == reads + 3  # bounded at CACHE_SIZE: none of the older ones was still cached
    assert await store.list_participants(first) == [user]

"""The store's part in the user's control over the memory (issue 13), on SQLite and PostgreSQL alike:
an entity's messages across its channels, export pages by offset, and deleting by author or by age in
bounded batches that report what went (so rooms can be told), nothing else touched."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from eliza_messaging.store.base import Store
from tests.conftest import new_id
from tests.store.conftest import Backend
from tests.store.test_conformance import channel, channel_record, message, with_server


async def test_an_entitys_messages_span_the_channels_it_takes_part_in(any_store: Store) -> None:
    await with_server(any_store)
    agent, ann, bob = new_id(), new_id(), new_id()
    member = await channel(any_store, agent, ann)  # a participant
    written = await channel(any_store, bob)  # not a participant, but it has written there
    elsewhere = await channel(any_store, ann, bob)  # neither: never part of the agent's memories
    stored = {}
    for at, (cid, author, text) in enumerate(
        [
            (member, ann, "hello"),
            (written, bob, "hi there"),
            (written, agent, "answer"),
            (elsewhere, ann, "private"),
            (member, agent, "reply"),
        ],
        start=1,
    ):
        stored[text] = (await any_store.append_message(message(cid, text, at=at * 10, author=author))).message

    got = await any_store.list_member_messages(agent, limit=10)
    assert [m.content for m in got] == ["reply", "answer", "hi there", "hello"]  # newest first
    assert got[0] == stored["reply"]  # the whole record, with its offset
    assert [m.content for m in await any_store.list_member_messages(agent, limit=2)] == ["reply", "answer"]
    assert [m.content for m in await any_store.list_member_messages(agent, limit=10, before=30)] == [
        "hi there",
        "hello",
    ]
    one = await any_store.list_member_messages(agent, limit=10, channel_id=written)
    assert [m.content for m in one] == ["answer", "hi there"]
    assert await any_store.list_member_messages(agent, limit=10, channel_id=elsewhere) == []
    # a reader sees only the channels it is a participant of
    assert [m.content for m in await any_store.list_member_messages(agent, limit=10, reader=ann)] == [
        "reply",
        "hello",
    ]
    assert await any_store.list_member_messages(new_id(), limit=10) == []


async def test_channels_addressed_to_an_entity_or_named_by_it_are_its_own(any_store: Store) -> None:
    await with_server(any_store)
    agent, ann = new_id(), new_id()
    addressed = replace(channel_record(), metadata={"isDm": True, "targetUserId": agent})
    await any_store.ensure_channel(addressed, [ann])
    await any_store.ensure_channel(channel_record(agent), [ann])  # the channel whose id is the agent's
    other = replace(channel_record(), metadata={"targetUserId": ann})
    await any_store.ensure_channel(other, [ann])
    for at, cid in enumerate((addressed.id, agent, other.id), start=1):
        await any_store.append_message(message(cid, cid, at=at, author=ann))
    found = await any_store.list_member_messages(agent, limit=10, target_keys=("recipientId", "targetUserId"))
    assert [m.content for m in found] == [agent, addressed.id]
    assert [m.content for m in await any_store.list_member_messages(agent, limit=10)] == [agent]  # no keys asked
    hostile = await any_store.list_member_messages(agent, limit=10, target_keys=("x') OR 1=1 --", 'a"b'))
    assert [m.content for m in hostile] == [agent]  # keys are data, never SQL


async def test_export_pages_go_by_offset_oldest_first(any_store: Store) -> None:
    await with_server(any_store)
    cid, other = await channel(any_store), await channel(any_store)
    for i in range(5):
        await any_store.append_message(message(cid, f"m{i}", at=100 - i))  # clocks disagree: offsets decide
        await any_store.append_message(message(other, f"o{i}", at=i))
    first = await any_store.page_messages(cid, after_seq=0, limit=2)
    assert [(m.seq, m.content) for m in first] == [(1, "m0"), (2, "m1")]
    rest = await any_store.page_messages(cid, after_seq=first[-1].seq, limit=10)
    assert [(m.seq, m.content) for m in rest] == [(3, "m2"), (4, "m3"), (5, "m4")]
    assert await any_store.page_messages(cid, after_seq=5, limit=10) == []


async def test_deleting_an_authors_messages_goes_in_bounded_batches(any_store: Store) -> None:
    await with_server(any_store)
    gone, kept = new_id(), new_id()
    first, second = await channel(any_store), await channel(any_store)
    theirs = []
    for i in range(5):
        cid = first if i % 2 else second
        theirs.append((await any_store.append_message(message(cid, f"x{i}", at=i, author=gone))).message)
        await any_store.append_message(message(cid, f"k{i}", at=i, author=kept))

    batch = await any_store.delete_messages_by_author(gone, limit=3)
    assert batch == [(m.channel_id, m.id) for m in theirs[:3]]  # oldest first, each with its channel
    assert await any_store.delete_messages_by_author(gone, limit=3) == [(m.channel_id, m.id) for m in theirs[3:]]
    assert await any_store.delete_messages_by_author(gone, limit=3) == []
    for m in theirs:
        assert await any_store.get_message(m.id) is None
    left = await any_store.list_messages(first, limit=-1) + await any_store.list_messages(second, limit=-1)
    assert sorted(m.content for m in left) == [f"k{i}" for i in range(5)]  # nobody else's touched


async def test_deleting_by_age_takes_only_what_is_older(any_store: Store) -> None:
    await with_server(any_store)
    cid = await channel(any_store)
    ids = [(await any_store.append_message(message(cid, f"m{t}", at=t))).message.id for t in (50, 10, 30, 40, 20)]
    assert await any_store.delete_messages_before(40, limit=2) == [(cid, ids[1]), (cid, ids[4])]  # 10, 20
    assert await any_store.delete_messages_before(40, limit=2) == [(cid, ids[2])]  # 30; 40 is not older
    assert await any_store.delete_messages_before(40, limit=2) == []
    assert sorted(m.created_at for m in await any_store.list_messages(cid, limit=-1)) == [40, 50]
    # offsets are never reused after deleting: the next message continues the sequence
    later = await any_store.append_message(message(cid, "new", at=60))
    assert later.message.seq == 6


async def test_two_nodes_sweeping_at_once_delete_each_row_once(backend: Backend) -> None:
    first, second = backend.make(), backend.make()  # two nodes on one database
    await first.open()
    await second.open()
    try:
        await with_server(first)
        cid = await channel(first)
        stored = await asyncio.gather(*(first.append_message(message(cid, f"m{i}", at=i)) for i in range(300)))
        reported: list[tuple[str, str]] = []

        async def sweep(store: Store) -> None:
            while batch := await store.delete_messages_before(1_000, limit=25):
                reported.extend(batch)

        await asyncio.gather(sweep(first), sweep(second), sweep(first), sweep(second))
        assert sorted(reported) == sorted((cid, s.message.id) for s in stored)  # each once, none missed
        assert await first.list_messages(cid, limit=-1) == []
    finally:
        await first.close()
        await second.close()

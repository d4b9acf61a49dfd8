"""Parsing what servers send, and following a reply that the server does not label (ElizaOS 1.7)."""

from __future__ import annotations

import asyncio
import re

import pytest

from eliza_messaging.client import Message, ReplyTimeout, dm_channel_id
from eliza_messaging.client.models import epoch_ms
from eliza_messaging.client.streams import ReplyStream, StreamEvent

ME, AGENT, ROOM = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "r"


def test_times_in_every_spelling_become_epoch_ms() -> None:
    assert epoch_ms(1_700_000_000_123) == 1_700_000_000_123
    assert epoch_ms(1_700_000_000.5) == 1_700_000_000_500
    assert epoch_ms("1700000000123") == 1_700_000_000_123
    assert epoch_ms("2023-11-14T22:13:20.123Z") == 1_700_000_000_123
    assert epoch_ms("2023-11-14T22:13:20.123") == 1_700_000_000_123
    assert epoch_ms("yesterday", default=7) == 7


def test_an_elizaos_history_row_becomes_a_message() -> None:
    row = {
        "id": "m1",
        "channelId": ROOM,
        "authorId": AGENT,
        "content": "How do you do?",
        "createdAt": "2023-11-14T22:13:20.123Z",
        "sourceType": "agent_response",
        "inReplyToRootMessageId": "m0",
        "metadata": {"authorDisplayName": "Eliza"},
        "rawMessage": {"attachments": [{"url": "x"}]},
    }
    message = Message.from_rest(row)
    assert (message.sender_id, message.sender_name, message.text) == (AGENT, "Eliza", "How do you do?")
    assert (message.created_at, message.in_reply_to, message.source) == (1_700_000_000_123, "m0", "agent_response")
    assert message.attachments == [{"url": "x"}] and message.raw is row


def test_a_seed_style_broadcast_with_room_id_only_becomes_a_message() -> None:
    message = Message.from_broadcast({"roomId": ROOM, "senderName": "Eliza", "text": "hi", "id": "m2"})
    assert message.channel_id == ROOM and message.server_id == "00000000-0000-0000-0000-000000000000"


def test_dm_channel_ids_are_the_same_from_both_sides() -> None:
    assert dm_channel_id(ME, AGENT) == dm_channel_id(AGENT.upper(), ME) != dm_channel_id(ME, ME)


def _stream(**options: object) -> ReplyStream:
    closed: list[ReplyStream] = []
    defaults: dict[str, object] = {
        "channel_id": ROOM,
        "own_id": ME,
        "after_seq": 10,
        "timeout": 1.0,
        "is_finished": lambda mid: mid == "old-reply",
        "on_close": closed.append,
    }
    defaults.update(options)
    return ReplyStream("mine", **defaults)  # type: ignore[arg-type]


def chunk(seq: int, mid: str, text: str, index: int) -> StreamEvent:
    data = {"messageId": mid, "chunk": text, "index": index, "agentId": AGENT, "channelId": ROOM}
    return StreamEvent(seq, "chunk", data)


def reply(seq: int, mid: str, text: str, in_reply_to: str | None) -> StreamEvent:
    data = {"id": mid, "text": text, "senderId": AGENT, "channelId": ROOM, "inReplyTo": in_reply_to}
    return StreamEvent(seq, "reply", data, Message.from_broadcast(data))


async def test_unlabelled_chunks_after_our_send_are_followed_and_older_ones_ignored() -> None:
    stream = _stream()
    for event in (
        chunk(5, "before-send", "stale ", 0),  # arrived before our send
        chunk(11, "old-reply", "finished ", 0),  # its reply already came
        chunk(12, "new", "How ", 0),
        chunk(13, "other", "noise ", 0),  # another reply, once bound
        chunk(14, "new", "are you?", 1),
        reply(15, "new", "How are you?", None),  # ElizaOS: no inReplyTo
    ):
        stream.offer(event)
    assert [c.text async for c in stream] == ["How ", "are you?"]
    assert stream.reply is not None and stream.reply.id == "new" and stream.reply_id == "new"


async def test_a_reply_that_did_not_stream_comes_as_one_chunk_and_complete_ends_an_ignored_message() -> None:
    whole = _stream()
    whole.offer(reply(11, "r1", "Hello there", "mine"))
    assert [c.text async for c in whole] == ["Hello there"]
    ignored = _stream()
    ignored.offer(StreamEvent(11, "complete", {"channelId": ROOM, "inReplyTo": "mine"}))
    assert [c async for c in ignored] == [] and ignored.reply is None


async def test_silence_raises_reply_timeout() -> None:
    with pytest.raises(ReplyTimeout, match=re.escape("No reply to message mine for 0.1s")):
        await asyncio.wait_for(_stream(timeout=0.1).result(), 2)

"""Agent replies, chunk by chunk, from the server's real agents (the default classic ELIZA, and a failing one)."""

from __future__ import annotations

import threading

from eliza_messaging.client import (
    ElizaClient,
    ElizaClientSync,
    ReplyChunk,
    dm_channel_id,
)
from tests.support.server import ServerProcess


async def test_a_dm_reply_streams_chunk_by_chunk_then_arrives_whole(server: ServerProcess) -> None:
    async with ElizaClient(server.url, name="Pat") as client:
        eliza = await client.find_agent("eliza")
        assert eliza.name == "Eliza" and eliza.status
        channel = await client.join_dm(eliza.id)
        assert channel == dm_channel_id(eliza.id, client.entity_id)
        seen_by_callback: list[ReplyChunk] = []
        client.on_reply_chunk(seen_by_callback.append)
        inbox = client.messages(channel)
        sent = await client.send(channel, "I am unhappy with my work")
        stream = client.stream_reply(sent.id)
        chunks = [chunk async for chunk in stream]
        assert len(chunks) > 1 and [c.index for c in chunks] == list(range(len(chunks)))
        reply = stream.reply
        assert reply is not None and reply.text and "".join(c.text for c in chunks) == reply.text == stream.text
        assert reply.in_reply_to == sent.id and reply.sender_id == eliza.id and reply.id == stream.reply_id
        assert {c.message_id for c in chunks} == {reply.id} and all(c.agent_id == eliza.id for c in chunks)
        assert seen_by_callback == chunks
        delivered = await inbox.get(5)
        assert delivered.id == reply.id and delivered.sender_name == "Eliza"


async def test_a_stream_opened_after_the_reply_finished_still_yields_it(server: ServerProcess) -> None:
    """Events are replayed, so a slow caller loses nothing between send() and stream_reply()."""
    async with ElizaClient(server.url, dialect="seed") as client:
        eliza = await client.find_agent("Eliza")
        channel = await client.join_dm(eliza.id)
        inbox = client.messages(channel)
        sent = await client.send(channel, "Hello")
        reply = await inbox.get(10)
        stream = client.stream_reply(sent.id)
        assert "".join([c.text async for c in stream]) == reply.text
        assert stream.reply == reply


async def test_ask_waits_for_the_whole_reply(server: ServerProcess) -> None:
    async with ElizaClient(server.url) as client:
        channel = await client.join_dm((await client.find_agent("Eliza")).id)
        reply = await client.ask(channel, "My mother does not understand me")
        assert reply is not None and reply.text and reply.channel_id == channel


def test_the_sync_client_chats_with_an_agent(server: ServerProcess) -> None:
    with ElizaClientSync(server.url, name="Script") as client:
        eliza = client.find_agent("Eliza")
        channel = client.join_dm(eliza.id)
        sent = client.send(channel, "I feel anxious")
        stream = client.stream_reply(sent.id, timeout=10)
        text = "".join(chunk.text for chunk in stream)
        assert stream.reply is not None and text == stream.reply.text == stream.text
        assert [m.text for m in client.history(channel)][-2:] == ["I feel anxious", text]
        # nothing more comes (no second copy of the reply) until what we send next, which must come:
        # the positive control, sent from another thread while this one waits on the iterator
        after = client.messages(channel, include_own=True, timeout=5)
        later = threading.Timer(0.5, client.send, (channel, "one more thing"))
        later.start()
        try:
            assert next(after).text == "one more thing"
        finally:
            later.join()

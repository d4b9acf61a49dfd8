"""The SDK against a real server: connect, join, send, receive, history, typing, errors."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from eliza_messaging.client import (
    ConnectError,
    ElizaClient,
    JoinTimeout,
    Message,
    NotConnected,
    SendError,
    SendTimeout,
    TypingEvent,
)
from tests.conftest import new_id
from tests.support.faulty_server import Faults, FaultyServer
from tests.support.server import ServerProcess


@pytest.mark.parametrize("dialect", ["eliza17", "seed"])
async def test_send_returns_the_stored_message_that_others_receive(server: ServerProcess, dialect: str) -> None:
    channel = new_id()
    async with (
        ElizaClient(server.url, name="Alice", dialect=dialect) as alice,  # type: ignore[arg-type]
        ElizaClient(server.url, name="Bob", dialect="seed" if dialect == "eliza17" else "eliza17") as bob,
    ):
        await alice.join(channel)
        await bob.join(channel)
        inbox = bob.messages(channel)
        sent = await alice.send(channel, "hello bob", metadata={"mood": "bright"})
        got = await inbox.get(5)
        assert got.id == sent.id and got.text == "hello bob" and got.sender_name == "Alice"
        assert got.created_at == sent.created_at and got.channel_id == channel
        assert got.sender_id == alice.entity_id and got.metadata == {"mood": "bright"}
        assert sent.client_message_id and sent.channel_id == channel
        history = await bob.history(channel)
        assert [(m.id, m.text, m.created_at) for m in history] == [(sent.id, "hello bob", sent.created_at)]


async def test_iterators_and_callbacks_see_each_message_once_and_own_ones_only_when_asked(
    server: ServerProcess,
) -> None:
    channel = new_id()
    async with ElizaClient(server.url) as me, ElizaClient(server.url, name="Other") as other:
        await me.join(channel)
        await other.join(channel)
        others_only = me.messages(channel)
        everything = me.messages(channel, include_own=True)
        called: list[Message] = []
        me.on_message(called.append, channel_id=channel)
        mine = await me.send(channel, "mine")
        theirs = await other.send(channel, "theirs")
        assert (await others_only.get(5)).id == theirs.id
        assert [(await everything.get(5)).id for _ in range(2)] == [mine.id, theirs.id]
        await asyncio.sleep(0.3)
        assert [m.id for m in called] == [theirs.id]
        with pytest.raises(TimeoutError):
            await others_only.get(0.2)
        # positive control: the next message from the other reaches all three, and nothing came in between
        again = await other.send(channel, "theirs again")
        assert (await others_only.get(5)).id == again.id
        assert (await everything.get(5)).id == again.id
        assert [m.id for m in called] == [theirs.id, again.id]  # called in the same step as the iterators


async def test_async_callbacks_and_unsubscribing(server: ServerProcess) -> None:
    channel = new_id()
    async with ElizaClient(server.url) as me, ElizaClient(server.url) as other:
        await me.join(channel)
        await other.join(channel)
        got: asyncio.Queue[str] = asyncio.Queue()

        async def remember(message: Message) -> None:
            await got.put(message.text)

        async def control(message: Message) -> None:
            await kept.put(message.text)

        kept: asyncio.Queue[str] = asyncio.Queue()
        stop = me.on_message(remember)
        me.on_message(control)  # stays subscribed: the positive control
        await other.send(channel, "first")
        assert await asyncio.wait_for(got.get(), 5) == "first"
        assert await asyncio.wait_for(kept.get(), 5) == "first"
        stop()
        await other.send(channel, "second")
        assert await asyncio.wait_for(kept.get(), 5) == "second"  # it did arrive, to the callback still there
        await asyncio.sleep(0.3)
        assert got.empty()


async def test_typing_reaches_the_others(server: ServerProcess) -> None:
    channel = new_id()
    async with ElizaClient(server.url) as typer, ElizaClient(server.url, dialect="seed") as watcher:
        await typer.join(channel)
        await watcher.join(channel)
        seen: asyncio.Queue[TypingEvent] = asyncio.Queue()
        watcher.on_typing(seen.put_nowait)
        await typer.typing(channel, True)
        event = await asyncio.wait_for(seen.get(), 5)
        assert event == TypingEvent(typer.entity_id, channel, True)


async def test_a_rejected_message_raises_send_error_with_the_servers_sentence(server: ServerProcess) -> None:
    async with ElizaClient(server.url) as client:
        with pytest.raises(SendError) as caught:
            await client.send("not-a-uuid", "hello")
        assert caught.value.code == "INVALID_PAYLOAD" and caught.value.field == "channelId"
        assert "must be a UUID" in caught.value.message and caught.value.client_message_id


async def test_history_is_oldest_first_and_pages_back_with_before(server: ServerProcess) -> None:
    channel = new_id()
    async with ElizaClient(server.url) as client:
        await client.join(channel)
        sent = [await client.send(channel, f"m{i}") for i in range(4)]
        newest = await client.history(channel, limit=2)
        assert [m.text for m in newest] == ["m2", "m3"]
        older = await client.history(channel, limit=10, before=newest[0].created_at)
        assert [m.id for m in older] == [m.id for m in sent if m.created_at < newest[0].created_at]
        assert all(m.sender_id == client.entity_id and m.channel_id == channel for m in newest)


async def test_sending_before_connecting_says_to_connect_first(server: ServerProcess) -> None:
    client = ElizaClient(server.url)
    with pytest.raises(NotConnected, match="connect"):
        await client.send(new_id(), "hi")
    await client.close()


async def test_connect_errors_say_why() -> None:
    with pytest.raises(ConnectError, match=re.escape("Cannot connect to http://127.0.0.1:9")):
        await ElizaClient("http://127.0.0.1:9", timeout=2).connect()
    with pytest.raises(ValueError, match="entity_id must be a UUID"):
        ElizaClient("http://127.0.0.1:9", entity_id="me")


async def test_no_ack_raises_send_timeout_and_an_unconfirmed_join_join_timeout() -> None:
    with FaultyServer(Faults(no_ack=True, no_join_confirm=True)) as faulty:
        async with ElizaClient(faulty.url, dialect="seed", timeout=0.5) as client:
            channel = new_id()
            with pytest.raises(JoinTimeout, match="confirm=False"):
                await client.join(channel)
            await client.join(channel, confirm=False)
            with pytest.raises(SendTimeout) as caught:
                await client.send(channel, "anyone?", client_message_id="5f3c1a52-8e1b-4a43-9a0e-2b7f0c1d9e11")
            assert "client_message_id='5f3c1a52-8e1b-4a43-9a0e-2b7f0c1d9e11'" in caught.value.message


async def test_an_ack_given_only_as_a_message_ack_event_is_enough() -> None:
    """ElizaOS acknowledges with a messageAck event and never calls the emit's callback."""
    with FaultyServer() as plain:
        async with ElizaClient(plain.url, dialect="seed") as client:
            channel = new_id()
            await client.join(channel)
            sent = await client.send(channel, "acked")
            assert sent.id and sent.id != sent.client_message_id


async def test_long_polling_only_works_and_closes_promptly() -> None:
    """For networks whose proxies drop WebSockets (the seeds' "force polling" advice).

    A python-engineio server keeps a closed client's last long-poll open until its ping
    interval ends; the client must not wait for that.
    """
    channel = new_id()
    with FaultyServer() as plain:
        client = await ElizaClient(plain.url, dialect="seed", transports=["polling"]).connect()
        async with ElizaClient(plain.url, dialect="seed") as other:
            await client.join(channel)
            await other.join(channel)
            inbox = client.messages(channel)
            await other.send(channel, "over long-polling")
            assert (await inbox.get(5)).text == "over long-polling"
            assert (await client.send(channel, "and back")).text == "and back"
        started = time.monotonic()
        await client.close()
        assert time.monotonic() - started < 2.5


async def test_closing_ends_the_iterators(server: ServerProcess) -> None:
    client = await ElizaClient(server.url).connect()
    inbox = client.messages()
    reader = asyncio.ensure_future(anext(inbox, None))
    await asyncio.sleep(0.05)
    await client.close()
    assert await asyncio.wait_for(reader, 2) is None

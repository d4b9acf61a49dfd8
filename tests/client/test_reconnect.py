"""After a dropped connection the client rejoins and catches up: no gap, no duplicate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from eliza_messaging.client import ConnectionLost, ElizaClient, NotConnected
from tests.conftest import new_id
from tests.support.faulty_server import Faults, FaultyServer
from tests.support.server import ServerProcess
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
async def proxy(server: ServerProcess) -> AsyncIterator[TcpProxy]:
    line = await TcpProxy(server.port).start()
    yield line
    await line.close()


def events(client: ElizaClient, name: str) -> asyncio.Queue[Any]:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    client.on_event(name, queue.put_nowait)
    return queue


@pytest.mark.parametrize("dialect", ["eliza17", "seed"])
async def test_messages_sent_while_disconnected_arrive_once_and_in_order(
    server: ServerProcess, proxy: TcpProxy, dialect: str
) -> None:
    channel, other_channel = new_id(), new_id()
    options: dict[str, Any] = {"reconnection_delay": 0.1, "reconnection_delay_max": 0.2, "dialect": dialect}
    async with ElizaClient(proxy.url, **options) as reader, ElizaClient(server.url, name="Writer") as writer:
        await reader.join(channel)
        await reader.join(other_channel)
        await writer.join(channel)
        inbox = reader.messages()
        before = await writer.send(channel, "before the cut")
        assert (await inbox.get(5)).id == before.id
        dropped, resumed = events(reader, "disconnect"), events(reader, "resumed")

        await proxy.cut()
        await asyncio.wait_for(dropped.get(), 5)
        with pytest.raises(NotConnected, match="reconnecting"):
            await reader.send(channel, "while down")
        missed = [await writer.send(channel, f"missed {i}") for i in range(3)]
        missed.append(await writer.send(other_channel, "missed elsewhere"))
        await proxy.restore()

        summary = await asyncio.wait_for(resumed.get(), 10)
        assert summary["missed"] == 4 and set(summary["channels"]) == {channel, other_channel}
        after = await writer.send(channel, "after the cut")
        got = [await inbox.get(5) for _ in range(5)]
        assert [m.id for m in got] == [m.id for m in [*missed, after]]
        assert [m.text for m in got[:3]] == ["missed 0", "missed 1", "missed 2"]
        with pytest.raises(TimeoutError):  # "before the cut" is not delivered again
            await inbox.get(0.3)
        # the rejoined socket is in the room again: its own sends come back and are acknowledged
        assert (await reader.send(channel, "back")).text == "back"
        # positive control: the inbox still delivers; a late copy of "before the cut" would come first
        last = await writer.send(channel, "last")
        assert (await inbox.get(5)).id == last.id


async def test_a_send_in_flight_when_the_line_drops_raises_connection_lost() -> None:
    with FaultyServer(Faults(no_ack=True)) as silent:
        line = await TcpProxy(silent.port).start()
        try:
            async with ElizaClient(line.url, dialect="seed", reconnect=False) as client:
                channel, client_id = new_id(), new_id()
                await client.join(channel)
                sending = asyncio.ensure_future(client.send(channel, "falling", client_message_id=client_id))
                await asyncio.sleep(0.2)
                assert not sending.done()
                await line.cut()
                with pytest.raises(ConnectionLost, match="dropped") as lost:
                    await asyncio.wait_for(sending, 5)
                assert lost.value.client_message_id == client_id
        finally:
            await line.close()


async def test_closing_while_reconnecting_stops_trying(server: ServerProcess, proxy: TcpProxy) -> None:
    client = await ElizaClient(proxy.url, reconnection_delay=0.1, reconnection_delay_max=0.1).connect()
    dropped = events(client, "disconnect")
    await proxy.cut()
    await asyncio.wait_for(dropped.get(), 5)
    await asyncio.sleep(0.3)  # a few failed attempts
    await asyncio.wait_for(client.close(), 3)
    await proxy.restore()
    attempts = proxy.connections
    await asyncio.sleep(0.5)
    assert proxy.connections == attempts and not client.connected
    # positive control: the restored line takes connections and counts them, so a try would have shown
    async with ElizaClient(proxy.url) as fresh:
        assert fresh.connected
    assert proxy.connections > attempts and not client.connected

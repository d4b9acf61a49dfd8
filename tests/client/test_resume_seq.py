"""The SDK resumes by channel offset (issue 12), never by clock: after a dropped connection it rejoins
with ``lastSeq``, takes what the server replays, fetches by ``afterSeq`` what the replay left out,
and delivers all of it once, in offset order, before anything new, however much it missed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from eliza_messaging.client import ElizaClient, rest
from tests.conftest import new_id
from tests.support.server import ServerProcess
from tests.support.tcp_proxy import TcpProxy

FAST = {"reconnection_delay": 0.1, "reconnection_delay_max": 0.2}


def events(client: ElizaClient, name: str) -> asyncio.Queue[Any]:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    client.on_event(name, queue.put_nowait)
    return queue


@pytest.fixture
async def line_to(server_factory: Callable[..., ServerProcess]) -> AsyncIterator[Callable[..., Any]]:
    proxies: list[TcpProxy] = []

    async def make(env: dict[str, str]) -> tuple[ServerProcess, TcpProxy]:
        node = server_factory(env)
        proxy = await TcpProxy(node.port).start()
        proxies.append(proxy)
        return node, proxy

    yield make
    for proxy in proxies:
        await proxy.close()


@pytest.mark.parametrize("dialect", ["eliza17", "seed"])
async def test_a_reconnect_resumes_from_the_last_offset_through_the_servers_replay(
    line_to: Callable[..., Any], dialect: str
) -> None:
    node, proxy = await line_to({})
    channel = new_id()
    async with ElizaClient(proxy.url, dialect=dialect, **FAST) as reader, ElizaClient(node.url) as writer:
        await reader.join(channel)
        await writer.join(channel)
        inbox = reader.messages(channel)
        first = await writer.send(channel, "before the cut")
        assert (await inbox.get(5)).seq == 1 and first.id
        dropped, resumed = events(reader, "disconnect"), events(reader, "resumed")
        await proxy.cut()
        await asyncio.wait_for(dropped.get(), 5)
        missed = [await writer.send(channel, f"missed {i}") for i in range(3)]
        await proxy.restore()
        assert (await asyncio.wait_for(resumed.get(), 10))["missed"] == 3
        got = [await inbox.get(5) for _ in range(3)]
        assert [(m.id, m.seq) for m in got] == [(m.id, i) for i, m in enumerate(missed, start=2)]
        assert all(m.raw.get("replayed") is True for m in got)  # sent by the rejoin, not fetched by clock
        live = await writer.send(channel, "after")
        assert (await inbox.get(5)).id == live.id


async def test_more_missed_than_the_replay_and_the_old_page_cap_all_arrive_once_in_order(
    line_to: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server replays the newest 20; the rest comes by afterSeq over REST. Pages of 10 make the
    old catch-up's cap (20 pages) 200 messages: 260 missed would have lost some."""
    monkeypatch.setattr(rest, "PAGE", 10)
    node, proxy = await line_to({"ELIZA_REPLAY_MAX": "20"})
    channel = new_id()
    async with ElizaClient(proxy.url, **FAST) as reader, ElizaClient(node.url) as writer:
        await reader.join(channel)
        await writer.join(channel)
        inbox = reader.messages(channel)
        await writer.send(channel, "seen")
        assert (await inbox.get(5)).seq == 1
        dropped, resumed = events(reader, "disconnect"), events(reader, "resumed")
        await proxy.cut()
        await asyncio.wait_for(dropped.get(), 5)
        missed = [await writer.send(channel, f"missed {i}") for i in range(260)]
        await proxy.restore()
        assert (await asyncio.wait_for(resumed.get(), 20))["missed"] == 260
        got = [await inbox.get(5) for _ in range(260)]
        assert [m.id for m in got] == [m.id for m in missed]
        assert [m.seq for m in got] == list(range(2, 262))
        assert sum(1 for m in got if m.raw.get("replayed")) == 20  # the newest 20 came with the rejoin
        live = await writer.send(channel, "after")
        assert (await inbox.get(5)).id == live.id  # nothing delivered twice before it


async def test_a_client_that_saw_nothing_yet_resumes_from_where_it_joined(line_to: Callable[..., Any]) -> None:
    node, proxy = await line_to({})
    channel = new_id()
    async with ElizaClient(node.url) as writer:
        await writer.join(channel)
        old = [await writer.send(channel, f"old {i}") for i in range(3)]  # history from before the reader came
        async with ElizaClient(proxy.url, **FAST) as reader:
            await reader.join(channel)
            inbox = reader.messages(channel)
            dropped, resumed = events(reader, "disconnect"), events(reader, "resumed")
            await proxy.cut()
            await asyncio.wait_for(dropped.get(), 5)
            missed = await writer.send(channel, "missed")
            await proxy.restore()
            assert (await asyncio.wait_for(resumed.get(), 10))["missed"] == 1
            got = await inbox.get(5)
            assert (got.id, got.seq) == (missed.id, len(old) + 1)
            with pytest.raises(TimeoutError):  # the history before its join is not delivered
                await inbox.get(0.3)
            live = await writer.send(channel, "after")  # positive control
            assert (await inbox.get(5)).id == live.id

"""Socket.IO connection-state recovery (issue 12, item 3) with the official socket.io-client 4.8.

A client whose transport is cut (a TCP proxy in its path drops every connection and refuses new ones)
for 10 s while another talks comes back with ``socket.recovered === true``, the same sid, every room
broadcast it missed exactly once and in order, and its rooms (a later message arrives live). Where the
session or offset is gone (the log's cap passed it, the window expired) it is a new connection and the
``lastSeq`` replay on rejoin still gives what was missed. Across nodes on PostgreSQL and Redis, the
client of a node killed with ``kill -9`` recovers on another node, before and after the dead node is
reaped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from tests.conftest import new_id
from tests.e2e.helpers import join, sent, two_nodes
from tests.support.node import NodeClient, Report
from tests.support.server import ServerProcess
from tests.support.tcp_proxy import TcpProxy

CUT_S = 10.0
#: The client retries every half second or so while its path is cut, as a browser tab would.
RECONNECTING = {
    "reconnection": True,
    "reconnectionDelay": 300,
    "reconnectionDelayMax": 600,
    "transports": ["websocket"],
}


@asynccontextmanager
async def proxy_to(server: ServerProcess) -> AsyncIterator[TcpProxy]:
    proxy = await TcpProxy(server.port).start()
    try:
        yield proxy
    finally:
        await proxy.close()


async def connect(clients: Any, url: str, room: str, entity: str, **options: Any) -> tuple[NodeClient, str]:
    client = await clients(url, **options)
    sid = await client.connected()
    ack = await client.call("message", join(room, entity))
    assert ack["success"] is True, ack
    return client, sid


async def say(client: NodeClient, room: str, sender: str, *texts: str) -> list[str]:
    """Send each text, waiting for its ack; their message ids."""
    return [ack["messageId"] for ack in await sent(client, room, sender, *texts)]


def broadcast_reports(client: NodeClient, room: str) -> list[Report]:
    return [
        r
        for r in client.seen
        if r["type"] == "event" and r["event"] == "messageBroadcast" and r["args"][0]["channelId"] == room
    ]


async def reconnected(client: NodeClient, timeout: float = 20.0) -> Report:
    """The next ``connect`` report (the first one was taken by ``connected``)."""
    return await client.wait_for(lambda r: r["type"] == "connect", timeout)


async def talk_while_cut(talker: NodeClient, room: str, sender: str, count: int, seconds: float) -> list[str]:
    """``count`` messages spread over ``seconds``: the other side is away the whole time."""
    ids = []
    for i in range(count):
        ids += await say(talker, room, sender, f"while you were away {i}")
        await asyncio.sleep(seconds / count)
    return ids


def assert_each_once_in_order(client: NodeClient, room: str, expected: list[str]) -> None:
    got = [r["args"][0]["id"] for r in broadcast_reports(client, room)]
    assert got == expected, f"broadcasts heard {got}, expected each of {expected} once, in order"


async def away_and_talker(
    clients: Any, proxy: TcpProxy, talker_url: str, room: str, ann: str, bob: str
) -> tuple[NodeClient, str, NodeClient]:
    """Ann behind the proxy (reconnecting, as a browser tab), Bob straight to ``talker_url``; both in ``room``."""
    away, sid = await connect(clients, proxy.url, room, ann, **RECONNECTING)
    talker, _ = await connect(clients, talker_url, room, bob)
    return away, sid, talker


async def both_heard(away: NodeClient, talker: NodeClient, room: str, bob: str, text: str) -> list[str]:
    """Bob says ``text`` and Ann hears it: the message's id."""
    ids = await say(talker, room, bob, text)
    await away.event("messageBroadcast", where=lambda m: m["id"] == ids[0])
    return ids


async def cut_off(proxy: TcpProxy, away: NodeClient, dies: ServerProcess | None = None) -> None:
    """Cut Ann's path (and kill ``dies`` with it, as ``kill -9``); back once she has seen the disconnect."""
    await proxy.cut()
    if dies is not None:
        dies.kill()
    await away.wait_for(lambda r: r["type"] == "disconnect")


async def recovered_as(away: NodeClient, sid: str) -> None:
    """Ann's next connection is a recovery of the socket ``sid``."""
    back = await reconnected(away)
    assert back["recovered"] is True, back
    assert back["sid"] == sid, "a recovered socket keeps its id"


async def test_a_client_cut_off_for_ten_seconds_recovers_every_missed_broadcast_once(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    server = server_factory()
    room, ann, bob = new_id(), new_id(), new_id()
    async with proxy_to(server) as proxy:
        away, sid, talker = await away_and_talker(clients, proxy, server.url, room, ann, bob)
        before = await say(talker, room, bob, "before the cut")
        report = await away.wait_for(lambda r: r["type"] == "event" and r["event"] == "messageBroadcast")
        offset = report["args"][-1]
        assert len(report["args"]) == 2 and isinstance(offset, str), "a room broadcast carries its offset last"

        await cut_off(proxy, away)
        missed = await talk_while_cut(talker, room, bob, 5, CUT_S)
        await proxy.restore()

        await recovered_as(away, sid)
        after = await both_heard(away, talker, room, bob, "after you came back")  # its rooms are back: live
        await away.quiet(0.5)
        assert_each_once_in_order(away, room, before + missed + after)
        offsets = [r["args"][-1] for r in broadcast_reports(away, room)]
        assert len(set(offsets)) == len(offsets), "each broadcast has its own offset"

        # Bob saw Ann leave when her transport dropped, and come back: in that order, once each
        await talker.quiet(0.3)
        assert [e["userId"] for e in talker.events("userLeft")] == [ann]
        assert [e["userId"] for e in talker.events("userJoined")] == [ann]
        # and Ann, recovered, is still herself: she speaks without a new join
        mine = await say(away, room, ann, "I am back")
        assert (await talker.event("messageBroadcast", where=lambda m: m["id"] == mine[0]))["senderId"] == ann


async def test_an_offset_the_log_no_longer_has_is_a_new_connection_and_last_seq_replay_fills_the_gap(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    """ELIZA_RECOVERY_LOG_MAX=4: eight broadcasts while away push the client's offset out of the log."""
    server = server_factory({"ELIZA_RECOVERY_LOG_MAX": "4"})
    room, ann, bob = new_id(), new_id(), new_id()
    async with proxy_to(server) as proxy:
        away, sid, talker = await away_and_talker(clients, proxy, server.url, room, ann, bob)
        await say(talker, room, bob, "before the cut")
        seen = await away.event("messageBroadcast")

        await cut_off(proxy, away)
        missed = await say(talker, room, bob, *[f"many {i}" for i in range(8)])
        await proxy.restore()

        back = await reconnected(away)
        assert back["recovered"] is False, back
        assert back["sid"] != sid
        await away.quiet(0.5)
        assert len(broadcast_reports(away, room)) == 1, "nothing is recovered without the offset"
        ack = await away.call("message", join(room, ann, lastSeq=seen["seq"]))  # the fallback: replay on rejoin
        assert ack["missed"] == 8 and ack["replayed"] == 8, ack
        replayed = [m for m in away.events("messageBroadcast") if m.get("replayed")]
        assert [m["id"] for m in replayed] == missed


async def test_a_session_past_the_recovery_window_is_a_new_connection(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    server = server_factory({"ELIZA_RECOVERY_WINDOW_S": "1"})
    room, ann, bob = new_id(), new_id(), new_id()
    async with proxy_to(server) as proxy:
        away, _, talker = await away_and_talker(clients, proxy, server.url, room, ann, bob)
        await say(talker, room, bob, "before the cut")
        await away.event("messageBroadcast")
        await cut_off(proxy, away)
        await say(talker, room, bob, "while away")
        await asyncio.sleep(2.5)
        await proxy.restore()
        back = await reconnected(away)
        assert back["recovered"] is False, back


async def test_recovery_off_gives_no_pid_and_no_offsets(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    server = server_factory({"ELIZA_RECOVERY_WINDOW_S": "0"})
    room, ann, bob = new_id(), new_id(), new_id()
    async with proxy_to(server) as proxy:
        away, _, talker = await away_and_talker(clients, proxy, server.url, room, ann, bob)
        await say(talker, room, bob, "hello")
        report = await away.wait_for(lambda r: r["type"] == "event" and r["event"] == "messageBroadcast")
        assert len(report["args"]) == 1
        await cut_off(proxy, away)
        await proxy.restore()
        assert (await reconnected(away))["recovered"] is False


async def test_a_client_of_a_killed_node_recovers_on_another_node(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    """Back on B within two seconds of A's ``kill -9``, before anyone reaped A: nobody hears it left."""
    async with two_nodes(server_factory) as (a, b):
        room, ann, bob = new_id(), new_id(), new_id()
        async with proxy_to(a) as proxy:
            away, sid, talker = await away_and_talker(clients, proxy, b.url, room, ann, bob)
            before = await both_heard(away, talker, room, bob, "before the crash")

            await cut_off(proxy, away, dies=a)
            missed = await talk_while_cut(talker, room, bob, 4, 2.0)
            proxy.target_port = b.port  # its next connection reaches B, as a load balancer would send it
            await proxy.restore()

            await recovered_as(away, sid)
            after = await both_heard(away, talker, room, bob, "after you came back")
            await asyncio.sleep(12)  # A is reaped meanwhile (within about 10 s of its death)
            assert_each_once_in_order(away, room, before + missed + after)
            assert talker.events("userLeft") == [], "a socket that recovered before A was reaped never left"
            assert talker.events("userJoined") == []


async def test_a_client_of_a_killed_node_recovers_on_another_node_after_it_was_reaped(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    """Away for 10 s after A's ``kill -9``: B reaped A meanwhile (``userLeft``) and saved the session."""
    async with two_nodes(server_factory) as (a, b):
        room, ann, bob = new_id(), new_id(), new_id()
        async with proxy_to(a) as proxy:
            away, sid, talker = await away_and_talker(clients, proxy, b.url, room, ann, bob)
            before = await both_heard(away, talker, room, bob, "before the crash")

            await cut_off(proxy, away, dies=a)
            missed = await talk_while_cut(talker, room, bob, 5, CUT_S)
            assert (await talker.event("userLeft", timeout=10))["userId"] == ann  # A was reaped
            proxy.target_port = b.port
            await proxy.restore()

            await recovered_as(away, sid)
            after = await both_heard(away, talker, room, bob, "after you came back")
            await away.quiet(0.5)
            assert_each_once_in_order(away, room, before + missed + after)
            assert [e["userId"] for e in talker.events("userJoined")] == [ann]
            assert [e["userId"] for e in talker.events("userLeft")] == [ann]


async def test_a_client_of_a_stopping_node_recovers_on_another_node(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    """A rolling restart: SIGTERM closes A's sockets (``serverShutdown``); they recover on B."""
    async with two_nodes(server_factory) as (a, b):
        room, ann, bob = new_id(), new_id(), new_id()
        async with proxy_to(a) as proxy:
            away, sid, talker = await away_and_talker(clients, proxy, b.url, room, ann, bob)
            before = await both_heard(away, talker, room, bob, "before the restart")

            proxy.target_port = b.port  # new connections go to B; A's stays until A closes it
            stopping = asyncio.create_task(asyncio.to_thread(a.terminate, 30))
            await away.event("serverShutdown", timeout=15)
            during = await say(talker, room, bob, "while A stops 1", "while A stops 2")
            assert await stopping is not None, "A did not stop within its grace"

            await recovered_as(away, sid)
            after = await both_heard(away, talker, room, bob, "after the restart")
            await away.quiet(0.5)
            assert_each_once_in_order(away, room, before + during + after)

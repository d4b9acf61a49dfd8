"""The reply relay on a real Redis: objects reach the other nodes in order, never their sender."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from eliza_messaging.fanout.redis_relay import RedisRelay, pubsub_channel
from tests.support.redis_env import REDIS_TEST_URL, redis_prefix


@pytest.fixture
async def relays() -> AsyncIterator[Callable[[], Any]]:
    async with redis_prefix() as prefix:
        channel = pubsub_channel(REDIS_TEST_URL, prefix, "replies")
        started: list[RedisRelay] = []

        async def make() -> tuple[RedisRelay, list[dict[str, Any]]]:
            relay = RedisRelay(REDIS_TEST_URL, channel)
            got: list[dict[str, Any]] = []
            await relay.start(got.append)
            started.append(relay)
            return relay, got

        yield make
        for relay in started:
            await relay.close()


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if check():
                return
            await asyncio.sleep(0.01)


async def test_objects_reach_every_other_node_in_order_and_not_their_sender(relays: Any) -> None:
    (a, on_a), (b, on_b), (c, on_c) = [await relays() for _ in range(3)]
    for i in range(50):
        a.send({"i": i, "text": "é\u0000"})
    await until(lambda: len(on_b) >= 50 and len(on_c) >= 50)
    assert on_b == on_c == [{"i": i, "text": "é\u0000"} for i in range(50)]
    await asyncio.sleep(0.1)
    # positive controls: each sender hears the others on the same channel, after its own objects would have come
    b.send({"from": "b"})
    await until(lambda: len(on_a) >= 1 and len(on_c) >= 51)
    c.send({"from": "c"})
    await until(lambda: len(on_a) >= 2 and len(on_b) >= 51)
    assert on_a == [{"from": "b"}, {"from": "c"}]
    assert on_b[50:] == [{"from": "c"}]
    assert on_c[50:] == [{"from": "b"}]


def test_channel_names_carry_the_prefix_and_the_database() -> None:
    assert pubsub_channel("redis://h:6379/3", "eliza", "replies") == "eliza:3:replies"
    assert pubsub_channel("redis://h:6379", "eliza", "socketio") == "eliza:0:socketio"
    assert pubsub_channel("unix:///tmp/r.sock?db=2", "x", "replies") == "x:2:replies"
    assert pubsub_channel("unix:///tmp/r.sock", "x", "replies") == "x:0:replies"
    assert pubsub_channel("redis+sentinel://h:26379/1/mymaster", "x", "socketio") == "x:1:socketio"


async def test_an_unreachable_redis_fails_the_start_with_a_clear_reason() -> None:
    relay = RedisRelay("redis://127.0.0.1:1/0", "nowhere")
    with pytest.raises(ConnectionError, match=r"Could not connect to Redis \(REDIS_URL\)"):
        await relay.start(lambda data: None)
    await relay.close()

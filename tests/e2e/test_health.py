"""/healthz and /readyz report what the node depends on: the database always, Redis when it is used.
A load balancer reads them, so losing Redis must turn them 503 and getting it back must turn them 200."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.support.redis_env import REDIS_TEST_URL, redis_prefix
from tests.support.server import ServerProcess
from tests.support.tcp_proxy import TcpProxy


async def test_without_redis_health_says_it_is_not_used(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        for path in ("/healthz", "/readyz"):
            answer = await http.get(path)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["status"] == "OK" and body["database"] == "ok" and body["redis"] == "not used"
        assert (await http.get("/readyz")).json()["accepting"] is True


async def test_losing_redis_turns_health_503_and_getting_it_back_turns_it_200(tmp_path: Path) -> None:
    async with redis_prefix() as prefix:
        redis_port = httpx.URL(REDIS_TEST_URL.replace("redis://", "http://")).port or 6379
        proxy = await TcpProxy(redis_port).start()
        env = {"REDIS_URL": f"redis://127.0.0.1:{proxy.port}/0", "ELIZA_REDIS_PREFIX": prefix}
        proc = ServerProcess(tmp_path / "data", env=env)
        await asyncio.to_thread(proc.start)  # the proxy runs on this loop: start without blocking it
        try:
            async with httpx.AsyncClient(base_url=proc.url, timeout=15) as http:
                healthy = await http.get("/healthz")
                assert healthy.status_code == 200 and healthy.json()["redis"] == "ok", healthy.text
                await proxy.cut()
                for path in ("/healthz", "/readyz"):
                    down = await http.get(path)
                    assert down.status_code == 503, down.text
                    assert down.json()["status"] == "DEGRADED" and down.json()["redis"] == "unreachable"
                    assert down.json()["database"] == "ok"
                await proxy.restore()
                for _ in range(50):  # redis-py reconnects on the next command
                    back = await http.get("/healthz")
                    if back.status_code == 200:
                        break
                    await asyncio.sleep(0.2)
                assert back.status_code == 200 and back.json()["redis"] == "ok", back.text
        finally:
            await asyncio.to_thread(proc.stop)
            await proxy.close()

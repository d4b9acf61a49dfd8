"""In-process app fixtures: the real ASGI app with its lifespan, an httpx client, and scriptable agents."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from eliza_messaging.app import create_app
from eliza_messaging.config import Settings
from eliza_messaging.messaging.service import MessagingService
from eliza_messaging.protocol.types import DEFAULT_SERVER_ID
from eliza_messaging.records import Channel, Message
from tests.conftest import new_id
from tests.store.conftest import postgres_schema, postgres_url

Behaviour = Literal["reply", "error", "silent", "hang", "crash"]


@dataclass
class App:
    asgi: Any
    client: httpx.AsyncClient

    @property
    def messaging(self) -> MessagingService:
        service: MessagingService = self.asgi.components.messaging
        return service

    @property
    def state(self) -> Any:
        return self.asgi.other_asgi_app.state


@asynccontextmanager
async def running(data_dir: Path, **settings: Any) -> AsyncIterator[App]:
    """The app on ``data_dir`` (so a later one can open what this one stored), started with its lifespan and,
    on leaving, stopped as a server stops."""
    asgi = create_app(Settings(data_dir=data_dir, ui_enable=False, **settings))
    api = asgi.other_asgi_app
    lifespan = api.router.lifespan_context(api)
    await lifespan.__aenter__()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://testserver")
    try:
        yield App(asgi, client)
    finally:
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def app_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[App]]]:
    """Start apps (lifespan included) with their own settings; all are shut down after the test."""
    async with AsyncExitStack() as stack:
        started = 0

        async def make(**settings: Any) -> App:
            nonlocal started
            data_dir = tmp_path / f"data-{started}"
            started += 1
            return await stack.enter_async_context(running(data_dir, **settings))

        yield make


@pytest.fixture(params=["sqlite", "postgres"])
async def store_settings(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    """The settings of an app on each backend: SQLite (the default) and a fresh PostgreSQL schema (of the
    machine's server, or with ``pgvector`` of the pgserver one: tests/support/pgvector_server.py)."""
    if request.param == "sqlite":
        yield {}
        return
    base = request.getfixturevalue("pgvector_url") if request.param == "pgvector" else None
    async with postgres_schema(base) as schema:
        yield {"postgres_url": postgres_url(schema, base) if base else postgres_url(schema)}


@pytest.fixture
async def app(app_factory: Callable[..., Awaitable[App]]) -> App:
    return await app_factory(reply_wait_s=2.0)


@dataclass
class FakeAgent:
    """An agent that does what the test says, through the same MessagingService calls as a real one."""

    id: str
    service: MessagingService
    behaviour: Behaviour = "reply"
    chunks: tuple[str, ...] = ("Hello", " there")
    seen: list[Message] = field(default_factory=list)

    async def on_message(self, message: Message, channel: Channel) -> None:
        if message.author_id == self.id:
            return
        if self.id not in await self.service.participants(channel.id):
            return
        self.seen.append(message)
        if self.behaviour == "hang":
            return
        async with self.service.open_reply(self.id, "Fake", channel, message) as reply:
            if self.behaviour == "crash":  # fails before it starts answering, as reading history can
                raise RuntimeError("the channel's history could not be read")
            if self.behaviour == "silent":
                await reply.decline()
                return
            for piece in self.chunks:
                await reply.chunk(piece)
                await asyncio.sleep(0)
            if self.behaviour == "error":
                await reply.fail("model exploded")
            else:
                await reply.finish("".join(self.chunks), metadata={"thought": "being helpful", "actions": ["REPLY"]})


@pytest.fixture
async def fake_agent(app: App) -> FakeAgent:
    """A registered agent on the default server, subscribed to the queue; answers where it takes part."""
    agent = FakeAgent(new_id(), app.messaging)
    await app.messaging.store.add_server_agent(DEFAULT_SERVER_ID, agent.id)
    app.messaging.queue.subscribe(f"fake:{agent.id}", agent.on_message)
    return agent

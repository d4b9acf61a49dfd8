"""In-process app fixtures: the real ASGI app with its lifespan, an httpx client, and scriptable agents."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
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

Behaviour = Literal["reply", "error", "silent", "hang"]


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


@pytest.fixture
async def app_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[App]]]:
    """Start apps (lifespan included) with their own settings; all are shut down after the test."""
    stack: list[tuple[Any, Any, httpx.AsyncClient]] = []

    async def make(**settings: Any) -> App:
        asgi = create_app(Settings(data_dir=tmp_path / f"data-{len(stack)}", ui_enable=False, **settings))
        api = asgi.other_asgi_app
        lifespan = api.router.lifespan_context(api)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://testserver")
        stack.append((asgi, lifespan, client))
        return App(asgi, client)

    yield make
    for _, lifespan, client in reversed(stack):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


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
        if self.id not in await self.service.store.list_participants(channel.id):
            return
        self.seen.append(message)
        if self.behaviour == "hang":
            return
        if self.behaviour == "silent":
            await self.service.end_reply(self.id, channel, message, took_it=False)
            return
        reply_id = new_id()
        await self.service.begin_reply(self.id, channel, message, reply_id)
        for index, piece in enumerate(self.chunks):
            await self.service.reply_chunk(self.id, channel, message, reply_id, piece, index)
            await asyncio.sleep(0)
        if self.behaviour == "error":
            await self.service.fail_reply(self.id, channel, message, reply_id, "model exploded", "".join(self.chunks))
        else:
            await self.service.finish_reply(
                agent_id=self.id,
                agent_name="Fake",
                channel=channel,
                trigger=message,
                reply_id=reply_id,
                text="".join(self.chunks),
                metadata={"thought": "being helpful", "actions": ["REPLY"]},
            )
        await self.service.end_reply(self.id, channel, message, took_it=True)


@pytest.fixture
async def fake_agent(app: App) -> FakeAgent:
    """A registered agent on the default server, subscribed to the queue; answers where it takes part."""
    agent = FakeAgent(new_id(), app.messaging)
    await app.messaging.store.add_server_agent(DEFAULT_SERVER_ID, agent.id)
    app.messaging.queue.subscribe(f"fake:{agent.id}", agent.on_message)
    return agent

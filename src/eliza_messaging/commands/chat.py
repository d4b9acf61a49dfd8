"""``eliza-messaging chat``: talk in a channel, or with an agent, from the terminal.

Opens the channel's history (REST), then shows live messages from others and an agent's
reply as it streams, and sends each line typed. ``--agent NAME`` finds the agent with
``GET /api/agents`` and opens the DM channel with it (see docs/python-sdk.md for how the
DM channel is chosen).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import typer
from rich.console import Console

from ..client import ElizaClient, ElizaClientError, Message, ReplyChunk, TypingEvent
from ..client.dialects import DIALECTS, check_dialect
from .chat_view import ChatView

QUIT = frozenset({"/quit", "/exit", "/q"})


def default_entity_id() -> str:
    """A stable id for this user on this machine, so reopening a DM shows the same conversation."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"eliza-messaging-chat:{getpass.getuser()}@{socket.gethostname()}"))


async def read_lines() -> AsyncIterator[str]:
    """Lines typed on stdin, without blocking the event loop; ends at end of input (Ctrl-D)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    fd = sys.stdin.fileno()
    buffer = b""

    def readable() -> None:
        nonlocal buffer
        data = os.read(fd, 65536)
        if not data:
            loop.remove_reader(fd)
            if buffer:
                queue.put_nowait(buffer.decode(errors="replace"))
            queue.put_nowait(None)
            return
        buffer += data
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            queue.put_nowait(line.decode(errors="replace").rstrip("\r"))

    try:
        loop.add_reader(fd, readable)
    except NotImplementedError:  # event loops without add_reader (Windows): a thread reads instead
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            yield line.rstrip("\r\n")
        return
    try:
        while (line := await queue.get()) is not None:
            yield line
    finally:
        with contextlib.suppress(ValueError, OSError):
            loop.remove_reader(fd)


class ChatSession:
    """One terminal conversation: the client, the channel, and what is on screen."""

    def __init__(self, client: ElizaClient, view: ChatView, *, history: int) -> None:
        self.client = client
        self.view = view
        self.history = history
        self.channel_id = ""
        self._early: list[Message] | None = []  # live messages that arrive while the history loads

    async def open(self, channel: str | None, agent: str | None) -> None:
        self.client.on_message(self._message)
        await self.client.connect()
        known = await self._agents()
        if agent is None and channel is None:
            if len(known) != 1:
                names = ", ".join(known.values()) or "none listed"
                raise typer.BadParameter(f"pass --channel UUID or --agent NAME (agents here: {names})")
            agent = next(iter(known.values()))
        if agent is not None:
            found = await self.client.find_agent(agent)
            self.view.names[found.id] = found.name
            self.channel_id = await self.client.join_dm(found.id)
            where = f"a DM with {found.name} (channel {self.channel_id})"
        else:
            assert channel is not None
            self.channel_id = channel
            await self.client.join(channel)
            where = f"channel {channel}"
        self.view.info(f"Connected to {self.client.url} as {self.client.name} ({self.client.entity_id}); {where}.")
        await self._show_history()
        self.client.on_reply_chunk(self._chunk, channel_id=self.channel_id)
        self.client.on_typing(self._typing, channel_id=self.channel_id)
        self.client.on_event("messageStreamError", self._stream_error)
        self.client.on_event("disconnect", lambda _: self.view.error("Connection lost; reconnecting…"))
        self.client.on_event("resumed", self._resumed)
        self.view.info("Type a message and press Enter; /quit (or Ctrl-D) leaves.")
        self.view.start_prompt()

    async def _agents(self) -> dict[str, str]:
        try:
            agents = await self.client.agents()
        except ElizaClientError:
            return {}
        self.view.names.update({a.id: a.name for a in agents})
        return {a.id: a.name for a in agents}

    async def _show_history(self) -> None:
        """The last messages, then whatever arrived live meanwhile (each once), then live as it comes."""
        past: list[Message] = []
        if self.history > 0:
            try:
                past = await self.client.history(self.channel_id, limit=self.history)
            except ElizaClientError as exc:
                self.view.error(f"Could not load the history: {exc.message}")
            if not past:
                self.view.info("No messages here yet.")
        shown = {m.id for m in past}
        early, self._early = self._early or [], None
        for message in [*past, *(m for m in early if m.id not in shown)]:
            self.view.message(message)

    def _message(self, message: Message) -> None:
        if message.channel_id != self.channel_id:
            return
        if self._early is not None:
            self._early.append(message)
        else:
            self.view.message(message)

    def _chunk(self, chunk: ReplyChunk) -> None:
        self.view.chunk(chunk)

    def _typing(self, event: TypingEvent) -> None:
        if event.is_typing:
            self.view.typing(event.user_id)

    def _stream_error(self, data: Any) -> None:
        if isinstance(data, dict) and data.get("channelId", data.get("roomId")) == self.channel_id:
            self.view.stream_failed(str(data.get("messageId")), str(data.get("error") or "no reason given"))

    def _resumed(self, data: Any) -> None:
        missed = data.get("missed", 0) if isinstance(data, dict) else 0
        self.view.info(f"Reconnected ({missed} missed message{'s' if missed != 1 else ''} caught up).")

    async def talk(self) -> None:
        async for line in read_lines():
            text = line.strip()
            if text in QUIT:
                return
            if not text:
                self.view.prompt_again()
                continue
            self.view.own_input(text, replace_echo=True)
            try:
                await self.client.send(self.channel_id, text)
            except ElizaClientError as exc:
                self.view.error(exc.message)


async def _run(session: ChatSession, channel: str | None, agent: str | None) -> int:
    try:
        await session.open(channel, agent)
        await session.talk()
        return 0
    except ElizaClientError as exc:
        session.view.error(exc.message)
        return 1
    finally:
        await session.client.close()


def chat(
    url: Annotated[
        str, typer.Option(envvar="ELIZA_URL", metavar="URL", help="The server's base URL")
    ] = "http://localhost:3000",
    channel: Annotated[str | None, typer.Option(metavar="UUID", help="Channel (room) UUID to talk in")] = None,
    agent: Annotated[
        str | None, typer.Option(metavar="NAME", help="Talk with this agent (name from GET /api/agents) in a DM")
    ] = None,
    entity: Annotated[
        str | None,
        typer.Option(metavar="UUID", help="Your entity UUID (default: a stable one for this user and machine)"),
    ] = None,
    name: Annotated[
        str | None, typer.Option(metavar="NAME", help="Your display name (default: your login name)")
    ] = None,
    dialect: Annotated[
        str, typer.Option(metavar="DIALECT", help="eliza17 (ElizaOS 1.7 clients) or seed (the guide's client)")
    ] = ("eliza17"),
    api_key: Annotated[
        str | None,
        typer.Option(envvar="ELIZA_API_KEY", metavar="KEY", help="API key (socket auth.apiKey and X-API-KEY header)"),
    ] = None,
    history: Annotated[int, typer.Option(metavar="N", help="How many past messages to show on open")] = 20,
) -> None:
    """Chat in a channel, or with an agent, from the terminal."""
    if dialect not in DIALECTS:
        raise typer.BadParameter(f"use one of: {', '.join(DIALECTS)}", param_hint="--dialect")
    if channel is not None and agent is not None:
        raise typer.BadParameter("give --channel or --agent, not both")
    for value, option in ((channel, "--channel"), (entity, "--entity")):
        if value is not None and not _is_uuid(value):
            raise typer.BadParameter(f"must be a UUID, not {value!r}", param_hint=option)
    client = ElizaClient(
        url,
        entity_id=entity or default_entity_id(),
        name=name or getpass.getuser(),
        api_key=api_key,
        dialect=check_dialect(dialect),
        source="cli-chat",
    )
    session = ChatSession(client, ChatView(Console(highlight=False), client.entity_id), history=history)
    try:
        code = asyncio.run(_run(session, channel, agent))
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False

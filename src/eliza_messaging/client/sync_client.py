"""``ElizaClientSync``: the async client for scripts, run on an event loop in a background thread.

Every method blocks until the async one finishes. Callbacks (``on_message``, ...) run on the
client's thread, so keep them short or hand the work to a queue.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

from .async_client import ElizaClient
from .models import Agent, Message, ReplyChunk
from .streams import MessageSubscription, ReplyStream

T = TypeVar("T")


class ElizaClientSync:
    """Blocking twin of :class:`ElizaClient`; takes the same arguments.

    ``with ElizaClientSync(url) as client: client.join(channel); client.send(channel, "hi")``
    """

    def __init__(self, url: str = "http://localhost:3000", **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="eliza-client", daemon=True)
        self._thread.start()
        self.client: ElizaClient = self._run(self._make(url, options))

    @staticmethod
    async def _make(url: str, options: dict[str, Any]) -> ElizaClient:
        return ElizaClient(url, **options)

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @property
    def entity_id(self) -> str:
        return self.client.entity_id

    @property
    def connected(self) -> bool:
        return self.client.connected

    def connect(self) -> ElizaClientSync:
        self._run(self.client.connect())
        return self

    def close(self) -> None:
        """Disconnect and stop the background loop; the object cannot be used afterwards."""
        if self._loop.is_closed():
            return
        try:
            self._run(self.client.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()

    def __enter__(self) -> ElizaClientSync:
        return self.connect()

    def __exit__(self, *_: object) -> None:
        self.close()

    def join(self, channel_id: str, **options: Any) -> None:
        self._run(self.client.join(channel_id, **options))

    def join_dm(self, other_id: str, **options: Any) -> str:
        return self._run(self.client.join_dm(other_id, **options))

    def send(self, channel_id: str, text: str, **options: Any) -> Message:
        return self._run(self.client.send(channel_id, text, **options))

    def typing(self, channel_id: str, is_typing: bool = True) -> None:
        self._run(self.client.typing(channel_id, is_typing))

    def history(self, channel_id: str, **options: Any) -> list[Message]:
        return self._run(self.client.history(channel_id, **options))

    def agents(self) -> list[Agent]:
        return self._run(self.client.agents())

    def find_agent(self, name_or_id: str) -> Agent:
        return self._run(self.client.find_agent(name_or_id))

    def messages(
        self, channel_id: str | None = None, *, include_own: bool = False, timeout: float | None = None
    ) -> Iterator[Message]:
        """Incoming messages; the iteration ends after ``timeout`` seconds without one (never, if None)."""
        subscription: MessageSubscription = self._run(self._subscribe(channel_id, include_own))
        try:
            while True:
                try:
                    yield self._run(subscription.get(timeout))
                except (TimeoutError, StopAsyncIteration):
                    return
        finally:
            if not self._loop.is_closed():
                self._loop.call_soon_threadsafe(subscription.close)

    async def _subscribe(self, channel_id: str | None, include_own: bool) -> MessageSubscription:
        return self.client.messages(channel_id, include_own=include_own)

    def stream_reply(self, message_id: str, **options: Any) -> SyncReplyStream:
        """The agent's reply to ``message_id``, chunk by chunk (see :meth:`ElizaClient.stream_reply`)."""
        return SyncReplyStream(self, self._run(self._stream(message_id, options)))

    def ask(self, channel_id: str, text: str, **options: Any) -> Message | None:
        """Send ``text`` and wait for the agent's whole reply (see :meth:`ElizaClient.ask`)."""
        return self._run(self.client.ask(channel_id, text, **options))

    async def _stream(self, message_id: str, options: dict[str, Any]) -> ReplyStream:
        return self.client.stream_reply(message_id, **options)

    def on_message(self, callback: Callable[[Message], Any], **options: Any) -> Callable[[], None]:
        return self._run(self._on(lambda: self.client.on_message(callback, **options)))

    def on_event(self, event: str, callback: Callable[[Any], Any]) -> Callable[[], None]:
        return self._run(self._on(lambda: self.client.on_event(event, callback)))

    @staticmethod
    async def _on(register: Callable[[], Callable[[], None]]) -> Callable[[], None]:
        return register()


class SyncReplyStream:
    """Iterate for the chunks; afterwards ``reply`` is the stored reply and ``text`` the whole text."""

    def __init__(self, owner: ElizaClientSync, stream: ReplyStream) -> None:
        self._owner = owner
        self.stream = stream

    def __iter__(self) -> Iterator[ReplyChunk]:
        while True:
            try:
                yield self._owner._run(self.stream.__anext__())
            except StopAsyncIteration:
                return

    @property
    def reply(self) -> Message | None:
        return self.stream.reply

    @property
    def text(self) -> str:
        return self.stream.text

    def result(self) -> Message | None:
        return self._owner._run(self.stream.result())

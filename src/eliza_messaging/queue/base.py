"""The queue interface: the domain publishes stored messages, each agent group consumes them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from ..store.records import Channel, Message

Handler = Callable[[Message, Channel], Awaitable[None]]


class MessageQueue(Protocol):
    async def publish(self, message: Message, channel: Channel) -> None:
        """Hand a stored message to every subscribed group; returns without waiting for them."""
        ...

    def subscribe(self, group: str, handler: Handler) -> None:
        """Each group (one per agent) gets every message published after it subscribed, once."""
        ...

    async def close(self) -> None: ...

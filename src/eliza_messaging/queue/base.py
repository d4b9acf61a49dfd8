"""The queue interface: the domain publishes stored messages, each agent group consumes them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Protocol

from ..records import Channel, Message


class Handler(Protocol):
    """Returns once it has taken the message in. It may return a future that resolves when it is done
    with it (an agent takes a message into its channel's lane and answers it later): a queue that
    hands unfinished messages to another node (Redis) counts the message handled only then. None
    means done on return. The in-process queue ignores the future: nothing survives it.

    ``redelivered``: the message was handed out before and not acknowledged (its node died), so it
    may have been handled already; only then need a handler look for traces of that."""

    def __call__(
        self, message: Message, channel: Channel, *, redelivered: bool = False
    ) -> Awaitable[asyncio.Future[None] | None]: ...


class MessageQueue(Protocol):
    async def publish(self, message: Message, channel: Channel) -> None:
        """Hand a stored message to every subscribed group; returns without waiting for them."""
        ...

    def subscribe(self, group: str, handler: Handler) -> None:
        """Each group (one per agent) gets every message published after it subscribed, once."""
        ...

    async def ping(self) -> bool | None:
        """Whether the queue's backend answers now; None when there is none to ask (in-process)."""
        ...

    async def close(self) -> None: ...

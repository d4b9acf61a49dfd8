"""The queue interface: the domain publishes stored messages, each agent group consumes them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from ..records import Channel, Message

# A handler returns once it has taken the message in. It may return a future that resolves when
# it is done with it (an agent takes a message into its channel's lane and answers it later): a
# queue that hands unfinished messages to another node (Redis) counts the message handled only
# then. None means done on return. The in-process queue ignores the future: nothing survives it.
Handler = Callable[[Message, Channel], Awaitable["asyncio.Future[None] | None"]]


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

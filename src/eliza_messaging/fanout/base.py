"""The fanout interfaces the domain speaks to; it never sees Socket.IO or Redis itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..types import JsonObject


class Fanout(Protocol):
    async def emit(
        self,
        event: str,
        data: Any,
        *,
        room: str | None = None,
        to: str | None = None,
        skip_sid: str | None = None,
    ) -> None:
        """Send ``event`` to everyone in ``room`` (less ``skip_sid``), or to the one socket ``to``."""
        ...

    async def enter_room(self, sid: str, room: str) -> None: ...

    async def leave_room(self, sid: str, room: str) -> None: ...


class NodeRelay(Protocol):
    """Small JSON objects from this node to every other node, in the order they were sent.

    For what lives in one node's memory but must hear about work done on another (a REST caller
    on node A waiting for the reply of an agent that ran on node B). Delivery is best effort: an
    object sent while the link is down may be lost, never duplicated.
    """

    async def start(self, receive: Callable[[JsonObject], None]) -> None:
        """Connect and start passing the other nodes' objects to ``receive``; raises when unreachable."""
        ...

    def send(self, data: JsonObject) -> None:
        """Queue ``data`` for the other nodes without waiting (callers sit on the reply hot path)."""
        ...

    async def close(self) -> None: ...

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


class NodeRecords(Protocol):
    """What each node holds that others must clean up if it dies: a live key refreshed with a TTL,
    and two records (``presence``: socket id -> rooms; ``replies``: reply id -> the reply) kept as they change.

    Writes never make the caller wait (they sit on the join and reply paths); a node whose live key
    has expired is claimed by exactly one other node, which reads its records and then forgets them.
    """

    node_id: str

    async def start(self, forgotten: Callable[[], None]) -> None:
        """Connect, mark this node live and keep it so; raises when unreachable. ``forgotten`` is called
        when this node finds its records were removed while it lived (it was taken for dead), to record
        everything again."""
        ...

    def record(self, kind: str, key: str, value: JsonObject | None) -> None:
        """Queue ``kind``'s ``key`` set to ``value`` (None: removed) without waiting."""
        ...

    async def claim_dead(self) -> list[str]:
        """Nodes that left records but are no longer live, each claimed by this node alone."""
        ...

    async def read(self, node_id: str, kind: str) -> dict[str, JsonObject]: ...

    async def take(self, node_id: str, kind: str, keys: list[str]) -> list[str]:
        """Remove ``keys`` of a node's ``kind`` record; the ones that were still there (each taken once)."""
        ...

    async def forget(self, node_id: str) -> None:
        """Remove a node's records (a dead one once cleaned up, or this one on a clean stop)."""
        ...

    async def close(self) -> None: ...


class SessionStore(Protocol):
    """Connection-state recovery's sessions: saved when a socket's transport drops, claimed once by a
    reconnect within the window (on any node with Redis), with the room broadcasts it missed.

    A session is ``{"sid", "pid", "rooms": {channel: entity}, "caller": {...}, "left": bool}`` (``left``:
    its rooms were told ``userLeft``).
    """

    node: str

    def new_pid(self, sid: str) -> str:
        """A private session id for a new socket (only the client and this store know it)."""
        ...

    async def save(self, pid: str, session: JsonObject) -> None:
        """Keep ``session`` for the recovery window."""
        ...

    async def claim(self, pid: str, offset: str) -> JsonObject | None:
        """The session of ``pid``, removed so nobody claims it twice; None when it is unknown or expired,
        or ``offset`` is no longer in the log (what came after it can no longer be told)."""
        ...

    async def missed(self, offset: str, rooms: set[str]) -> list[tuple[str, str]]:
        """(offset, encoded event without the offset) of the broadcasts to ``rooms`` after ``offset``."""
        ...

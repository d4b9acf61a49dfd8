"""The fanout interface the domain speaks to; it never sees Socket.IO itself."""

from __future__ import annotations

from typing import Any, Protocol


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

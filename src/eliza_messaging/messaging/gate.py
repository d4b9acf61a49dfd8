"""The door of the messaging service: open until the server begins to stop, and a count of what is inside.

A graceful stop closes it (new socket events are refused with ``ShuttingDown``, which tells the
client to send again after reconnecting) and waits until the events already inside are done, so
every send that was acknowledged has been stored and published before the sockets are closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import ShuttingDown


class Gate:
    def __init__(self) -> None:
        self._open = True
        self._inside = 0
        self._empty = asyncio.Event()
        self._empty.set()

    @property
    def closing(self) -> bool:
        return not self._open

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Count one event as inside while the block runs; raises ShuttingDown once the gate is closed."""
        if not self._open:
            raise ShuttingDown(
                "The server is restarting and did not take this event; nothing was stored. Your client"
                " reconnects by itself: send it again then (with the same messageId)."
            )
        self._inside += 1
        self._empty.clear()
        try:
            yield
        finally:
            self._inside -= 1
            if self._inside == 0:
                self._empty.set()

    def close(self) -> None:
        self._open = False

    async def drained(self) -> None:
        """Return once no event is inside."""
        await self._empty.wait()

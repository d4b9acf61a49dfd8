"""Disconnecting a python-socketio client without waiting out a long-poll.

Over HTTP long-polling, python-engineio's client waits for its pending poll request to end
before ``disconnect()`` returns, and a python-engineio server answers that poll only at the
next ping interval (25 s by default). The wait is bounded here; the poll is then abandoned.
"""

from __future__ import annotations

import asyncio
import contextlib

import socketio


async def hang_up(sio: socketio.AsyncClient, grace: float = 1.0) -> None:
    """Disconnect, or stop reconnecting, within ``grace`` seconds."""
    try:
        await asyncio.wait_for(sio.shutdown(), grace)
    except TimeoutError:
        http = getattr(sio.eio, "http", None)
        if http is not None and not http.closed:
            with contextlib.suppress(Exception):
                await http.close()

"""socket.io-client 1.x/2.x support: Engine.IO 3 beside Engine.IO 4 on the same path and port.

Old clients (e.g. browser extensions built on socket.io-client 1.3.0) speak Engine.IO 3 and
Socket.IO protocol 3/4, which python-engineio refuses. ``LegacyCompatibleAsyncServer`` is a
drop-in ``socketio.AsyncServer`` that serves them too; see ``server`` for how it hooks in, ``session`` for one
protocol 3 session and ``codec`` for the wire format.
"""

from __future__ import annotations

from .server import (
    EIO3_DISABLED_MESSAGE,
    LegacyCompatibleAsyncServer,
    LegacyEngineIOServer,
    is_legacy,
)
from .session import EIO3Socket

__all__ = [
    "EIO3_DISABLED_MESSAGE",
    "EIO3Socket",
    "LegacyCompatibleAsyncServer",
    "LegacyEngineIOServer",
    "is_legacy",
]

"""orjson behind the ``json`` module interface python-socketio and python-engineio expect; JSON-only packets."""

from __future__ import annotations

from typing import Any

import orjson
import socketio


def dumps(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()


def loads(data: str | bytes, **_: Any) -> Any:
    return orjson.loads(data)


class JsonPacket(socketio.packet.Packet):  # type: ignore[misc]
    """Socket.IO packets without binary events: python-socketio would scan every value of every
    outgoing payload for bytes first. The protocol is JSON only (binary events are refused on the
    way in, gateway/guarded.py), so an ack or an event is encoded as it is."""

    uses_binary_events = False

"""The socket server with replay on rejoin: ``messaging.replay.LiveHold`` where every broadcast lands.

Whichever node publishes a message, its ``messageBroadcast`` reaches a socket through this node's
``_send_eio_packet`` (python-socketio's client manager calls it for each socket of the room, for
local emits and for those heard through Redis alike). While a socket's replay of a channel is
being sent, that channel's live broadcasts to it are kept here; on release they go out in ``seq``
order, less those the replay already sent. The replay itself is written straight to the socket
(``send_now``), not through the manager, which with Redis would deliver it later than the
live ones.

After the release, a broadcast of the channel whose ``seq`` the replay covered (a message
published late: a slow node, the outbox's retry) is still dropped for ``FLOOR_S``; packets of
sockets not being replayed to are not even looked at.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from socketio import packet as sio_packet

from ..protocol.types import Event
from .guarded import GuardedAsyncServer

log = logging.getLogger("eliza_messaging.gateway.live_hold")

#: How long after a replay a late broadcast it covered is still dropped (the outbox lease is 30 s).
FLOOR_S: Final = 120.0
_MARK: Final = f'"{Event.MESSAGE_BROADCAST}"'


@dataclass
class _Held:
    """One channel of one socket: packets kept while replaying (None once released), and the floor."""

    packets: list[tuple[int, Any]] | None = field(default_factory=list)
    floor: int = 0
    until: float = 0.0


def broadcast_of(eio_pkt: Any) -> tuple[str, int, bool] | None:
    """(channel, seq, replayed) of an encoded ``messageBroadcast`` event, or None for anything else."""
    data = getattr(eio_pkt, "data", None)
    if not isinstance(data, str) or not data.startswith("2") or _MARK not in data[:64]:
        return None
    try:
        body = orjson.loads(data[data.index("[") :])
    except (ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(body, list) or len(body) < 2 or body[0] != Event.MESSAGE_BROADCAST:
        return None
    payload = body[1]
    if not isinstance(payload, dict):
        return None
    channel = payload.get("channelId")
    seq = payload.get("seq")
    if not isinstance(channel, str) or not isinstance(seq, int):
        return None
    return channel, seq, payload.get("replayed") is True


class ReplayingAsyncServer(GuardedAsyncServer):
    """``GuardedAsyncServer`` that can hold a channel's live broadcasts to a socket during its replay."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._holds: dict[str, dict[str, _Held]] = {}  # eio sid -> channel -> what is held
        super().__init__(*args, **kwargs)

    # messaging.replay.LiveHold --------------------------------------------------------------

    def hold(self, sid: str, channel_id: str) -> None:
        eio_sid = self.manager.eio_sid_from_sid(sid, "/")
        if eio_sid is not None:  # None: it has gone; nothing will be sent to it
            self._holds.setdefault(eio_sid, {})[channel_id] = _Held()

    async def release(self, sid: str, channel_id: str, *, replayed_through: int) -> None:
        eio_sid = self.manager.eio_sid_from_sid(sid, "/")
        held = self._holds.get(eio_sid or "", {}).get(channel_id)
        if eio_sid is None or held is None:
            return
        held.floor = replayed_through
        sent = dropped = 0
        while held.packets:  # what arrives while these are written joins the next round
            batch, held.packets = held.packets, []
            for seq, pkt in sorted(batch, key=lambda kept: kept[0]):
                if seq <= held.floor:
                    dropped += 1
                    continue
                sent += 1
                await super()._send_eio_packet(eio_sid, pkt)
        held.packets = None
        held.until = time.monotonic() + FLOOR_S
        if sent or dropped:
            log.debug("live broadcasts released", extra={"sid": sid, "sent": sent, "dropped": dropped})

    async def send_now(self, sid: str, event: str, data: Any) -> None:
        """Write an event straight to this node's socket ``sid``, ahead of anything still in transit."""
        eio_sid = self.manager.eio_sid_from_sid(sid, "/")
        if eio_sid is not None:
            await self._send_packet(eio_sid, self.packet_class(sio_packet.EVENT, namespace="/", data=[event, data]))

    # where every broadcast lands -------------------------------------------------------------

    def sees_packets_of(self, eio_sid: str) -> bool:
        """Only sockets with a channel held (or just released) need ``_send_eio_packet`` below: the
        fanout (fanout/broadcast.py) queues everyone else's packets directly, without it."""
        return bool(self._holds.get(eio_sid))

    async def _send_eio_packet(self, eio_sid: str, eio_pkt: Any) -> None:
        channels = self._holds.get(eio_sid)
        if channels:
            found = broadcast_of(eio_pkt)
            if found is not None and not self._passes(channels, *found, eio_pkt):
                return
        await super()._send_eio_packet(eio_sid, eio_pkt)

    def _passes(self, channels: dict[str, _Held], channel_id: str, seq: int, replayed: bool, pkt: Any) -> bool:
        held = channels.get(channel_id)
        if held is None or replayed:
            return True
        if held.packets is not None:
            held.packets.append((seq, pkt))
            return False
        if time.monotonic() > held.until:
            del channels[channel_id]
            return True
        return seq > held.floor

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        self._holds.pop(eio_sid, None)
        await super()._handle_eio_disconnect(eio_sid, reason)

"""The socket server with Socket.IO connection-state recovery, as socket.io-client >= 4.6 expects it.

python-socketio does not implement it; socket.io's own server does (``Namespace._createSocket``,
``Socket``'s constructor and ``_onclose``, the adapter's ``persistSession``/``restoreSession``). Here:

* a new Engine.IO 4 socket gets a private session id (``pid``) in its CONNECT answer (``{sid, pid}``);
  room broadcasts carry an offset as their last argument (``fanout/broadcast.py``);
* when its transport drops (``transport close``/``error``, ``ping timeout``, or the server stopping)
  its session (sid, caller, rooms) is saved for ``ELIZA_RECOVERY_WINDOW_S`` (with Redis it is kept
  there as it changes too, so a ``kill -9`` loses nothing: ``fanout/redis_sessions.py``);
* a CONNECT with ``{pid, offset}`` that claims a saved session whose offset is still logged gets the
  same sid back, its caller and rooms (``SocketGateway.on_connect`` through ``recovering``), the
  broadcasts to its rooms after the offset (each once, in order: what else reaches the socket
  meanwhile is held, and what the log already sent is dropped), then CONNECT with the same pid, from
  which the client sets ``socket.recovered``. Anything else is a fresh connection with a new pid.

Engine.IO 3 clients (socket.io-client 1.x/2.x) know nothing of this and get neither pid nor offsets.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Final

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from ..fanout.base import SessionStore
from ..fanout.recovery import offset_key, with_offset
from ..messaging.identity import Caller, caller_from_record, caller_record, same_id
from ..messaging.presence import SocketState
from ..types import JsonObject
from .callers import Refused
from .live_hold import ReplayingAsyncServer

log = logging.getLogger("eliza_messaging.gateway.recovery")

#: How long after a recovery a late live copy of a packet the log already sent is still dropped.
FLOOR_S: Final = 10.0
#: Packets held for one recovering socket at most; past it the socket is closed (it reconnects afresh).
HELD_MAX: Final = 10_000
NAMESPACE: Final = "/"


def recovered_caller(handshake: Caller, session: JsonObject) -> Caller:
    """Who a recovered socket is: its handshake's caller, or the session's when the handshake shows none.

    The session's caller is taken back only when it rests on nothing the handshake must prove again (a
    seed-dialect socket bound to the first entity it used, or an anonymous one); a handshake that shows
    another entity than the session's is refused.
    """
    saved = caller_from_record(session.get("caller"))
    if handshake.anonymous:
        if saved.trusted or saved.verified:
            raise Refused("This session was opened with credentials: reconnect with them to recover it.")
        return saved
    if saved.entity_id and handshake.entity_id and not same_id(saved.entity_id, handshake.entity_id):
        raise Refused(
            f"This session belongs to {saved.entity_id}, not {handshake.entity_id}: connect without pid"
            " (a new connection) to be someone else."
        )
    return handshake


def session_rooms(session: JsonObject) -> dict[str, str | None]:
    rooms = session.get("rooms")
    if not isinstance(rooms, dict):
        return {}
    return {k: v if isinstance(v, str) else None for k, v in rooms.items() if isinstance(k, str)}


class RecoveringAsyncServer(ReplayingAsyncServer):
    """``ReplayingAsyncServer`` with connection-state recovery when ``sessions`` is set."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sessions: SessionStore | None = None
        self._pids: dict[str, str] = {}  # sid -> pid, this node's connected sockets
        self._restoring: dict[str, JsonObject] = {}  # sid -> its session, while its connect handler runs
        self._held: dict[str, list[Any]] = {}  # eio sid -> packets kept while its missed ones are sent
        self._floors: dict[str, tuple[tuple[int, int], float]] = {}  # eio sid -> (last offset sent, until)
        self._overflowed: set[str] = set()  # eio sids closed for more than ``held_max`` held packets
        self.held_max = HELD_MAX
        super().__init__(*args, **kwargs)

    # for the connect and disconnect handlers (gateway/socketio.py) ----------------------------

    def recovering(self, sid: str) -> JsonObject | None:
        """The session ``sid`` is being recovered from (during its connect handler), else None."""
        return self._restoring.get(sid)

    def new_pid(self, sid: str) -> str | None:
        """A pid for a new socket (None: recovery is off, or an Engine.IO 3 client); ``bind_pid`` once connected."""
        eio_sid = self.manager.eio_sid_from_sid(sid, NAMESPACE)
        if self.sessions is None or eio_sid is None or self.eio.is_eio3(eio_sid):
            return None
        return self.sessions.new_pid(sid)

    def bind_pid(self, sid: str, pid: str) -> None:
        """The socket's CONNECT answer carries ``pid``."""
        self._pids[sid] = pid

    async def save_session(self, sid: str, state: SocketState | None, reason: Any, *, stopping: bool) -> None:
        """Keep a gone socket's session for the window when its client may come back (socket.io's reasons)."""
        pid = self._pids.pop(sid, None)
        reasons = (self.reason.TRANSPORT_CLOSE, self.reason.TRANSPORT_ERROR, self.reason.PING_TIMEOUT)
        recoverable = reason in reasons or (stopping and reason == self.reason.SERVER_DISCONNECT)
        if self.sessions is None or pid is None or state is None or not recoverable:
            return
        session = {
            "sid": sid,
            "pid": pid,
            "rooms": dict(state.rooms),
            "caller": caller_record(state.caller),
            "left": bool(state.rooms),
        }
        try:
            await self.sessions.save(pid, session)
        except Exception:
            log.warning("session not saved for recovery", exc_info=True, extra={"sid": sid})

    # CONNECT ---------------------------------------------------------------------------------

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        if (
            self.sessions is not None
            and (namespace or NAMESPACE) == NAMESPACE
            and isinstance(data, dict)
            and isinstance(data.get("pid"), str)
            and isinstance(data.get("offset"), str)
            and self.manager.sid_from_eio_sid(eio_sid, NAMESPACE) is None
            and not self.eio.is_eio3(eio_sid)
        ):
            pid, offset = data["pid"], data["offset"]
            session = None
            try:
                session = await self.sessions.claim(pid, offset)
            except Exception:
                log.warning("session not claimed; a new connection instead", exc_info=True)
            if session is not None and await self._recover(eio_sid, data, pid, offset, session):
                return
            log.debug("connection state not recovered", extra={"eio_sid": eio_sid, "found": session is not None})
        await super()._handle_connect(eio_sid, namespace, data)

    async def _recover(self, eio_sid: str, auth: JsonObject, pid: str, offset: str, session: JsonObject) -> bool:
        """Connect ``eio_sid`` as the session's sid; False when that sid is in use (connect afresh then)."""
        manager = self.manager
        sid = session.get("sid")
        floor = offset_key(offset)
        if not isinstance(sid, str) or floor is None or manager.eio_sid_from_sid(sid, NAMESPACE) is not None:
            return False
        manager.basic_enter_room(sid, NAMESPACE, None, eio_sid=eio_sid)
        manager.basic_enter_room(sid, NAMESPACE, sid, eio_sid=eio_sid)
        manager.pending_connect.setdefault(NAMESPACE, []).append(sid)
        self._held[eio_sid] = []  # from before its rooms are entered: nothing live passes the missed ones
        self._restoring[sid] = {**session, "pid": pid}
        refusal: Any = None
        try:
            success = await self._trigger_event("connect", NAMESPACE, sid, self.environ[eio_sid], auth)
        except socketio.exceptions.ConnectionRefusedError as exc:
            success, refusal = False, exc.error_args
        finally:
            self._restoring.pop(sid, None)
        if success is False:
            self._held.pop(eio_sid, None)
            refused = self.packet_class(
                sio_packet.CONNECT_ERROR, data=refusal or {"message": "Connection refused"}, namespace=NAMESPACE
            )
            await self._send_packet(eio_sid, refused)
            await manager.disconnect(sid, NAMESPACE, ignore_queue=True)
            return True
        socket = self.eio.sockets.get(eio_sid)
        if eio_sid in self._overflowed or socket is None or socket.closed:  # closed meanwhile
            self._overflowed.discard(eio_sid)
            self._held.pop(eio_sid, None)
            # python-socketio skips the disconnect handler of a socket still connecting: run it here
            await self._trigger_event("disconnect", NAMESPACE, sid, self.reason.SERVER_DISCONNECT)
            await manager.disconnect(sid, NAMESPACE, ignore_queue=True)
            return True
        self._pids[sid] = pid
        rooms = {sid, *session_rooms(session)}
        missed: list[tuple[str, str]] = []
        try:
            missed = await self.sessions.missed(offset, rooms) if self.sessions is not None else []
        except Exception:
            log.warning("missed packets not read", exc_info=True, extra={"sid": sid})
        for packet_offset, text in missed:
            pkt = eio_packet.Packet(eio_packet.MESSAGE, with_offset(text, packet_offset))
            pkt.offset = packet_offset
            await super()._send_eio_packet(eio_sid, pkt)
            floor = max(floor, offset_key(packet_offset) or floor)
        await self._release(eio_sid, floor)
        await self._send_packet(eio_sid, self.packet_class(sio_packet.CONNECT, {"sid": sid}, namespace=NAMESPACE))
        await manager.connect(sid, NAMESPACE)
        if self.on_connected is not None:  # the greeting, after CONNECT as for a new socket (guarded.py)
            await self.on_connected(sid)
        log.debug("connection state recovered", extra={"sid": sid, "missed": len(missed)})
        return True

    async def _release(self, eio_sid: str, floor: tuple[int, int]) -> None:
        """Send what was held, less what the log sent; keep dropping such late copies for ``FLOOR_S``."""
        self._floors[eio_sid] = (floor, time.monotonic() + FLOOR_S)
        held = self._held.get(eio_sid)
        while held:  # what arrives while these are written joins the next round
            batch, held[:] = list(held), []
            for pkt in batch:
                if self._fresh(eio_sid, pkt):
                    await super()._send_eio_packet(eio_sid, pkt)
        self._held.pop(eio_sid, None)

    async def _send_packet(self, eio_sid: str, pkt: Any) -> None:
        """A CONNECT answer carries the socket's pid."""
        if pkt.packet_type == sio_packet.CONNECT and isinstance(pkt.data, dict):
            pid = self._pids.get(pkt.data.get("sid", ""))
            if pid is not None:
                pkt = self.packet_class(sio_packet.CONNECT, {**pkt.data, "pid": pid}, namespace=pkt.namespace)
        await super()._send_packet(eio_sid, pkt)

    # where every packet to a socket lands ----------------------------------------------------

    def sees_packets_of(self, eio_sid: str) -> bool:
        """A recovering socket (packets held) or one just recovered (a floor) needs ``_send_eio_packet``
        below; the fanout (fanout/broadcast.py) queues everyone else's directly."""
        return eio_sid in self._held or eio_sid in self._floors or super().sees_packets_of(eio_sid)

    async def _send_eio_packet(self, eio_sid: str, eio_pkt: Any) -> None:
        held = self._held.get(eio_sid)
        if held is not None:
            if len(held) >= self.held_max:
                self._overflow(eio_sid, held)
            elif eio_sid not in self._overflowed:
                held.append(eio_pkt)
            return
        if self._floors and not self._fresh(eio_sid, eio_pkt):
            return
        await super()._send_eio_packet(eio_sid, eio_pkt)

    def _overflow(self, eio_sid: str, held: list[Any]) -> None:
        """More arrived for a recovering socket than may be held: close it (not recoverable, so its client
        reconnects afresh and rejoins with ``lastSeq``)."""
        held.clear()
        if eio_sid in self._overflowed:
            return
        self._overflowed.add(eio_sid)
        log.warning(
            "recovering socket closed: too much arrived for it while its missed packets were read",
            extra={"eio_sid": eio_sid, "limit": self.held_max},
        )
        socket = self.eio.sockets.get(eio_sid)
        if socket is not None:
            self.start_background_task(socket.close, wait=False, abort=True, reason=self.reason.SERVER_DISCONNECT)

    def _fresh(self, eio_sid: str, pkt: Any) -> bool:
        """False for a logged packet the recovery already sent this socket."""
        floor = self._floors.get(eio_sid)
        offset = getattr(pkt, "offset", None)
        if floor is None or offset is None:
            return True
        if time.monotonic() > floor[1]:
            del self._floors[eio_sid]
            return True
        key = offset_key(offset)
        return key is None or key > floor[0]

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        self._held.pop(eio_sid, None)
        self._floors.pop(eio_sid, None)
        sid = self.manager.sid_from_eio_sid(eio_sid, NAMESPACE)
        try:
            await super()._handle_eio_disconnect(eio_sid, reason)
        finally:
            if sid is not None:
                self._pids.pop(sid, None)  # when its disconnect handler did not take it

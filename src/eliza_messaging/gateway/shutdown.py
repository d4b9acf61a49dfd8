"""A graceful stop on SIGTERM or SIGINT: finish what was taken in, tell every socket, let it reconnect.

uvicorn's own shutdown closes the connections (websockets included) before the application's
lifespan shutdown runs, so the application could not tell its clients anything. ``GracefulServer``
runs ``GracefulStop`` first, while every socket is still open:

1. stop accepting: the messaging gate refuses new socket events with ``SERVER_SHUTTING_DOWN``,
   so a client knows that send was not taken. The listening sockets stay open until step 3 is
   done: a polling client (socket.io-client on Node opens a new connection per request) must still
   reach the server to fetch its notice; they close before step 4, so that a client reconnecting
   at once does not land on this server again;
2. drain, within ``grace_s``: the events inside the gate finish (a send is stored, published and
   acknowledged, or refused), then the agents finish the replies they have in hand; at the
   bound the replies still running are cancelled, which ends each cleanly (``messageStreamError``,
   ``enable_input``, ``messageComplete``) while the room can still hear it;
3. tell every socket of this node why it is going to be disconnected (``serverShutdown``), and
   wait (bounded) until each has taken it: a polling client must fetch it before its session ends;
4. close each at the Engine.IO level, WITHOUT Socket.IO's disconnect packet (``41``): to
   socket.io-client that packet means "the server sent you away" and it stops reconnecting,
   while an Engine.IO close is a lost transport, after which it reconnects by itself.

Then uvicorn's shutdown and the lifespan run as before (queue, agents, outbox marks, store).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import socketio
import uvicorn

from ..messaging.gate import Gate

log = logging.getLogger(__name__)

SERVER_SHUTDOWN_EVENT: Final = "serverShutdown"
CLOSE_TIMEOUT_S: Final = 2.0  # sockets that do not take their close packet by then are dropped
POLL_S: Final = 0.05
RECONNECT_HINT_MS: Final = 1_000


@dataclass
class GracefulStop:
    """What a stop waits for and whom it tells. ``replies_busy`` says whether agent work is in hand;
    ``stop_replies`` cancels what is left of it (each reply ends cleanly when cancelled)."""

    sio: socketio.AsyncServer
    gate: Gate
    replies_busy: Callable[[], bool]
    stop_replies: Callable[[], Awaitable[None]]
    grace_s: float = 10.0

    async def run(self, stop_listening: Callable[[], None] = lambda: None) -> None:
        """``stop_listening`` closes the listening sockets; it is called once every socket has its notice."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace_s
        self.gate.close()
        sockets = self._local_sids()
        log.info("stopping: draining sends and replies", extra={"sockets": len(sockets), "grace_s": self.grace_s})
        drained = await self._drain(deadline)
        if not drained:
            log.warning("stopping: replies still running at the grace bound were cancelled")
            await self.stop_replies()
        await self._notify(self._local_sids())
        await self._flush_engine_sockets()  # a polling client fetches its notice before its session closes
        stop_listening()  # from here a reconnecting client waits for the restart (or goes to another node)
        await self._close_engine_sockets()

    async def _drain(self, deadline: float) -> bool:
        """True when every event inside the gate and every reply in hand finished by ``deadline``."""
        try:
            async with asyncio.timeout_at(deadline):
                await self.gate.drained()
                # agents' lanes and the queue have no shared event to wait on; this runs once, at exit
                while self.replies_busy():  # noqa: ASYNC110
                    await asyncio.sleep(POLL_S)
        except TimeoutError:
            return False
        return True

    def _local_sids(self) -> list[str]:
        """The Socket.IO sids of this node's sockets in the default namespace."""
        manager: Any = self.sio.manager
        return [sid for sid, _ in manager.get_participants("/", None)]

    async def _notify(self, sids: list[str]) -> None:
        body = {
            "reason": "shutdown",
            "message": "The server is restarting. Your client reconnects by itself; messages it was"
            " not sent an ack for were not stored: send them again then.",
            "reconnect": True,
            "retryAfterMs": RECONNECT_HINT_MS,
        }
        for sid in sids:
            try:  # this node's sockets only: other nodes keep theirs
                await self.sio.emit(SERVER_SHUTDOWN_EVENT, body, to=sid, ignore_queue=True)
            except Exception:  # a socket that is already gone
                log.debug("shutdown notice not sent", extra={"sid": sid}, exc_info=True)

    async def _flush_engine_sockets(self) -> None:
        eio: Any = self.sio.eio
        flushing = [asyncio.create_task(s.queue.join()) for s in list(eio.sockets.values())]
        if flushing:
            _, late = await asyncio.wait(flushing, timeout=CLOSE_TIMEOUT_S)
            for task in late:
                task.cancel()

    async def _close_engine_sockets(self) -> None:
        eio: Any = self.sio.eio
        closing = [
            asyncio.create_task(s.close(wait=True, reason=eio.reason.SERVER_DISCONNECT))
            for s in list(eio.sockets.values())
        ]
        if not closing:
            return
        _, late = await asyncio.wait(closing, timeout=CLOSE_TIMEOUT_S)
        for task in late:  # a polling client that stopped polling: its close packet is dropped with it
            task.cancel()
        eio.sockets.clear()


class GracefulServer(uvicorn.Server):
    """uvicorn's server with ``GracefulStop`` run before its own shutdown (see the module docstring)."""

    def __init__(self, config: uvicorn.Config, stop: GracefulStop) -> None:
        super().__init__(config)
        self._stop = stop

    def _stop_listening(self) -> None:
        for server in self.servers:  # uvicorn's shutdown closes them again, harmlessly
            server.close()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if not self.force_exit:
            try:
                await self._stop.run(self._stop_listening)
            except Exception:
                log.exception("graceful stop failed; stopping anyway")
        await super().shutdown(sockets)

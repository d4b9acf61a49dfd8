"""Cleaning up after a node that died (``kill -9``, a lost machine) when several share Redis.

Each node keeps, in ``fanout.base.NodeRecords``, its sockets' rooms and its agents' replies in
progress, as they change. Every ``reap_s`` each node looks for nodes that left records but are no
longer live; the one that claims a dead node tells each room ``userLeft`` for the dead node's
sockets, and withdraws each reply it had started (``messageStreamError`` saying the node stopped,
``messageDeleted`` when pieces were shown, ``controlMessage`` enable_input, ``messageComplete``;
waiters on every node released), so no client is left with a disabled input. The stored trigger
stays pending in the agents' queue; the node that takes over the channel's lane (once the dead
node's lease expires) answers it, once.
Without Redis there is no other node and none of this runs.

With connection-state recovery, a socket's record also holds its pid and caller (so it can be
recovered on another node after a ``kill -9``). The reaper takes each socket's record away as it
reads it: a socket whose client already recovered it elsewhere (which takes the record too) is
not announced as gone; the others are, and their sessions are saved for the rest of the window.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Final

from ..fanout.base import Fanout, NodeRecords, SessionStore
from ..protocol import payloads
from ..protocol.types import Event
from ..tasks import stop
from ..types import JsonObject
from .identity import caller_record
from .replies import ReplyEvent

if TYPE_CHECKING:
    from .presence import SocketState
    from .reply import Reply

log = logging.getLogger(__name__)

REAP_S: Final = 3.0
STOPPED: Final = "The server node running this reply stopped before it finished; send the message again."


class Nodes:
    """This node's records for the others, and the reaper that acts on a dead node's."""

    def __init__(
        self,
        records: NodeRecords,
        fanout: Fanout,
        notify: Callable[[ReplyEvent], None],
        sockets: Callable[[], Iterable[tuple[str, SocketState]]],
        *,
        reap_s: float = REAP_S,
        sessions: SessionStore | None = None,
    ) -> None:
        """``notify`` releases reply waiters (on every node); ``sockets`` lists this node's sockets;
        ``sessions``: where a dead node's recoverable sockets are saved (connection-state recovery)."""
        self._records = records
        self._sessions = sessions
        self._sockets = sockets
        self._replies: dict[str, JsonObject] = {}  # this node's replies in progress, as recorded
        self._fanout = fanout
        self._notify = notify
        self._reap_s = reap_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._records.start(self._record_all)
        self._task = asyncio.create_task(self._reaper(), name="dead node reaper")

    async def close(self) -> None:
        task, self._task = self._task, None
        await stop(task)
        await self._records.close()

    # what this node holds -----------------------------------------------------------------

    def socket_changed(self, sid: str, state: SocketState | None) -> None:
        """A socket joined or left a room (its rooms now), or disconnected (None)."""
        if state is None or not (state.rooms or state.pid):
            self._records.record("presence", sid, None)
        elif state.pid is None:
            self._records.record("presence", sid, {"rooms": dict(state.rooms)})
        else:
            value = {"rooms": dict(state.rooms), "pid": state.pid, "caller": caller_record(state.caller)}
            self._records.record("presence", sid, value)

    def reply_open(self, reply: Reply, *, streamed: bool = False) -> None:
        """A reply started (or showed its first piece: ``streamed``)."""
        value: JsonObject = {
            "agent": reply.agent_id,
            "channel": reply.channel.id,
            "server": reply.channel.message_server_id,
            "trigger": reply.trigger.id,
            "streamed": streamed,
        }
        self._replies[reply.id] = value
        self._records.record("replies", reply.id, value)

    def reply_closed(self, reply: Reply) -> None:
        if self._replies.pop(reply.id, None) is not None:
            self._records.record("replies", reply.id, None)

    def _record_all(self) -> None:
        """Taken for dead while alive (a stall longer than the live key's TTL): record everything again."""
        for sid, state in self._sockets():
            self.socket_changed(sid, state)
        for reply_id, value in self._replies.items():
            self._records.record("replies", reply_id, value)

    # what a dead node held ----------------------------------------------------------------

    async def _reaper(self) -> None:
        while True:
            await asyncio.sleep(self._reap_s)
            try:
                for node_id in await self._records.claim_dead():
                    await self.clean_up(node_id)
            except Exception:
                log.warning("dead node reaper failed; trying again", exc_info=True)

    async def clean_up(self, node_id: str) -> None:
        """End what ``node_id`` left open, then forget its records."""
        sockets = await self._records.read(node_id, "presence")
        replies = await self._records.read(node_id, "replies")
        counts = {"node": node_id, "sockets": len(sockets), "replies": len(replies)}
        log.info("cleaning up after a dead node", extra=counts)
        for reply_id, reply in replies.items():
            try:
                await self._withdraw(reply_id, reply)
            except Exception:
                log.warning("a dead node's reply was not withdrawn", exc_info=True, extra={"reply_id": reply_id})
        taken = set(await self._records.take(node_id, "presence", list(sockets)))
        for sid, sockets_state in sockets.items():
            if sid not in taken:
                continue  # recovered on another node meanwhile: it never left
            rooms = sockets_state.get("rooms")
            rooms = rooms if isinstance(rooms, dict) else {}
            for channel_id, entity_id in rooms.items():
                await self._fanout.emit(Event.USER_LEFT, payloads.presence(entity_id, channel_id), room=channel_id)
            pid = sockets_state.get("pid")
            if self._sessions is not None and isinstance(pid, str):
                caller = sockets_state.get("caller")
                session = {"sid": sid, "pid": pid, "rooms": rooms, "caller": caller, "left": bool(rooms)}
                try:
                    await self._sessions.save(pid, session)
                except Exception:
                    log.warning("a dead node's socket session was not saved", exc_info=True)
        await self._records.forget(node_id)

    async def _withdraw(self, reply_id: str, reply: JsonObject) -> None:
        agent, room, trigger = str(reply["agent"]), str(reply["channel"]), str(reply["trigger"])
        error = payloads.stream_error(
            message_id=reply_id, channel_id=room, agent_id=agent, error=STOPPED, partial_text=None
        )
        await self._fanout.emit(Event.MESSAGE_STREAM_ERROR, {**error, "inReplyTo": trigger}, room=room)
        if reply.get("streamed"):
            gone = {**payloads.message_deleted(reply_id, room), "reason": "failed"}
            await self._fanout.emit(Event.MESSAGE_DELETED, gone, room=room)
        await self._fanout.emit(Event.CONTROL_MESSAGE, payloads.control_message("enable_input", room, agent), room=room)
        complete = payloads.message_complete(room, str(reply["server"]))
        await self._fanout.emit(Event.MESSAGE_COMPLETE, {**complete, "agentId": agent, "inReplyTo": trigger}, room=room)
        self._notify(ReplyEvent("error", agent, room, trigger, reply_id, STOPPED))
        self._notify(ReplyEvent("done", agent, room, trigger))

"""Connection-state recovery across nodes: sessions and the packet log in Redis, claimable from any node.

A connected socket's session (its pid, caller and rooms) is in its node's presence record
(``node_records.py``, written as it changes), so it survives a ``kill -9``. When the transport drops
(or the dead node is reaped, ``messaging/nodes.py``), the session is saved as ``<prefix>:session:<pid>``
with the recovery window as its expiry. A reconnect on any node claims it once with one script: the
saved session, or, while its node is dead and not yet reaped, the node's presence record (removed as
it is read, so the reaper does not announce ``userLeft`` for a socket that is back); and only if its
offset is still in the log stream (``broadcast.py`` writes it). The pid names its node and sid, so the
record is found without a scan; the secret third part is what makes it the client's.

A client may come back before its node's live key has expired (a node killed a moment ago looks
alive for up to ``TTL_S``). The claim then waits: if the key is not refreshed within a beat the node
is dead, and the record is taken once the key is gone; a node that keeps beating still holds the
socket (it has not noticed the drop yet) and the claim fails, as in socket.io.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Final

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..types import JsonObject
from .node_records import REFRESH_S, TTL_S
from .recovery import Logged, new_pid, offset_key, pid_parts

CONNECT_TIMEOUT_S: Final = 5.0
POLL_S: Final = 0.25
#: A live key with more than this left (ms) after a beat has passed was refreshed: its node lives.
BEATING_MS: Final = int((TTL_S - REFRESH_S - 0.5) * 1000)

# KEYS: the saved session, the pid's node's live key and presence record, the log stream.
# ARGV: pid, sid, offset. The session (JSON) when it was there and the offset is in the log; the
# node's live key's time left (ms) when the socket is in the record of a node that may be alive (only
# the client with the pid can make a claim wait); else nil.
_CLAIM: Final = """
local s = redis.call('GETDEL', KEYS[1])
if not s then
  local rec = redis.call('HGET', KEYS[3], ARGV[2])
  if not rec then return false end
  local ok, v = pcall(cjson.decode, rec)
  if not ok or type(v) ~= 'table' or v['pid'] ~= ARGV[1] then return false end
  local left = redis.call('PTTL', KEYS[2])
  if left > 0 then return left end
  redis.call('HDEL', KEYS[3], ARGV[2])
  s = rec
end
if #redis.call('XRANGE', KEYS[4], ARGV[3], ARGV[3]) == 0 then return false end
return s
"""


class RedisSessions:
    def __init__(self, url: str, prefix: str, *, node_id: str, stream: str, window_s: float, log_max: int) -> None:
        self.node = node_id
        self._prefix = prefix
        self._stream = stream
        self._window_s = window_s
        self._log_max = log_max
        self._redis: Redis = Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S)
        self._claim = self._redis.register_script(_CLAIM)

    def new_pid(self, sid: str) -> str:
        return new_pid(self.node, sid)

    def _session_key(self, pid: str) -> str:
        return f"{self._prefix}:session:{pid}"

    async def save(self, pid: str, session: JsonObject) -> None:
        await self._redis.set(self._session_key(pid), orjson.dumps(session), ex=max(1, int(self._window_s)))

    async def claim(self, pid: str, offset: str) -> JsonObject | None:
        parts = pid_parts(pid)
        if parts is None or offset_key(offset) is None:
            return None
        node, sid = parts
        node_key = f"{self._prefix}:node:{node}"
        keys = [self._session_key(pid), node_key, f"{node_key}:presence", self._stream]
        started = time.monotonic()
        while True:
            found = await self._claim(keys=keys, args=[pid, sid, offset])
            if not isinstance(found, int):
                break
            waited = time.monotonic() - started
            if (waited > REFRESH_S + POLL_S and found > BEATING_MS) or waited > TTL_S + 1:
                return None  # its node is alive and still holds the socket
            await asyncio.sleep(POLL_S)
        if not found:
            return None
        session: JsonObject = orjson.loads(found)
        session.setdefault("sid", sid)
        return session

    async def missed(self, offset: str, rooms: set[str]) -> list[tuple[str, str]]:
        entries = await self._redis.xrange(self._stream, min=f"({offset}", max="+", count=self._log_max)
        found = []
        for raw_id, fields in entries or []:
            packet = _logged(raw_id, fields)
            if packet is not None and packet.reaches(rooms):
                found.append((packet.offset, packet.text))
        return found

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._redis.aclose()


def _logged(raw_id: object, fields: object) -> Logged | None:
    if not isinstance(raw_id, bytes | str) or not isinstance(fields, dict):
        return None
    try:
        skip = orjson.loads(fields.get(b"x") or b"[]")
        return Logged(
            offset=raw_id.decode() if isinstance(raw_id, bytes) else raw_id,
            text=fields[b"t"].decode(),
            room=fields.get(b"r", b"").decode() or None,
            skip=tuple(s for s in skip if isinstance(s, str)),
            at=0.0,
        )
    except (KeyError, AttributeError, UnicodeDecodeError, orjson.JSONDecodeError):
        return None

"""Which node handles which channels of an agent group: partitions, leases, and the live members.

A channel's messages must be handled by one node at a time, in order, or two nodes would answer one
conversation side by side and a newer message could not supersede a reply running elsewhere. So each
channel belongs to one of a fixed number of partitions (a hash of its id, the same on every node), each
partition is a stream of its own, and for each group a partition is read by the one node holding its
lease (``SET NX PX``, renewed by the holder): everything of a channel reaches that node, in stream order.

Spreading: every node of a group beats into a sorted set of members (scored with Redis's clock, so the
nodes' clocks do not matter); each partition has a preferred member (rendezvous hashing of the live
members, so a node joining or leaving moves only its share). A free partition is taken by its preferred
member, or by anyone once it has been seen free twice (a preferred member that does not take it, such as
one that just died and is still listed). A holder hands a partition to its preferred member only when it
has nothing of it in hand (see ``RedisStreamQueue``). A holder that dies stops renewing: its leases
expire after ``lease_ms`` and another member takes over.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from redis.asyncio import Redis

PARTITIONS: Final = 32

# Renews this member and its leases, drops expired members, and reports every partition's holder.
# KEYS[1]: the members' sorted set; KEYS[2..]: the partitions' lease keys. ARGV: me, lease ms, member ms.
_BEAT: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], lease * 3)
local holders = {}
for i = 2, #KEYS do
  local holder = redis.call('GET', KEYS[i])
  if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[i], lease) end
  holders[i - 1] = holder or ''
end
return {redis.call('ZRANGE', KEYS[1], 0, -1), holders}
"""

# Deletes the lease only while it is still ours (it may have expired and gone to another).
_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def partition_of(channel_id: str, partitions: int) -> int:
    """The partition of a channel: the same on every node (a CRC of the id, not Python's salted hash)."""
    return zlib.crc32(channel_id.encode()) % partitions


def preferred(group: str, partition: int, members: Sequence[str]) -> str | None:
    """The member that should hold ``partition`` of ``group`` (highest rendezvous weight)."""

    def weight(member: str) -> bytes:
        return hashlib.blake2b(f"{group}\0{partition}\0{member}".encode(), digest_size=8).digest()

    return max(members, key=weight, default=None)


@dataclass(frozen=True, slots=True)
class Beat:
    members: list[str]  # the live members of the group, this one included
    holders: list[str]  # per partition, its holder ('' when free)


class Leases:
    """The Redis side of one group's partitions for one member (this node's consumer)."""

    def __init__(
        self, redis: Redis, stream: str, group: str, me: str, *, partitions: int, lease_ms: int, beat_ms: int
    ) -> None:
        self.group = group
        self.me = me
        self.lease_ms = lease_ms
        # listed a little shorter than its leases last, so a dead member is unlisted by the time they expire
        self._member_ms = max(lease_ms - beat_ms // 2, beat_ms + 1)
        self._redis = redis
        self._beat = redis.register_script(_BEAT)  # EVALSHA, loading the script again if Redis lost it
        self._release = redis.register_script(_RELEASE)
        self._members = f"{stream}:members:{group}"
        self._leases = [f"{stream}:{p}:lease:{group}" for p in range(partitions)]

    async def beat(self) -> Beat:
        """Renew what is ours and list the members and every partition's holder, in one script."""
        members, holders = await self._beat(
            keys=[self._members, *self._leases], args=[self.me, self.lease_ms, self._member_ms]
        )
        return Beat([_text(m) for m in members], [_text(h) for h in holders])

    async def acquire(self, partition: int) -> bool:
        return bool(await self._redis.set(self._leases[partition], self.me, nx=True, px=self.lease_ms))

    async def release(self, partition: int) -> None:
        await self._release(keys=[self._leases[partition]], args=[self.me])

    async def leave(self) -> None:
        """No longer a member: the others stop waiting for this node to take its preferred partitions."""
        await self._redis.zrem(self._members, self.me)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

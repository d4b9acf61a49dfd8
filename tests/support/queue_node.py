"""One Redis queue node in a process of its own, so a test can kill it as a crash would (SIGKILL).

``python -m tests.support.queue_node URL STREAM GROUP CLAIM_IDLE_S LEASE_S`` subscribes ``GROUP`` with a
handler that never finishes its work, and prints one JSON line (``{"id": ..., "content": ...}``)
per message it takes. Killed, it leaves those messages pending on its consumer, untouched, for
another node to claim: what a test cannot fake in-process without reaching into the queue.
"""

from __future__ import annotations

import asyncio
import json
import sys

from eliza_messaging.queue.redis import RedisStreamQueue
from eliza_messaging.records import Channel, Message


async def main(url: str, stream: str, group: str, claim_idle_s: float, lease_s: float) -> None:
    queue = RedisStreamQueue(url, stream=stream, claim_idle_s=claim_idle_s, lease_s=lease_s, beat_s=lease_s / 5)
    never: list[asyncio.Future[None]] = []

    async def take(message: Message, channel: Channel, *, redelivered: bool = False) -> asyncio.Future[None]:
        print(json.dumps({"id": message.id, "content": message.content}), flush=True)
        never.append(asyncio.get_running_loop().create_future())
        return never[-1]

    queue.subscribe(group, take)
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])))

"""Appends per second straight into a store, without sockets: what group commit buys.

    .venv/bin/python bench/store_append.py [--store sqlite|postgres|both] [--writers 50] [--messages 5000]

Each writer appends its share of the messages one after another into one of ``--channels`` channels
(many writers per channel, as a busy room has), the way concurrent sends reach the store. PostgreSQL
is POSTGRES_TEST_URL (default the local ``test`` database), in a fresh schema dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import asyncpg

from eliza_messaging.protocol.types import DEFAULT_SERVER_ID
from eliza_messaging.records import Channel, Message, MessageServer
from eliza_messaging.store.base import Store
from eliza_messaging.store.postgres import PostgresStore
from eliza_messaging.store.sqlite import SQLiteStore

POSTGRES_TEST_URL = os.environ.get("POSTGRES_TEST_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def run(store: Store, writers: int, messages: int, channels: int) -> float:
    await store.open()
    now = int(time.time() * 1000)
    await store.ensure_message_server(MessageServer(id=DEFAULT_SERVER_ID, name="d", source_type="b"))
    ids = [str(uuid.uuid4()) for _ in range(channels)]
    for cid in ids:
        await store.ensure_channel(Channel(id=cid, message_server_id=DEFAULT_SERVER_ID, name="c", type="GROUP"))
    each = messages // writers

    async def writer(n: int) -> None:
        author = str(uuid.uuid4())
        for i in range(each):
            await store.append_message(
                Message(
                    id=str(uuid.uuid4()),
                    channel_id=ids[(n + i) % channels],
                    author_id=author,
                    author_name="w",
                    content=f"{n}:{i}",
                    source_type="bench",
                    created_at=now,
                    updated_at=now,
                    client_message_id=f"{n}-{i}",
                )
            )

    started = time.perf_counter()
    await asyncio.gather(*(writer(n) for n in range(writers)))
    took = time.perf_counter() - started
    await store.close()
    return each * writers / took


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--channels", type=int, default=10)
    args = parser.parse_args()
    if args.store in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            rate = await run(SQLiteStore(Path(tmp) / "bench.sqlite3"), args.writers, args.messages, args.channels)
        print(f"sqlite: {rate:,.0f} appends/s")
    if args.store in ("postgres", "both"):
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(POSTGRES_TEST_URL)
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            url = f"{POSTGRES_TEST_URL}?options={quote(f'-c search_path={schema}')}"
            rate = await run(PostgresStore(url), args.writers, args.messages, args.channels)
            print(f"postgres: {rate:,.0f} appends/s")
        finally:
            await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())

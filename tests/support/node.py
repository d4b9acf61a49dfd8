"""Driving the official JavaScript socket.io-client from Python tests.

``NodeClient`` runs ``tests/js/driver.js`` and exchanges JSON lines with it: the test sends
commands (connect, emit, disconnect) and awaits the events the real client received.
``run_script`` runs one of the fixed-scenario clients (the seed's own code) to completion.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

JS_DIR = Path(__file__).resolve().parents[1] / "js"
NODE = shutil.which("node") or "node"

Report = dict[str, Any]

#: One report is one line; a received message may be up to the server's frame limit (1 MB by default).
REPORT_LINE_LIMIT = 16 * 1024 * 1024


def ensure_node_modules(directory: Path = JS_DIR) -> None:
    """``npm ci`` once when the modules are missing (the README's test command already does it)."""
    if not (directory / "node_modules").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=directory, check=True)


class NodeClient:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self.seen: list[Report] = []
        # set (and replaced) on every report: each waiter scans ``seen`` itself, so two waiters at once
        # never take each other's report (a shared queue let one discard what the other awaited)
        self._arrived = asyncio.Event()
        self._next_id = 0
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, url: str, **options: Any) -> NodeClient:
        proc = await asyncio.create_subprocess_exec(
            NODE,
            str(JS_DIR / "driver.js"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=JS_DIR,
            env={**os.environ},
            limit=REPORT_LINE_LIMIT,
        )
        client = cls(proc)
        options.setdefault("reconnection", False)
        options.setdefault("forceNew", True)
        await client.send({"op": "connect", "url": url, "options": options})
        return client

    async def _read(self) -> None:
        assert self._proc.stdout is not None
        while line := await self._proc.stdout.readline():
            report = json.loads(line)
            self.seen.append(report)
            arrived, self._arrived = self._arrived, asyncio.Event()
            arrived.set()

    async def send(self, command: Report) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write((json.dumps(command) + "\n").encode())
        await self._proc.stdin.drain()

    async def emit(self, event: str, data: Any = None) -> None:
        await self.send({"op": "emit", "event": event, "data": data})

    async def call(self, event: str, data: Any = None, timeout: float = 10.0) -> Any:
        """Emit with an ack callback and return the first ack argument."""
        self._next_id += 1
        ident = self._next_id
        await self.send(
            {"op": "emit", "event": event, "data": data, "ack": True, "id": ident, "timeout": int(timeout * 1000)}
        )
        report = await self.wait_for(
            lambda r: r.get("id") == ident and r["type"] in ("ack", "ack_timeout"), timeout=timeout + 2
        )
        assert report["type"] == "ack", f"no ack for {event} within {timeout}s"
        return report["args"][0] if report["args"] else None

    async def burst(self, event: str, items: list[Any], timeout: float = 20.0) -> list[Any]:
        """Emit every item back to back (one tick of the client), each with an ack; the acks in item order."""
        first = self._next_id + 1
        self._next_id += len(items)
        await self.send(
            {
                "op": "burst",
                "event": event,
                "items": items,
                "ack": True,
                "firstId": first,
                "timeout": int(timeout * 1000),
            }
        )
        acks = []
        for ident in range(first, first + len(items)):

            def answered(r: Report, i: int = ident) -> bool:
                return bool(r.get("id") == i and r["type"] in ("ack", "ack_timeout"))

            report = await self.wait_for(answered, timeout=timeout + 2)
            assert report["type"] == "ack", f"no ack for {event} #{ident - first} within {timeout}s"
            acks.append(report["args"][0] if report["args"] else None)
        return acks

    async def wait_for(self, match: Callable[[Report], bool], timeout: float = 10.0) -> Report:
        """The first report (already seen or arriving) that matches and no other wait took."""
        scanned = 0
        async with asyncio.timeout(timeout):
            while True:
                arrived = self._arrived  # taken before the scan: a report appended after it sets this one
                while scanned < len(self.seen):
                    report = self.seen[scanned]
                    scanned += 1
                    if not report.get("_taken") and match(report):
                        report["_taken"] = True
                        return report
                await arrived.wait()

    async def event(self, name: str, timeout: float = 10.0, where: Callable[[Any], bool] | None = None) -> Any:
        """The payload of the next ``name`` event (optionally the next one satisfying ``where``)."""
        report = await self.wait_for(
            lambda r: (
                r["type"] == "event"
                and r["event"] == name
                and (where is None or where(r["args"][0] if r["args"] else None))
            ),
            timeout,
        )
        return report["args"][0] if report["args"] else None

    def events(self, name: str) -> list[Any]:
        return [r["args"][0] if r["args"] else None for r in self.seen if r["type"] == "event" and r["event"] == name]

    async def connected(self, timeout: float = 10.0) -> str:
        report = await self.wait_for(lambda r: r["type"] in ("connect", "connect_error"), timeout)
        assert report["type"] == "connect", f"connect failed: {report}"
        return str(report["sid"])

    async def quiet(self, seconds: float = 0.3) -> None:
        """Give in-flight events time to arrive (used before asserting that something did NOT arrive)."""
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        if self._proc.returncode is None:
            try:
                await self.send({"op": "exit"})
                await asyncio.wait_for(self._proc.wait(), 3)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                self._proc.kill()
                await self._proc.wait()
        self._reader.cancel()


async def run_script(script: str, env: dict[str, str], timeout: float = 30.0) -> str:
    """Run one of the fixed-scenario clients in tests/js and return what it printed."""
    proc = await asyncio.create_subprocess_exec(
        NODE,
        str(JS_DIR / script),
        cwd=JS_DIR,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    return out.decode(errors="replace")

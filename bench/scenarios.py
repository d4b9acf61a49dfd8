"""The benchmark scenarios: each drives one server with a Node load generator and returns its figures.

Every scenario runs on a fresh server. The generator stops at a 'ready' checkpoint once its sockets are
connected and joined, and at 'done' once its work is finished; the server's CPU time from /proc between
the two becomes CPU per unit of work (message, accepted send, delivery, connection, agent reply).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.servers import BENCH, Server, cpu_seconds, rss_kb
from tests.support.node import NODE

Figures = dict[str, Any]

NAMES = ("rtt", "throughput", "fanout", "connections", "agent")

# Generator settings per size: "full" is the documented run, "smoke" a ~2 s run at tiny size for the tests.
SIZES: dict[str, dict[str, dict[str, str]]] = {
    "full": {
        "rtt": {"SECONDS": "5", "WARMUP": "50"},
        "throughput": {"ROOMS": "20", "PER_ROOM": "5", "WINDOW": "10", "SECONDS": "10"},
        "fanout": {"LISTENERS": "500", "RATE": "50", "SECONDS": "10", "DRAIN_S": "15", "WORKERS": "2"},
        "connections": {"COUNT": "2000", "CONCURRENCY": "50", "IDLE_S": "1"},
        "agent": {"CLIENTS": "10", "SECONDS": "10"},
    },
    "smoke": {
        "rtt": {"SECONDS": "1.5", "WARMUP": "5"},
        "throughput": {"ROOMS": "2", "PER_ROOM": "3", "WINDOW": "3", "SECONDS": "1.5"},
        "fanout": {"LISTENERS": "10", "RATE": "20", "SECONDS": "2", "DRAIN_S": "5", "WORKERS": "1"},
        "connections": {"COUNT": "40", "CONCURRENCY": "10", "IDLE_S": "0.1"},
        "agent": {"CLIENTS": "2", "SECONDS": "1.5"},
    },
}


def _env(server: Server, settings: dict[str, str], **extra: str) -> dict[str, str]:
    return {**os.environ, "URL": server.url, "HARD_LIMIT_S": "300", **settings, **extra}


Checkpoint = Callable[[Figures], None]


def _drive(script: str, env: dict[str, str], checkpoints: dict[str, Checkpoint]) -> Figures:
    """Run a load generator; at each checkpoint line it prints ({"phase": ...}) call the matching hook
    (which reads /proc) and let the generator go on; return the figures of its last line."""
    with tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen(
            [NODE, str(BENCH / script)],
            env=env,
            cwd=BENCH,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        last: Figures | None = None
        seen: list[str] = []
        try:
            for line in proc.stdout:
                report: Figures = json.loads(line)
                phase = report.get("phase")
                if phase is None:
                    last = report
                    continue
                seen.append(str(phase))
                if phase in checkpoints:
                    checkpoints[phase](report)
                proc.stdin.write("go\n")
                proc.stdin.flush()
            code = proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        stderr.seek(0)
        err = stderr.read()[-2000:]
    if code != 0 or last is None:
        raise RuntimeError(f"bench/{script} failed with exit code {code}:\n{err}")
    missing = [p for p in checkpoints if p not in seen]
    if missing:
        raise RuntimeError(f"bench/{script} never reached checkpoint(s) {', '.join(missing)}")
    return last


def _require(figures: Figures, key: str, what: str) -> int:
    """The count of work done; none at all means the scenario measured nothing, which is an error."""
    count = int(figures.get(key) or 0)
    if count <= 0:
        raise RuntimeError(f"no {what} in this run ({key}=0): nothing was measured; see the server's log")
    return count


class _Meter:
    """Server CPU (and memory) between the generator's 'ready' and 'done' checkpoints."""

    def __init__(self, server: Server) -> None:
        self.pid = server.pid
        self.cpu_ready = self.cpu_done = 0.0
        self.rss_ready = self.rss_done = 0

    def ready(self, _: Figures) -> None:
        self.rss_ready, self.cpu_ready = rss_kb(self.pid), cpu_seconds(self.pid)

    def done(self, _: Figures) -> None:
        self.cpu_done = cpu_seconds(self.pid)
        self.rss_done = rss_kb(self.pid)

    @property
    def hooks(self) -> dict[str, Checkpoint]:
        return {"ready": self.ready, "done": self.done}

    def per(self, count: int, scale: float) -> float | None:
        """CPU per unit of work, in seconds x scale (1e6: µs, 1e3: ms)."""
        return round((self.cpu_done - self.cpu_ready) * scale / count, 2) if count else None


def rtt(server: Server, settings: dict[str, str]) -> Figures:
    meter = _Meter(server)
    figures = _drive("rtt.js", _env(server, settings), meter.hooks)
    _require(figures, "measured", "measured round trip")
    # The CPU between the checkpoints covers every message sent, the warm-up ones included.
    figures["server_cpu_us_per_message"] = meter.per(figures["messages"], 1e6)
    return figures


def throughput(server: Server, settings: dict[str, str]) -> Figures:
    meter = _Meter(server)
    with tempfile.TemporaryDirectory() as tmp:
        acked_file = Path(tmp) / "acked.json"
        figures = _drive("throughput.js", _env(server, settings, ACKED_FILE=str(acked_file)), meter.hooks)
        acked: dict[str, list[str]] = json.loads(acked_file.read_text())
    figures["server_cpu_us_per_send"] = meter.per(_require(figures, "acked", "acknowledged send"), 1e6)
    if server.name == "ours":  # only this server stores messages; the bare Node server has no history
        figures.update(history_check(server.url, acked))
    return figures


def history_check(url: str, acked: dict[str, list[str]]) -> Figures:
    """Look up every acknowledged message in its room's REST history: stored once, none missing."""
    lost = duplicated = rows = 0
    with httpx.Client(base_url=url, timeout=60) as client:
        for room, message_ids in acked.items():
            count = Counter(
                str(m["clientMessageId"]) for m in history(client, room) if m.get("clientMessageId") is not None
            )
            rows += sum(count.values())
            lost += sum(1 for m in message_ids if m not in count)
            duplicated += sum(n - 1 for n in count.values() if n > 1)
    return {"history_rows": rows, "history_lost": lost, "history_duplicated": duplicated}


def history(client: httpx.Client, room: str, page: int = 1000) -> list[dict[str, Any]]:
    """A room's whole history. Pages go newest first by createdAt and overlap by one millisecond, and rows
    are kept by id, so messages sharing a millisecond at a page boundary are neither skipped nor doubled."""
    rows: dict[str, dict[str, Any]] = {}
    before: int | None = None
    while True:
        params: dict[str, int] = {"limit": page} if before is None else {"limit": page, "before": before}
        response = client.get(f"/api/messaging/channels/{room}/messages", params=params)
        response.raise_for_status()
        messages: list[dict[str, Any]] = response.json()["data"]["messages"]
        fresh = [m for m in messages if m["id"] not in rows]
        rows.update((m["id"], m) for m in fresh)
        if len(messages) < page:
            return list(rows.values())
        if not fresh:
            raise RuntimeError(f"history of {room}: more than {page} messages share one millisecond")
        before = int(messages[-1]["createdAt"]) + 1


def fanout(server: Server, settings: dict[str, str]) -> Figures:
    meter = _Meter(server)
    figures = _drive("fanout.js", _env(server, settings), meter.hooks)
    figures["server_cpu_us_per_delivery"] = meter.per(_require(figures, "deliveries", "delivery"), 1e6)
    return figures


def connections(server: Server, settings: dict[str, str]) -> Figures:
    """Connect and join COUNT sockets, then read the server's memory while they sit idle."""
    meter = _Meter(server)

    idle = float(settings.get("IDLE_S", "1"))

    def joined(_: Figures) -> None:
        meter.done(_)
        time.sleep(idle)  # idle: let the connect bursts' garbage go before reading memory
        meter.rss_done = rss_kb(server.pid)

    time.sleep(idle / 2)  # let start-up settle before the first reading
    figures = _drive("connections.js", _env(server, settings), {"ready": meter.ready, "done": joined})
    count = _require(figures, "connections", "joined connection")
    figures.update(
        {
            "server_rss_kb_before": meter.rss_ready,
            "server_rss_kb_after": meter.rss_done,
            "server_kb_per_connection": round((meter.rss_done - meter.rss_ready) / count, 2) if count else None,
            "server_cpu_us_per_connection": meter.per(count, 1e6),
        }
    )
    return figures


def agent(server: Server, settings: dict[str, str]) -> Figures:
    agent_id = httpx.get(f"{server.url}/api/agents", timeout=10).json()["data"]["agents"][0]["id"]
    meter = _Meter(server)
    figures = _drive("agent.js", _env(server, settings, AGENT_ID=str(agent_id)), meter.hooks)
    figures["server_cpu_ms_per_reply"] = meter.per(_require(figures, "replies", "agent reply"), 1e3)
    return figures


RUNNERS: dict[str, Callable[[Server, dict[str, str]], Figures]] = {
    "rtt": rtt,
    "throughput": throughput,
    "fanout": fanout,
    "connections": connections,
    "agent": agent,
}

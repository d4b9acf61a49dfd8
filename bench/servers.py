"""The two servers a benchmark compares, behind one small interface, and what /proc says about them.

``Ours`` is eliza-messaging as a user starts it (tests/support/server.py), durable on SQLite in a fresh
data directory, with the per-socket rate limit and the per-address connection cap off
(``ELIZA_SOCKET_RATE=0``, ``ELIZA_MAX_CONNECTIONS_PER_IP=0``) and no agent word delay.
``BareNode`` is bench/node_server.js: socket.io with no storage, the upper bound.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Protocol

from tests.support.node import NODE
from tests.support.server import ServerProcess, free_port, wait_until_healthy

BENCH = Path(__file__).resolve().parent

# the generators open up to 2,000 sockets from 127.0.0.1: the per-address cap (256 by default) is off too
OUR_ENV = {"ELIZA_SOCKET_RATE": "0", "ELIZA_WORD_DELAY": "0", "ELIZA_MAX_CONNECTIONS_PER_IP": "0"}


class Server(Protocol):
    name: str

    @property
    def pid(self) -> int: ...

    @property
    def url(self) -> str: ...

    def stop(self) -> None: ...


def ensure_bench_modules() -> None:
    """``npm ci`` in bench/ when its node_modules is missing (a fresh checkout)."""
    if not (BENCH / "node_modules").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BENCH, check=True, timeout=600)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process (all its threads) so far, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    """Resident memory of the process in KiB (VmRSS from /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS line: is the process a zombie?")


class Ours:
    """eliza-messaging in a child process with its own temporary data directory."""

    name = "ours"

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="eliza-bench-")
        self._proc = ServerProcess(Path(self._tmp.name) / "data", env=OUR_ENV, log_level="warning").start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def url(self) -> str:
        return self._proc.url

    def stop(self) -> None:
        try:
            self._proc.stop()
        finally:
            self._tmp.cleanup()


class BareNode:
    """bench/node_server.js on a free loopback port."""

    name = "node"

    def __init__(self, timeout: float = 20.0) -> None:
        self.port = free_port()
        self._proc = subprocess.Popen(
            [NODE, str(BENCH / "node_server.js")],
            env={**os.environ, "PORT": str(self.port)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=BENCH,
        )
        try:
            wait_until_healthy("bench/node_server.js", self._proc, self.url, timeout, self._stderr)
        except RuntimeError:
            self.stop()
            raise

    def _stderr(self) -> str:
        """What the Node server wrote to stderr, once it has exited (reading a live pipe would block)."""
        if self._proc.poll() is None or self._proc.stderr is None:
            return ""
        return self._proc.stderr.read().decode(errors="replace")

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


def start(name: str) -> Server:
    if name == "ours":
        return Ours()
    if name == "node":
        return BareNode()
    raise ValueError(f"unknown server {name!r}: use 'ours' or 'node'")

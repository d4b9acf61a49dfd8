"""A real eliza-messaging server in a child process: uvicorn on a free loopback port, its own data dir."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_healthy(
    what: str, proc: subprocess.Popen[bytes], url: str, timeout: float, logs: Callable[[], str]
) -> None:
    """Until ``url``/healthz answers 200; raises with the logs if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{logs()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer /healthz in {timeout}s:\n{logs()}")


class ServerProcess:
    """``eliza-messaging serve`` as a user would start it, stopped and restarted at will."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, log_level: str = "debug") -> None:
        self.data_dir = data_dir
        self.env = env or {}
        self.log_level = log_level
        self.port = free_port()
        self.log_path = data_dir.parent / f"server-{self.port}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None, "the server is not running"
        return self._proc.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> ServerProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "eliza_messaging.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--log-level",
                self.log_level,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        try:
            wait_until_healthy("server", self._proc, self.url, timeout, self.logs)
        except BaseException:
            self.kill()  # a server that did not come up in time must not outlive the test run
            raise
        return self

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def terminate(self, timeout: float) -> int | None:
        """SIGTERM, as a container runtime stops a server; the exit code, or None if still running at ``timeout``."""
        assert self._proc is not None, "the server is not running"
        self._proc.send_signal(signal.SIGTERM)
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> int:
        """SIGKILL, as a crash or the OOM killer ends a server: nothing of it runs after this returns."""
        assert self._proc is not None, "the server is not running"
        self._proc.kill()
        code = self._proc.wait(5)
        self._proc = None
        return code

    def restart(self) -> ServerProcess:
        self.stop()
        return self.start()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

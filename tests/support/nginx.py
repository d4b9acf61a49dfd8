"""Debian's nginx in front of test nodes: deploy/nginx.conf.template rendered into a tmp dir, run as a child.

nginx runs in the foreground (``daemon off``) with its pid, temp files and logs under the test's own
directory and on a free loopback port, so it never touches the system service or another run.
"""

from __future__ import annotations

import os
import shutil
import string
import subprocess
from pathlib import Path

import httpx

from tests.conftest import service_missing
from tests.support.server import REPO, free_port, wait_until_healthy

TEMPLATE = REPO / "deploy" / "nginx.conf.template"
NODE_HEADER = "X-Eliza-Node"


def nginx_binary() -> str:
    """The nginx executable, or skip (fail under CI=true) with how to get it."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        service_missing(
            "nginx", "nginx is not installed: run scripts/install-nginx.sh as root (apt-get install nginx-light)"
        )
    return found


def render(nodes: list[str], listen: str) -> str:
    """The deployment template with its placeholders filled (nginx's own ``$variables`` stay as they are)."""
    if len(nodes) != 3:
        raise ValueError(f"deploy/nginx.conf.template names three nodes; got {len(nodes)}")
    values = {"NGINX_LISTEN": listen, **{f"ELIZA_NODE_{i}": node for i, node in enumerate(nodes, 1)}}
    return string.Template(TEMPLATE.read_text()).safe_substitute(values)


class Nginx:
    """One nginx process balancing ``nodes`` (``host:port``), started and stopped by the test."""

    def __init__(self, directory: Path, nodes: list[str]) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.error_log = self.dir / "error.log"
        (self.dir / "eliza.conf").write_text(render(nodes, f"127.0.0.1:{self.port}"))
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers write temp files into this (0700) dir
        kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        temp = " ".join(f"{kind}_temp_path {self.dir / kind};" for kind in kinds)
        (self.dir / "nginx.conf").write_text(
            f"{user}worker_processes 1;\npid {self.dir / 'nginx.pid'};\nerror_log {self.error_log} info;\n"
            f"events {{ worker_connections 1024; }}\n"
            f"http {{\n  access_log {self.dir / 'access.log'};\n  {temp}\n  include {self.dir / 'eliza.conf'};\n}}\n"
        )
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> Nginx:
        binary = nginx_binary()
        conf = str(self.dir / "nginx.conf")
        base = [binary, "-p", str(self.dir), "-e", str(self.error_log), "-c", conf]
        check = subprocess.run([*base, "-t"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx refuses the rendered configuration:\n{check.stderr}")
        self._proc = subprocess.Popen([*base, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_until_healthy("nginx", self._proc, self.url, timeout, self.logs)
        return self

    def node_for(self, affinity: str) -> str:
        """The node (``host:port``) nginx sends a client with this ``affinity`` to (the one that answered)."""
        response = httpx.get(f"{self.url}/healthz", params={"affinity": affinity}, timeout=5)
        return response.headers[NODE_HEADER].split(",")[-1].strip()

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()  # SIGTERM: nginx's fast shutdown
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def logs(self) -> str:
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""

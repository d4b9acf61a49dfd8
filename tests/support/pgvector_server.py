"""A throwaway PostgreSQL 16 with pgvector, from the ``pgserver`` wheel, for the pgvector code path.

The machine's PostgreSQL has no pgvector (and Debian 12 has no package of it for PostgreSQL 15), so
without this server the ``vector`` column and ``<=>`` search would never run in a test. The wheel's
binaries are run directly, not through ``pgserver.get_server``: as root that would add a system user
and widen the permissions of every parent directory. PostgreSQL refuses to run as root, so here it runs
as ``nobody`` in a temporary directory of its own, listening only on a unix socket in that directory.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

UNPRIVILEGED_USER = "nobody"  # who runs the server when the tests run as root
START_TIMEOUT_S = 30


class PgvectorServerError(Exception):
    """The bundled server could not be found or started; the message says why and what to do."""


@dataclass(frozen=True)
class PgvectorServer:
    url: str  # postgresql URL of database ``test`` as the superuser ``postgres`` (trust, unix socket)
    data_dir: Path


def _bin_dir() -> Path:
    # find_spec of the top package only: importing pgserver itself would set up its own lock files
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise PgvectorServerError(
            "the pgserver package is not installed; install the test extra (pip install -e '.[test]')"
        )
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").exists():
        raise PgvectorServerError(f"pgserver has no PostgreSQL binaries at {bin_dir}")
    return bin_dir


def _run(command: list[str], user: str | None, log: Path | None = None) -> None:
    try:
        done = subprocess.run(
            command, user=user, capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False, cwd="/"
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PgvectorServerError(f"{Path(command[0]).name} failed: {exc}") from exc
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
        raise PgvectorServerError(
            f"{Path(command[0]).name} exited {done.returncode}: {done.stderr.strip()[-2000:]} {tail}".strip()
        )


@contextmanager
def pgvector_server() -> Iterator[PgvectorServer]:
    """Start the server (initdb, start, create database ``test``); stop it and delete its files afterwards."""
    bin_dir = _bin_dir()
    user = UNPRIVILEGED_USER if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="pgv-"))  # short: a unix socket path has a length limit
    data, log = root / "data", root / "server.log"
    started = False
    try:
        if user is not None:
            shutil.chown(root, user)
        _run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "-N"], user)
        options = f"-h '' -k {root} -c fsync=off -c full_page_writes=off"
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"], user, log)
        started = True
        _run([str(bin_dir / "createdb"), "-h", str(root), "-U", "postgres", "test"], user)
        yield PgvectorServer(f"postgresql://postgres@/test?host={quote(str(root), safe='')}", data)
    finally:
        if started:
            subprocess.run(
                [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                user=user,
                capture_output=True,
                timeout=START_TIMEOUT_S,
                check=False,
                cwd="/",
            )
        shutil.rmtree(root, ignore_errors=True)

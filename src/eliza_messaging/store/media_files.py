"""Uploaded files on local disk, under ``<data dir>/uploads/<kind>/<owner>/<name>``.

Every path is built from parts this module checks itself (a known kind, a UUID owner, a name it
generated: a UUID and an extension of the allow-list), never from a client's file name, so no
request can reach outside the uploads directory. A file is written to ``.incoming/`` first and
moved into place only once it is whole and accepted, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import BinaryIO

KINDS = frozenset({"channels", "agents"})
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NAME = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]{1,5}$")
INCOMING = ".incoming"


class MediaFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def incoming(self) -> tuple[Path, BinaryIO]:
        """A new empty file to write an upload into, and its path (for ``keep`` or ``discard``)."""
        folder = self.root / INCOMING
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{uuid.uuid4().hex}.part"
        return path, path.open("xb")

    def keep(self, incoming: Path, kind: str, owner: str, extension: str) -> str:
        """Move a finished upload into place; its new file name (a random UUID and ``extension``)."""
        name = f"{uuid.uuid4().hex}.{extension}"
        target = self._path(kind, owner, name)
        if target is None:
            raise ValueError(f"not a valid place for an upload: {kind}/{owner}/{name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(incoming, target)
        return name

    @staticmethod
    def discard(incoming: Path) -> None:
        incoming.unlink(missing_ok=True)

    def locate(self, kind: str, owner: str, name: str) -> Path | None:
        """The stored file for a served URL's parts, or None when they name nothing we could have written."""
        path = self._path(kind, owner, name)
        return path if path is not None and path.is_file() else None

    def clear_incoming(self) -> None:
        """Remove what a stopped server left half-written."""
        folder = self.root / INCOMING
        if folder.is_dir():
            for leftover in folder.glob("*.part"):
                leftover.unlink(missing_ok=True)

    def _path(self, kind: str, owner: str, name: str) -> Path | None:
        if kind not in KINDS or not _UUID.match(owner) or not _NAME.match(name):
            return None
        return self.root / kind / owner.lower() / name

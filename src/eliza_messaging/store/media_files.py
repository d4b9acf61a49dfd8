"""Uploaded files on local disk, under ``<data dir>/uploads/<kind>/<owner>/<name>``.

Every path is built from parts this module checks itself (a known kind, a UUID owner, a name it
generated: a UUID and an extension of the allow-list), never from a client's file name, so no
request can reach outside the uploads directory. A file is written to ``.incoming/`` first and
moved into place only once it is whole and accepted, so a reader never sees half a file.

``MediaStore`` is what the domain sees of any storage: this local one is the default; ``media_s3.py``
keeps the files in an S3-compatible bucket instead, spooling each upload here first.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from ..types import is_uuid

KINDS = frozenset({"channels", "agents"})
_NAME = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]{1,5}$")
INCOMING = ".incoming"


class MediaUnavailable(Exception):
    """The storage cannot be reached or refuses us; the message says which and why, never a credential."""


@dataclass(frozen=True, slots=True)
class MediaObject:
    """A stored file being read back: a local ``path`` (served by the file) or ``chunks`` streamed through."""

    size: int
    path: Path | None = None
    chunks: AsyncIterator[bytes] | None = None


class MediaStore(Protocol):
    """Where uploads are kept. An upload is written to ``incoming`` (bounded by the cap, which the caller
    enforces while writing), then ``keep`` stores it under a name of its own or ``discard`` drops it."""

    def incoming(self) -> tuple[Path, BinaryIO]: ...

    async def keep(self, incoming: Path, kind: str, owner: str, extension: str, content_type: str) -> str: ...

    def discard(self, incoming: Path) -> None: ...

    async def open(self, kind: str, owner: str, name: str) -> MediaObject | None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


def valid_place(kind: str, owner: str, name: str) -> bool:
    """Only names this module could have written: a known kind, a UUID owner, a generated name."""
    return kind in KINDS and is_uuid(owner) and bool(_NAME.match(name))


def new_name(extension: str) -> str:
    return f"{uuid.uuid4().hex}.{extension}"


class MediaFiles:
    """Uploads on local disk (the default ``MediaStore``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def incoming(self) -> tuple[Path, BinaryIO]:
        """A new empty file to write an upload into, and its path (for ``keep`` or ``discard``)."""
        folder = self.root / INCOMING
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{uuid.uuid4().hex}.part"
        return path, path.open("xb")

    async def keep(self, incoming: Path, kind: str, owner: str, extension: str, content_type: str = "") -> str:
        """Move a finished upload into place; its new file name (a random UUID and ``extension``)."""
        name = new_name(extension)
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

    async def open(self, kind: str, owner: str, name: str) -> MediaObject | None:
        path = self.locate(kind, owner, name)
        return MediaObject(path.stat().st_size, path=path) if path is not None else None

    async def start(self) -> None:
        self.clear_incoming()

    async def close(self) -> None:
        return None

    def clear_incoming(self) -> None:
        """Remove what a stopped server left half-written."""
        folder = self.root / INCOMING
        if folder.is_dir():
            for leftover in folder.glob("*.part"):
                leftover.unlink(missing_ok=True)

    def _path(self, kind: str, owner: str, name: str) -> Path | None:
        if not valid_place(kind, owner, name):
            return None
        return self.root / kind / owner.lower() / name

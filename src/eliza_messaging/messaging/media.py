"""Uploaded media: what may be uploaded, by whom, how much, and how it is served back.

The type of a file is read from its bytes (magic numbers, by the ``filetype`` library), never
from the name or content type the client sent: a page's script renamed ``cat.png`` is refused.
What has no known signature is accepted only as plain text (valid UTF-8, no NUL) and served as
``text/plain``. Nothing a browser would run (HTML, SVG, JavaScript) is on the list; PDF, whose
viewers run scripts, is served as a download. Uploads are written as they arrive and stop at the
size cap, so a file never has to fit in memory. Where files are kept (local disk, or an
S3-compatible bucket) is the ``MediaStore``'s business; a store that cannot be reached is a 503.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Any

import filetype

from ..store.media_files import MediaObject, MediaStore, MediaUnavailable
from ..types import JsonObject, is_uuid
from .access import Access
from .errors import (
    Forbidden,
    InvalidPayload,
    NotFound,
    StorageUnavailable,
    UnsupportedMediaType,
    UploadTooLarge,
)
from .identity import Caller, Identity
from .rates import CallerRate

URL_PREFIX = "/media/uploads"
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
HEAD_BYTES = 8192  # what the signature check reads (filetype looks no further)


@dataclass(frozen=True, slots=True)
class MediaType:
    """``mime``: the Content-Type it is served with; ``category``: image, audio, video, document or text;
    ``inline``: shown by the browser (else served as a download)."""

    mime: str
    extension: str
    category: str
    inline: bool = True

    @property
    def name(self) -> str:
        return self.mime.split(";")[0]


_JPEG = MediaType("image/jpeg", "jpg", "image")
_PNG = MediaType("image/png", "png", "image")
TEXT = MediaType("text/plain; charset=utf-8", "txt", "text")
# filetype's answer -> how we store and serve it
_DETECTED: dict[str, MediaType] = {
    "image/jpeg": _JPEG,
    "image/png": _PNG,
    "image/apng": _PNG,
    "image/gif": MediaType("image/gif", "gif", "image"),
    "image/webp": MediaType("image/webp", "webp", "image"),
    "audio/mpeg": MediaType("audio/mpeg", "mp3", "audio"),
    "audio/ogg": MediaType("audio/ogg", "ogg", "audio"),
    "audio/x-wav": MediaType("audio/wav", "wav", "audio"),
    "audio/mp4": MediaType("audio/mp4", "m4a", "audio"),
    "audio/aac": MediaType("audio/aac", "aac", "audio"),
    "video/mp4": MediaType("video/mp4", "mp4", "video"),
    "video/webm": MediaType("video/webm", "webm", "video"),  # audio-only WebM too: the same container
    "application/pdf": MediaType("application/pdf", "pdf", "document", inline=False),
}
_BY_EXTENSION = {t.extension: t for t in [*_DETECTED.values(), TEXT]}
ALLOWED = sorted({t.name for t in _BY_EXTENSION.values()})


def unsupported(found: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"The file is {found}, which may not be uploaded. Allowed: {', '.join(ALLOWED)}"
        " (the type is read from the file's bytes, not its name or content type).",
        allowed=ALLOWED,
    )


def size_words(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB ({n} bytes)" if n % (1024 * 1024) == 0 else f"{n} bytes"


def served_type(name: str) -> MediaType | None:
    """How a stored file is served, from the extension we gave it."""
    return _BY_EXTENSION.get(name.rsplit(".", 1)[-1]) if "." in name else None


@dataclass(frozen=True, slots=True)
class StoredMedia:
    url: str
    media_type: MediaType
    filename: str
    original_name: str
    size: int

    def view(self, *, type_as: str = "mime") -> JsonObject:
        """ElizaOS's upload answer: the channel route gives the MIME type, the agent route the category."""
        kind = self.media_type.category if type_as == "category" else self.media_type.name
        return {
            "url": self.url,
            "type": kind,
            "mimeType": self.media_type.name,
            "filename": self.filename,
            "originalName": self.original_name,
            "size": self.size,
        }


class Upload:
    """One file being received: counted against the cap, typed from its first bytes, written to a spool file."""

    def __init__(self, files: MediaStore, kind: str, owner: str, max_bytes: int) -> None:
        self._files = files
        self._kind = kind
        self._owner = owner
        self.max_bytes = max_bytes
        self.size = 0
        self._head = bytearray()
        self._type: MediaType | None = None
        self._text: codecs.IncrementalDecoder | None = None
        self.path, self._file = files.incoming()

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise UploadTooLarge(
                f"The file is larger than {size_words(self.max_bytes)}, the most one upload may hold."
                " Send a smaller file.",
                field="file",
            )
        if self._type is None:
            self._head += chunk
            if len(self._head) >= HEAD_BYTES:
                self._decide(bytes(self._head))
        elif self._text is not None:
            self._check_text(chunk, final=False)
        self._file.write(chunk)

    async def finish(self, original_name: str) -> StoredMedia:
        """Keep the file (the type decided and checked to its end); what the client is told."""
        if self.size == 0:
            raise InvalidPayload("The file is empty: choose a file with something in it.", field="file")
        if self._type is None:
            self._decide(bytes(self._head))
        if self._text is not None:
            self._check_text(b"", final=True)
        assert self._type is not None
        self._file.close()
        try:
            name = await self._files.keep(self.path, self._kind, self._owner, self._type.extension, self._type.mime)
        except MediaUnavailable as exc:
            raise StorageUnavailable(f"The file could not be stored; try again later. {exc}") from None
        url = f"{URL_PREFIX}/{self._kind}/{self._owner.lower()}/{name}"
        return StoredMedia(url, self._type, name, _clean_name(original_name), self.size)

    def discard(self) -> None:
        self._file.close()
        self._files.discard(self.path)

    def _decide(self, head: bytes) -> None:
        guess = filetype.guess(head)
        if guess is None:
            self._type = TEXT
            self._text = codecs.getincrementaldecoder("utf-8")()
            self._check_text(head, final=False)
            return
        found = _DETECTED.get(guess.mime)
        if found is None:
            raise unsupported(guess.mime)
        self._type = found

    def _check_text(self, chunk: bytes, *, final: bool) -> None:
        assert self._text is not None
        try:
            decoded = self._text.decode(chunk, final)
        except UnicodeDecodeError:
            raise unsupported("neither a known media type nor UTF-8 text") from None
        if "\x00" in decoded:
            raise unsupported("binary data of no known type (it holds NUL bytes)")


def _clean_name(name: str) -> str:
    """The client's file name, kept only to be shown back: no path, no control characters, bounded."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in base if c.isprintable())[:255] or "upload"


class MediaLibrary:
    """Who may upload where, at what rate, and where the files are found again."""

    def __init__(
        self,
        files: MediaStore,
        access: Access,
        identity: Identity,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        rate: CallerRate | None = None,
    ) -> None:
        self.files = files
        self.max_bytes = max_bytes
        self.rate = rate if rate is not None else CallerRate("uploads", per_minute=30, burst=10)
        self._access = access
        self._identity = identity

    async def start(self) -> None:
        await self.files.start()

    async def close(self) -> None:
        await self.files.close()

    async def to_channel(self, caller: Caller, channel_id: str, address: str | None) -> Upload:
        """An upload into a channel: whoever may post there."""
        _require_uuid(channel_id, "channelId")
        self._take(caller, address)
        await self._access.may_enter(caller, channel_id)
        return Upload(self.files, "channels", channel_id, self.max_bytes)

    async def to_agent(self, caller: Caller, agent_id: str, address: str | None) -> Upload:
        """An upload for an agent (an avatar, a file it serves): with data isolation, the server token only."""
        _require_uuid(agent_id, "agentId")
        self._take(caller, address)
        if not await self._identity.is_agent(agent_id):
            raise NotFound(f"Agent {agent_id} is not an agent of this server (GET /api/agents lists them).")
        if self._access.restricted(caller):
            raise Forbidden(
                "With data isolation on, only the server token may upload an agent's media (X-API-KEY).",
                field="agentId",
            )
        return Upload(self.files, "agents", agent_id, self.max_bytes)

    async def open(self, kind: str, owner: str, name: str) -> tuple[MediaObject, MediaType] | None:
        """A stored file and how it is served, or None when the URL names nothing stored."""
        media_type = served_type(name)
        if media_type is None:
            return None
        try:
            found = await self.files.open(kind, owner, name)
        except MediaUnavailable as exc:
            raise StorageUnavailable(f"The file cannot be read now; try again later. {exc}") from None
        return (found, media_type) if found is not None else None

    def _take(self, caller: Caller, address: str | None) -> None:
        if not caller.trusted:
            self.rate.take(CallerRate.key(caller, address))


def _require_uuid(value: Any, name: str) -> None:
    if not is_uuid(value):
        raise InvalidPayload(f"{name} must be a UUID, but got '{str(value)[:40]}'.", field=name)

"""Media uploads in ElizaOS's routes and answers, and the files served back under ``/media/uploads``.

The multipart body is parsed as it arrives (python-multipart's streaming parser) and the ``file``
field written straight to disk through ``messaging.media.Upload``, which counts it against the
cap and reads its type from its first bytes; nothing holds the whole file in memory. The
body-size middleware lets these routes' bodies through unbuffered, with their own cap
(``body_limit.py``). A file is served with the type we found, ``nosniff``, a sandboxing
Content-Security-Policy, and as a download when a browser would do more than show it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.responses import FileResponse, Response

from ...messaging.errors import InvalidPayload, NotFound, UploadTooLarge
from ...messaging.media import MediaLibrary, StoredMedia, Upload, size_words
from . import schemas
from .deps import AgentIdPath, CallerDep, ChannelIdPath
from .docs import responses
from .responses import JsonResponse, ok

router = APIRouter(tags=["media"])
FIELD = "file"
# Room in a multipart body for what is not the file: boundaries, part headers, a few small fields.
ENVELOPE_BYTES = 1024 * 1024
UPLOAD_PATHS = (
    r"^/api/(messaging|media)/channels/[^/]+/upload-media/?$",
    r"^/api/media/agents/[^/]+/upload(-media)?/?$",
)
_SERVED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=31536000, immutable",
    "Referrer-Policy": "no-referrer",
}
_MULTIPART_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {FIELD: {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


def library(request: Request) -> MediaLibrary:
    media: MediaLibrary = request.app.state.media
    return media


Library = Annotated[MediaLibrary, Depends(library)]


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


class _FileField:
    """Feeds the ``file`` part of a multipart body into an upload, as the parser finds it."""

    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        self.found = False
        self.filename = ""
        self._events: list[tuple[str, bytes]] = []
        self._name = bytearray()
        self._value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._in_file = False

    def parser(self, boundary: bytes) -> MultipartParser:
        def data(kind: str) -> Any:
            return lambda buf, start, end: self._events.append((kind, bytes(buf[start:end])))

        def mark(kind: str) -> Any:
            return lambda: self._events.append((kind, b""))

        callbacks: Any = {
            "on_part_begin": mark("begin"),
            "on_header_field": data("name"),
            "on_header_value": data("value"),
            "on_header_end": mark("header_end"),
            "on_headers_finished": mark("headers_done"),
            "on_part_data": data("data"),
            "on_part_end": mark("end"),
        }
        return MultipartParser(boundary, callbacks)

    def flush(self) -> None:
        """Act on what the last ``write`` found (outside the parser's callbacks, so errors reach the route)."""
        events, self._events = self._events, []
        for kind, chunk in events:
            if kind == "begin":
                self._headers, self._in_file = {}, False
            elif kind == "name":
                self._name += chunk
            elif kind == "value":
                self._value += chunk
            elif kind == "header_end":
                self._headers[bytes(self._name).strip().lower()] = bytes(self._value).strip()
                self._name.clear()
                self._value.clear()
            elif kind == "headers_done":
                self._start_part()
            elif kind == "data" and self._in_file:
                self.upload.write(chunk)
            elif kind == "end":
                self._in_file = False

    def _start_part(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition"))
        if options.get(b"name") != FIELD.encode():
            return
        if self.found:
            raise InvalidPayload("Send one file per upload: the field 'file' appears twice.", field=FIELD)
        self.found, self._in_file = True, True
        self.filename = options.get(b"filename", b"").decode("utf-8", "replace")


async def receive(request: Request, upload: Upload) -> StoredMedia:
    """The ``file`` field of the request's multipart body, stored; the upload is discarded on any failure."""
    try:
        media_type, options = parse_options_header(request.headers.get("content-type"))
        boundary = options.get(b"boundary")
        if media_type != b"multipart/form-data" or not boundary:
            raise InvalidPayload(
                "Send the file as multipart/form-data in the field 'file'"
                " (for example: curl -F file=@photo.png <url>).",
                field=FIELD,
            )
        field = _FileField(upload)
        try:
            parser = field.parser(boundary)
        except FormParserError as exc:
            raise InvalidPayload(f"The multipart body cannot be read: {exc}.", field=FIELD) from None
        limit = upload.max_bytes + ENVELOPE_BYTES
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise UploadTooLarge(
                    f"The request is larger than {size_words(limit)}; one file of at most"
                    f" {size_words(upload.max_bytes)} may be sent.",
                    field=FIELD,
                )
            try:
                parser.write(chunk)
            except FormParserError as exc:
                raise InvalidPayload(f"The multipart body cannot be read: {exc}.", field=FIELD) from None
            field.flush()
        try:
            parser.finalize()
        except FormParserError as exc:
            raise InvalidPayload(f"The multipart body is cut short: {exc}.", field=FIELD) from None
        field.flush()
        if not field.found:
            raise InvalidPayload("The multipart body has no field 'file': send the file in it.", field=FIELD)
        return upload.finish(field.filename)
    except BaseException:
        upload.discard()
        raise


@router.post("/api/media/channels/{channel_id}/upload-media", include_in_schema=False)
@router.post(
    "/api/messaging/channels/{channel_id}/upload-media",
    summary="Upload a file into a channel (multipart field 'file'); reference its url in a message's attachments",
    description=(
        "Whoever may post in the channel may upload. The type is read from the file's bytes: JPEG, PNG, GIF,"
        " WebP; MP3, Ogg, WAV, M4A/AAC, WebM; MP4; PDF; UTF-8 text. At most ELIZA_UPLOAD_MAX_BYTES (50 MiB)."
    ),
    openapi_extra=_MULTIPART_BODY,
    responses=responses(200, schemas.Ok[schemas.UploadedMedia], 403, 413, 415, 429),
)
async def upload_to_channel(
    channel_id: ChannelIdPath, request: Request, caller: CallerDep, media: Library
) -> JsonResponse:
    upload = await media.to_channel(caller, channel_id, _address(request))
    return ok((await receive(request, upload)).view())


@router.post("/api/media/agents/{agent_id}/upload-media", include_in_schema=False)
@router.post(
    "/api/media/agents/{agent_id}/upload",
    summary="Upload a file for an agent (multipart field 'file'): an avatar, a file it shares",
    description="The same types and cap as a channel's uploads; 'type' in the answer is the category (image, ...).",
    openapi_extra=_MULTIPART_BODY,
    responses=responses(200, schemas.Ok[schemas.UploadedMedia], 403, 404, 413, 415, 429),
)
async def upload_for_agent(agent_id: AgentIdPath, request: Request, caller: CallerDep, media: Library) -> JsonResponse:
    upload = await media.to_agent(caller, agent_id, _address(request))
    return ok((await receive(request, upload)).view(type_as="category"))


@router.get("/media/uploads/{kind}/{owner}/{name}", include_in_schema=False)
async def serve(kind: str, owner: str, name: str, media: Library) -> Response:
    found = media.locate(kind, owner, name)
    if found is None:
        raise NotFound(f"No uploaded file at /media/uploads/{kind[:20]}/{owner[:40]}/{name[:60]}.")
    path, media_type = found
    disposition = "inline" if media_type.inline else "attachment"
    headers = {**_SERVED_HEADERS, "Content-Disposition": f'{disposition}; filename="{name}"'}
    return FileResponse(path, media_type=media_type.mime, headers=headers)

"""Any built single-page client (``ELIZA_UI_DIR``) at ``/``, in place of our web chat.

An operator runs the official ElizaOS web client (or any other React/Vite build) from this server
with no proxy: a file of the directory is served as it is, with its type; any other path that is
not the server's own (``/api``, ``/socket.io``, ``/media``, health, metrics, docs) gets
``index.html``, so the client's router can draw it (a reload on ``/chat/<id>`` works). The server's
own prefixes never fall back: an unknown ``/api/...`` stays a JSON 404 a client can read.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import FileResponse, Response

from ...messaging.errors import NotFound

# Paths of the server itself: an unknown one is an error, never the client's page.
SERVER_PREFIXES = ("api", "socket.io", "media", "healthz", "readyz", "metrics", "docs", "openapi.json", "redoc")
ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# Vite's build names carry a content hash; anything under assets/ may be kept for good.
HASHED_DIR = "assets"

# Types the platform's table may lack (slim containers have no /etc/mime.types).
for _suffix, _type in {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".map": "application/json",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
    ".wasm": "application/wasm",
    ".ico": "image/x-icon",
}.items():
    mimetypes.add_type(_type, _suffix)


class SinglePageClient:
    """Resolves request paths to files of one directory, never outside it."""

    def __init__(self, directory: Path) -> None:
        root = directory.expanduser().resolve()
        index = root / "index.html"
        if not index.is_file():
            raise ValueError(
                f"ELIZA_UI_DIR={directory} has no index.html; point it at a built client"
                " (for the ElizaOS client, the `dist` folder of `npm pack @elizaos/client`)."
            )
        self.root = root
        self.index = index

    def file_for(self, path: str) -> Path | None:
        """The file ``path`` names inside the directory, or None (missing, a folder, or outside it)."""
        if not path or "\x00" in path:
            return None
        candidate = (self.root / path).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate

    def response(self, path: str) -> Response:
        found = self.file_for(path)
        if found is not None:
            cache = "public, max-age=31536000, immutable" if path.startswith(HASHED_DIR + "/") else "no-cache"
            media_type = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
            return FileResponse(found, media_type=media_type, headers={"Cache-Control": cache})
        first = path.split("/", 1)[0]
        if first in SERVER_PREFIXES or first == HASHED_DIR or "." in path.rsplit("/", 1)[-1]:
            # A missing asset or a server route that does not exist: a 404, not the page (a script
            # tag answered with HTML only hides the mistake).
            raise NotFound(f"Nothing at /{path}.")
        return FileResponse(self.index, media_type="text/html", headers={"Cache-Control": "no-cache"})


def install(app: FastAPI, directory: Path) -> None:
    """Serve ``directory`` at ``/``; call it after every other route, which all take precedence."""
    client = SinglePageClient(directory)
    router = APIRouter()

    @router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index() -> Response:
        return client.response("index.html")

    @router.api_route("/{path:path}", methods=list(ALL_METHODS), include_in_schema=False)
    async def anything(path: str, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            raise NotFound(f"Nothing at /{path} for {request.method}.")
        return client.response(path)

    app.include_router(router)

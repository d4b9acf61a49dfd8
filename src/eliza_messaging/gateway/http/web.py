"""The web chat: ``index.html`` at ``/`` and its build files under ``/assets/``.

The page is built from ``web/`` (``npm run build``) into ``gateway/web/static/``, which is committed
and shipped in the wheel, so serving it needs no Node.js. It loads nothing from other origins; the
Content-Security-Policy on the page says so to the browser too.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"
ASSETS_PATH = "/assets"

_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
        " object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter()


class _BuildFiles(StaticFiles):
    """Build files carry a content hash in their names, so browsers may keep them for good."""

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


@router.get("/", include_in_schema=False)
async def index() -> Response:
    page = STATIC_DIR / "index.html"
    if not page.is_file():
        raise HTTPException(404, "The web chat is not built: run `npm ci && npm run build` in web/.")
    return FileResponse(page, media_type="text/html", headers=_PAGE_HEADERS)


def install(app: FastAPI) -> None:
    """Serve the web chat at ``/``; API, Socket.IO, health and docs routes are left as they are."""
    app.include_router(router)
    app.mount(ASSETS_PATH, _BuildFiles(directory=STATIC_DIR / "assets", check_dir=False), name="web-assets")

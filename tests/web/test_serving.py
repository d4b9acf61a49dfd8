"""Serving the web chat: the page at ``/``, its build files, and nothing else shadowed or exposed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from eliza_messaging.app import create_app
from eliza_messaging.config import Settings
from eliza_messaging.gateway.http.web import STATIC_DIR


async def client_for(tmp_path: Path, **settings: object) -> httpx.AsyncClient:
    app = create_app(Settings(data_dir=tmp_path / "data", **settings))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_for(tmp_path) as client:
        yield client


def built_asset(suffix: str) -> str:
    return next(p.name for p in (STATIC_DIR / "assets").iterdir() if p.suffix == suffix)


async def test_the_page_is_served_at_the_root_with_a_strict_policy(http: httpx.AsyncClient) -> None:
    response = await http.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>Eliza Chat</title>" in response.text
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert response.headers["cache-control"] == "no-cache"


async def test_the_page_references_only_its_own_files(http: httpx.AsyncClient) -> None:
    page = (await http.get("/")).text
    for asset in (built_asset(".js"), built_asset(".css")):
        assert f'"/assets/{asset}"' in page
        response = await http.get(f"/assets/{asset}")
        assert response.status_code == 200
        assert "immutable" in response.headers["cache-control"]
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page


async def test_other_routes_are_not_shadowed(http: httpx.AsyncClient) -> None:
    assert (await http.get("/api/server/ping")).json()["pong"] is True
    assert (await http.get("/openapi.json")).status_code == 200
    assert (await http.get("/docs")).status_code == 200
    missing = await http.get("/assets/nothing-here.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"
    assert "/" not in (await http.get("/openapi.json")).json()["paths"]


async def test_turned_off_the_root_is_an_unknown_route(tmp_path: Path) -> None:
    async with await client_for(tmp_path, ui_enable=False) as http:
        for path in ("/", f"/assets/{built_asset('.js')}"):
            response = await http.get(path)
            assert response.status_code == 404
            assert response.json() == {"success": False, "error": {"code": "NOT_FOUND", "message": "Not Found"}}
        assert (await http.get("/api/server/ping")).status_code == 200


def test_the_setting_reads_eliza_ui_enable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().ui_enable is True
    monkeypatch.setenv("ELIZA_UI_ENABLE", "false")
    assert Settings().ui_enable is False

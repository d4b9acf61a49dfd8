"""ELIZA_UI_DIR: any built single-page client at ``/`` in place of the web chat, the server's own routes untouched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from eliza_messaging.app import create_app
from eliza_messaging.config import Settings

INDEX = '<!doctype html><html><head><script type="module" src="/assets/main-abc123.js"></script></head></html>'


@pytest.fixture
def client_dir(tmp_path: Path) -> Path:
    built = tmp_path / "dist"
    (built / "assets").mkdir(parents=True)
    (built / "images" / "agents").mkdir(parents=True)
    (built / "index.html").write_text(INDEX)
    (built / "assets" / "main-abc123.js").write_text("console.log('client');")
    (built / "assets" / "main-abc123.css").write_text("body{}")
    (built / "assets" / "main-abc123.js.map").write_text("{}")
    (built / "favicon.ico").write_bytes(b"\x00\x00\x01\x00")
    (built / "elizaos.webp").write_bytes(b"RIFF")
    (built / "images" / "agents" / "eliza.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("outside the client")
    return built


@pytest.fixture
async def http(tmp_path: Path, client_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(data_dir=tmp_path / "data", ui_dir=client_dir))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def test_the_client_and_its_files_are_served_with_their_types(http: httpx.AsyncClient) -> None:
    for path in ("/", "/index.html"):
        page = await http.get(path)
        assert page.status_code == 200 and page.text == INDEX
        assert page.headers["content-type"].startswith("text/html") and page.headers["cache-control"] == "no-cache"
    for path, kind in [
        ("/assets/main-abc123.js", "text/javascript"),
        ("/assets/main-abc123.css", "text/css"),
        ("/assets/main-abc123.js.map", "application/json"),
        ("/favicon.ico", "image/x-icon"),
        ("/elizaos.webp", "image/webp"),
        ("/images/agents/eliza.svg", "image/svg+xml"),
    ]:
        response = await http.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith(kind), (path, response.headers["content-type"])
    assert "immutable" in (await http.get("/assets/main-abc123.js")).headers["cache-control"]
    assert (await http.head("/assets/main-abc123.js")).status_code == 200


async def test_the_clients_own_routes_get_the_page(http: httpx.AsyncClient) -> None:
    for path in ("/chat/d9e1d03e-9e85-52f0-8ad6-9e4bd4c51417", "/settings/", "/logs", "/agents/new", "/group/x/y"):
        response = await http.get(path)
        assert response.status_code == 200 and response.text == INDEX, path


async def test_server_routes_and_missing_files_are_never_the_page(http: httpx.AsyncClient) -> None:
    assert (await http.get("/api/server/ping")).json()["pong"] is True
    assert "status" in (await http.get("/healthz")).json()  # the health answer (503 here: no lifespan ran)
    assert (await http.get("/openapi.json")).status_code == 200
    assert "/{path}" not in (await http.get("/openapi.json")).json()["paths"]
    for path in ("/api/no-such-route", "/api/nothing/here/at/all", "/media/x.png", "/socket.io-nope", "/assets/gone.js",
                 "/logo.png", "/metrics/x"):  # fmt: skip
        response = await http.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "NOT_FOUND", path
    posted = await http.post("/api/no-such-route", json={})
    assert posted.status_code == 404 and posted.json()["error"]["code"] == "NOT_FOUND"


async def test_nothing_outside_the_directory_is_served(http: httpx.AsyncClient) -> None:
    for raw in (
        b"/../secret.txt",
        b"/assets/../../secret.txt",
        b"/%2e%2e/secret.txt",
        b"/assets/%2e%2e/%2e%2e/secret.txt",
    ):
        response = await http.request("GET", httpx.URL("http://test", raw_path=raw))
        assert "outside the client" not in response.text, raw


def test_a_directory_without_a_built_client_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"has no index\.html; point it at a built client"):
        create_app(Settings(data_dir=tmp_path / "data", ui_dir=tmp_path))


def test_the_setting_reads_eliza_ui_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert Settings().ui_dir is None
    monkeypatch.setenv("ELIZA_UI_DIR", str(tmp_path))
    assert Settings().ui_dir == tmp_path

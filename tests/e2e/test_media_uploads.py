"""Media uploads on a real server: ElizaOS's routes and answer, the type read from the bytes, the cap
enforced while reading, files served back safely, the per-caller rate, access, and a message that
carries an uploaded file as an attachment to a real socket.io-client.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.conftest import new_id
from tests.e2e.helpers import join
from tests.support import media_samples, tokens
from tests.support.server import ServerProcess

API = "/api/messaging"
SECRET = "an-upload-secret-that-is-long-enough-for-hs256"
SERVER_TOKEN = "server-token-for-upload-tests"


bearer = partial(tokens.bearer, secret=SECRET)


def upload(url: str, path: str, name: str, data: bytes, content_type: str = "application/octet-stream", **kw: Any):
    return httpx.post(f"{url}{path}", files={"file": (name, data, content_type)}, timeout=30, **kw)


def incoming(server: ServerProcess) -> list[Path]:
    folder = server.data_dir / "uploads" / ".incoming"
    return list(folder.iterdir()) if folder.exists() else []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """This module's own server, without the upload rate (one test checks the rate on its own server)."""
    proc = ServerProcess(tmp_path_factory.mktemp("uploads") / "data", env={"ELIZA_UPLOAD_RATE": "0"}).start()
    yield proc
    proc.stop()


@pytest.fixture
def small(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    """A cap of 10 000 bytes, so the bound is cheap to test; no rate limit."""
    return server_factory({"ELIZA_UPLOAD_MAX_BYTES": "10000", "ELIZA_UPLOAD_RATE": "0"})


def test_every_allowed_type_is_stored_and_served_back_as_itself(server: ServerProcess) -> None:
    channel = new_id()
    for name, (data, served_as) in media_samples.ALLOWED.items():
        answer = upload(server.url, f"{API}/channels/{channel}/upload-media", name, data)
        assert answer.status_code == 200, (name, answer.text)
        body = answer.json()
        assert body["success"] is True
        media = body["data"]
        assert set(media) >= {"url", "type", "filename", "originalName", "size"}  # ElizaOS's fields
        assert media["type"] == served_as.split(";")[0], name
        assert media["originalName"] == name and media["size"] == len(data)
        assert media["url"] == f"/media/uploads/channels/{channel}/{media['filename']}"
        served = httpx.get(server.url + media["url"])
        assert served.status_code == 200 and served.content == data
        assert served.headers["content-type"] == served_as
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in served.headers["content-security-policy"]
        expected = "attachment" if name.endswith(".pdf") else "inline"
        assert served.headers["content-disposition"].startswith(expected), name


def test_the_type_comes_from_the_bytes_not_the_name_or_content_type(server: ServerProcess) -> None:
    path = f"{API}/channels/{new_id()}/upload-media"
    for data in (media_samples.ZIP, media_samples.ELF, b"\x00\x01\x02binary\xff\xfe" * 10):
        refused = upload(server.url, path, "cat.png", data, "image/png")
        assert refused.status_code == 415, refused.text
        error = refused.json()["error"]
        assert error["code"] == "UNSUPPORTED_MEDIA_TYPE"
        assert "image/png" in error["allowed"] and "application/pdf" in error["allowed"]
        assert "image/png" in error["message"]  # the list is in the sentence too
    # a page or a drawing with scripts is only ever text: never served as HTML or SVG
    for data, name, claimed in (
        (media_samples.HTML, "page.html", "text/html"),
        (media_samples.SVG, "x.svg", "image/svg+xml"),
    ):
        stored = upload(server.url, path, name, data, claimed).json()["data"]
        assert stored["type"] == "text/plain"
        served = httpx.get(server.url + stored["url"])
        assert served.headers["content-type"] == "text/plain; charset=utf-8"
        assert served.headers["x-content-type-options"] == "nosniff"
    # a real PNG sent as "text/html" is a PNG
    png = upload(server.url, path, "x.html", media_samples.png(), "text/html").json()["data"]
    assert png["type"] == "image/png" and png["filename"].endswith(".png")


def test_text_is_checked_to_its_end_not_only_its_first_bytes(server: ServerProcess) -> None:
    path = f"{API}/channels/{new_id()}/upload-media"
    long_text = ("a line of text\n" * 20_000).encode()  # 300 KB: many reads past the 8 KiB of the signature
    assert upload(server.url, path, "long.txt", long_text).status_code == 200
    spoiled = long_text + b"\xff\xfe not utf-8"
    refused = upload(server.url, path, "spoiled.txt", spoiled)
    assert refused.status_code == 415 and "UTF-8" in refused.json()["error"]["message"]
    nul = upload(server.url, path, "nul.txt", long_text + b"\x00")
    assert nul.status_code == 415
    assert upload(server.url, path, "empty.txt", b"").status_code == 400


def test_the_cap_is_the_limit_exactly_and_refusals_leave_nothing_behind(small: ServerProcess) -> None:
    path = f"{API}/channels/{new_id()}/upload-media"
    at_cap = upload(small.url, path, "cap.txt", b"x" * 10_000)
    assert at_cap.status_code == 200 and at_cap.json()["data"]["size"] == 10_000
    over = upload(small.url, path, "over.txt", b"x" * 10_001)
    assert over.status_code == 413, over.text
    error = over.json()["error"]
    assert error["code"] == "PAYLOAD_TOO_LARGE" and "10000 bytes" in error["message"]
    assert incoming(small) == []
    stored = list((small.data_dir / "uploads" / "channels").rglob("*.txt"))
    assert len(stored) == 1  # only the one at the cap


def test_a_body_streamed_without_a_length_is_cut_at_the_cap(small: ServerProcess) -> None:
    boundary = "b0undary"

    def body() -> Any:
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n\r\n').encode()
        for _ in range(400):  # 400 KiB: 40 times the cap, chunked (no Content-Length)
            yield b"y" * 1024
        yield f"\r\n--{boundary}--\r\n".encode()

    answer = httpx.post(
        f"{small.url}{API}/channels/{new_id()}/upload-media",
        content=body(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        timeout=30,
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert incoming(small) == []


def test_a_declared_length_past_the_cap_is_refused_before_reading(small: ServerProcess) -> None:
    """Only the headers are sent: the answer comes without waiting for a body."""
    with socket.create_connection(("127.0.0.1", small.port), timeout=10) as conn:
        conn.sendall(
            (
                f"POST {API}/channels/{new_id()}/upload-media HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: multipart/form-data; boundary=x\r\n"
                f"Content-Length: {50 * 1024 * 1024}\r\n\r\n"
            ).encode()
        )
        answer = b""
        while b"PAYLOAD_TOO_LARGE" not in answer:  # the headers and the body may come in two reads
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    answer = answer.decode()
    assert answer.startswith("HTTP/1.1 413"), answer
    assert "PAYLOAD_TOO_LARGE" in answer


async def test_a_client_that_goes_away_mid_upload_leaves_nothing(small: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", small.port), timeout=10) as conn:
        conn.sendall(
            (
                f"POST {API}/channels/{new_id()}/upload-media HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 9000\r\n\r\n"
                '--x\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhalf a file'
            ).encode()
        )
        for _ in range(100):  # the server has begun writing it
            if incoming(small):
                break
            await asyncio.sleep(0.02)
        assert incoming(small)
    for _ in range(100):
        if not incoming(small):
            break
        await asyncio.sleep(0.05)
    assert incoming(small) == []
    assert httpx.get(f"{small.url}/healthz").status_code == 200


def test_other_routes_keep_their_own_body_cap(server: ServerProcess) -> None:
    too_big = {"author_id": new_id(), "content": "x" * 1_100_000, "message_server_id": new_id()}
    answer = httpx.post(f"{server.url}{API}/channels/{new_id()}/messages", json=too_big)
    assert answer.status_code == 413


def test_bad_requests_say_what_to_send(server: ServerProcess) -> None:
    path = f"{server.url}{API}/channels/{new_id()}/upload-media"
    no_multipart = httpx.post(path, json={"file": "hello"})
    assert no_multipart.status_code == 400 and "multipart/form-data" in no_multipart.json()["error"]["message"]
    other_field = httpx.post(path, files={"image": ("a.txt", b"hi", "text/plain")})
    assert other_field.status_code == 400 and "'file'" in other_field.json()["error"]["message"]
    two = httpx.post(path, files=[("file", ("a.txt", b"hi", "text/plain")), ("file", ("b.txt", b"ho", "text/plain"))])
    assert two.status_code == 400 and "twice" in two.json()["error"]["message"]
    bad_id = upload(server.url, f"{API}/channels/not-a-uuid/upload-media", "a.txt", b"hi")
    assert bad_id.status_code == 400 and bad_id.json()["error"]["field"] == "channelId"


def test_served_paths_cannot_leave_the_uploads(server: ServerProcess) -> None:
    channel = new_id()
    stored = upload(server.url, f"{API}/channels/{channel}/upload-media", "a.txt", b"hello").json()["data"]
    assert httpx.get(server.url + stored["url"]).status_code == 200
    for path in (
        f"/media/uploads/channels/{channel}/..%2F..%2Fmessaging.sqlite3",
        f"/media/uploads/channels/{channel}/%2e%2e/%2e%2e/messaging.sqlite3",
        "/media/uploads/channels/..%2F..%2F/messaging.sqlite3",
        "/media/uploads/.incoming/x/y.part",
        f"/media/uploads/secrets/{channel}/{stored['filename']}",
        f"/media/uploads/channels/{channel}/{stored['filename']}.html",
        f"/media/uploads/channels/{new_id()}/{stored['filename']}",
    ):
        answer = httpx.get(server.url + path)
        assert answer.status_code == 404, path
        assert b"SQLite" not in answer.content


def test_the_media_prefix_and_agent_routes_answer_in_elizaos_shapes(server: ServerProcess) -> None:
    channel = new_id()
    via_media = upload(
        server.url, f"/api/media/channels/{channel}/upload-media", "a.gif", media_samples.ALLOWED["anim.gif"][0]
    )
    assert via_media.status_code == 200 and via_media.json()["data"]["type"] == "image/gif"
    eliza = next(
        a["id"] for a in httpx.get(f"{server.url}/api/agents").json()["data"]["agents"] if a["name"] == "Eliza"
    )
    for route in ("upload", "upload-media"):
        answer = upload(server.url, f"/api/media/agents/{eliza}/{route}", "face.png", media_samples.png())
        assert answer.status_code == 200, answer.text
        media = answer.json()["data"]
        assert media["type"] == "image" and media["mimeType"] == "image/png"  # ElizaOS: the category here
        assert media["url"].startswith(f"/media/uploads/agents/{eliza}/")
        assert httpx.get(server.url + media["url"]).content == media_samples.png()
    missing = upload(server.url, f"/api/media/agents/{new_id()}/upload", "face.png", media_samples.png())
    assert missing.status_code == 404


def test_uploads_have_their_own_rate_per_caller(server_factory: Callable[..., ServerProcess]) -> None:
    proc = server_factory({"ELIZA_UPLOAD_RATE": "1", "ELIZA_UPLOAD_BURST": "2", "ELIZA_JWT_SECRET": SECRET})
    path = f"{API}/channels/{new_id()}/upload-media"
    alice, bob = bearer(new_id()), bearer(new_id())
    assert [upload(proc.url, path, "a.txt", b"a", headers=alice).status_code for _ in range(2)] == [200, 200]
    refused = upload(proc.url, path, "a.txt", b"a", headers=alice)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "RATE_LIMITED" and refused.json()["error"]["retryAfterMs"] > 0
    assert int(refused.headers["retry-after"]) >= 1
    assert upload(proc.url, path, "b.txt", b"b", headers=bob).status_code == 200  # Bob has his own
    # the messages route is not counted against uploads
    posted = httpx.post(
        f"{proc.url}{path.removesuffix('/upload-media')}/messages",
        headers=alice,
        json={
            "author_id": jwt.decode(alice["Authorization"][7:], SECRET, ["HS256"])["sub"],
            "content": "hi",
            "message_server_id": "00000000-0000-0000-0000-000000000000",
        },
    )
    assert posted.status_code == 201, posted.text


def test_with_isolation_only_those_who_may_post_may_upload(server_factory: Callable[..., ServerProcess]) -> None:
    proc = server_factory(
        {"ENABLE_DATA_ISOLATION": "true", "ELIZA_JWT_SECRET": SECRET, "ELIZA_SERVER_AUTH_TOKEN": SERVER_TOKEN}
    )
    alice, mallory = new_id(), new_id()
    created = httpx.post(
        f"{proc.url}{API}/channels",
        headers=bearer(alice),
        json={"name": "private", "participantCentralUserIds": [alice]},
    )
    assert created.status_code in (200, 201), created.text
    channel = created.json()["data"]["id"]
    path = f"{API}/channels/{channel}/upload-media"
    assert upload(proc.url, path, "a.txt", b"mine", headers=bearer(alice)).status_code == 200
    refused = upload(proc.url, path, "a.txt", b"let me in", headers=bearer(mallory))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"
    anonymous = upload(proc.url, path, "a.txt", b"who am I", headers={"X-API-KEY": "wrong"})
    assert anonymous.status_code == 401
    eliza = next(
        a["id"]
        for a in httpx.get(f"{proc.url}/api/agents", headers={"X-API-KEY": SERVER_TOKEN}).json()["data"]["agents"]
        if a["name"] == "Eliza"
    )
    agent_path = f"/api/media/agents/{eliza}/upload"
    assert upload(proc.url, agent_path, "f.png", media_samples.png(), headers=bearer(alice)).status_code == 403
    as_server = upload(proc.url, agent_path, "f.png", media_samples.png(), headers={"X-API-KEY": SERVER_TOKEN})
    assert as_server.status_code == 200
    assert incoming(proc) == []


async def test_an_uploaded_file_reaches_the_room_as_an_attachment(server: ServerProcess, clients: Any) -> None:
    channel, alice_id, bob_id = new_id(), new_id(), new_id()
    bob = await clients(server.url, auth={"entityId": bob_id})
    await bob.connected()
    assert (await bob.call("message", join(channel, bob_id)))["success"] is True
    stored = upload(server.url, f"{API}/channels/{channel}/upload-media", "photo.png", media_samples.png()).json()
    media = stored["data"]
    attachment = {"id": media["filename"], "url": media["url"], "contentType": media["type"], "title": "photo.png"}
    posted = httpx.post(
        f"{server.url}{API}/channels/{channel}/messages",
        json={
            "author_id": alice_id,
            "content": "look",
            "attachments": [attachment],
            "message_server_id": "00000000-0000-0000-0000-000000000000",
        },
    )
    assert posted.status_code == 201, posted.text
    heard = await bob.event("messageBroadcast", where=lambda m: m["text"] == "look")
    assert heard["attachments"] == [attachment]
    assert httpx.get(server.url + heard["attachments"][0]["url"]).content == media_samples.png()

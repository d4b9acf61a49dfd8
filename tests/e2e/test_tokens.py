"""Signed tokens on a real server: auth.token, ?token= (legacy clients) and Authorization: Bearer.

A token's ``sub`` is the entity; a bad token is refused at the door with its reason; with
ELIZA_REQUIRE_AUTH an unproven ``auth.entityId`` is not enough.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.conftest import new_id
from tests.e2e.helpers import join, send
from tests.e2e.test_legacy_clients import received, run_legacy
from tests.support.server import ServerProcess

SECRET = "an-e2e-secret-that-is-long-enough-for-hs256"
SERVER_TOKEN = "server-token-for-token-tests"


def token(sub: str, **claims: Any) -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time()) + 300, **claims}, SECRET, algorithm="HS256")


def bearer(sub: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub)}"}


async def refused_at_connect(clients: Any, url: str, **options: Any) -> str:
    client = await clients(url, **options)
    report = await client.wait_for(lambda r: r["type"] in ("connect", "connect_error"))
    assert report["type"] == "connect_error", report
    message: str = report["message"]
    return message


@pytest.fixture
def signed(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return server_factory({"ELIZA_JWT_SECRET": SECRET})


async def test_a_socket_token_names_the_entity_and_binds_it(signed: ServerProcess, clients: Any) -> None:
    me, someone, room = new_id(), new_id(), new_id()
    socket = await clients(signed.url, auth={"token": token(me)})
    await socket.connected()
    assert (await socket.event("authenticated"))["entityId"] == me
    forged = await socket.call("message", send(room, someone, "not me"))
    assert forged["code"] == "IDENTITY_MISMATCH" and "token's subject" in forged["error"]
    ack = await socket.call("2", {"channelId": room, "message": "me, by my token", "messageId": new_id()})
    assert ack["success"] is True
    mine = await socket.event("messageBroadcast")
    assert mine["senderId"] == me and mine["text"] == "me, by my token"


async def test_bad_tokens_are_refused_at_the_door_with_the_reason(signed: ServerProcess, clients: Any) -> None:
    me = new_id()
    expired = jwt.encode({"sub": me, "exp": int(time.time()) - 60}, SECRET, algorithm="HS256")
    assert "expired" in await refused_at_connect(clients, signed.url, auth={"token": expired})
    forged = jwt.encode({"sub": me}, "someone-elses-secret-long-enough-for-hs256", algorithm="HS256")
    assert "signature" in await refused_at_connect(clients, signed.url, auth={"token": forged})
    unsigned = jwt.encode({"sub": me}, None, algorithm="none")
    assert "'none' is not accepted" in await refused_at_connect(clients, signed.url, auth={"token": unsigned})
    other = new_id()
    both = {"token": token(me), "entityId": other}
    assert "not your token's subject" in await refused_at_connect(clients, signed.url, auth=both)
    fine = await clients(signed.url, auth={"token": token(me), "entityId": me})
    await fine.connected()


async def test_a_legacy_client_sends_its_token_in_the_query(signed: ServerProcess) -> None:
    me, room = new_id(), new_id()
    lines = await run_legacy(
        {
            "CLIENT": "sio2",
            "SOCKET_URL": signed.url,
            "ROOM_ID": room,
            "ENTITY_ID": me,
            "QUERY": f"?token={token(me)}",
            "MESSAGE_ID": new_id(),
            "EXIT_AFTER_MS": "2000",
        }
    )
    events = dict(received(lines))
    assert events["authenticated"]["entityId"] == me
    assert events["messageBroadcast"]["senderId"] == me
    liar = await run_legacy(
        {
            "CLIENT": "sio2",
            "SOCKET_URL": signed.url,
            "ROOM_ID": room,
            "ENTITY_ID": new_id(),  # sends as someone its token does not name
            "QUERY": f"?token={token(me)}",
            "MESSAGE_ID": new_id(),
            "EXIT_AFTER_MS": "2000",
        }
    )
    assert "messageBroadcast" not in dict(received(liar))
    assert any(line.startswith("[ACK]") and "IDENTITY_MISMATCH" in line for line in liar)


def test_rest_callers_are_who_their_bearer_token_says(signed: ServerProcess) -> None:
    me, room = new_id(), new_id()
    url = f"{signed.url}/api/messaging/channels/{room}/messages"
    forged = httpx.post(url, headers=bearer(me), json={"author_id": new_id(), "content": "as another"})
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "IDENTITY_MISMATCH"
    assert httpx.post(url, headers=bearer(me), json={"author_id": me, "content": "as me"}).status_code == 201
    bad = httpx.get(url, headers={"Authorization": "Bearer not.a.token"})
    assert bad.status_code == 401 and "Token refused" in bad.json()["message"]
    assert httpx.get(url).status_code == 200  # open by default: anonymous callers still read
    victim = new_id()  # made an agent, the victim could no longer speak: only the server token registers agents
    default = "00000000-0000-0000-0000-000000000000"
    agents = f"{signed.url}/api/messaging/message-servers/{default}/agents"
    registered = httpx.post(agents, headers=bearer(me), json={"agentId": victim})
    assert registered.status_code == 403 and "server token" in registered.json()["error"]["message"]
    assert httpx.post(url, json={"author_id": victim, "content": "still a person"}).status_code == 201


async def test_require_auth_refuses_the_unproven(server_factory: Callable[..., ServerProcess], clients: Any) -> None:
    proc = server_factory(
        {"ELIZA_JWT_SECRET": SECRET, "ELIZA_REQUIRE_AUTH": "true", "ELIZA_SERVER_AUTH_TOKEN": SERVER_TOKEN}
    )
    me, room = new_id(), new_id()
    assert "requires a signed token" in await refused_at_connect(clients, proc.url)
    assert "requires a signed token" in await refused_at_connect(clients, proc.url, auth={"entityId": me})
    socket = await clients(proc.url, auth={"token": token(me)})
    await socket.connected()
    assert (await socket.call("message", join(room, me)))["success"] is True
    trusted = await clients(proc.url, auth={"serverToken": SERVER_TOKEN})
    await trusted.connected()
    api = f"{proc.url}/api/messaging/channels/{room}/messages"
    assert httpx.get(api).status_code == 401
    assert httpx.get(api, headers=bearer(me)).status_code == 200
    assert httpx.get(api, headers={"X-API-KEY": SERVER_TOKEN}).status_code == 200
    assert httpx.get(f"{proc.url}/api/server/ping").status_code == 200  # health checks stay open


def test_require_auth_without_any_way_to_prove_identity_does_not_start(tmp_path: Any) -> None:
    proc = ServerProcess(tmp_path / "data", env={"ELIZA_REQUIRE_AUTH": "true"})
    with pytest.raises(RuntimeError, match="ELIZA_REQUIRE_AUTH=true needs"):
        proc.start(timeout=10)


@pytest.fixture
async def jwks_url() -> AsyncIterator[tuple[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": "e2e", "alg": "RS256", "use": "sig"}

    async def handle(_: web.Request) -> web.Response:
        return web.json_response({"keys": [jwk]})

    app = web.Application()
    app.router.add_get("/jwks.json", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/jwks.json", key
    await runner.cleanup()


async def test_an_rs256_token_from_a_jwks_url(
    server_factory: Callable[..., ServerProcess], clients: Any, jwks_url: tuple[str, Any]
) -> None:
    url, key = jwks_url
    proc = server_factory({"ELIZA_JWKS_URL": url, "ELIZA_JWT_ISSUER": "https://id.test"})
    me = new_id()
    good = jwt.encode({"sub": me, "iss": "https://id.test"}, key, algorithm="RS256", headers={"kid": "e2e"})
    socket = await clients(proc.url, auth={"token": good})
    await socket.connected()
    assert (await socket.event("authenticated"))["entityId"] == me
    wrong_issuer = jwt.encode({"sub": me, "iss": "https://evil.test"}, key, algorithm="RS256", headers={"kid": "e2e"})
    assert "iss" in await refused_at_connect(clients, proc.url, auth={"token": wrong_issuer})

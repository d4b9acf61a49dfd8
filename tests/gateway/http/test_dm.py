"""GET /dm-channel: one DM channel per pair of users, found or created, whoever asks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.conftest import new_id
from tests.gateway.http.conftest import App

API = "/api/messaging"


async def dm(app: App, current: str, target: str, **params: str) -> dict[str, object]:
    response = await app.client.get(
        f"{API}/dm-channel", params={"currentUserId": current, "targetUserId": target, **params}
    )
    assert response.status_code == 200, response.text
    channel: dict[str, object] = response.json()["data"]
    return channel


async def test_the_same_pair_gets_the_same_channel_in_either_order(app: App) -> None:
    alice, bob, carol = new_id(), new_id(), new_id()
    first = await dm(app, alice, bob)
    assert first["type"] == "DM"
    assert await dm(app, bob, alice) == first
    assert (await dm(app, alice, carol))["id"] != first["id"]
    participants = (await app.client.get(f"{API}/channels/{first['id']}/participants")).json()["data"]
    assert participants == sorted([alice, bob])


async def test_every_server_instance_names_the_same_channel(app_factory: Callable[..., Awaitable[App]]) -> None:
    alice, bob = new_id(), new_id()
    one, two = await app_factory(), await app_factory()
    assert (await dm(one, alice, bob))["id"] == (await dm(two, bob, alice))["id"]


async def test_an_unknown_dm_server_falls_back_to_the_default(app: App) -> None:
    channel = await dm(app, new_id(), new_id(), dmServerId=new_id())
    assert channel["messageServerId"] == "00000000-0000-0000-0000-000000000000"


async def test_bad_requests(app: App) -> None:
    me = new_id()
    same = await app.client.get(f"{API}/dm-channel", params={"currentUserId": me, "targetUserId": me})
    assert same.status_code == 400 and "needs two different users" in same.json()["error"]["message"]
    missing = await app.client.get(f"{API}/dm-channel", params={"currentUserId": me})
    assert missing.status_code == 400 and missing.json()["error"]["message"] == "query.targetUserId: Field required"
    bad = await app.client.get(f"{API}/dm-channel", params={"currentUserId": me, "targetUserId": "bob"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "targetUserId"

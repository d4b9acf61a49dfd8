"""Data isolation (ENABLE_DATA_ISOLATION=true), on SQLite and PostgreSQL alike, over Socket.IO and REST.

Only a channel's participants may join it, post to it or read it; whoever creates a channel by
using it is its first participant; a DM admits its two parties; anonymous REST callers read
nothing; the server token may do anything. And, even on an open server, GET /sessions and
PATCH /action/:id only show or change what the caller may.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import httpx
import pytest

from tests.conftest import new_id
from tests.e2e.helpers import join, send
from tests.store.conftest import postgres_schema, postgres_url
from tests.support import tokens
from tests.support.server import ServerProcess

SECRET = "an-isolation-secret-that-is-long-enough-hs256"
SERVER_TOKEN = "server-token-for-isolation-tests"
API = "/api/messaging"


bearer = partial(tokens.bearer, secret=SECRET)


def forbidden(response: httpx.Response) -> str:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "FORBIDDEN"
    message: str = error["message"]
    return message


@pytest.fixture(params=["sqlite", "postgres"])
async def isolated(
    request: pytest.FixtureRequest, server_factory: Callable[..., ServerProcess]
) -> AsyncIterator[ServerProcess]:
    env = {"ENABLE_DATA_ISOLATION": "true", "ELIZA_JWT_SECRET": SECRET}
    if request.param == "sqlite":
        yield server_factory(env)
        return
    async with postgres_schema() as schema:
        proc = server_factory({**env, "POSTGRES_URL": postgres_url(schema)})
        yield proc
        proc.stop()  # before the schema is dropped


async def test_only_participants_join_post_and_hear(isolated: ServerProcess, clients: Any) -> None:
    room, alice_id, mallory_id, bob_id = new_id(), new_id(), new_id(), new_id()
    alice = await clients(isolated.url, auth={"entityId": alice_id})
    await alice.connected()
    assert (await alice.call("message", join(room, alice_id)))["success"] is True  # creates it: first participant
    mallory = await clients(isolated.url, auth={"entityId": mallory_id})
    await mallory.connected()
    refused = await mallory.call("message", join(room, mallory_id))
    assert refused["success"] is False and refused["code"] == "FORBIDDEN"
    assert mallory_id in refused["error"] and "participantCentralUserIds" in refused["error"]
    posted = await mallory.call("message", send(room, mallory_id, "let me in"))
    assert posted["code"] == "FORBIDDEN"
    await mallory.emit("typing", {"roomId": room, "userId": mallory_id, "isTyping": True})
    assert (await mallory.event("messageError", where=lambda e: e["code"] == "FORBIDDEN")) is not None
    # a participant adds Bob; now Bob is in, Mallory still out
    added = httpx.patch(
        f"{isolated.url}{API}/channels/{room}",
        headers=bearer(alice_id),
        json={"participantCentralUserIds": [alice_id, bob_id]},
    )
    assert added.status_code == 200, added.text
    bob = await clients(isolated.url, auth={"entityId": bob_id})
    await bob.connected()
    assert (await bob.call("message", join(room, bob_id)))["success"] is True
    assert (await bob.call("message", send(room, bob_id, "hello Alice")))["success"] is True
    heard = await alice.event("messageBroadcast", where=lambda m: m["text"] == "hello Alice")
    assert heard["senderId"] == bob_id
    assert [m["text"] for m in alice.events("messageBroadcast")] == ["hello Alice"]  # never Mallory's
    assert [m["text"] for m in mallory.events("messageBroadcast")] == []
    history = httpx.get(f"{isolated.url}{API}/channels/{room}/messages", headers=bearer(alice_id)).json()
    assert [m["content"] for m in history["data"]["messages"]] == ["hello Alice"]
    # removed again, Bob stops hearing the room (this node's sockets; his next join is refused)
    removed = httpx.patch(
        f"{isolated.url}{API}/channels/{room}", headers=bearer(alice_id), json={"participantCentralUserIds": [alice_id]}
    )
    assert removed.status_code == 200
    await bob.event("channelUpdated")
    assert (await alice.call("message", send(room, alice_id, "Bob has left")))["success"] is True
    assert (await alice.event("messageBroadcast", where=lambda m: m["text"] == "Bob has left"))["senderId"] == alice_id
    await bob.quiet()
    assert "Bob has left" not in [m["text"] for m in bob.events("messageBroadcast")]
    assert (await bob.call("message", join(room, bob_id)))["code"] == "FORBIDDEN"


async def test_rest_reads_are_for_participants_and_anonymous_callers_read_nothing(
    isolated: ServerProcess, clients: Any
) -> None:
    alice_id, mallory_id = new_id(), new_id()
    created = httpx.post(
        f"{isolated.url}{API}/channels", headers=bearer(alice_id), json={"name": "alice's", "type": "GROUP"}
    )
    assert created.status_code == 201, created.text
    room = created.json()["data"]["id"]
    mine = httpx.get(f"{isolated.url}{API}/channels/{room}/participants", headers=bearer(alice_id))
    assert mine.json()["data"] == [alice_id]  # the creator is its first participant
    posted = httpx.post(
        f"{isolated.url}{API}/channels/{room}/messages",
        headers=bearer(alice_id),
        json={"author_id": alice_id, "content": "private"},
    )
    assert posted.status_code == 201
    for path in ("/messages", "/details", "/participants", "/agents"):
        forbidden(httpx.get(f"{isolated.url}{API}/channels/{room}{path}", headers=bearer(mallory_id)))
        forbidden(httpx.get(f"{isolated.url}{API}/channels/{room}{path}"))
    message = forbidden(
        httpx.post(
            f"{isolated.url}{API}/channels/{room}/messages",
            headers=bearer(mallory_id),
            json={"author_id": mallory_id, "content": "intrude"},
        )
    )
    assert mallory_id in message
    forbidden(httpx.delete(f"{isolated.url}{API}/channels/{room}/messages", headers=bearer(mallory_id)))
    forbidden(httpx.post(f"{isolated.url}{API}/channels/{room}/messages", json={"author_id": new_id(), "content": "x"}))
    default = "00000000-0000-0000-0000-000000000000"
    listing = f"{isolated.url}{API}/message-servers/{default}/channels"
    assert room in [c["id"] for c in httpx.get(listing, headers=bearer(alice_id)).json()["data"]["channels"]]
    assert room not in [c["id"] for c in httpx.get(listing, headers=bearer(mallory_id)).json()["data"]["channels"]]
    assert httpx.get(listing).json()["data"]["channels"] == []
    still = httpx.get(f"{isolated.url}{API}/channels/{room}/messages", headers=bearer(alice_id)).json()
    assert [m["content"] for m in still["data"]["messages"]] == ["private"]


async def test_a_dm_admits_its_two_parties(isolated: ServerProcess, clients: Any) -> None:
    alice_id, bob_id, mallory_id = new_id(), new_id(), new_id()
    params = {"currentUserId": alice_id, "targetUserId": bob_id}
    dm = httpx.get(f"{isolated.url}{API}/dm-channel", params=params, headers=bearer(alice_id))
    assert dm.status_code == 200, dm.text
    room = dm.json()["data"]["id"]
    spoofed = httpx.get(
        f"{isolated.url}{API}/dm-channel", params={"currentUserId": bob_id, "targetUserId": mallory_id},
        headers=bearer(alice_id),
    )  # fmt: skip
    assert spoofed.status_code == 403 and spoofed.json()["error"]["code"] == "IDENTITY_MISMATCH"
    bob = await clients(isolated.url, auth={"entityId": bob_id})
    await bob.connected()
    assert (await bob.call("message", join(room, bob_id)))["success"] is True
    mallory = await clients(isolated.url, auth={"entityId": mallory_id})
    await mallory.connected()
    assert (await mallory.call("message", join(room, mallory_id)))["code"] == "FORBIDDEN"
    forbidden(httpx.get(f"{isolated.url}{API}/channels/{room}/messages", headers=bearer(mallory_id)))


async def test_a_send_that_creates_a_channel_makes_its_sender_the_first_participant(
    isolated: ServerProcess, clients: Any
) -> None:
    room, carol_id, dave_id = new_id(), new_id(), new_id()
    carol = await clients(isolated.url)  # the seed dialect: bound to the first entity it uses
    await carol.connected()
    assert (await carol.call("message", send(room, carol_id, "first words")))["success"] is True
    dave = await clients(isolated.url)
    await dave.connected()
    assert (await dave.call("message", send(room, dave_id, "me too")))["code"] == "FORBIDDEN"
    participants = httpx.get(f"{isolated.url}{API}/channels/{room}/participants", headers=bearer(carol_id))
    assert participants.json()["data"] == [carol_id]


async def test_the_server_token_may_do_anything(server_factory: Callable[..., ServerProcess], clients: Any) -> None:
    proc = server_factory(
        {"ENABLE_DATA_ISOLATION": "true", "ELIZA_JWT_SECRET": SECRET, "ELIZA_SERVER_AUTH_TOKEN": SERVER_TOKEN}
    )
    alice_id, room = new_id(), new_id()
    posted = httpx.post(
        f"{proc.url}{API}/channels/{room}/messages",
        headers=bearer(alice_id),
        json={"author_id": alice_id, "content": "mine"},
    )
    assert posted.status_code == 201, posted.text
    key = {"X-API-KEY": SERVER_TOKEN}
    read = httpx.get(f"{proc.url}{API}/channels/{room}/messages", headers=key)
    assert [m["content"] for m in read.json()["data"]["messages"]] == ["mine"]
    operator = await clients(proc.url, auth={"serverToken": SERVER_TOKEN})
    await operator.connected()
    assert (await operator.call("message", join(room, new_id())))["success"] is True
    assert httpx.get(f"{proc.url}{API}/channels/{room}/messages").status_code == 401  # no credentials at all


# Open mode (the default): only the two routes that showed or changed anything to anyone.


@pytest.fixture
def open_server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return server_factory({"ELIZA_JWT_SECRET": SECRET})


def test_sessions_list_only_the_callers_own_even_when_open(open_server: ServerProcess) -> None:
    url = open_server.url
    eliza = next(a["id"] for a in httpx.get(f"{url}/api/agents").json()["data"]["agents"])
    alice_id, bob_id = new_id(), new_id()
    mine = httpx.post(f"{url}{API}/sessions", json={"agentId": eliza, "userId": alice_id}).json()["sessionId"]
    httpx.post(f"{url}{API}/sessions", json={"agentId": eliza, "userId": bob_id})
    assert httpx.get(f"{url}{API}/sessions").json()["sessions"] == []
    listed = httpx.get(f"{url}{API}/sessions", headers=bearer(alice_id)).json()
    assert [s["sessionId"] for s in listed["sessions"]] == [mine] and listed["total"] == 1


async def test_patch_action_changes_only_action_messages_by_their_author(
    open_server: ServerProcess, clients: Any
) -> None:
    url, room, me, agent = open_server.url, new_id(), new_id(), new_id()
    user = await clients(url, auth={"entityId": me})
    await user.connected()
    ack = await user.call("message", send(room, me, "my words"))
    rewrite = httpx.patch(f"{url}{API}/action/{ack['messageId']}", json={"content": "words put in my mouth"})
    assert rewrite.status_code == 404 and "not an action message" in rewrite.json()["error"]["message"]
    history = httpx.get(f"{url}{API}/channels/{room}/messages").json()["data"]["messages"]
    assert [m["content"] for m in history] == ["my words"]
    body = {
        "channel_id": room,
        "message_server_id": "00000000-0000-0000-0000-000000000000",
        "author_id": agent,
        "content": "working...",
        "source_type": "agent_action",
        "raw_message": {},
    }
    action = httpx.post(f"{url}{API}/action", json=body)
    assert action.status_code == 201, action.text
    action_id = action.json()["data"]["id"]
    stranger = httpx.patch(f"{url}{API}/action/{action_id}", headers=bearer(me), json={"content": "hijacked"})
    assert stranger.status_code == 403 and stranger.json()["error"]["code"] == "IDENTITY_MISMATCH"
    author = httpx.patch(f"{url}{API}/action/{action_id}", headers=bearer(agent), json={"content": "done"})
    assert author.status_code == 200 and author.json()["data"]["content"] == "done"

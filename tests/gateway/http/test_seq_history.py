"""Channel offsets over REST (issue 12): every history item and post answer carries ``seq``; history
reads by ``afterSeq``/``beforeSeq`` (exclusive) on the channel routes, the central alias and sessions."""

from __future__ import annotations

import pytest

from tests.conftest import new_id
from tests.gateway.http.conftest import App, FakeAgent
from tests.gateway.http.test_sessions import create

API = "/api/messaging"


async def test_posts_and_history_carry_offsets_and_read_by_them(app: App) -> None:
    channel, author = new_id(), new_id()
    posted = []
    for i in range(5):
        response = await app.client.post(
            f"{API}/channels/{channel}/messages", json={"author_id": author, "content": f"m{i}"}
        )
        posted.append(response.json()["data"])
    assert [p["seq"] for p in posted] == [1, 2, 3, 4, 5]
    for prefix in ("channels", "central-channels"):
        url = f"{API}/{prefix}/{channel}/messages"

        async def seqs(url: str = url, **params: int) -> list[int]:
            response = await app.client.get(url, params=params)
            assert response.status_code == 200, response.text
            return [m["seq"] for m in response.json()["data"]["messages"]]

        assert await seqs() == [5, 4, 3, 2, 1]
        assert await seqs(afterSeq=2) == [5, 4, 3]
        assert await seqs(beforeSeq=3) == [2, 1]
        assert await seqs(afterSeq=1, beforeSeq=4) == [3, 2]
        assert await seqs(afterSeq=1, limit=2) == [5, 4]
        assert await seqs(afterSeq=5) == []


async def test_a_retried_post_answers_with_the_original_offset(app: App) -> None:
    channel, author, client_id = new_id(), new_id(), new_id()
    body = {"author_id": author, "content": "once", "messageId": client_id}
    first = (await app.client.post(f"{API}/channels/{channel}/messages", json=body)).json()
    again = (await app.client.post(f"{API}/channels/{channel}/messages", json=body)).json()
    assert first["data"]["seq"] == again["data"]["seq"] == 1 and again["duplicate"] is True
    nxt = (
        await app.client.post(f"{API}/channels/{channel}/messages", json={"author_id": author, "content": "n"})
    ).json()
    assert nxt["data"]["seq"] == 2


@pytest.mark.parametrize("bad", [{"afterSeq": -1}, {"beforeSeq": 0}, {"afterSeq": "latest"}])
async def test_bad_offsets_are_refused_by_name(app: App, bad: dict[str, object]) -> None:
    response = await app.client.get(f"{API}/channels/{new_id()}/messages", params=bad)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and next(iter(bad)) in (error.get("field") or error["message"])


async def test_session_history_reads_by_offset(app: App, fake_agent: FakeAgent) -> None:
    fake_agent.behaviour = "hang"
    session = await create(app, fake_agent.id)
    url = f"{API}/sessions/{session['sessionId']}/messages"
    for i in range(4):
        await app.client.post(url, json={"content": f"m{i}"})
    page = (await app.client.get(url, params={"afterSeq": 1, "limit": 2})).json()
    assert [m["seq"] for m in page["messages"]] == [4, 3] and page["hasMore"] is True
    assert (page["cursors"]["beforeSeq"], page["cursors"]["afterSeq"]) == (3, 4)
    rest = (await app.client.get(url, params={"afterSeq": 1, "beforeSeq": 3})).json()
    assert [m["seq"] for m in rest["messages"]] == [2] and rest["hasMore"] is False

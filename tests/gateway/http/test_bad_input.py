"""Bad input never becomes a server error: malformed bodies, absurd numbers, NUL, surrogates, deep nesting."""

from __future__ import annotations

import pytest

from tests.conftest import new_id
from tests.gateway.http.conftest import App, FakeAgent

API = "/api/messaging"
JSON = {"content-type": "application/json"}


def deep_json(levels: int) -> bytes:
    return b'{"name": "x", "metadata": ' + b'{"a": ' * levels + b"1" + b"}" * levels + b"}"


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'"a string"', b"", b"\xff\xfe", deep_json(100_000), deep_json(900)],
    ids=["malformed", "array", "string", "empty", "not-utf8", "100k-deep", "900-deep"],
)
async def test_malformed_bodies_get_400(app: App, body: bytes) -> None:
    for path in ("/channels", f"/channels/{new_id()}/messages", "/sessions", "/submit", "/message-servers"):
        response = await app.client.post(API + path, content=body, headers=JSON)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"]["code"] in ("VALIDATION_ERROR", "INVALID_PAYLOAD")
    assert (await app.client.get("/healthz")).status_code == 200


async def test_unpaired_surrogates_are_refused(app: App) -> None:
    channel = new_id()
    text = b'{"author_id": "%s", "content": "bad \\ud800 text"}' % new_id().encode()
    response = await app.client.post(f"{API}/channels/{channel}/messages", content=text, headers=JSON)
    assert response.status_code == 400 and "unpaired surrogate" in response.json()["error"]["message"]
    meta = b'{"name": "x", "metadata": {"k": "\\udc00"}}'
    response = await app.client.post(f"{API}/channels", content=meta, headers=JSON)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "body: metadata.k contains an unpaired surrogate, which is not valid Unicode; send UTF-8 text"
    )


async def test_session_content_with_surrogates_or_huge_numbers(app: App, fake_agent: FakeAgent) -> None:
    created = await app.client.post(
        f"{API}/sessions",
        json={"agentId": fake_agent.id, "userId": new_id(), "timeoutConfig": {"timeoutMinutes": 10**30}},
    )
    assert created.status_code == 201 and created.json()["timeoutConfig"]["timeoutMinutes"] == 1440
    url = f"{API}/sessions/{created.json()['sessionId']}/messages"
    response = await app.client.post(url, content=b'{"content": "\\ud83d"}', headers=JSON)
    assert response.status_code == 400 and "unpaired surrogate" in response.json()["error"]["message"]
    huge = await app.client.post(url, json={"content": "x", "metadata": {"n": 10**30}})
    assert huge.status_code == 400


async def test_absurd_query_numbers(app: App) -> None:
    for params in ({"limit": "1e20"}, {"limit": "9" * 5000}, {"before": "NaN"}, {"after": "1" * 400}):
        response = await app.client.get(f"{API}/channels/{new_id()}/messages", params=params)
        assert response.status_code == 400, params

"""GET /api/messaging/search and /channels/:id/search, in the real app (lifespan included), on SQLite and
PostgreSQL: keyword search, the modes with and without an embedder (an OpenAI-compatible one served by
tests.support.fake_openai, and the offline model of the [semantic] extra), data isolation, bad input."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from eliza_messaging.messaging.service import MessagingService
from eliza_messaging.records import Message
from tests.conftest import new_id
from tests.gateway.http.conftest import App, running
from tests.store.conftest import WITH_PGVECTOR
from tests.support import tokens
from tests.support.fake_openai import FakeOpenAI

API = "/api/messaging"
SECRET = "a-search-secret-that-is-long-enough-for-hs256"
DAY_MS = 86_400_000

pytestmark = pytest.mark.timeout(180)


# the semantic tests also on a PostgreSQL with pgvector (the machine's has not: there they use real[])
with_pgvector = pytest.mark.parametrize("store_settings", WITH_PGVECTOR, indirect=True)


async def post(app: App, channel: str, text: str, author: str | None = None, **headers: str) -> dict[str, Any]:
    answer = await app.client.post(
        f"{API}/channels/{channel}/messages", json={"author_id": author or new_id(), "content": text}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json()["data"])


async def search(app: App, path: str = "/search", status: int = 200, **params: Any) -> dict[str, Any]:
    answer = await app.client.get(f"{API}{path}", params=params, headers=params.pop("headers", None))
    assert answer.status_code == status, answer.text
    return dict(answer.json()["data"] if status == 200 else answer.json()["error"])


def texts(found: dict[str, Any]) -> list[str]:
    return [r["message"]["content"] for r in found["results"]]


async def indexed(service: MessagingService) -> None:
    assert service.indexer is not None and service.indexer.ready, service.indexer and service.indexer.unavailable
    await service.indexer.idle()


async def test_keyword_search_everywhere_and_in_one_channel(
    app_factory: Callable[..., Awaitable[App]], store_settings: dict[str, Any]
) -> None:
    app = await app_factory(**store_settings)
    a, b, ann = new_id(), new_id(), new_id()
    first = await post(app, a, "The release notes are in the wiki", ann)
    await post(app, a, "Release party on Friday!")
    await post(app, b, "Where are the release notes?")
    await post(app, b, "Nothing relevant here")
    found = await search(app, q="release notes")
    assert found["mode"] == "keyword" and "notice" not in found
    assert set(texts(found)) == {"The release notes are in the wiki", "Where are the release notes?"}
    hit = next(r for r in found["results"] if r["message"]["id"] == first["id"])
    # the history item shape, with the offset, a score and a snippet with the matched words marked
    history = (await app.client.get(f"{API}/channels/{a}/messages")).json()["data"]["messages"]
    assert hit["message"] == next(m for m in history if m["id"] == first["id"])
    assert hit["message"]["seq"] == 1 and hit["score"] > 0
    assert "**release**" in hit["snippet"].lower() and "**notes**" in hit["snippet"].lower()
    assert texts(await search(app, q='"notes are"')) == ["The release notes are in the wiki"]
    assert len(texts(await search(app, q="relea*"))) == 3
    assert set(texts(await search(app, f"/channels/{a}/search", q="release"))) == {
        "The release notes are in the wiki",
        "Release party on Friday!",
    }
    assert texts(await search(app, q="release", channelId=b, authorId=new_id())) == []
    assert texts(await search(app, q="release", authorId=ann)) == ["The release notes are in the wiki"]
    assert texts(await search(app, q="release", before="1970-01-02T00:00:00Z")) == []
    assert len(texts(await search(app, q="release", after="2000-01-01T00:00:00Z", limit=2))) == 2
    # a deleted message leaves the index at once
    deleted = await app.client.delete(f"{API}/channels/{a}/messages/{first['id']}")
    assert deleted.status_code in (200, 204), deleted.text
    assert texts(await search(app, q="wiki")) == []


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        ({}, "q", "q is empty"),
        ({"q": "   "}, "q", "q is empty"),
        ({"q": '"release notes'}, "q", "unbalanced double quote"),
        ({"q": '"release notes"*'}, "q", "prefix applies to one word"),
        ({"q": "*** !!! ???"}, "q", "no letters or digits"),
        ({"q": "x" * 501}, "q", "at most 500"),
        ({"q": " ".join(["w"] * 33)}, "q", "at most 32"),
        ({"q": "ok", "limit": 0}, None, "limit"),
        ({"q": "ok", "limit": 101}, None, "limit"),
        ({"q": "ok", "limit": "ten"}, None, "limit"),
        ({"q": "ok", "mode": "fuzzy"}, None, "mode"),
        ({"q": "ok", "channelId": "general"}, "channelId", "UUID"),
        ({"q": "ok", "authorId": "me"}, "authorId", "UUID"),
        ({"q": "ok", "before": "last week"}, "before", "ISO 8601"),
    ],
)
async def test_bad_queries_are_told_what_is_wrong(
    app: App, params: dict[str, Any], field: str | None, says: str
) -> None:
    error = await search(app, status=400, **params)
    assert says in error["message"], error
    if field is not None:
        assert error["field"] == field


async def test_queries_that_are_syntax_in_fts5_or_tsquery_are_only_words(
    app_factory: Callable[..., Awaitable[App]], store_settings: dict[str, Any]
) -> None:
    app = await app_factory(**store_settings)
    channel = new_id()
    await post(app, channel, "NEAR the AND gate, OR not: col:umn 'quoted' \\back")
    for q in ["NEAR(the gate)", "AND", "OR not", "col:umn", "'quoted'", "\\back", "the & | ! :*", "a-b c+d", "^x"]:
        found = await search(app, q=q, channelId=channel)
        assert found["mode"] == "keyword", q
    assert len(texts(await search(app, q="OR not", channelId=channel))) == 1
    assert len(texts(await search(app, q="col:umn", channelId=channel))) == 1


async def test_without_an_embedder_semantic_is_refused_and_hybrid_says_it_used_keywords(app: App) -> None:
    channel = new_id()
    await post(app, channel, "plain words")
    error = await search(app, status=400, q="plain", mode="semantic")
    assert error["code"] == "SEMANTIC_SEARCH_OFF" and "ELIZA_EMBEDDINGS" in error["message"]
    found = await search(app, q="plain", mode="hybrid")
    assert found["mode"] == "keyword" and texts(found) == ["plain words"]
    assert "ELIZA_EMBEDDINGS" in found["notice"] and "keyword" in found["notice"]


bearer = partial(tokens.bearer, secret=SECRET)


async def test_isolation_a_caller_finds_only_what_it_may_read(
    app_factory: Callable[..., Awaitable[App]], store_settings: dict[str, Any]
) -> None:
    app = await app_factory(data_isolation=True, jwt_secret=SECRET, **store_settings)
    alice, mallory = new_id(), new_id()
    hers, his = new_id(), new_id()
    await post(app, hers, "secret plans of alice", alice, **bearer(alice))
    await post(app, his, "secret plans of mallory", mallory, **bearer(mallory))
    assert texts(await search(app, q="secret", headers=bearer(alice))) == ["secret plans of alice"]
    assert texts(await search(app, q="secret", headers=bearer(mallory))) == ["secret plans of mallory"]
    refused = await search(app, f"/channels/{hers}/search", status=403, q="secret", headers=bearer(mallory))
    assert refused["code"] == "FORBIDDEN"
    assert (await search(app, status=403, q="secret", channelId=hers, headers=bearer(mallory)))["code"] == "FORBIDDEN"
    anonymous = await search(app, status=403, q="secret")
    assert "have not said who you are" in anonymous["message"]


@with_pgvector
async def test_an_openai_compatible_embedder_gives_semantic_and_hybrid_search(
    app_factory: Callable[..., Awaitable[App]], store_settings: dict[str, Any]
) -> None:
    with FakeOpenAI(api_key="sk-embed") as fake:
        app = await app_factory(
            embeddings_url=fake.base_url,
            embeddings_model="fake-embedding",
            embeddings_api_key="sk-embed",
            **store_settings,
        )
        channel = new_id()
        await post(app, channel, "apples and pears in the basket")
        await post(app, channel, "the train leaves from platform nine")
        await indexed(app.messaging)
        asked = [r for r in fake.requests if r.path.endswith("/embeddings")]
        assert asked and all(r.model == "fake-embedding" for r in asked)
        assert all(r.headers["authorization"] == "Bearer sk-embed" for r in asked)
        found = await search(app, q="pears basket", mode="semantic")  # the fake's vectors: shared words
        assert found["mode"] == "semantic" and texts(found)[0] == "apples and pears in the basket"
        assert found["results"][0]["score"] > found["results"][1]["score"]
        found = await search(app, q="train platform")  # the default mode with an embedder
        assert found["mode"] == "hybrid" and texts(found)[0] == "the train leaves from platform nine"
        # an edited message is embedded again (PATCH /action/:id edits in place)
        action = await app.client.post(
            f"{API}/action",
            json={
                "channel_id": channel,
                "message_server_id": "00000000-0000-0000-0000-000000000000",
                "author_id": new_id(),
                "content": "looking for the umbrella",
                "source_type": "agent_action",
                "raw_message": {},
            },
        )
        assert action.status_code == 201, action.text
        action_id = action.json()["data"]["id"]
        await indexed(app.messaging)
        assert texts(await search(app, q="umbrella", mode="semantic"))[0] == "looking for the umbrella"
        patched = await app.client.patch(f"{API}/action/{action_id}", json={"content": "pears pears pears everywhere"})
        assert patched.status_code == 200, patched.text
        await indexed(app.messaging)
        top = (await search(app, q="pears", mode="semantic"))["results"][0]
        assert top["message"]["id"] == action_id and top["message"]["content"] == "pears pears pears everywhere"
        assert (await search(app, q="umbrella", mode="semantic"))["results"][0]["message"]["id"] != action_id
        # the embedder failing: semantic says so, hybrid answers by keyword and says why
        fake.configure(mode="error")
        assert (await search(app, status=503, q="pears", mode="semantic"))["code"] == "SEARCH_UNAVAILABLE"
        found = await search(app, q="pears")
        assert found["mode"] == "keyword" and "embedder" in found["notice"]


@with_pgvector
async def test_the_offline_model_finds_last_weeks_message_by_a_word_and_by_a_paraphrase(
    tmp_path: Path, store_settings: dict[str, Any]
) -> None:
    """Messages stored a week ago, before any embedder was configured: the backfill embeds them."""
    channel, me = new_id(), new_id()
    week_ago = int(time.time() * 1000) - 7 * DAY_MS
    said = [
        "Our flight to Tokyo leaves at 6am on Monday",
        "The quarterly budget meeting moved to Friday afternoon",
        "My cat knocked the plant off the windowsill",
        "Lunch today is pizza in the kitchen",
    ]
    async with running(tmp_path / "data", **store_settings) as before:
        await post(before, channel, "hello", me)
        for i, text in enumerate(said):
            stored = await before.messaging.store.append_message(
                Message(
                    id=new_id(),
                    channel_id=channel,
                    author_id=me,
                    author_name="Me",
                    content=text,
                    source_type="test",
                    created_at=week_ago + i,
                    updated_at=week_ago + i,
                )
            )
            assert stored.created
    async with running(tmp_path / "data", embeddings="local", **store_settings) as app:
        await indexed(app.messaging)
        by_word = await search(app, q="windowsill", before=str(week_ago + DAY_MS), mode="keyword")
        assert texts(by_word) == ["My cat knocked the plant off the windowsill"]
        # hybrid ranks it first too; the nearest of the rest by meaning follow (semantic ranks, never filters)
        assert texts(await search(app, q="windowsill"))[0] == "My cat knocked the plant off the windowsill"
        for question, answer in [
            ("what time does the plane to Japan depart?", said[0]),
            ("when is the finance review happening?", said[1]),
            ("is the pet causing trouble at home?", said[2]),
        ]:
            found = await search(app, q=question, mode="semantic")
            assert found["mode"] == "semantic" and texts(found)[0] == answer, (question, texts(found))
            hybrid = await search(app, f"/channels/{channel}/search", q=question)
            assert hybrid["mode"] == "hybrid" and texts(hybrid)[0] == answer, (question, texts(hybrid))

"""The server as the ElizaOS web client asks about it: version, recent logs, the local environment."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

import pytest

from eliza_messaging import __version__
from eliza_messaging.app import create_app
from eliza_messaging.config import Settings
from eliza_messaging.gateway.logstream import LogFilters, LogStream, parse_filters
from eliza_messaging.messaging.errors import InvalidPayload
from tests.gateway.http.conftest import App
from tests.support.recording import RecordingFanout


async def test_the_version_is_unwrapped_as_elizaos_answers_and_needs_no_key(
    app_factory: Callable[..., Awaitable[App]],
) -> None:
    app = await app_factory(server_auth_token="s3cret-token", environment="staging")
    response = await app.client.get("/api/system/version")  # the client fetches it without its key
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"version", "source", "timestamp", "environment", "uptime"}
    assert (body["version"], body["source"], body["environment"]) == (__version__, "eliza-messaging", "staging")
    assert datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")) and body["uptime"] >= 0
    assert (await app.client.get("/api/system/env/local")).status_code == 401  # everything else keeps its key


async def test_the_environment_is_empty_unless_an_operator_names_what_to_show(
    app_factory: Callable[..., Awaitable[App]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("DEPLOY_REGION", "eu-west")
    plain = await app_factory()
    assert (await plain.client.get("/api/system/env/local")).json() == {"success": True, "data": {}}
    shown = await app_factory(public_env=["DEPLOY_REGION", "UNSET_NAME"])
    assert (await shown.client.get("/api/system/env/local")).json()["data"] == {"DEPLOY_REGION": "eu-west"}


def test_a_credential_named_for_showing_is_refused_at_start(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("ELIZA_PUBLIC_ENV", "DEPLOY_REGION, OPENAI_API_KEY,POSTGRES_URL")
    settings = Settings(data_dir=tmp_path, ui_enable=False)  # type: ignore[arg-type]
    assert settings.public_env == ["DEPLOY_REGION", "OPENAI_API_KEY", "POSTGRES_URL"]
    with pytest.raises(ValueError, match="OPENAI_API_KEY, POSTGRES_URL, which look like credentials"):
        create_app(settings)


async def test_server_logs_are_the_log_streams_entries_filtered_newest_first(app: App) -> None:
    log = logging.getLogger("eliza_messaging.test_system")
    log.setLevel(logging.INFO)
    log.info("first sentence", extra={"agent": "Eliza"})
    log.warning("second sentence")
    log.error("third sentence", extra={"agent": "Ada"})
    everything = (await app.client.get("/api/server/logs", params={"level": ""})).json()
    assert everything["requestedLevel"] == "all" and everything["levels"][0] == "all"
    mine = [e["msg"] for e in everything["logs"] if e["logger"] == "eliza_messaging.test_system"]
    assert mine == ["third sentence", "second sentence", "first sentence"]
    assert everything["count"] == len(everything["logs"]) <= everything["total"]
    warned = (await app.client.get("/api/server/logs", params={"level": "warn"})).json()
    assert all(e["level"] >= 40 for e in warned["logs"]) and "third sentence" in [e["msg"] for e in warned["logs"]]
    eliza = (await app.client.get("/api/server/logs", params={"agentName": "Eliza"})).json()
    assert {e.get("agentName") for e in eliza["logs"]} == {"Eliza"} and eliza["agentName"] == "Eliza"
    limited = (await app.client.get("/api/server/logs", params={"limit": 1})).json()
    assert [e["msg"] for e in limited["logs"]] == ["third sentence"]
    refused = await app.client.get("/api/server/logs", params={"level": "loud"})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "level"


def test_the_log_ring_keeps_only_the_newest_entries() -> None:
    stream = LogStream(RecordingFanout(), keep=3)  # type: ignore[arg-type]
    logger = logging.getLogger("eliza_messaging.test_ring")
    logger.setLevel(logging.INFO)
    loop = asyncio.new_event_loop()
    try:
        stream.attach(loop, logger)
        for i in range(5):
            logger.info("entry %d", i)
        entries, total = stream.recent()
        assert [e["msg"] for e in entries] == ["entry 4", "entry 3", "entry 2"] and total == 3
    finally:
        stream.detach(logger)
        loop.close()


def test_the_clients_all_level_is_accepted_by_the_stream_filters() -> None:
    assert parse_filters({"level": "all"}, LogFilters()).level == "all"
    assert parse_filters({"level": ""}, LogFilters()).level == "all"
    with pytest.raises(InvalidPayload, match="level must be all or one of"):
        parse_filters({"level": "loud"}, LogFilters())

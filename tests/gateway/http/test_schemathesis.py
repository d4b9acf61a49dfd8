"""Schemathesis against a real server: no input it derives from /openapi.json gets a 5xx or an
answer the document does not allow (status, content type, headers, body schema).

Bounded to stay well under 90 s on two cores: a fixed number of examples per operation, no
shrinking, a replies wait of 1 s (a registered agent that never answers costs 1 s, not 90).
Some generated ids are replaced by ones that exist (the agent Eliza, a live session, a
channel), so the success paths are checked against the document too, not only the 404s.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import new_id
from tests.support.server import ServerProcess

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 25


class Live:
    """Ids that exist on the server under test."""

    def __init__(self, url: str) -> None:
        agents = httpx.get(f"{url}/api/agents").json()["data"]["agents"]
        self.agent = next(a["id"] for a in agents if a["name"] == "Eliza")
        self.user = new_id()
        self.channel = httpx.post(f"{url}/api/messaging/channels", json={"name": "fuzzed"}).json()["data"]["id"]
        self.sessions = [self.new_session(url) for _ in range(3)]

    def new_session(self, url: str) -> str:
        created = httpx.post(f"{url}/api/messaging/sessions", json={"agentId": self.agent, "userId": self.user})
        session_id: str = created.json()["sessionId"]
        return session_id


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"ELIZA_REPLY_WAIT_TIMEOUT": "1"}
    proc = ServerProcess(tmp_path_factory.mktemp("schemathesis") / "data", env=env, log_level="info").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def live(live_server: ServerProcess) -> Live:
    return Live(live_server.url)


@pytest.fixture(scope="module")
def api_schema(live_server: ServerProcess) -> Any:
    return schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")


def _use_live_ids(case: Any, live: Live) -> None:
    """Half of the generated ids (by their first hex digit) become ids that exist."""
    params = case.path_parameters or {}
    for name, pick in (("session_id", live.sessions), ("channel_id", [live.channel])):
        value = params.get(name)
        if isinstance(value, str) and value[:1] in "01234567":
            params[name] = pick[int(value[:1], 16) % len(pick)]
    body = case.body
    creates_session = case.path == "/api/messaging/sessions" and case.method == "POST" and isinstance(body, dict)
    if creates_session and isinstance(body.get("agentId"), str) and body["agentId"][:1] in "01234567":
        body["agentId"] = live.agent


def _explore(operation: Any, mode: GenerationMode, live: Live) -> str | None:
    """Run the examples of one operation in one mode; the first failure found, described, or None."""

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        _use_live_ids(case, live)
        case.call_and_validate(checks=CHECKS, timeout=30)

    try:
        run()
    except Unsatisfiable:
        return None  # nothing to negate: every value of a plain string parameter is valid
    except Exception as exc:
        return f"{operation.label} [{mode.value}]: {exc}"
    return None


def test_no_input_breaks_the_server_or_its_document(api_schema: Any, live: Live) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 35
    failures = [
        failure
        for operation in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if (failure := _explore(operation, mode, live)) is not None
    ]
    assert not failures, "\n\n".join(failures)

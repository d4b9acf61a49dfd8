"""Generated hostile input on every socket event and REST route: each gets success or a clear error,
and another client keeps being served throughout.

Hypothesis builds the payloads: valid commands with one field replaced (wrong types, almost-UUIDs,
unicode edge cases, huge and deep values, binary attachments), and whole payloads of arbitrary JSON.
A second client in another room does a round trip after every example (the positive control: a
server that hung, crashed or dropped the room would fail it). Bounded in examples, no shrinking
deadline, so the file stays well under a minute.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tests.conftest import new_id
from tests.e2e.helpers import join, send
from tests.support.node import NodeClient
from tests.support.server import ServerProcess

SOCKET_EXAMPLES = 120
REST_EXAMPLES = 120
FUZZ_SETTINGS = settings(
    max_examples=SOCKET_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failing case is printed as generated
)
EDGE_ROOM, EDGE_SENDER = new_id(), new_id()

EDGE_STRINGS = [
    "",
    " ",
    "\u0000",
    "a\u0000b",
    "\ufeff",
    "\u202eevil",
    "\U0001f600" * 50,
    "e\u0301",
    "\ud800",  # a lone surrogate: valid JSON escape, not valid UTF-8
    "\\",
    '"',
    "x" * 100_001,
    "null",
    "00000000-0000-0000-0000-000000000000",
]


def almost_uuids() -> st.SearchStrategy[str]:
    """Strings one step away from a UUID: case, braces, a digit too many or few, a letter out of range."""
    base = st.uuids().map(str)
    return st.one_of(
        base.map(str.upper),
        base.map(lambda u: "{" + u + "}"),
        base.map(lambda u: u[:-1]),
        base.map(lambda u: u + "0"),
        base.map(lambda u: "g" + u[1:]),
        base.map(lambda u: u.replace("-", "")),
        base.map(lambda u: f" {u} "),
        base.map(lambda u: u[:8] + "_" + u[9:]),
    )


def deep(levels: int) -> dict[str, int]:
    """A value nested ``levels`` deep, built by the JavaScript driver (tests/js/driver.js)."""
    return {"$deep": levels}


def binary() -> st.SearchStrategy[dict[str, str]]:
    return st.binary(min_size=0, max_size=64).map(lambda b: {"$binary": base64.b64encode(b).decode()})


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(EDGE_STRINGS),
    almost_uuids(),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
field_values = st.one_of(
    json_values,
    binary(),
    st.integers(min_value=50, max_value=3000).map(deep),
    st.just({"k": "v" * 200_000}),
    st.lists(st.just("x" * 1000), min_size=500, max_size=600),
)


@st.composite
def socket_cases(draw: st.DrawFn) -> tuple[str, Any]:
    """(event, data): a valid command with one field replaced, or arbitrary data on a known event."""
    room, me = new_id(), new_id()
    valid: list[tuple[str, dict[str, Any]]] = [
        ("message", send(room, me, "hello")),
        ("message", join(room, me)),
        ("2", send(room, me, "hello")["payload"]),
        ("1", join(room, me)["payload"]),
        ("typing", {"channelId": room, "userId": me, "isTyping": True}),
        ("update_log_filters", {"level": "info", "agentName": "Eliza"}),
    ]
    if draw(st.booleans()):
        event, data = draw(st.sampled_from(valid))
        target = data["payload"] if event == "message" and isinstance(data.get("payload"), dict) else data
        fields = [*target.keys(), "extra", "senderId", "channelId", "metadata", "attachments", "messageId"]
        target[draw(st.sampled_from(fields))] = draw(field_values)
        if event == "message" and draw(st.booleans()):
            data["type"] = draw(json_scalars)
        return event, data
    events = ["message", "1", "2", "typing", "subscribe_logs", "unsubscribe_logs", "update_log_filters"]
    event = draw(st.one_of(st.sampled_from(events), st.text(min_size=1, max_size=20)))
    return event, draw(field_values)


def assert_clear_answer(ack: Any, case: Any) -> None:
    """Success, or an error with a sentence (and, for our own events, the field it is about)."""
    assert isinstance(ack, dict), f"{case!r:.300}: the ack is not an object: {ack!r:.300}"
    if ack.get("success") is True:
        return
    assert ack.get("success") is False, f"{case!r:.300}: ack without success: {ack!r:.300}"
    error = ack.get("error")
    assert isinstance(error, str) and len(error) > 10, f"{case!r:.300}: no clear error: {ack!r:.300}"


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    # The rate limit stays on (its refusals are clear errors too) but roomy enough for the examples.
    env = {"ELIZA_SOCKET_RATE": "1000", "ELIZA_SOCKET_BURST": "1000", "ELIZA_REPLY_WAIT_TIMEOUT": "1"}
    proc = ServerProcess(tmp_path_factory.mktemp("fuzz") / "data", env=env).start()
    yield proc
    proc.stop()


class Control:
    """The other client: a round trip in its own room must succeed after every example."""

    def __init__(self, client: NodeClient) -> None:
        self.client = client
        self.room = new_id()
        self.me = new_id()
        self.count = 0

    async def round_trip(self) -> None:
        self.count += 1
        text = f"control {self.count}"
        ack = await self.client.call("message", send(self.room, self.me, text))
        assert ack["success"] is True, ack
        heard = await self.client.event("messageBroadcast", where=lambda m: m["text"] == text)
        assert heard["channelId"] == self.room


@FUZZ_SETTINGS
@given(case=socket_cases())
@example(case=("message", send(EDGE_ROOM, EDGE_SENDER, "\ud800")))  # not valid UTF-8 once decoded
@example(case=("message", send(EDGE_ROOM, EDGE_SENDER, "hi", metadata=deep(3000))))  # deeper than the decoder goes
@example(case=("message", deep(3000)))
@example(case=("message", send(EDGE_ROOM, EDGE_SENDER, "hi", attachments=[{"$binary": "AAEC"}])))
async def test_every_socket_event_answers_generated_payloads_clearly(
    fuzz_server: ServerProcess, clients: Any, case: tuple[str, Any]
) -> None:
    state = _SOCKETS.setdefault(fuzz_server.url, {})
    if "fuzzer" not in state:
        state["fuzzer"] = await _connected(await clients(fuzz_server.url))
        control = Control(await _connected(await clients(fuzz_server.url)))
        await control.client.call("message", join(control.room, control.me))
        state["control"] = control
    fuzzer: NodeClient = state["fuzzer"]
    event, data = case
    ack = await fuzzer.call(event, data, timeout=10)
    assert_clear_answer(ack, case)
    disconnected = [r for r in fuzzer.seen if r["type"] == "disconnect"]
    assert not disconnected, f"{case!r:.300}: the server dropped the fuzzing socket: {disconnected}"
    await state["control"].round_trip()


_SOCKETS: dict[str, dict[str, Any]] = {}


async def _connected(client: NodeClient) -> NodeClient:
    await client.connected()
    return client


@pytest.fixture(autouse=True)
def _fresh_sockets() -> Iterator[None]:
    """The clients fixture closes its sockets after each test: forget them with it."""
    yield
    _SOCKETS.clear()


# REST --------------------------------------------------------------------------------------------


def _routes(url: str) -> list[tuple[str, str]]:
    """(method, path template) of every operation the server documents."""
    document = httpx.get(f"{url}/openapi.json").json()
    return [
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    ]


@st.composite
def rest_cases(draw: st.DrawFn, routes: list[tuple[str, str]]) -> tuple[str, str, Any, dict[str, str]]:
    method, template = draw(st.sampled_from(routes))
    path = template
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        value = draw(st.one_of(st.uuids().map(str), almost_uuids(), st.text(min_size=1, max_size=20)))
        path = path[:start] + quote(value, safe="") + path[end + 1 :]
    query = draw(
        st.dictionaries(
            st.sampled_from(["limit", "before", "after", "offset", "channelId", "userId", "transport"]),
            st.one_of(st.text(max_size=20), st.integers().map(str), almost_uuids()),
            max_size=3,
        )
    )
    body = draw(st.one_of(json_values, field_values, st.dictionaries(st.text(max_size=10), field_values, max_size=4)))
    return method, path, body, query


def test_every_rest_route_answers_generated_bodies_clearly(fuzz_server: ServerProcess) -> None:
    url = fuzz_server.url
    routes = _routes(url)
    assert len(routes) > 20, routes  # the document lists the whole API (a broken openapi.json fails here)
    seen: set[tuple[str, str]] = set()

    @settings(FUZZ_SETTINGS, max_examples=REST_EXAMPLES)
    @given(case=rest_cases(routes))
    def check(case: tuple[str, str, Any, dict[str, str]]) -> None:
        method, path, body, query = case
        with httpx.Client(base_url=url, timeout=15) as http:
            if isinstance(body, dict) and set(body) == {"$deep"}:  # raw JSON deeper than any encoder here goes
                levels = body["$deep"]
                raw = '{"d":' * levels + "1" + "}" * levels
                headers = {"content-type": "application/json"}
                answer = http.request(method, path, content=raw, params=query, headers=headers)
            else:
                answer = http.request(method, path, json=body, params=query)
            case_text = f"{method} {path} {query} {body!r:.300}"
            assert answer.status_code < 500, f"{case_text}: {answer.status_code} {answer.text:.300}"
            if answer.status_code >= 400:
                problem = answer.json()
                text = str(problem.get("error") or problem.get("detail") or problem.get("message") or "")
                assert len(text) > 10, f"{method} {path}: no clear error: {answer.text:.300}"
            seen.add((method, path.split("/")[3] if path.count("/") > 2 else path))
            # the control: a plain read still works after every example
            assert http.get("/api/messaging/message-servers").status_code == 200

    check()
    assert len(seen) > 5, seen

"""``eliza-messaging doctor`` against our server, and against servers that get one thing wrong each."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from eliza_messaging.cli import cli
from tests.support.faulty_server import Faults, FaultyServer
from tests.support.server import ServerProcess

CHECKS = [
    "reachable",
    "polling transport",
    "websocket transport",
    "CORS",
    "connection_established",
    "join confirmed",
    "broadcast to the room",
    "ack",
]


def doctor(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["doctor", *args])
    return result.exit_code, result.output


def marks(output: str) -> dict[str, str]:
    """Check name -> its mark (✓, ✗ or -)."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"^([✓✗-]) (.+?)\s{2,}", line)
        if match:
            found[match.group(2).strip()] = match.group(1)
    return found


@pytest.mark.parametrize("dialect", ["eliza17", "seed"])
def test_every_check_passes_against_our_server_and_eliza_answers(server: ServerProcess, dialect: str) -> None:
    code, output = doctor(server.url, "--dialect", dialect, "--agent", "Eliza", "--timeout", "3")
    assert marks(output) == {name: "✓" for name in [*CHECKS, "agent Eliza answers"]}, output
    assert code == 0 and "All 9 checks passed." in output
    assert re.search(r"Eliza answered in [\d.]+s \(\d+ streamed chunks\)", output), output


FAULTS = [
    (
        Faults(wrong_event=True),
        "broadcast to the room",
        "came back as 'message', not 'messageBroadcast'",
        "listen for 'messageBroadcast'",
    ),
    (Faults(wrong_room=True), "broadcast to the room", "messageBroadcast names roomId", "unchanged"),
    (Faults(no_established=True), "connection_established", "no connection_established within", "emit"),
    (Faults(no_ack=True), "ack", "the ack callback came back empty", "messageAck"),
    (Faults(no_join_confirm=True), "join confirmed", "no channel_joined, room_joined or ack", "socket.join"),
    (Faults(cors_origins=[]), "CORS", "no Access-Control-Allow-Origin header", "CORS_ORIGIN=chrome-extension://"),
    (Faults(cors_origins=["http://elsewhere.example"]), "CORS", "was refused: HTTP 400", "host_permissions"),
    (Faults(polling_only=True), "websocket transport", "WebSocket", "transports: ['polling']"),
]


@pytest.mark.parametrize(("faults", "check", "seen", "fix"), FAULTS, ids=[f[2][:30] for f in FAULTS])
def test_each_fault_fails_exactly_its_check_with_the_fix(faults: Faults, check: str, seen: str, fix: str) -> None:
    with FaultyServer(faults) as faulty:
        code, output = doctor(faulty.url, "--dialect", "seed", "--timeout", "0.5")
    assert code == 1, output
    assert marks(output) == {name: "✗" if name == check else "✓" for name in CHECKS}, output
    failure = next(line for line in output.splitlines() if line.startswith(f"✗ {check}"))
    assert seen in failure, output
    fix_line = output.splitlines()[output.splitlines().index(failure) + 1]
    assert fix_line.startswith("  fix: ") and fix in fix_line, output
    assert "1 failed, 7 passed (of 8 checks)." in output


def test_a_server_without_agents_or_an_unknown_agent_says_so(server: ServerProcess) -> None:
    with FaultyServer() as plain:
        code, output = doctor(plain.url, "--dialect", "seed", "--agent", "Eliza", "--timeout", "1")
    assert code == 1 and marks(output)["agent Eliza answers"] == "✗"
    assert "has no GET /api/agents" in output
    code, output = doctor(server.url, "--agent", "Nobody", "--timeout", "2")
    assert code == 1 and "No agent named 'Nobody'" in output and "agents there: Eliza" in output


def test_an_unreachable_server_fails_first_and_skips_the_rest() -> None:
    code, output = doctor("http://127.0.0.1:9", "--timeout", "1")
    assert code == 1
    assert marks(output) == {"reachable": "✗", **{name: "-" for name in CHECKS[1:]}}
    assert "fix: Start the server" in output
    assert output.rstrip().endswith(f"1 failed, {len(CHECKS) - 1} skipped, 0 passed (of {len(CHECKS)} checks).")


@pytest.mark.parametrize("dialect", ["eliza17", "seed"])
def test_a_server_that_wants_an_api_key_is_named_and_passes_with_it(dialect: str) -> None:
    with FaultyServer(Faults(api_key="sesame")) as locked:
        code, output = doctor(locked.url, "--dialect", dialect, "--timeout", "1")
        assert code == 1
        assert marks(output) == {
            **{name: "✓" for name in CHECKS[:4]},
            "connection_established": "✗",
            **{name: "-" for name in CHECKS[5:]},
        }, output
        assert "could not connect: API key required" in output and "pass --api-key" in output
        assert output.rstrip().endswith(f"1 failed, {len(CHECKS) - 5} skipped, 4 passed (of {len(CHECKS)} checks).")
        code, output = doctor(locked.url, "--dialect", dialect, "--api-key", "sesame", "--timeout", "1")
        assert code == 0, output

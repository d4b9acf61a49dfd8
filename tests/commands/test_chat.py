"""``eliza-messaging chat`` driven as a person would: a real terminal (pexpect), typing, reading the screen."""

from __future__ import annotations

import io
import json
import os
import re
import sys
import time
from collections.abc import Iterator

import pexpect
import pytest
from typer.testing import CliRunner

from eliza_messaging.cli import cli
from eliza_messaging.client import ElizaClientSync, Message, dm_channel_id
from tests.conftest import new_id
from tests.support.server import REPO, ServerProcess

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def spawn(*args: str) -> pexpect.spawn:
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "200", "LINES": "50"}
    env.pop("NO_COLOR", None)
    return pexpect.spawn(
        sys.executable,
        ["-m", "eliza_messaging.cli", "chat", *args],
        cwd=str(REPO),
        env=env,
        encoding="utf-8",
        timeout=15,
        dimensions=(50, 200),
    )


@pytest.fixture
def bob(server: ServerProcess) -> Iterator[ElizaClientSync]:
    with ElizaClientSync(server.url, name="Bob", dialect="seed") as client:
        yield client


@pytest.fixture(scope="module")
def slow_eliza(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose Eliza streams a word every 0.5 s, so a reply is on screen seconds before it is stored
    (0.2 s left too short a window on a loaded machine: the history read came after the reply)."""
    base = tmp_path_factory.mktemp("slow-eliza")
    character = base / "eliza.json"
    character.write_text(json.dumps({"name": "Eliza", "settings": {"word_delay": "0.5"}}))
    proc = ServerProcess(base / "data", env={"ELIZA_CHARACTERS": str(character)}).start()
    yield proc
    proc.stop()


def wait_for_message(client: ElizaClientSync, channel: str, text: str, timeout: float = 10) -> Message:
    for message in client.messages(channel, timeout=timeout):
        if message.text == text:
            return message
    raise AssertionError(f"{text!r} never arrived")


def test_chat_in_a_channel_shows_history_and_live_messages_and_sends_what_is_typed(
    server: ServerProcess, bob: ElizaClientSync
) -> None:
    channel, me = new_id(), new_id()
    bob.join(channel)
    bob.send(channel, "an earlier message")
    child = spawn("--url", server.url, "--channel", channel, "--entity", me, "--name", "Tess")
    try:
        child.expect(f"Connected to {re.escape(server.url)} as Tess \\({me}\\); channel {channel}")
        child.expect("Bob:.*an earlier message")  # the history, from REST
        child.expect("Type a message and press Enter")
        bob.send(channel, "live from bob")
        child.expect("Bob:.*live from bob")
        bob.typing(channel, True)
        child.expect("Bob is typing")
        child.sendline("hello bob, it is Tess")
        got = wait_for_message(bob, channel, "hello bob, it is Tess")
        assert got.sender_id == me and got.sender_name == "Tess"
        child.expect("You:.*hello bob, it is Tess")
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


def test_chat_shows_a_prompt_and_keeps_it_under_what_arrives(server: ServerProcess, bob: ElizaClientSync) -> None:
    channel, me = new_id(), new_id()
    bob.join(channel)
    child = spawn("--url", server.url, "--channel", channel, "--entity", me, "--name", "Tess")
    child.logfile_read = transcript = io.StringIO()
    try:
        child.expect("Type a message and press Enter")
        child.expect_exact("you> ")  # waiting for a line
        bob.send(channel, "a live one from bob")
        child.expect("Bob:.*a live one from bob")
        child.expect_exact("you> ")  # back on the last line, under the message
        child.sendline("and one from me")
        child.expect("You:.*and one from me")
        child.expect_exact("you> ")
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    lines = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in ANSI.sub("", transcript.getvalue()).split("\n")]
    bobs = next(line for line in lines if "a live one from bob" in line)
    assert re.fullmatch(r"\d\d:\d\d Bob: a live one from bob\s*", bobs), lines  # the prompt gave way to it
    assert lines[-1].strip() in ("", "you>")


def test_chat_with_an_agent_renders_its_reply_as_it_streams(slow_eliza: ServerProcess) -> None:
    me = new_id()
    with ElizaClientSync(slow_eliza.url) as watcher:
        eliza = watcher.find_agent("Eliza")
        channel = dm_channel_id(me, eliza.id)
        child = spawn(
            "--url", slow_eliza.url, "--agent", "eliza", "--entity", me, "--name", "Tess", "--dialect", "seed"
        )
        child.logfile_read = transcript = io.StringIO()
        try:
            child.expect(f"a DM with Eliza \\(channel {channel}\\)")
            child.expect("No messages here yet.")
            child.expect("Type a message")
            child.sendline("I am unhappy with my work")
            child.expect(r"Eliza:\S* ")  # the name comes with the first chunk...
            assert not _replies(watcher, channel)  # ...while the reply is still being written
            reply = _reply_in(watcher, channel)
            child.expect(re.escape(reply.text))
            child.sendline("/quit")
            child.expect(pexpect.EOF)
        finally:
            child.close()
    assert child.exitstatus == 0
    shown = ANSI.sub("", transcript.getvalue())
    assert shown.count(reply.text) == 1  # streamed once; the final broadcast only ends the line
    assert re.search(rf"Eliza: {re.escape(reply.text)}\r?\n", shown)


def _replies(client: ElizaClientSync, channel: str) -> list[Message]:
    return [m for m in client.history(channel) if m.source == "agent_response"]


def _reply_in(client: ElizaClientSync, channel: str, timeout: float = 10) -> Message:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = _replies(client, channel)
        if replies:
            return replies[-1]
        time.sleep(0.1)
    raise AssertionError("the agent did not reply")


def test_with_no_target_it_opens_the_dm_with_the_only_agent_and_its_history(
    server: ServerProcess, bob: ElizaClientSync
) -> None:
    me = new_id()
    with ElizaClientSync(server.url, entity_id=me, name="Tess") as earlier_session:
        eliza = earlier_session.find_agent("Eliza")
        channel = earlier_session.join_dm(eliza.id)
        reply = earlier_session.ask(channel, "My mother does not understand me")
    assert reply is not None
    child = spawn("--url", server.url, "--entity", me)
    try:
        child.expect(f"a DM with Eliza \\(channel {channel}\\)")
        child.expect("You:.*My mother does not understand me")
        child.expect(f"Eliza:.*{re.escape(reply.text)}")
        child.sendeof()  # Ctrl-D leaves too
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


def test_chat_says_what_is_wrong_when_it_cannot_start(server: ServerProcess) -> None:
    result = CliRunner().invoke(cli, ["chat", "--url", "http://127.0.0.1:9", "--channel", new_id()])
    assert result.exit_code == 1 and "Cannot connect to http://127.0.0.1:9" in result.output
    result = CliRunner().invoke(cli, ["chat", "--url", server.url, "--agent", "Nobody"])
    assert result.exit_code == 1 and "No agent named 'Nobody'" in result.output
    assert "agents there: Eliza" in result.output
    result = CliRunner().invoke(cli, ["chat", "--url", server.url, "--channel", "room-1"])
    assert result.exit_code == 2 and "must be a UUID" in result.output

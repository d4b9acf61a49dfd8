"""The command line itself: what ``serve`` prints, and help that names values instead of Python types."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from eliza_messaging.cli import cli, web_chat_url
from eliza_messaging.config import Settings
from tests.support.server import ServerProcess

TYPE_TAGS = re.compile(r"<(bool|str|int|float|path|list\[[^\]]*\])>|\blist\[")


def test_serve_prints_the_web_chats_url_and_the_page_is_there(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        found = re.search(r"^Web chat: (\S+)$", server.logs(), re.MULTILINE)
        assert found, server.logs()
        assert found.group(1) == f"{server.url}/"
        page = httpx.get(found.group(1))
        assert page.status_code == 200 and "<title>Eliza Chat</title>" in page.text
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("0.0.0.0", "http://localhost:3000/"),
        ("::", "http://localhost:3000/"),
        ("127.0.0.1", "http://127.0.0.1:3000/"),
        ("::1", "http://[::1]:3000/"),
        ("chat.example", "http://chat.example:3000/"),
    ],
)
def test_the_web_chat_url_is_one_a_browser_here_can_open(host: str, url: str) -> None:
    assert web_chat_url(Settings(host=host, port=3000)) == url


def test_no_web_chat_url_when_the_web_chat_is_off(tmp_path: Path) -> None:
    assert web_chat_url(Settings(host="0.0.0.0", port=3000, ui_enable=False)) is None
    server = ServerProcess(tmp_path / "data", env={"ELIZA_UI_ENABLE": "false"}).start()
    try:
        assert "Web chat:" not in server.logs()
    finally:
        server.stop()


@pytest.mark.parametrize("command", [[], ["serve"], ["chat"], ["doctor"]])
def test_help_names_values_without_python_type_tags(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert not TYPE_TAGS.search(result.output), result.output
    helps = [line for line in result.output.splitlines() if "--help" in line]
    assert len(helps) == 1 and re.search(r"--help\s+Show this message and exit", helps[0]), helps


@pytest.mark.parametrize(
    ("command", "option", "metavar"),
    [
        ("serve", "--port", "PORT"),
        ("serve", "--data-dir", "DIR"),
        ("serve", "--character", "FILE"),
        ("chat", "--channel", "UUID"),
        ("chat", "--history", "N"),
        ("doctor", "--timeout", "SECONDS"),
        ("doctor", "--agent", "NAME"),
    ],
)
def test_each_option_says_what_value_it_takes(command: str, option: str, metavar: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"], env={"COLUMNS": "200"})
    assert re.search(rf"{option}\s+{metavar}\s", result.output), result.output

"""``eliza-messaging doctor URL``: the seeds' debugging checklist, run against any server.

One line per check (✓ or ✗ and what was seen), with the fix under each failure; the exit
code is 0 only when every check passed, so it also works in CI or a container health probe.
"""

# Waits take a timeout in seconds: every check reports how long it waited.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from ..client.dialects import DIALECTS, check_dialect
from ..client.dialects import Dialect as DialectName
from . import checks
from .checks import Check
from .socket_checks import SOCKET_CHECKS, agent_check, socket_checks

DEFAULT_ORIGIN = "chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"


async def run_checks(
    url: str,
    *,
    dialect: DialectName = "eliza17",
    origin: str = DEFAULT_ORIGIN,
    agent: str | None = None,
    api_key: str | None = None,
    timeout: float = 5.0,
    agent_timeout: float = 30.0,
) -> list[Check]:
    """Every check in checklist order; later ones are skipped when the server cannot be reached."""
    url = url.rstrip("/")
    headers = {"X-API-KEY": api_key} if api_key else {}
    async with httpx.AsyncClient(timeout=timeout, headers=headers) as http:
        first = await checks.reachable(http, url)
        if not first.ok:
            rest = ["polling transport", "websocket transport", "CORS", *SOCKET_CHECKS]
            if agent:
                rest.append(f"agent {agent} answers")
            return [first, *(checks.skipped(name, "the server is not reachable") for name in rest)]
        results = [
            first,
            await checks.polling(http, url),
            await checks.websocket(url, timeout, headers),
            await checks.cors(http, url, origin),
        ]
    results += await socket_checks(url, dialect, api_key=api_key, timeout=timeout)
    if agent:
        results.append(await agent_check(url, dialect, agent, api_key=api_key, timeout=agent_timeout))
    return results


def render(results: list[Check], console: Console) -> None:
    width = max(len(r.name) for r in results)
    for result in results:
        mark = {True: "[green]✓[/]", False: "[red]✗[/]", None: "[yellow]-[/]"}[result.ok]
        console.print(f"{mark} {escape(result.name.ljust(width))}  {escape(result.detail)}", soft_wrap=True)
        if result.fix:
            console.print(f"  [dim]fix:[/] {escape(result.fix)}", soft_wrap=True)
    console.print(summary(results))


def summary(results: list[Check]) -> str:
    """The last line: failed and skipped checks counted apart (a skip follows a failure, it is not one)."""
    failed = sum(1 for r in results if r.ok is False)
    skipped = sum(1 for r in results if r.ok is None)
    passed = len(results) - failed - skipped
    if not failed and not skipped:
        return f"[green]All {len(results)} checks passed.[/]"
    parts = [f"{failed} failed", *([f"{skipped} skipped"] if skipped else []), f"{passed} passed"]
    return f"[{'red' if failed else 'yellow'}]{', '.join(parts)} (of {len(results)} checks).[/]"


def doctor(
    url: Annotated[str, typer.Argument(metavar="URL", help="The server's base URL, e.g. http://localhost:3000")],
    dialect: Annotated[
        str,
        typer.Option(
            metavar="DIALECT",
            help="How the probe client talks: eliza17 (ElizaOS 1.7 clients) or seed (the guide's client)",
        ),
    ] = "eliza17",
    origin: Annotated[
        str,
        typer.Option(
            metavar="ORIGIN", help="The browser origin to check CORS for (your extension's or web app's origin)"
        ),
    ] = DEFAULT_ORIGIN,
    agent: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Also check that this agent (name from GET /api/agents) answers in a DM"),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(envvar="ELIZA_API_KEY", metavar="KEY", help="API key (socket auth.apiKey and X-API-KEY header)"),
    ] = None,
    timeout: Annotated[float, typer.Option(metavar="SECONDS", help="Seconds to wait for each answer")] = 5.0,
    agent_timeout: Annotated[
        float, typer.Option(metavar="SECONDS", help="Seconds to wait for the agent's reply")
    ] = 30.0,
) -> None:
    """Walk the ElizaOS Socket.IO debugging checklist against a server and say what to fix."""
    if dialect not in DIALECTS:
        raise typer.BadParameter(f"use one of: {', '.join(DIALECTS)}", param_hint="--dialect")
    console = Console(highlight=False)
    console.print(f"Checking {escape(url)} (dialect {dialect}, origin {escape(origin)})", soft_wrap=True)
    results = asyncio.run(
        run_checks(
            url,
            dialect=check_dialect(dialect),
            origin=origin,
            agent=agent,
            api_key=api_key,
            timeout=timeout,
            agent_timeout=agent_timeout,
        )
    )
    render(results, console)
    raise typer.Exit(0 if all(r.ok for r in results) else 1)

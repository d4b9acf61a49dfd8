"""The Markdown table: each figure for this server and the bare Node server, and their ratio."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.servers import BENCH
from tests.support.node import NODE

Results = dict[str, dict[str, list[dict[str, Any]]]]  # scenario -> server -> one figures dict per repeat


@dataclass(frozen=True)
class Row:
    scenario: str
    key: str
    label: str
    higher_is_better: bool | None = None  # None: a check, shown as a count with no ratio


ROWS = (
    Row("rtt", "rtt_ms_p50", "rtt p50, ms (one message at a time)", False),
    Row("rtt", "rtt_ms_p99", "rtt p99, ms", False),
    Row("rtt", "server_cpu_us_per_message", "rtt: server CPU per message, µs", False),
    Row(
        "throughput",
        "acks_per_second",
        "throughput: accepted sends/s ({rooms} rooms × {per_room}, {window} in flight each)",
        True,
    ),
    Row("throughput", "ack_ms_p50", "throughput: ack p50, ms", False),
    Row("throughput", "ack_ms_p99", "throughput: ack p99, ms", False),
    Row(
        "throughput",
        "server_cpu_us_per_send",
        "throughput: server CPU per accepted send ({per_room} recipients), µs",
        False,
    ),
    Row("throughput", "broadcasts_missing", "throughput: broadcasts missing (check)"),
    Row("throughput", "broadcasts_duplicated", "throughput: broadcasts duplicated (check)"),
    Row("throughput", "history_lost", "throughput: acked but not in history (check)"),
    Row("throughput", "history_duplicated", "throughput: stored twice in history (check)"),
    Row("fanout", "deliveries_per_second", "fanout: deliveries/s kept up with (of {offered} offered)", True),
    Row("fanout", "delivery_ms_p50", "fanout: per-delivery p50, ms", False),
    Row("fanout", "delivery_ms_p99", "fanout: per-delivery p99, ms", False),
    Row("fanout", "server_cpu_us_per_delivery", "fanout: server CPU per delivery, µs", False),
    Row("fanout", "deliveries_missing", "fanout: deliveries not arrived within the drain time (check)"),
    Row("fanout", "deliveries_duplicated", "fanout: deliveries duplicated (check)"),
    Row("connections", "joins_per_second", "connections: connects + joins per second ({count} sockets)", True),
    Row("connections", "server_kb_per_connection", "connections: server memory per idle connection, KiB", False),
    Row("connections", "server_cpu_us_per_connection", "connections: server CPU per connect + join, µs", False),
    Row("connections", "dropped_while_idle", "connections: sockets dropped while idle (check)"),
    Row("agent", "replies_per_second", "agent: DM replies/s ({clients} clients, one message at a time)", True),
    Row("agent", "reply_ms_p50", "agent: reply p50, ms", False),
    Row("agent", "reply_ms_p99", "agent: reply p99, ms", False),
    Row("agent", "server_cpu_ms_per_reply", "agent: server CPU per reply, ms", False),
)


def median(values: list[Any]) -> Any:
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if not numbers:
        return None
    if all(isinstance(v, int) for v in numbers) and len(numbers) % 2 == 1:
        return statistics.median(numbers)
    return round(statistics.median(numbers), 2)


def combined(results: Results) -> dict[str, dict[str, dict[str, Any]]]:
    """scenario -> server -> figure -> median over the repeats (checks: the worst repeat)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    checks = {r.key for r in ROWS if r.higher_is_better is None}
    for scenario, per_server in results.items():
        for server, runs in per_server.items():
            keys = {k for run in runs for k in run}
            out.setdefault(scenario, {})[server] = {
                k: (
                    max((run.get(k) or 0 for run in runs), default=None)
                    if k in checks
                    else median([run.get(k) for run in runs])
                )
                for k in keys
            }
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) >= 1 else f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _ratio(ours: Any, node: Any) -> str:
    if not isinstance(ours, int | float) or not isinstance(node, int | float) or node == 0:
        return "—"
    return f"{ours / node:.2f}×"


def _label(row: Row, settings: dict[str, dict[str, str]]) -> str:
    fanout, conns, agent = settings.get("fanout", {}), settings.get("connections", {}), settings.get("agent", {})
    offered = round(float(fanout.get("LISTENERS", "0")) * float(fanout.get("RATE", "0")))
    tp = settings.get("throughput", {})
    return row.label.format(
        offered=f"{offered:,}",
        count=f"{round(float(conns.get('COUNT', '0'))):,}",
        clients=agent.get("CLIENTS", "?"),
        rooms=tp.get("ROOMS", "?"),
        per_room=tp.get("PER_ROOM", "?"),
        window=tp.get("WINDOW", "?"),
    )


Errors = dict[str, dict[str, str]]  # scenario -> server -> what went wrong


def _cell(value: Any, error: str | None) -> str:
    return f"error: {error}" if value is None and error else _fmt(value)


def table(results: Results, settings: dict[str, dict[str, str]], errors: Errors) -> str:
    figures = combined(results)
    lines = [
        "| figure | this server (SQLite, durable) | bare Node socket.io (no storage) | ratio (this / Node) |",
        "|---|---|---|---|",
    ]
    for row in ROWS:
        if row.scenario not in results and row.scenario not in errors:
            continue
        ours = figures.get(row.scenario, {}).get("ours", {}).get(row.key)
        node = figures.get(row.scenario, {}).get("node", {}).get(row.key)
        failed = errors.get(row.scenario, {})
        history = row.key.startswith("history_")
        node_cell = "n/a (no storage)" if history else _cell(node, failed.get("node"))
        ratio = "—" if row.higher_is_better is None else _ratio(ours, node)
        ours_cell = _cell(ours, failed.get("ours"))
        lines.append(f"| {_label(row, settings)} | {ours_cell} | {node_cell} | {ratio} |")
    return "\n".join(lines)


def _version(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except OSError:
        return "not found"


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    package = BENCH / "node_modules" / "socket.io" / "package.json"
    socketio = _version([NODE, "-p", f"require({str(package)!r}).version"])
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "node": _version([NODE, "--version"]),
        "socket.io (bare Node server)": socketio if (BENCH / "node_modules").exists() else "not installed",
        "load average before": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def markdown(
    results: Results,
    settings: dict[str, dict[str, str]],
    errors: Errors,
    size: str,
    repeat: int,
    info: dict[str, str],
) -> str:
    head = ", ".join(f"{k}: {v}" for k, v in info.items())
    note = (
        f"Size `{size}`, {'median of ' + str(repeat) + ' runs' if repeat > 1 else 'one run'}; each scenario on a"
        " fresh server; load from real socket.io-client sockets in Node on 127.0.0.1; the rate limit off"
        " (`ELIZA_SOCKET_RATE=0`). Ratio = this server / bare Node (below 1× is better for times and CPU,"
        " above 1× is better for rates)."
    )
    return f"{table(results, settings, errors)}\n\n{note}\n\n{head}\n"

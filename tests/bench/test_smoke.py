"""The benchmark suite runs end to end: every scenario for ~2 s at tiny size against this server and the
bare Node server, in one invocation of bench/run.py, as a user would run it. No timing is asserted: the
test checks that every figure of the table was produced and that the loss and duplicate checks ran."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

# The figures the suite promises, per scenario (this directory is the package ``bench`` under pytest, so the
# suite's own modules are not imported here; the list is independent of them on purpose).
FIGURES = {
    "rtt": ["rtt_ms_p50", "rtt_ms_p99", "server_cpu_us_per_message"],
    "throughput": [
        "acks_per_second",
        "ack_ms_p50",
        "ack_ms_p99",
        "server_cpu_us_per_send",
        "broadcasts_missing",
        "broadcasts_duplicated",
    ],
    "fanout": [
        "deliveries_per_second",
        "delivery_ms_p50",
        "delivery_ms_p99",
        "server_cpu_us_per_delivery",
        "deliveries_missing",
        "deliveries_duplicated",
    ],
    "connections": [
        "joins_per_second",
        "server_kb_per_connection",
        "server_cpu_us_per_connection",
        "dropped_while_idle",
    ],
    "agent": ["replies_per_second", "reply_ms_p50", "reply_ms_p99", "server_cpu_ms_per_reply"],
}
HISTORY = ["history_rows", "history_lost", "history_duplicated"]  # this server only: the bare Node one stores nothing
ROWS = sum(len(keys) for keys in FIGURES.values()) + 2  # the table shows history_lost and history_duplicated too
RATES_AND_TIMES = 18  # rows with a ratio (the others are checks)

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench")
    run = subprocess.run(
        [
            sys.executable,
            "bench/run.py",
            "all",
            "--size",
            "smoke",
            "--out",
            str(out / "t.md"),
            "--json",
            str(out / "t.json"),
        ],
        cwd=REPO,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=220,
        check=False,
    )
    assert (out / "t.json").exists(), f"bench/run.py wrote no figures (exit {run.returncode}):\n{run.stderr[-3000:]}"
    return run, json.loads((out / "t.json").read_text()), (out / "t.md").read_text()


def test_every_scenario_ran_on_both_servers(
    smoke: tuple[subprocess.CompletedProcess[str], dict[str, Any], str],
) -> None:
    run, raw, _ = smoke
    assert raw["errors"] == {}, run.stderr[-3000:]
    assert run.returncode == 0, run.stderr[-3000:]
    for name in FIGURES:
        assert set(raw["results"][name]) == {"ours", "node"}, f"{name} did not run on both servers"


def test_every_figure_was_produced(smoke: tuple[subprocess.CompletedProcess[str], dict[str, Any], str]) -> None:
    _, raw, _ = smoke
    wanted = [
        (server, scenario, key) for server in ("ours", "node") for scenario, keys in FIGURES.items() for key in keys
    ]
    wanted += [("ours", "throughput", key) for key in HISTORY]
    for server, scenario, key in wanted:
        value = raw["figures"][scenario][server].get(key)
        assert isinstance(value, int | float) and not isinstance(value, bool), (
            f"{scenario} on {server}: figure {key} is {value!r}"
        )


def test_loss_and_duplicate_checks_ran_and_found_nothing(
    smoke: tuple[subprocess.CompletedProcess[str], dict[str, Any], str],
) -> None:
    _, raw, _ = smoke
    for server in ("ours", "node"):
        tp = raw["figures"]["throughput"][server]
        assert tp["acked"] > 0 and tp["broadcasts_expected"] >= tp["acked"], tp
        assert tp["failed"] == tp["broadcasts_missing"] == tp["broadcasts_duplicated"] == 0, tp
        fan = raw["figures"]["fanout"][server]
        assert fan["deliveries"] > 0 and fan["deliveries_duplicated"] == 0, fan
        assert raw["figures"]["connections"][server]["dropped_while_idle"] == 0
        assert raw["figures"]["agent"][server]["replies"] > 0
    ours = raw["figures"]["throughput"]["ours"]
    # The history check looked up every acknowledged message in this server's REST history.
    assert ours["history_rows"] >= ours["acked"] > 0, ours
    assert ours["history_lost"] == ours["history_duplicated"] == 0, ours


def test_the_table_has_every_row_with_a_ratio(
    smoke: tuple[subprocess.CompletedProcess[str], dict[str, Any], str],
) -> None:
    run, _, table = smoke
    lines = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| figure")]
    assert len(lines) == ROWS, table
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == 4 and "error" not in line and cells[1] != "—", line
        assert cells[2] != "—", f"no bare Node figure in: {line}"
    assert sum(1 for line in lines if line.rstrip(" |").endswith("×")) == RATES_AND_TIMES, table
    assert table in run.stdout, "the table printed differs from the one written"

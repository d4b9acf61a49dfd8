"""The search benchmark runs end to end at smoke size (2,000 messages) on both stores, as a user would run
it (bench/run.py search), so it cannot rot. No timing is asserted: the test checks that every figure was
produced, for every query on every store, and the append cost with the index on and off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.store.conftest import postgres_unavailable, without_postgres

REPO = Path(__file__).resolve().parents[2]
QUERIES = ["common word", "rare word", "two words", "phrase", "prefix", "recall (any of 6)"]

pytestmark = pytest.mark.timeout(240)


async def test_the_search_benchmark_produces_every_figure(tmp_path: Path) -> None:
    reason = await postgres_unavailable()
    if reason is not None:
        without_postgres(reason)
    out, raw = tmp_path / "search.md", tmp_path / "search.json"
    run = subprocess.run(
        [sys.executable, "bench/run.py", "search", "--size", "smoke", "--out", str(out), "--json", str(raw)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=200,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert run.returncode == 0, run.stderr[-3000:] + run.stdout[-3000:]
    results = json.loads(raw.read_text())
    assert set(results["latency"]) == {"sqlite 2000", "postgres 2000"}
    for figures in results["latency"].values():
        for query in QUERIES:
            for where in ("everywhere", "one channel"):
                timing = figures[f"keyword: {query}, {where}"]
                assert timing["p50_ms"] > 0 and timing["p99_ms"] >= timing["p50_ms"]
        for where in ("everywhere", "one channel"):
            assert figures[f"semantic: nearest 20, {where}"]["p50_ms"] > 0
        assert figures["vectors"] > 0
    for kind in ("sqlite", "postgres"):
        for index in ("on", "off"):
            assert results["append"][kind][index]["appends_per_s"] > 0
            assert results["append"][kind][index]["our_cpu_us_per_append"] > 0
    assert results["append"]["postgres"]["on"]["postgres_cpu_us_per_append"] > 0
    table = out.read_text()
    assert "keyword: rare word, everywhere" in table and "Append cost on postgres" in table

"""The benchmark suite: this server against a bare Node socket.io server, in one invocation.

    .venv/bin/python bench/run.py all                 # every scenario, full size (a few minutes)
    .venv/bin/python bench/run.py fanout connections  # some scenarios
    .venv/bin/python bench/run.py all --size smoke    # ~2 s per scenario at tiny size (the test suite's run)
    .venv/bin/python bench/run.py all --repeat 3      # median of three runs per figure
    .venv/bin/python bench/run.py search              # search latency at 100k and 1M messages (bench/search.py)

Scenarios: ``rtt`` (one message at a time), ``throughput`` (20 rooms x 5 clients, 10 sends in flight
each, durable; loss and duplicates checked against the broadcasts and, for this server, the REST
history), ``fanout`` (500 listeners in one room, 50 messages/s), ``connections`` (2,000 idle joined
sockets), ``agent`` (DM round trips with the built-in ELIZA; the bare Node server answers with a fixed
reply). Each runs on a fresh server of each kind; server CPU comes from /proc/PID/stat and memory from
/proc/PID/status. The Markdown table goes to stdout and to bench/results/latest.md, every raw figure to
bench/results/latest.json. Exit code 1 when a scenario failed, a send was refused, or a message was lost or duplicated.
Compare figures only from the same machine and run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import report, scenarios, servers

RESULTS = Path(__file__).resolve().parent / "results"
CHECKS = (
    "failed",
    "broadcasts_missing",
    "broadcasts_duplicated",
    "history_lost",
    "history_duplicated",
    "deliveries_duplicated",
    "dropped_while_idle",
)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "scenarios", nargs="+", metavar="SCENARIO", help=f"all, or some of: {' '.join(scenarios.NAMES)}"
    )
    parser.add_argument("--size", choices=sorted(scenarios.SIZES), default="full")
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario and server; figures are medians")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SCENARIO.NAME=VALUE",
        help="override one generator setting, e.g. --set fanout.LISTENERS=200 (see bench/scenarios.py SIZES)",
    )
    parser.add_argument("--servers", default="ours,node", help="comma-separated: ours, node (default both)")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for this server, e.g. --env ELIZA_EMBEDDINGS=local (indexing on) to compare with a run without",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.md", help="where the Markdown table goes")
    parser.add_argument("--json", type=Path, default=RESULTS / "latest.json", help="where every raw figure goes")
    args = parser.parse_args(argv)
    chosen = list(scenarios.NAMES) if args.scenarios == ["all"] else args.scenarios
    unknown = [s for s in chosen if s not in scenarios.NAMES]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}: use 'all' or some of {', '.join(scenarios.NAMES)}")
    args.scenarios = chosen
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if not args.servers or any(s not in ("ours", "node") for s in args.servers):
        parser.error("--servers takes a comma-separated list of: ours, node")
    args.overrides = {}
    for item in args.set:
        target, _, value = item.partition("=")
        scenario, _, name = target.partition(".")
        if scenario not in scenarios.NAMES or not name or not value:
            parser.error(f"--set {item!r}: write SCENARIO.NAME=VALUE, e.g. fanout.LISTENERS=200")
        try:
            positive = float(value) > 0
        except ValueError:
            positive = False
        if not positive:
            parser.error(f"--set {item!r}: every generator setting is a number above 0")
        args.overrides.setdefault(scenario, {})[name] = value
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--env {item!r}: write NAME=VALUE, e.g. ELIZA_EMBEDDINGS=local")
        servers.OUR_ENV[name] = value
    return args


def run(args: argparse.Namespace) -> int:
    servers.ensure_bench_modules()
    settings = {name: {**scenarios.SIZES[args.size][name], **args.overrides.get(name, {})} for name in args.scenarios}
    info = report.machine()
    results: report.Results = {}
    errors: dict[str, dict[str, str]] = {}
    for name in args.scenarios:
        for attempt in range(args.repeat):
            for kind in args.servers:
                print(f"[bench] {name} on {kind} (run {attempt + 1}/{args.repeat})", file=sys.stderr, flush=True)
                server = None
                try:
                    server = servers.start(kind)
                    figures = scenarios.RUNNERS[name](server, settings[name])
                except Exception as exc:  # one failed scenario must not lose the others' figures
                    errors.setdefault(name, {})[kind] = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
                    print(f"[bench] {name} on {kind} failed: {exc}", file=sys.stderr, flush=True)
                    continue
                finally:
                    if server is not None:
                        server.stop()
                results.setdefault(name, {}).setdefault(kind, []).append(figures)
                print(f"[bench] {json.dumps(figures)}", file=sys.stderr, flush=True)
    text = report.markdown(results, settings, errors, args.size, args.repeat, info)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    raw: dict[str, Any] = {
        "machine": info,
        "size": args.size,
        "settings": settings,
        "results": results,
        "errors": errors,
        "figures": report.combined(results),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(raw, indent=2) + "\n")
    bad = [
        f"{name}/{kind}: {check}={run_[check]}"
        for name, per_server in results.items()
        for kind, runs in per_server.items()
        for run_ in runs
        for check in CHECKS
        if run_.get(check)
    ]
    for line in bad:
        print(f"[bench] CHECK FAILED: {line}", file=sys.stderr)
    return 1 if errors or bad else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["search"]:  # search latency and index cost, straight on the stores (bench/search.py)
        from bench import search

        sys.exit(search.main(sys.argv[2:]))
    sys.exit(run(parse()))

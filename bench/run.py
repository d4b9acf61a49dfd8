"""Benchmarks against a real server process, driven by real socket.io-client sockets.

    .venv/bin/python bench/run.py send  [--clients 20 --messages 200 --rooms 10 --window 10 --transport websocket]
                                        [--flood 20000]
    .venv/bin/python bench/run.py agent [--clients 10 --messages 20]

``send`` measures validate -> store (group commit) -> broadcast -> ack in group rooms, where the
default agent only looks and stays silent; with ``--flood N`` one more socket sends N messages as
fast as it can meanwhile, to see what a flood costs everyone else. ``agent`` measures whole agent
round trips in DMs with the built-in ELIZA (no word delay): store, decide, read context, stream,
store the reply, broadcast, complete. Run on an otherwise idle machine; compare figures only from the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.node import NODE, ensure_node_modules
from tests.support.server import ServerProcess


def server_cpu_seconds(server: ServerProcess) -> float:
    """User + system CPU time the server process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bench", choices=["send", "agent"])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--transport", default="websocket", choices=["websocket", "polling"])
    parser.add_argument("--flood", type=int, default=0, help="sends one more socket floods with meanwhile")
    args = parser.parse_args()
    ensure_node_modules()
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", env={"ELIZA_WORD_DELAY": "0"}, log_level="warning").start()
        try:
            env = {
                **os.environ,
                "URL": server.url,
                "CLIENTS": str(args.clients),
                "MESSAGES": str(args.messages),
                "ROOMS": str(args.rooms),
                "WINDOW": str(args.window),
                "TRANSPORT": args.transport,
                "FLOOD": str(args.flood),
            }
            if args.bench == "agent":
                env["AGENT_ID"] = httpx.get(f"{server.url}/api/agents").json()["data"]["agents"][0]["id"]
            script = Path(__file__).with_name(f"{args.bench}_load.js")
            cpu_before = server_cpu_seconds(server)
            out = subprocess.run([NODE, str(script)], env=env, check=True, capture_output=True, text=True, timeout=600)
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            # Server CPU per message is steadier than throughput on a shared machine.
            handled = figures.get("acked") or figures.get("replies") or 1
            figures["server_cpu_ms_per_message"] = round((server_cpu_seconds(server) - cpu_before) * 1000 / handled, 3)
            print(json.dumps(figures, indent=2))
        finally:
            server.stop()


if __name__ == "__main__":
    main()

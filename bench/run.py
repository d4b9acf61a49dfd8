"""Benchmark the send path: start a real server, drive it with bench/send_load.js, print the figures.

    .venv/bin/python bench/run.py [--clients 20 --messages 200 --rooms 10 --window 10 --transport websocket]

Agents are kept out of the measurement (a character in a room nobody uses), so this measures
validate -> store (group commit) -> broadcast -> ack. Run on an otherwise idle machine and
compare figures only from the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.node import NODE, ensure_node_modules
from tests.support.server import ServerProcess


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--transport", default="websocket", choices=["websocket", "polling"])
    args = parser.parse_args()
    ensure_node_modules()
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", log_level="warning").start()
        try:
            env = {**os.environ, "URL": server.url, "CLIENTS": str(args.clients), "MESSAGES": str(args.messages),
                   "ROOMS": str(args.rooms), "WINDOW": str(args.window), "TRANSPORT": args.transport}
            out = subprocess.run([NODE, str(Path(__file__).with_name("send_load.js"))], env=env, check=True,
                                 capture_output=True, text=True, timeout=600)
            print(json.dumps(json.loads(out.stdout.strip().splitlines()[-1]), indent=2))
        finally:
            server.stop()


if __name__ == "__main__":
    main()

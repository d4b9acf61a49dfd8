"""The README's Python example, run as the README says (a script of its own) against a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.server import REPO, ServerProcess

README = REPO / "README.md"


def readme_python_example() -> str:
    """The README's one runnable Python block: the one under "Python SDK and command line"."""
    section = README.read_text().split("## Python SDK and command line", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.DOTALL)
    assert len(blocks) == 1, "the SDK section should hold exactly one Python example"
    return str(blocks[0])


def test_the_readme_two_commands_stay_two() -> None:
    top = README.read_text().split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)```", top, re.DOTALL)
    assert [c.strip() for c in commands] == [
        "python3 -m venv .venv && .venv/bin/pip install -c constraints.txt . && .venv/bin/eliza-messaging serve",
        "bash scripts/test.sh",
    ]
    for needed in ("Python ≥ 3.11", "Node.js", "PostgreSQL", "Redis", "root", "apt", "CI=true"):
        assert needed in top, needed


def test_the_readme_sdk_example_runs_as_a_script(server: ServerProcess, tmp_path: Path) -> None:
    source = readme_python_example()
    assert "asyncio.run(" in source and source.count('"http://localhost:3000"') == 1
    script = tmp_path / "hello.py"
    script.write_text(source.replace('"http://localhost:3000"', f'"{server.url}"'))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    first, reply = done.stdout.strip().split("\n", 1)
    stored = re.fullmatch(r"stored as (\S+); my id for it: (\S+)", first)
    assert stored and stored.group(1) != stored.group(2), first  # the server's id, and ours beside it
    assert len(reply.strip()) > 3, done.stdout  # Eliza's answer, streamed

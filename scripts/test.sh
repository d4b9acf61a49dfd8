#!/usr/bin/env bash
# Installs everything the tests need from nothing, then runs lint, types and every test.
# This is the README's test command; .ci/run calls it too.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e ".[test,semantic]"
for dir in tests/js tests/js-legacy bench; do
  if [ -f "$dir/package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
bash scripts/install-browser.sh
bash scripts/install-nginx.sh
bash scripts/install-pgvector.sh

.venv/bin/ruff check src tests bench
.venv/bin/mypy
# Test files run in parallel (each file on one worker: module fixtures and servers stay together);
# most of the time is spent waiting on servers and Node clients, so three workers fit two cores.
.venv/bin/python -m pytest -n "${TEST_WORKERS:-3}" --dist loadfile "$@"

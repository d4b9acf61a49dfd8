#!/usr/bin/env bash
# Installs Debian's Chromium for the web chat tests (tests/web/), only when it is missing.
# The tests drive it with Playwright's Python package at /usr/bin/chromium; `playwright install`
# (which downloads its own browser build) is never needed.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-browser: /usr/bin/chromium is missing and this user cannot install it;" \
    "run 'apt-get install chromium' as root (the web chat tests skip without it, and fail in CI)." >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "install-browser: installed $(/usr/bin/chromium --version 2>/dev/null | head -n1)"

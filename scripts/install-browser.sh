#!/usr/bin/env bash
# Installs Debian's Chromium for the web chat tests (tests/web/), only when it is missing.
# The tests drive it with Playwright's Python package at /usr/bin/chromium; `playwright install`
# (which downloads its own browser build) is never needed.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
bash "$(dirname "$0")/apt-install.sh" install-browser "the web chat tests" chromium
if [ -x /usr/bin/chromium ]; then
  echo "install-browser: installed $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
fi

#!/usr/bin/env bash
# Installs Debian's nginx for the deployment test (tests/e2e/test_deploy_nginx.py), only when it is missing.
# The test runs it as its own non-daemon child on a free loopback port; the system service is never started.
set -euo pipefail

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-nginx: nginx is missing and this user cannot install it;" \
    "run 'apt-get install nginx-light' (or nginx) as root (the deployment test skips without it, and fails in CI)." >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
# nginx-light has everything deploy/nginx.conf.template uses (upstream hash, map, websocket proxying)
"${as_root[@]}" apt-get install -y -qq --no-install-recommends nginx-light >/dev/null \
  || "${as_root[@]}" apt-get install -y -qq --no-install-recommends nginx >/dev/null
echo "install-nginx: installed $(/usr/sbin/nginx -v 2>&1)"

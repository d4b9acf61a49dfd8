#!/usr/bin/env bash
# Installs Debian's nginx for the deployment test (tests/e2e/test_deploy_nginx.py), only when it is missing.
# The test runs it as its own non-daemon child on a free loopback port; the system service is never started.
set -euo pipefail

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  exit 0
fi
# nginx-light has everything deploy/nginx.conf.template uses (upstream hash, map, websocket proxying)
bash "$(dirname "$0")/apt-install.sh" install-nginx "the deployment tests" nginx-light nginx
if [ -x /usr/sbin/nginx ]; then
  echo "install-nginx: installed $(/usr/sbin/nginx -v 2>&1)"
fi

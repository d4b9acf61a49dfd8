#!/usr/bin/env bash
# Installs one Debian package as root (or through sudo) for the test command's install-*.sh scripts,
# or says what to run when this user cannot (the tests that need it then skip, and fail in CI).
# Usage: apt-install.sh WHO "WHICH TESTS NEED IT" PACKAGE [ALTERNATIVE_PACKAGE]
set -euo pipefail
who=$1 needed_by=$2 package=$3 alternative=${4:-}

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "$who: $package is missing and this user cannot install it; run 'apt-get install $package' as root" \
    "($needed_by skip without it, and fail in CI)." >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
if ! "${as_root[@]}" apt-get install -y -qq --no-install-recommends "$package" >/dev/null; then
  [ -n "$alternative" ] || exit 1
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "$alternative" >/dev/null
fi

#!/usr/bin/env bash
# Installs Debian's pgvector for the local PostgreSQL, for the semantic search tests on PostgreSQL
# (tests/search/), only when it is missing and the archive has it. The store runs CREATE EXTENSION vector itself.
set -euo pipefail

major=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1 || true)
if [ -z "$major" ]; then
  echo "install-pgvector: no local PostgreSQL cluster; nothing to install" >&2
  exit 0
fi
if [ -f "/usr/share/postgresql/$major/extension/vector.control" ]; then
  exit 0
fi
candidate() { apt-cache policy "postgresql-$major-pgvector" 2>/dev/null | grep -E 'Candidate: [0-9]' || true; }
if [ -z "$(candidate)" ] && [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq || true  # a fresh machine's package lists may be empty
fi
if [ -z "$(candidate)" ]; then
  # Debian 12's archive has no pgvector (it arrived with Debian 13): the store keeps vectors in real[] then
  # and compares them in SQL, slower but the same answers (store/postgres_search.py).
  echo "install-pgvector: postgresql-$major-pgvector is not in this machine's package archive;" \
    "semantic search on PostgreSQL uses its real[] fallback" >&2
  exit 0
fi
bash "$(dirname "$0")/apt-install.sh" install-pgvector "the semantic search tests on PostgreSQL" \
  "postgresql-$major-pgvector"
if [ -f "/usr/share/postgresql/$major/extension/vector.control" ]; then
  echo "install-pgvector: installed pgvector for PostgreSQL $major"
fi

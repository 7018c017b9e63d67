#!/usr/bin/env bash
# A real PostgreSQL server for the PostgreSQL metadata store's tests (issue 19): Debian's postgresql
# package (the server binaries under /usr/lib/postgresql/N/bin; tests/pg_support.py runs initdb and
# postgres itself, as the package's unprivileged "postgres" user, in a temporary directory). The
# package's own cluster service is not used. Idempotent.
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi

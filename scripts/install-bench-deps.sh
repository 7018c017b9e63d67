#!/usr/bin/env bash
# Installs the system packages `make bench` needs: nginx (the static-file reference server) and
# PostgreSQL (the cluster case: two gateways on one database; the tests' installer is reused).
# Idempotent: does nothing when both are already there.
set -euo pipefail

bash "$(dirname "$0")/install-test-deps.d/postgresql.sh" \
  || echo "install-bench-deps: PostgreSQL could not be installed; the cluster case will be skipped" >&2

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-bench-deps: nginx is missing and we are not root; install it with: sudo apt-get install -y nginx" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends nginx
# The Debian package starts a system nginx on :80 when a service manager exists; the benchmark runs its
# own instance with its own config, so stop the system one if it got started (ignore failures: no systemd here).
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
  systemctl stop nginx || true
fi

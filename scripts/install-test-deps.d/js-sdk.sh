#!/usr/bin/env bash
# The AWS SDK for JavaScript v3 for tests/sdk/js (the spec's SDK walkthroughs under Node): installed
# exactly as locked in tests/sdk/js/package-lock.json. node_modules stays out of git.
set -euo pipefail
cd "$(dirname "$0")/../../tests/sdk/js"
if ! command -v npm >/dev/null 2>&1; then
  echo "js-sdk.sh: npm is missing (scripts/install-test-deps.sh installs nodejs and npm)" >&2
  exit 1
fi
npm ci --no-audit --no-fund --loglevel=error

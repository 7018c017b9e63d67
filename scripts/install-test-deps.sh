#!/usr/bin/env bash
# System packages the test suite needs on a fresh Debian machine (idempotent; we run as root in CI).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# The AWS CLI comes from PyPI (awscli, in the venv); Ruby's SDK and Node come from Debian.
command -v ruby >/dev/null 2>&1 && ruby -e 'require "aws-sdk-s3"' 2>/dev/null || need_apt+=(ruby ruby-aws-sdk-s3)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The console's browser tests: Debian's chromium and Playwright for Python (never "playwright install").
bash scripts/install-console-test-deps.sh

for extra in scripts/install-test-deps.d/*.sh; do
  [ -e "$extra" ] && bash "$extra"
done
exit 0

#!/usr/bin/env bash
# Installs system packages the test suite needs (on a fresh Debian machine).
set -euo pipefail

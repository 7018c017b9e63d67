#!/usr/bin/env bash
# Installs what the console's browser tests need: Debian's chromium and Playwright for Python.
# Playwright drives the system browser (executable_path=/usr/bin/chromium); its own browser
# download step ("playwright install") is never run.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
fi
PY="${PYTHON:-.venv/bin/python}"
if ! "$PY" -c "import playwright" 2>/dev/null; then
  "$PY" -m pip install -q "playwright>=1.40"
fi

#!/usr/bin/env bash
# Install Debian's chromium for the report's headless-browser test (tests/shared/test_report_browser.py).
# Idempotent and quiet: does nothing when /usr/bin/chromium is already there.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "browser-deps: chromium is missing and this user cannot install packages (no root, no sudo)." >&2
        echo "browser-deps: install it with: apt-get install -y chromium  (the browser test will be skipped)" >&2
        exit 0
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "browser-deps: chromium did not install" >&2; exit 1; }

#!/usr/bin/env bash
# Install Debian's chromium for the report's headless-browser test (tests/shared/test_report_browser.py).
# Idempotent and quiet: does nothing when /usr/bin/chromium is already there.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
    exit 0
fi

. "$(dirname "$0")/_apt.sh"
rc=0
apt_install browser-deps "the browser test will be skipped" chromium fonts-dejavu-core || rc=$?
if [ "$rc" -eq 2 ]; then exit 0; fi  # cannot install here: the tests skip, saying why
if [ "$rc" -ne 0 ]; then echo "browser-deps: apt-get failed" >&2; exit "$rc"; fi
command -v chromium >/dev/null 2>&1 || { echo "browser-deps: chromium did not install" >&2; exit 1; }

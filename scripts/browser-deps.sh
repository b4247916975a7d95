#!/usr/bin/env bash
# Install Debian's chromium and its WebDriver (chromium-driver) for the headless-browser tests
# (tests/shared/test_report_browser.py, tests/reader/test_page_browser.py).
# Idempotent and quiet: does nothing when both chromium and chromedriver are already there.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/bin/$1" ]; }
if have chromium && have chromedriver; then
    exit 0
fi

. "$(dirname "$0")/_apt.sh"
rc=0
apt_install browser-deps "the browser tests will be skipped" \
    chromium chromium-driver fonts-dejavu-core || rc=$?
if [ "$rc" -eq 2 ]; then exit 0; fi  # cannot install here: the tests skip, saying why
if [ "$rc" -ne 0 ]; then echo "browser-deps: apt-get failed" >&2; exit "$rc"; fi
have chromium || { echo "browser-deps: chromium did not install" >&2; exit 1; }
have chromedriver || { echo "browser-deps: chromium-driver did not install" >&2; exit 1; }

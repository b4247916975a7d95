#!/usr/bin/env bash
# A Java runtime (>= 17) for pyspark's local mode in the Spark tests (tests/text/test_spark.py).
# Idempotent and quiet: does nothing when `java -version` already reports 17 or newer.
set -euo pipefail

java_major() {
    local java="java"
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then java="$JAVA_HOME/bin/java"; fi
    command -v "$java" >/dev/null 2>&1 || { echo 0; return; }
    # 'openjdk version "17.0.15" 2025-04-15' -> 17; 'java version "1.8.0_392"' -> 8
    local v
    v="$("$java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
    v="${v#1.}"
    echo "${v%%[._+-]*}" | grep -E '^[0-9]+$' || echo 0
}

if [ "$(java_major)" -ge 17 ]; then
    exit 0
fi

. "$(dirname "$0")/_apt.sh"
rc=0
apt_install java-deps "the Spark tests will be skipped" default-jre-headless || rc=$?
if [ "$rc" -eq 2 ]; then exit 0; fi  # cannot install here: the tests skip, saying why
if [ "$rc" -ne 0 ]; then echo "java-deps: apt-get failed" >&2; exit "$rc"; fi
if [ "$(java_major)" -lt 17 ]; then
    echo "java-deps: installed Java is older than 17 (pyspark 4 needs 17+); install openjdk-17-jre-headless" >&2
    exit 1
fi

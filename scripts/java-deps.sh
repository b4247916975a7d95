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

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "java-deps: Java >= 17 is missing and this user cannot install packages (no root, no sudo)." >&2
        echo "java-deps: install it with: apt-get install -y default-jre-headless  (the Spark tests will be skipped)" >&2
        exit 0
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends default-jre-headless >/dev/null
if [ "$(java_major)" -lt 17 ]; then
    echo "java-deps: installed Java is older than 17 (pyspark 4 needs 17+); install openjdk-17-jre-headless" >&2
    exit 1
fi

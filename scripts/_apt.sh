# Sourced by the *-deps.sh scripts: install Debian packages as root, through sudo, or explain.
# apt_install NAME HINT PACKAGE... : returns 0 after installing, 1 when apt-get fails, 2 when this
# user cannot install (a message naming HINT is printed; the caller's tests then skip).
# Callers use `apt_install ... || rc=$?`, where `set -e` does not act inside the function, so
# every step checks its own status.
apt_install() {
    local name="$1" hint="$2"
    shift 2
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo="sudo"
        else
            echo "$name: missing, and this user cannot install packages (no root, no sudo)." >&2
            echo "$name: install it with: apt-get install -y $*  ($hint)" >&2
            return 2
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >/dev/null || return 1
    $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null || return 1
}

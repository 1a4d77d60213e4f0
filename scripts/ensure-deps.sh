#!/usr/bin/env bash
# Makes sure what the product and its tests need is on this machine: the PostgreSQL server binaries
# (initdb, pg_ctl) with the dblink extension (contrib), and a headless browser (Debian's chromium) for the
# dashboard test. Installs what is missing from the OS packages, and says so.
set -euo pipefail

have_server() {
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1
}
have_dblink() {
    ls /usr/share/postgresql/*/extension/dblink.control >/dev/null 2>&1 \
        || { command -v pg_config >/dev/null 2>&1 && [ -f "$(pg_config --sharedir)/extension/dblink.control" ]; }
}

have_browser() {
    command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
}

packages=()
if ! have_server || ! have_dblink; then
    echo "PostgreSQL server and contrib (dblink) are missing: installing them from the OS packages…" >&2
    packages+=(postgresql postgresql-contrib)
fi
if [ "${1:-}" != "--no-browser" ] && ! have_browser; then
    echo "A headless browser for the dashboard test is missing: installing Debian's chromium…" >&2
    packages+=(chromium)
fi
if [ ${#packages[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: no apt-get here; install ${packages[*]} yourself" >&2
    echo "       (or point POS_PG_BIN_DIR at the directory that holds initdb and pg_ctl)." >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${packages[@]}" >/dev/null
if ! have_server || ! have_dblink; then
    echo "error: PostgreSQL was installed but initdb or dblink is still missing" >&2
    exit 1
fi
echo "installed: ${packages[*]}" >&2

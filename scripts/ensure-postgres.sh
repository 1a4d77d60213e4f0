#!/usr/bin/env bash
# Makes sure the PostgreSQL server binaries (initdb, pg_ctl) and the dblink extension (contrib) are on
# this machine; installs them from the OS packages when missing, and says so.
set -euo pipefail

have_server() {
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1
}
have_dblink() {
    ls /usr/share/postgresql/*/extension/dblink.control >/dev/null 2>&1 \
        || { command -v pg_config >/dev/null 2>&1 && [ -f "$(pg_config --sharedir)/extension/dblink.control" ]; }
}

if have_server && have_dblink; then
    exit 0
fi

echo "PostgreSQL server and contrib (dblink) are missing: installing them from the OS packages…" >&2
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: no apt-get here; install the PostgreSQL server and contrib packages (with dblink) yourself," >&2
    echo "       or point POS_PG_BIN_DIR at the directory that holds initdb and pg_ctl." >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq postgresql postgresql-contrib >/dev/null
if ! have_server || ! have_dblink; then
    echo "error: PostgreSQL was installed but initdb or dblink is still missing" >&2
    exit 1
fi
echo "PostgreSQL installed: $(ls -d /usr/lib/postgresql/*/bin | tail -n 1)" >&2

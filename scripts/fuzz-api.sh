#!/usr/bin/env bash
# Schema fuzzing of both services' APIs: starts a local chain (central and two nodes, demo data), runs
# schemathesis (pinned, in a virtualenv of its own, from the Python package registry) against each
# service's /openapi.json with all of its checks, and fails on any finding. `schemathesis.toml` says
# which refusals the documents cannot express (an id that does not exist, a zone the database does not
# know). Examples per operation: FUZZ_EXAMPLES (default 100).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
venv=${FUZZ_VENV:-target/fuzz-venv}
dir=${FUZZ_DIR:-target/fuzz-cluster}
examples=${FUZZ_EXAMPLES:-100}
seed=${FUZZ_SEED:-20261203}

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    if ! python3 -m venv "$venv" 2>/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

bash scripts/ensure-deps.sh --no-browser
cargo build -q --workspace --bins
posctl=target/debug/posctl
[ -n "${CARGO_TARGET_DIR:-}" ] && posctl="$CARGO_TARGET_DIR/debug/posctl"
$posctl down --dir "$dir" --purge >/dev/null 2>&1 || true
finish() { # keeps the services' logs beside the reports, then removes the chain
    mkdir -p target/fuzz-report && cp -r "$dir/logs" target/fuzz-report/ 2>/dev/null || true
    $posctl down --dir "$dir" --purge >/dev/null 2>&1 || true
}
trap finish EXIT
$posctl up --dir "$dir" --cities Karachi,Lahore --demo-data --detach >/dev/null

read -r central admin node cashier < <(python3 - "$dir/cluster.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
n = c["nodes"][0]
print(c["central"]["url"], c["central"]["admin_token"], n["url"], n["stores"][0]["cashier_token"])
PY
)

fuzz() { # name, base URL, token
    echo "== schemathesis against $1 ($2)"
    "$venv/bin/schemathesis" --config-file schemathesis.toml run "$2/openapi.json" \
        -H "Authorization: Bearer $3" --max-examples "$examples" --seed "$seed" --workers 1 \
        --report junit --report-dir "target/fuzz-report/$1"
}
# The node first: central's run revokes cashier tokens, disables nodes and moves stores.
status=0
fuzz store-node "$node" "$cashier" || status=1
fuzz central "$central" "$admin" || status=1
exit $status

#!/usr/bin/env bash
# Validates docker-compose.yml with docker-compose itself (no Docker engine needed), with the values of
# .env.example, and checks that .env.example names every variable the compose file reads.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for var in $(grep -o '\${[A-Z0-9_]*' docker-compose.yml | tr -d '${' | sort -u); do
    if ! grep -q "^${var}=" .env.example; then
        missing+=("$var")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "error: docker-compose.yml reads ${missing[*]}, which .env.example does not set" >&2
    exit 1
fi
# Only .env.example's values: an operator's own .env or shell must not make this pass.
env -i PATH="$PATH" docker-compose --env-file .env.example -f docker-compose.yml config -q
echo "docker-compose.yml is valid with .env.example"

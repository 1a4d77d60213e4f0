#!/usr/bin/env bash
# Run once by the official postgres image's entrypoint, on an instance's first start (empty data directory),
# as the superuser over the local socket. In POSTGRES_DB it creates the roles the services use and installs
# dblink (not a trusted extension, so the services cannot install it themselves):
#   pos_app         LOGIN, owns the database, may use the dblink foreign-data wrapper (central's register_node(),
#                   a store node's link to central). The services connect as it.
#   pos_replicator  LOGIN, nothing else: a peer's dblink connects as it, and the services' schema grants it
#                   EXECUTE on the apply functions only.
# Passwords come from PG_APP_PASSWORD and PG_REPLICATOR_PASSWORD (see docker-compose.yml). psql reads them with
# \getenv, so they appear neither on a command line nor in this file, and quotes them with :'...'.
set -Eeo pipefail

: "${POSTGRES_DB:?POSTGRES_DB is not set}"
: "${PG_APP_PASSWORD:?PG_APP_PASSWORD must be set (the pos_app role's password)}"
: "${PG_REPLICATOR_PASSWORD:?PG_REPLICATOR_PASSWORD must be set (the pos_replicator role's password)}"

psql --no-psqlrc --no-password -v ON_ERROR_STOP=1 \
    --username "${POSTGRES_USER:-postgres}" --dbname "$POSTGRES_DB" <<'EOSQL'
\getenv app_password PG_APP_PASSWORD
\getenv replicator_password PG_REPLICATOR_PASSWORD
\getenv db POSTGRES_DB
SET password_encryption = 'scram-sha-256';
CREATE ROLE pos_app LOGIN PASSWORD :'app_password';
CREATE ROLE pos_replicator LOGIN PASSWORD :'replicator_password';
ALTER DATABASE :"db" OWNER TO pos_app;
CREATE EXTENSION IF NOT EXISTS dblink;
GRANT USAGE ON FOREIGN DATA WRAPPER dblink_fdw TO pos_app;
EOSQL
echo "10-pos-roles.sh: roles pos_app and pos_replicator and extension dblink ready in ${POSTGRES_DB}"

#!/usr/bin/env bash
# Run once by the official postgres image's entrypoint, on an instance's first start (empty data directory),
# as the superuser over the local socket. In POSTGRES_DB it creates the roles the services use and installs
# dblink (not a trusted extension, so the services cannot install it themselves):
#   pos_owner       LOGIN, owns the database and its schema: the services migrate as it at start-up
#                   (POS_MIGRATION_DATABASE_URL), and nothing else connects as it.
#   pos_app         LOGIN, owns nothing: reads and writes rows (the schema grants it that at each start),
#                   cannot DROP, ALTER or TRUNCATE; may use the dblink foreign-data wrapper (central's
#                   register_node(), a store node's link to central). The services run as it.
#   pos_replicator  LOGIN, nothing else: a peer's dblink connects as it, and the services' schema grants it
#                   EXECUTE on the apply functions only. At central it is also the group of the nodes' logins.
#   pos_node_<id>   (central only, from PG_NODE_LOGINS) each node's own login at central, a member of
#                   pos_replicator: central takes from it the sales of its own city's stores only.
# Passwords come from PG_OWNER_PASSWORD, PG_APP_PASSWORD, PG_REPLICATOR_PASSWORD and PG_NODE_LOGINS
# (`pos_node_1=PASSWORD pos_node_2=PASSWORD`; see docker-compose.yml). psql reads them with \getenv, so they
# appear neither on a command line nor in this file, and quotes them with :'...'.
set -Eeo pipefail

: "${POSTGRES_DB:?POSTGRES_DB is not set}"
: "${PG_OWNER_PASSWORD:?PG_OWNER_PASSWORD must be set (the password of role pos_owner)}"
: "${PG_APP_PASSWORD:?PG_APP_PASSWORD must be set (the password of role pos_app)}"
: "${PG_REPLICATOR_PASSWORD:?PG_REPLICATOR_PASSWORD must be set (the password of role pos_replicator)}"

pos_psql() {
    psql --no-psqlrc --no-password -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "$POSTGRES_DB"
}

pos_psql <<'EOSQL'
\getenv owner_password PG_OWNER_PASSWORD
\getenv app_password PG_APP_PASSWORD
\getenv replicator_password PG_REPLICATOR_PASSWORD
\getenv db POSTGRES_DB
SET password_encryption = 'scram-sha-256';
CREATE ROLE pos_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE pos_app LOGIN PASSWORD :'app_password';
CREATE ROLE pos_replicator LOGIN PASSWORD :'replicator_password';
ALTER DATABASE :"db" OWNER TO pos_owner;
CREATE EXTENSION IF NOT EXISTS dblink;
GRANT USAGE ON FOREIGN DATA WRAPPER dblink_fdw TO pos_app;
EOSQL

for entry in ${PG_NODE_LOGINS:-}; do
    login=${entry%%=*}
    [[ "$login" =~ ^pos_node_[0-9]+$ ]] || { echo "PG_NODE_LOGINS: $login is not pos_node_<city id>" >&2; exit 1; }
    NODE_LOGIN=$login NODE_PASSWORD=${entry#*=} pos_psql <<'EOSQL'
\getenv login NODE_LOGIN
\getenv password NODE_PASSWORD
SET password_encryption = 'scram-sha-256';
CREATE ROLE :"login" LOGIN PASSWORD :'password' IN ROLE pos_replicator;
EOSQL
done
echo "10-pos-roles.sh: roles pos_owner, pos_app, pos_replicator${PG_NODE_LOGINS:+ and the node logins} and extension dblink ready in ${POSTGRES_DB}"

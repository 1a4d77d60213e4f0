//! Roles and databases inside an instance, made over a superuser connection: posctl's cluster set-up,
//! the test kit's databases and [`PgInstance::restore`].

use anyhow::Context;

use super::{APP_ROLE, OWNER_ROLE, PgInstance, REPLICATOR_ROLE};

/// Creates `role` with LOGIN and `password`, or resets the password of an existing one.
pub async fn ensure_role(
    client: &tokio_postgres::Client,
    role: &str,
    password: &str,
) -> anyhow::Result<()> {
    let exists = client
        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role])
        .await?
        .is_some();
    let verb = if exists { "ALTER" } else { "CREATE" };
    // Utility statements take no parameters: quote with format() in the server, never by hand.
    let statement: String = client
        .query_one(
            "SELECT format('%s ROLE %I LOGIN PASSWORD %L', $1::text, $2::text, $3::text)",
            &[&verb, &role, &password],
        )
        .await?
        .get(0);
    client
        .batch_execute(&statement)
        .await
        .with_context(|| format!("creating role {role}"))?;
    Ok(())
}

/// The login the node of `city_id` reports its sales under at central: what central expects of a node
/// registered without another.
pub fn node_login(city_id: i32) -> String {
    format!("pos_node_{city_id}")
}

/// Creates (or resets the password of) the node login of `city_id` at central, a member of
/// [`REPLICATOR_ROLE`] (whose only right there is to report sales); its name.
pub async fn ensure_node_login(
    client: &tokio_postgres::Client,
    city_id: i32,
    password: &str,
) -> anyhow::Result<String> {
    let login = node_login(city_id);
    ensure_role(client, &login, password).await?;
    let grant: String = client
        .query_one(
            "SELECT format('GRANT %I TO %I', $1::text, $2::text)",
            &[&REPLICATOR_ROLE, &login],
        )
        .await?
        .get(0);
    client
        .batch_execute(&grant)
        .await
        .with_context(|| format!("making {login} a member of {REPLICATOR_ROLE}"))?;
    Ok(login)
}

/// Creates database `name` owned by [`OWNER_ROLE`] (from `template` when given), with dblink installed
/// and its foreign-data wrapper usable by [`APP_ROLE`] (which defines the servers of its peers). Needs a
/// superuser connection.
pub async fn create_database(
    instance: &PgInstance,
    admin: &tokio_postgres::Client,
    name: &str,
    template: Option<&str>,
) -> anyhow::Result<()> {
    let statement: String = admin
        .query_one(
            "SELECT format('CREATE DATABASE %I OWNER %I TEMPLATE %I', $1::text, $2::text, $3::text)",
            &[&name, &OWNER_ROLE, &template.unwrap_or("template0")],
        )
        .await?
        .get(0);
    admin
        .batch_execute(&statement)
        .await
        .with_context(|| format!("creating database {name}"))?;
    if template.is_none() {
        let db = instance.superuser_client(name).await?;
        let grant: String = db
            .query_one(
                "SELECT format('CREATE EXTENSION IF NOT EXISTS dblink; \
                 GRANT USAGE ON FOREIGN DATA WRAPPER dblink_fdw TO %I', $1::text)",
                &[&APP_ROLE],
            )
            .await?
            .get(0);
        db.batch_execute(&grant)
            .await
            .with_context(|| format!("installing dblink in {name}"))?;
    }
    Ok(())
}

/// Drops a database, disconnecting whoever is still in it.
pub async fn drop_database(admin: &tokio_postgres::Client, name: &str) -> anyhow::Result<()> {
    let statement: String = admin
        .query_one(
            "SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', $1::text)",
            &[&name],
        )
        .await?
        .get(0);
    admin.batch_execute(&statement).await?;
    Ok(())
}

//! The cluster's PostgreSQL instances under `DIR/pg/<name>`: made on first use, started, their roles and
//! database prepared, stopped. Used by `ops` (`up`, `down`, `db`, `status`).

use anyhow::{Context, bail};
use pos_shared::pgctl::{
    self, APP_ROLE, InstanceOptions, OWNER_ROLE, PgInstance, REPLICATOR_ROLE, StopMode,
};

use super::{InstanceState, Paths, port_free};

/// Creates the instance on first use and starts it when stopped (blocking). Returns whether it was
/// started by this call.
pub fn ensure_instance(paths: &Paths, instance: &InstanceState) -> anyhow::Result<bool> {
    let data_dir = paths.pg_dir(&instance.name);
    let pg = if data_dir.join("PG_VERSION").exists() {
        instance.pg(paths)?
    } else {
        if data_dir.exists() {
            // A half-made directory from an interrupted first `up`.
            std::fs::remove_dir_all(&data_dir)
                .with_context(|| format!("removing the unfinished {}", data_dir.display()))?;
        }
        std::fs::create_dir_all(paths.dir.join("pg")).context("creating DIR/pg")?;
        PgInstance::init(
            data_dir,
            instance.pg_port,
            instance.superuser_password.clone(),
            &InstanceOptions { ephemeral: false },
        )
        .with_context(|| format!("creating the {} PostgreSQL instance", instance.name))?
    };
    if pg.is_running() {
        return Ok(false);
    }
    if !port_free(instance.pg_port) {
        bail!(
            "port {} (PostgreSQL of {}) is in use by another process",
            instance.pg_port,
            instance.name
        );
    }
    pg.start()
        .with_context(|| format!("starting the {} PostgreSQL instance", instance.name))?;
    Ok(true)
}

/// Creates the owner, service and replication roles (or resets their passwords) and the database.
pub async fn prepare_database(paths: &Paths, instance: &InstanceState) -> anyhow::Result<()> {
    let pg = instance.pg(paths)?;
    let admin = pg.superuser_client("postgres").await?;
    pgctl::ensure_role(&admin, OWNER_ROLE, &instance.owner_password)
        .await
        .with_context(|| format!("creating role {OWNER_ROLE} on {}", instance.name))?;
    pgctl::ensure_role(&admin, APP_ROLE, &instance.app_password)
        .await
        .with_context(|| format!("creating role {APP_ROLE} on {}", instance.name))?;
    pgctl::ensure_role(&admin, REPLICATOR_ROLE, &instance.replicator_password)
        .await
        .with_context(|| format!("creating role {REPLICATOR_ROLE} on {}", instance.name))?;
    let exists = admin
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&instance.dbname],
        )
        .await
        .context("looking for the database")?
        .is_some();
    if !exists {
        pgctl::create_database(&pg, &admin, &instance.dbname, None)
            .await
            .with_context(|| format!("creating database {}", instance.dbname))?;
    }
    Ok(())
}

/// Creates (or resets) the login the node of `city_id` reports its sales under at central.
pub async fn ensure_node_login(
    paths: &Paths,
    central: &InstanceState,
    city_id: i32,
    password: &str,
) -> anyhow::Result<()> {
    let admin = central.pg(paths)?.superuser_client("postgres").await?;
    pgctl::ensure_node_login(&admin, city_id, password)
        .await
        .with_context(|| format!("creating the login of the node of city {city_id} at central"))?;
    Ok(())
}

/// Stops an instance (blocking): fast, or immediate when fast fails.
pub fn stop_instance(paths: &Paths, instance: &InstanceState) -> anyhow::Result<()> {
    if !paths.pg_dir(&instance.name).join("PG_VERSION").exists() {
        return Ok(());
    }
    let pg = instance.pg(paths)?;
    if let Err(fast) = pg.stop(StopMode::Fast) {
        pg.stop(StopMode::Immediate).with_context(|| {
            format!(
                "stopping the {} PostgreSQL instance (fast stop failed first: {fast:#})",
                instance.name
            )
        })?;
    }
    Ok(())
}

pub fn is_running(paths: &Paths, instance: &InstanceState) -> bool {
    paths.pg_dir(&instance.name).join("PG_VERSION").exists()
        && instance.pg(paths).is_ok_and(|pg| pg.is_running())
}

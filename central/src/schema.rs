//! Central's SQL: versioned migrations and the replaceable function files.

use pos_shared::db::ReplaceableSql;

mod embedded {
    refinery::embed_migrations!("../sql/central/migrations");
}

/// The replaceable files, one per concern, applied in this order after `common/functions.sql`.
pub const FUNCTIONS: &[ReplaceableSql] =
    pos_shared::replaceable_sql!("central": "capture", "delivery", "nodes", "orders", "reports");

/// Brings central's database up to date (idempotent).
pub async fn migrate(config: &pos_shared::db::DbConfig) -> anyhow::Result<()> {
    pos_shared::db::apply_schema(config, embedded::migrations::runner(), FUNCTIONS).await
}

/// Applies the versioned migrations up to `version` only, and not the functions: a database as an
/// earlier release left it, for tests of the upgrade from there.
pub async fn migrate_to_version(
    config: &pos_shared::db::DbConfig,
    version: u32,
) -> anyhow::Result<()> {
    pos_shared::db::apply_schema(
        config,
        embedded::migrations::runner().set_target(refinery::Target::Version(version)),
        &[],
    )
    .await
}

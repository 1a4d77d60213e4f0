//! Central's SQL: versioned migrations and the replaceable function files.

use pos_shared::db::ReplaceableSql;

mod embedded {
    refinery::embed_migrations!("../sql/central/migrations");
}

/// The replaceable files, one per concern, applied in this order after `common/functions.sql`.
pub const FUNCTIONS: &[ReplaceableSql] = pos_shared::replaceable_sql!("central": "capture", "delivery", "nodes", "orders", "transfers", "customers", "reports", "audit");

/// Brings central's database up to date (idempotent), connected as the schema's owner; then lets
/// `runtime_role` (the service's own login, when it is another) use it.
pub async fn migrate(
    config: &pos_shared::db::DbConfig,
    runtime_role: Option<&str>,
) -> anyhow::Result<()> {
    pos_shared::db::apply_schema(
        config,
        embedded::migrations::runner(),
        FUNCTIONS,
        runtime_role,
    )
    .await
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
        None,
    )
    .await
}

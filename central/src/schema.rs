//! Central's SQL: versioned migrations and the replaceable functions file.

use pos_shared::db::ReplaceableSql;

mod embedded {
    refinery::embed_migrations!("../sql/central/migrations");
}

pub const FUNCTIONS: ReplaceableSql = ReplaceableSql {
    name: "central/functions.sql",
    text: include_str!("../../sql/central/functions.sql"),
};

/// Brings central's database up to date (idempotent).
pub async fn migrate(config: &tokio_postgres::Config) -> anyhow::Result<()> {
    pos_shared::db::apply_schema(
        config,
        embedded::migrations::runner(),
        &[pos_shared::db::COMMON_FUNCTIONS, FUNCTIONS],
    )
    .await
}

/// Applies the versioned migrations up to `version` only, and not the functions: a database as an
/// earlier release left it, for tests of the upgrade from there.
pub async fn migrate_to_version(
    config: &tokio_postgres::Config,
    version: u32,
) -> anyhow::Result<()> {
    pos_shared::db::apply_schema(
        config,
        embedded::migrations::runner().set_target(refinery::Target::Version(version)),
        &[],
    )
    .await
}

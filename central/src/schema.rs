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

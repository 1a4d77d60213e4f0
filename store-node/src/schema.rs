//! The store node's SQL: versioned migrations and the replaceable function files.

use pos_shared::db::ReplaceableSql;

mod embedded {
    refinery::embed_migrations!("../sql/store/migrations");
}

/// The replaceable files, one per concern, applied in this order after `common/functions.sql`.
pub const FUNCTIONS: &[ReplaceableSql] = pos_shared::replaceable_sql!("store": "replicas", "approvals", "checkout", "refunds", "receipts", "shifts", "stock", "transfers", "customers", "lookup", "outbox", "reports");

/// Brings the node's database up to date (idempotent), connected as the schema's owner; then lets
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

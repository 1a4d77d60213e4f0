//! The store node's SQL: versioned migrations and the replaceable function files.

use pos_shared::db::ReplaceableSql;

mod embedded {
    refinery::embed_migrations!("../sql/store/migrations");
}

/// The replaceable files, one per concern, applied in this order after `common/functions.sql`.
pub const FUNCTIONS: &[ReplaceableSql] = &[
    pos_shared::db::COMMON_FUNCTIONS,
    ReplaceableSql {
        name: "store/replicas.sql",
        text: include_str!("../../sql/store/replicas.sql"),
    },
    ReplaceableSql {
        name: "store/checkout.sql",
        text: include_str!("../../sql/store/checkout.sql"),
    },
    ReplaceableSql {
        name: "store/refunds.sql",
        text: include_str!("../../sql/store/refunds.sql"),
    },
    ReplaceableSql {
        name: "store/outbox.sql",
        text: include_str!("../../sql/store/outbox.sql"),
    },
    ReplaceableSql {
        name: "store/reports.sql",
        text: include_str!("../../sql/store/reports.sql"),
    },
];

/// Brings the node's database up to date (idempotent).
pub async fn migrate(config: &tokio_postgres::Config) -> anyhow::Result<()> {
    pos_shared::db::apply_schema(config, embedded::migrations::runner(), FUNCTIONS).await
}

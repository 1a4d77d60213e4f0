//! Stock transfers between stores, as the nodes report them (sql/central/transfers.sql).

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use pos_shared::page::PageRequest;
use pos_shared::transfers::Transfer;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A transfer as head office sees it: its furthest step that central has heard of.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferView {
    #[serde(flatten)]
    pub transfer: Transfer,
    pub from_store_code: Option<String>,
    /// `null`: a store head office does not know (the transfer was refused and cancelled).
    pub to_store_code: Option<String>,
    /// Units shipped that did not arrive, once received.
    pub units_short: Option<i64>,
    pub updated_at: DateTime<Utc>,
}

/// Transfers, newest first: of `status`, from or to `store_id`, each as given; a page's worth and one
/// more, with their keys.
pub async fn list(
    client: &impl GenericClient,
    status: Option<&str>,
    store_id: Option<i32>,
    page: PageRequest,
) -> anyhow::Result<Vec<(i64, TransferView)>> {
    let stmt = client
        .prepare_cached(
            "SELECT t.id::bigint, transfer_view(t) FROM transfers t
             WHERE ($1::text IS NULL OR t.status = $1)
               AND ($2::integer IS NULL OR $2 IN (t.from_store_id, t.to_store_id))
               AND t.id < $3::bigint
             ORDER BY t.id DESC LIMIT $4::bigint",
        )
        .await?;
    client
        .query(
            &stmt,
            &[&status, &store_id, &page.after_descending(), &page.fetch()],
        )
        .await
        .context("listing transfers")?
        .iter()
        .map(pos_shared::transfers::keyed_from_row)
        .collect()
}

pub async fn get(
    client: &impl GenericClient,
    transfer_id: Uuid,
) -> anyhow::Result<Option<TransferView>> {
    let stmt = client
        .prepare_cached("SELECT transfer_view(t) FROM transfers t WHERE t.transfer_id = $1")
        .await?;
    client
        .query_opt(&stmt, &[&transfer_id])
        .await
        .context("reading a transfer")?
        .map(|row| serde_json::from_value(row.get(0)).context("reading a transfer built in SQL"))
        .transpose()
}

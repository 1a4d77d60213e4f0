//! Stock transfers between stores (sql/store/transfers.sql).

use anyhow::Context;
use deadpool_postgres::GenericClient;
use pos_shared::page::{Page, PageRequest};
use pos_shared::transfers::Transfer;
use uuid::Uuid;

/// A shipment from the store (`ship_transfer()`).
pub struct Shipment<'a> {
    pub store_id: i32,
    pub to_store_id: i32,
    /// `[{"product_id", "quantity"}]`.
    pub items: &'a serde_json::Value,
    pub note: Option<&'a str>,
    pub idempotency_key: Uuid,
    pub credential_id: Option<i32>,
}

/// Runs `ship_transfer()`; the transfer, and whether it is a replay.
pub async fn ship(
    client: &impl GenericClient,
    shipment: &Shipment<'_>,
) -> anyhow::Result<(Transfer, bool)> {
    let stmt = client
        .prepare_cached("SELECT transfer_id, replayed FROM ship_transfer($1, $2, $3, $4, $5, $6)")
        .await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &shipment.store_id,
                &shipment.to_store_id,
                shipment.items,
                &shipment.note,
                &shipment.idempotency_key,
                &shipment.credential_id,
            ],
        )
        .await
        .context("shipping a transfer")?;
    let transfer = get(client, row.get(0))
        .await?
        .context("the transfer just shipped")?;
    Ok((transfer, row.get(1)))
}

/// A step the store takes on a transfer (`receive_transfer()` or `cancel_transfer()`, given as `sql`
/// with the store, the transfer, then its own parameters); the transfer after it, and whether the step
/// is a replay.
pub async fn step(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    transfer_id: Uuid,
) -> anyhow::Result<(Transfer, bool)> {
    let stmt = client.prepare_cached(sql).await?;
    let row = client
        .query_one(&stmt, params)
        .await
        .context("taking a step of a transfer")?;
    let transfer = get(client, transfer_id)
        .await?
        .context("the transfer just changed")?;
    Ok((transfer, row.get(0)))
}

/// The transfer, as this node has it.
pub async fn get(
    client: &impl GenericClient,
    transfer_id: Uuid,
) -> anyhow::Result<Option<Transfer>> {
    let stmt = client.prepare_cached("SELECT transfer_json($1)").await?;
    let row = client
        .query_one(&stmt, &[&transfer_id])
        .await
        .context("reading a transfer")?;
    row.get::<_, Option<serde_json::Value>>(0)
        .map(|json| serde_json::from_value(json).context("reading a transfer built in SQL"))
        .transpose()
}

/// A page of the store's transfers, newest first (`store_transfers()`).
pub async fn list(
    client: &impl GenericClient,
    store_id: i32,
    direction: Option<&str>,
    status: Option<&str>,
    page: PageRequest,
) -> anyhow::Result<Page<Transfer>> {
    let stmt = client
        .prepare_cached("SELECT id, transfer FROM store_transfers($1, $2, $3, $4, $5)")
        .await?;
    let rows = client
        .query(
            &stmt,
            &[
                &store_id,
                &direction,
                &status,
                &page.after_descending(),
                &page.fetch(),
            ],
        )
        .await
        .context("listing transfers")?
        .iter()
        .map(pos_shared::transfers::keyed_from_row)
        .collect::<anyhow::Result<Vec<(i64, Transfer)>>>()?;
    Ok(page.page_keyed(rows))
}

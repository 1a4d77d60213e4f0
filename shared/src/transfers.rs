//! The shape of a stock transfer between stores, as the nodes of its stores and central serve it. The
//! JSON is built in SQL (`transfer_json()` at a node, `transfer_view()` at central) and read back
//! through these types, so that the API document names every field.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `in_transit` (shipped, the stock off the source), `cancel_requested` (the source asked for it back
/// and waits for the destination's node), `received` or `cancelled` (final: the stock is at the
/// destination, or back at the source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    InTransit,
    CancelRequested,
    Received,
    Cancelled,
}

impl TransferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InTransit => "in_transit",
            Self::CancelRequested => "cancel_requested",
            Self::Received => "received",
            Self::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferLine {
    pub product_id: i32,
    /// Units shipped.
    pub quantity: i32,
    /// Units that arrived; `null` until the destination receives the shipment.
    pub received: Option<i32>,
    /// Why fewer arrived than were shipped.
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Transfer {
    pub transfer_id: Uuid,
    pub from_store_id: i32,
    pub to_store_id: i32,
    pub status: TransferStatus,
    pub note: Option<String>,
    /// Why it was cancelled: granted by the destination's node at the source's request, or refused by
    /// head office (a destination it does not know, or whose city has no node); or, on a received
    /// transfer, why the source's cancel was not granted (it came after the receipt).
    pub cancel_reason: Option<String>,
    pub shipped_at: DateTime<Utc>,
    pub cancel_requested_at: Option<DateTime<Utc>>,
    pub received_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub lines: Vec<TransferLine>,
}

/// A row of (key, transfer as JSON built in SQL), as `T`: a page's item with its key.
pub fn keyed_from_row<T: serde::de::DeserializeOwned>(
    row: &tokio_postgres::Row,
) -> anyhow::Result<(i64, T)> {
    let transfer = serde_json::from_value(row.get(1))
        .map_err(|e| anyhow::anyhow!("reading a transfer built in SQL: {e}"))?;
    Ok((row.get(0), transfer))
}

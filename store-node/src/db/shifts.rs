//! Shifts at a terminal (sql/store/shifts.sql): each call one function, the report as it returns it.

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use pos_shared::money::{Money, computed, computed_option};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShiftMethodTotals {
    pub method: String,
    /// Taken at the till (cash net of change given).
    #[serde(deserialize_with = "computed")]
    pub taken: Money,
    #[serde(deserialize_with = "computed")]
    pub refunded: Money,
    /// Given back by voids (cash net of the change the sale gave).
    #[serde(deserialize_with = "computed")]
    pub voided: Money,
    #[serde(deserialize_with = "computed")]
    pub net: Money,
}

/// A shift's figures: the X report while it is open, the Z report once closed (numbered, with the
/// count and the variance, and never changed again). Its sums are read as computed: a shift's refunds
/// may add up past what one amount may be.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShiftReport {
    pub shift_id: i64,
    pub terminal: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "computed")]
    pub opening_float: Money,
    pub sales_count: i64,
    #[serde(deserialize_with = "computed")]
    pub sales: Money,
    #[serde(deserialize_with = "computed")]
    pub discounts: Money,
    pub refunds_count: i64,
    #[serde(deserialize_with = "computed")]
    pub refunds: Money,
    /// Sales given back whole in the shift: counted in `sales` as well.
    pub voids_count: i64,
    #[serde(deserialize_with = "computed")]
    pub voids: Money,
    /// The tax the sales include, less what the refunds and voids gave back.
    #[serde(deserialize_with = "computed")]
    pub tax: Money,
    #[serde(deserialize_with = "computed")]
    pub cash_in: Money,
    #[serde(deserialize_with = "computed")]
    pub cash_out: Money,
    pub by_payment_method: Vec<ShiftMethodTotals>,
    /// Float + cash taken − cash refunded − cash voided + cash in − cash out.
    #[serde(deserialize_with = "computed")]
    pub expected_cash: Money,
    /// The Z report's number at its terminal (closed shifts only).
    #[serde(default)]
    pub z_number: Option<i32>,
    #[serde(default, deserialize_with = "computed_option")]
    pub counted_cash: Option<Money>,
    /// Counted less expected (closed shifts only).
    #[serde(default, deserialize_with = "computed_option")]
    pub variance: Option<Money>,
}

fn report(row: &tokio_postgres::Row) -> anyhow::Result<ShiftReport> {
    let value: Option<serde_json::Value> = row.try_get(0).context("reading a shift report")?;
    serde_json::from_value(value.context("no such shift")?).context("reading a shift report")
}

/// Opens a shift at the credential's terminal; its X report.
pub async fn open(
    client: &impl GenericClient,
    store_id: i32,
    credential_id: Option<i32>,
    opening_float: Money,
) -> anyhow::Result<ShiftReport> {
    let stmt = client
        .prepare_cached("SELECT open_shift($1, $2, $3)")
        .await?;
    let shift: i64 = client
        .query_one(&stmt, &[&store_id, &credential_id, &opening_float])
        .await
        .context("opening a shift")?
        .get(0);
    // A statement of its own: the report's snapshot must see the shift just opened.
    let stmt = client.prepare_cached("SELECT shift_report($1)").await?;
    report(
        &client
            .query_one(&stmt, &[&shift])
            .await
            .context("reading the shift")?,
    )
}

/// Cash put in or taken out of the drawer of the credential's open shift.
pub async fn move_cash(
    client: &impl GenericClient,
    store_id: i32,
    credential_id: Option<i32>,
    kind: &str,
    amount: Money,
    reason: &str,
) -> anyhow::Result<i64> {
    let stmt = client
        .prepare_cached("SELECT record_cash_movement($1, $2, $3, $4, $5)")
        .await?;
    Ok(client
        .query_one(&stmt, &[&store_id, &credential_id, &kind, &amount, &reason])
        .await
        .context("recording a cash movement")?
        .get(0))
}

/// The X report of the credential's open shift.
pub async fn current(
    client: &impl GenericClient,
    store_id: i32,
    credential_id: Option<i32>,
) -> anyhow::Result<ShiftReport> {
    let stmt = client
        .prepare_cached("SELECT shift_report(current_shift($1, $2))")
        .await?;
    let row = client
        .query_one(&stmt, &[&store_id, &credential_id])
        .await
        .context("reading the shift")?;
    report(&row)
}

/// Closes the credential's open shift with the cash counted; its Z report.
pub async fn close(
    client: &impl GenericClient,
    store_id: i32,
    credential_id: Option<i32>,
    counted_cash: Money,
) -> anyhow::Result<ShiftReport> {
    let stmt = client
        .prepare_cached("SELECT close_shift($1, $2, $3)")
        .await?;
    let row = client
        .query_one(&stmt, &[&store_id, &credential_id, &counted_cash])
        .await
        .context("closing the shift")?;
    report(&row)
}

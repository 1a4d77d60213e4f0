//! Cashier credentials: a bearer token bound to one store, kept as its SHA-256 digest.

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde::Serialize;
use tokio_postgres::Row;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CashierToken {
    pub id: i32,
    pub store_id: i32,
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&Row> for CashierToken {
    fn from(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            store_id: row.get("store_id"),
            label: row.get("label"),
            created_at: row.get("created_at"),
            revoked_at: row.get("revoked_at"),
        }
    }
}

/// Records a credential for `store_id` by the token's digest.
pub async fn issue(
    client: &impl GenericClient,
    store_id: i32,
    token_sha256: &str,
    label: Option<&str>,
) -> anyhow::Result<CashierToken> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO cashier_tokens (store_id, token_sha256, label) VALUES ($1, $2, $3)
             RETURNING id, store_id, label, created_at, revoked_at",
        )
        .await?;
    let row = client
        .query_one(&stmt, &[&store_id, &token_sha256, &label])
        .await
        .context("issuing a cashier credential")?;
    Ok(CashierToken::from(&row))
}

pub async fn list(client: &impl GenericClient, store_id: i32) -> anyhow::Result<Vec<CashierToken>> {
    let stmt = client
        .prepare_cached(
            "SELECT id, store_id, label, created_at, revoked_at FROM cashier_tokens
             WHERE store_id = $1 ORDER BY id",
        )
        .await?;
    let rows = client
        .query(&stmt, &[&store_id])
        .await
        .context("listing cashier credentials")?;
    Ok(rows.iter().map(CashierToken::from).collect())
}

/// Revokes a credential (once; revoking it again changes nothing). `false` when there is no such one.
pub async fn revoke(client: &impl GenericClient, id: i32) -> anyhow::Result<bool> {
    let stmt = client
        .prepare_cached(
            "WITH revoked AS (
                 UPDATE cashier_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL
                 RETURNING id)
             SELECT EXISTS (SELECT 1 FROM cashier_tokens WHERE id = $1)",
        )
        .await?;
    Ok(client
        .query_one(&stmt, &[&id])
        .await
        .context("revoking a cashier credential")?
        .get(0))
}

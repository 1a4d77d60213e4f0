//! Cashier credentials: a bearer token bound to one store, kept as its SHA-256 digest.

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use pos_shared::money::Money;
use pos_shared::page::PageRequest;
use serde::Serialize;
use tokio_postgres::Row;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CashierToken {
    pub id: i32,
    pub store_id: i32,
    pub label: Option<String>,
    pub cashier: Option<String>,
    pub terminal: Option<String>,
    pub role: CredentialRole,
    /// The most this credential takes off a line or a sale by hand without a store manager's approval,
    /// in percent (a manager's credential has no limit).
    pub discount_limit: Money,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&Row> for CashierToken {
    fn from(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            store_id: row.get("store_id"),
            label: row.get("label"),
            cashier: row.get("cashier"),
            terminal: row.get("terminal"),
            role: if row.get::<_, &str>("role") == "manager" {
                CredentialRole::Manager
            } else {
                CredentialRole::Cashier
            },
            discount_limit: row.get("discount_limit"),
            created_at: row.get("created_at"),
            revoked_at: row.get("revoked_at"),
        }
    }
}

/// Whose a credential is: a cashier's, or a store manager's (who approves what a cashier may not do
/// alone).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum CredentialRole {
    #[default]
    Cashier,
    Manager,
}

impl CredentialRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cashier => "cashier",
            Self::Manager => "manager",
        }
    }
}

/// A credential to record for a store by its token's digest.
#[derive(Debug)]
pub struct NewCredential<'a> {
    pub store_id: i32,
    pub token_sha256: &'a str,
    pub label: Option<&'a str>,
    pub cashier: Option<&'a str>,
    pub terminal: Option<&'a str>,
    pub role: CredentialRole,
    pub discount_limit: Money,
}

pub async fn issue(
    client: &impl GenericClient,
    credential: &NewCredential<'_>,
) -> anyhow::Result<CashierToken> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO cashier_tokens (store_id, token_sha256, label, cashier, terminal, role, discount_limit)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             RETURNING id, store_id, label, cashier, terminal, role, discount_limit, created_at, revoked_at",
        )
        .await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &credential.store_id,
                &credential.token_sha256,
                &credential.label,
                &credential.cashier,
                &credential.terminal,
                &credential.role.as_str(),
                &credential.discount_limit,
            ],
        )
        .await
        .context("issuing a cashier credential")?;
    Ok(CashierToken::from(&row))
}

/// A store's credentials; `None` when there is no such store.
pub async fn list(
    client: &impl GenericClient,
    store_id: i32,
    page: PageRequest,
) -> anyhow::Result<Option<Vec<CashierToken>>> {
    // The store's own row comes first (with no credential columns): no row at all means no store.
    let stmt = client
        .prepare_cached(
            "SELECT t.id, s.id AS store_id, t.label, t.cashier, t.terminal, t.role, t.discount_limit, t.created_at,
                    t.revoked_at
             FROM stores s LEFT JOIN LATERAL
                  (SELECT * FROM cashier_tokens WHERE store_id = s.id AND id > $2::bigint ORDER BY id LIMIT $3) t
                  ON true
             WHERE s.id = $1 ORDER BY t.id",
        )
        .await?;
    let rows = client
        .query(&stmt, &[&store_id, &page.after_ascending(), &page.fetch()])
        .await
        .context("listing cashier credentials")?;
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        rows.iter()
            .filter(|row| row.get::<_, Option<i32>>("id").is_some())
            .map(CashierToken::from)
            .collect(),
    ))
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

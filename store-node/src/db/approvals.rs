//! Approvals a store manager grants (sql/store/approvals.sql).

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use pos_shared::money::Money;
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Approval {
    /// What the cashier's write carries as `approval_id`.
    pub approval_id: Uuid,
    /// `discount` or `void`.
    pub action: String,
    /// A discount approval's ceiling, in percent.
    pub max_discount_percent: Option<Money>,
    /// The manager's credential.
    pub granted_by: i32,
    pub reason: Option<String>,
    pub expires_at: DateTime<Utc>,
}

pub struct Grant<'a> {
    pub store_id: i32,
    pub credential_id: i32,
    pub action: &'a str,
    pub max_discount_percent: Option<Money>,
    pub reason: Option<&'a str>,
    pub valid_for_seconds: i32,
}

pub async fn grant(client: &impl GenericClient, grant: &Grant<'_>) -> anyhow::Result<Approval> {
    let stmt = client
        .prepare_cached(
            "SELECT approval_id, action, max_discount_percent, granted_by, reason, expires_at
             FROM grant_approval($1, $2, $3, $4, $5, make_interval(secs => $6::integer))",
        )
        .await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &grant.store_id,
                &grant.credential_id,
                &grant.action,
                &grant.max_discount_percent,
                &grant.reason,
                &grant.valid_for_seconds,
            ],
        )
        .await
        .context("granting an approval")?;
    Ok(Approval {
        approval_id: row.get("approval_id"),
        action: row.get("action"),
        max_discount_percent: row.get("max_discount_percent"),
        granted_by: row.get("granted_by"),
        reason: row.get("reason"),
        expires_at: row.get("expires_at"),
    })
}

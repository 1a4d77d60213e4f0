//! Head office's accounts, sessions, failed logins and the audit trail.

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use pos_shared::page::PageRequest;
use serde::Serialize;
use tokio_postgres::Row;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Account {
    pub id: i32,
    pub username: String,
    /// `admin`, `manager` or `viewer`.
    pub role: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const ACCOUNT_COLUMNS: &str = "id, username, role, disabled, created_at, updated_at";

impl From<&Row> for Account {
    fn from(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            username: row.get("username"),
            role: row.get("role"),
            disabled: row.get("disabled"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
        }
    }
}

/// Names who writes in this transaction, for the audit trail's triggers (local to the transaction).
pub async fn set_actor(client: &impl GenericClient, actor: &str) -> anyhow::Result<()> {
    let stmt = client
        .prepare_cached("SELECT set_config('pos.actor', $1, true)")
        .await?;
    client
        .execute(&stmt, &[&actor])
        .await
        .context("naming the writer for the audit trail")?;
    Ok(())
}

/// A live session (not expired, not revoked, its account not disabled).
pub struct LiveSession {
    pub id: i64,
    /// `None`: a session of the admin token.
    pub account_id: Option<i32>,
    pub username: Option<String>,
    pub role: Option<String>,
}

pub async fn live_session(
    client: &impl GenericClient,
    token_sha256: &[u8],
) -> anyhow::Result<Option<LiveSession>> {
    let stmt = client
        .prepare_cached(
            "SELECT s.id, s.account_id, a.username, a.role
             FROM sessions s LEFT JOIN accounts a ON a.id = s.account_id
             WHERE s.token_sha256 = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
               AND (s.account_id IS NULL OR NOT a.disabled)",
        )
        .await?;
    Ok(client
        .query_opt(&stmt, &[&token_sha256])
        .await
        .context("looking up a session")?
        .map(|row| LiveSession {
            id: row.get(0),
            account_id: row.get(1),
            username: row.get(2),
            role: row.get(3),
        }))
}

/// What a login checks of an account.
pub struct LoginAccount {
    pub id: i32,
    pub role: String,
    pub password_hash: String,
    pub disabled: bool,
}

/// An account by name, for a login.
pub async fn login_account(
    client: &impl GenericClient,
    username: &str,
) -> anyhow::Result<Option<LoginAccount>> {
    let stmt = client
        .prepare_cached(
            "SELECT id, role, password_hash, disabled FROM accounts WHERE username = $1",
        )
        .await?;
    Ok(client
        .query_opt(&stmt, &[&username])
        .await
        .context("looking up an account")?
        .map(|row| LoginAccount {
            id: row.get(0),
            role: row.get(1),
            password_hash: row.get(2),
            disabled: row.get(3),
        }))
}

/// Failed logins within the last `window_seconds`: of `username`, and from `client_ip`.
pub async fn recent_failures(
    client: &impl GenericClient,
    username: &str,
    client_ip: &str,
    window_seconds: i32,
) -> anyhow::Result<(i64, i64)> {
    let stmt = client
        .prepare_cached(
            "SELECT (SELECT count(*) FROM login_failures
                     WHERE username = $1 AND at > now() - make_interval(secs => $3)),
                    (SELECT count(*) FROM login_failures
                     WHERE client_ip = $2 AND at > now() - make_interval(secs => $3))",
        )
        .await?;
    let row = client
        .query_one(&stmt, &[&username, &client_ip, &f64::from(window_seconds)])
        .await
        .context("counting failed logins")?;
    Ok((row.get(0), row.get(1)))
}

pub async fn record_failure(
    client: &impl GenericClient,
    username: &str,
    client_ip: &str,
) -> anyhow::Result<()> {
    let stmt = client
        .prepare_cached("INSERT INTO login_failures (username, client_ip) VALUES ($1, $2)")
        .await?;
    client
        .execute(&stmt, &[&username, &client_ip])
        .await
        .context("recording a failed login")?;
    Ok(())
}

/// A new session for `account_id` (`None`: the admin token's); its id and when it expires.
pub async fn create_session(
    client: &impl GenericClient,
    account_id: Option<i32>,
    token_sha256: &[u8],
    hours: i32,
) -> anyhow::Result<(i64, DateTime<Utc>)> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO sessions (account_id, token_sha256, expires_at)
             VALUES ($1, $2, now() + make_interval(hours => $3)) RETURNING id, expires_at",
        )
        .await?;
    let row = client
        .query_one(&stmt, &[&account_id, &token_sha256, &hours])
        .await
        .context("creating a session")?;
    Ok((row.get(0), row.get(1)))
}

/// Revokes one session; whether it was live.
pub async fn revoke_session(client: &impl GenericClient, id: i64) -> anyhow::Result<bool> {
    let stmt = client
        .prepare_cached(
            "UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
        )
        .await?;
    Ok(client
        .execute(&stmt, &[&id])
        .await
        .context("revoking a session")?
        == 1)
}

/// Revokes every live session of an account; how many.
pub async fn revoke_sessions_of(
    client: &impl GenericClient,
    account_id: i32,
) -> anyhow::Result<u64> {
    let stmt = client
        .prepare_cached(
            "UPDATE sessions SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL",
        )
        .await?;
    client
        .execute(&stmt, &[&account_id])
        .await
        .context("revoking an account's sessions")
}

pub async fn list_accounts(
    client: &impl GenericClient,
    page: PageRequest,
) -> anyhow::Result<Vec<Account>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id > $1::bigint ORDER BY id LIMIT $2"
        ))
        .await?;
    let rows = client
        .query(&stmt, &[&page.after_ascending(), &page.fetch()])
        .await
        .context("listing accounts")?;
    Ok(rows.iter().map(Account::from).collect())
}

pub async fn create_account(
    client: &impl GenericClient,
    username: &str,
    role: &str,
    password_hash: &str,
) -> anyhow::Result<Account> {
    let stmt = client
        .prepare_cached(&format!(
            "INSERT INTO accounts (username, role, password_hash) VALUES ($1, $2, $3)
             RETURNING {ACCOUNT_COLUMNS}"
        ))
        .await?;
    let row = client
        .query_one(&stmt, &[&username, &role, &password_hash])
        .await
        .context("creating an account")?;
    Ok(Account::from(&row))
}

/// Partial update: `None` keeps the value. `None` as result: no such account.
pub async fn update_account(
    client: &impl GenericClient,
    id: i32,
    role: Option<&str>,
    password_hash: Option<&str>,
    disabled: Option<bool>,
) -> anyhow::Result<Option<Account>> {
    let stmt = client
        .prepare_cached(&format!(
            "UPDATE accounts SET role = coalesce($2, role), password_hash = coalesce($3, password_hash),
                    disabled = coalesce($4, disabled), updated_at = now()
             WHERE id = $1 RETURNING {ACCOUNT_COLUMNS}"
        ))
        .await?;
    Ok(client
        .query_opt(&stmt, &[&id, &role, &password_hash, &disabled])
        .await
        .context("updating an account")?
        .as_ref()
        .map(Account::from))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The account, `admin-token`, or the database role of a change made outside the service.
    pub actor: String,
    /// `create`, `update` or `delete`.
    pub action: String,
    /// The table: `products`, `stores`, `accounts`…
    pub entity: String,
    pub entity_id: i32,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// The audit trail, newest first, optionally of one entity (and one row of it).
pub async fn audit_entries(
    client: &impl GenericClient,
    entity: Option<&str>,
    entity_id: Option<i32>,
    page: PageRequest,
) -> anyhow::Result<Vec<AuditEntry>> {
    let stmt = client
        .prepare_cached(
            "SELECT id, at, actor, action, entity, entity_id, before, after FROM audit_log
             WHERE id < $1::bigint AND ($2::text IS NULL OR entity = $2) AND ($3::int IS NULL OR entity_id = $3)
             ORDER BY id DESC LIMIT $4",
        )
        .await?;
    let rows = client
        .query(
            &stmt,
            &[&page.after_descending(), &entity, &entity_id, &page.fetch()],
        )
        .await
        .context("reading the audit trail")?;
    Ok(rows
        .iter()
        .map(|row| AuditEntry {
            id: row.get(0),
            at: row.get(1),
            actor: row.get(2),
            action: row.get(3),
            entity: row.get(4),
            entity_id: row.get(5),
            before: row.get(6),
            after: row.get(7),
        })
        .collect())
}

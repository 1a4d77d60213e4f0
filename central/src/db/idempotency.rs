//! The idempotency keys of master-data creates (see `pos_shared::idempotency`).

use anyhow::Context;
use deadpool_postgres::GenericClient;

/// What a key holds when it was claimed before: the first request's fingerprint and answer.
pub struct Claimed {
    pub fingerprint: Vec<u8>,
    pub status: i16,
    pub response: serde_json::Value,
}

/// Claims `key` for this transaction; `None` when it is this request's to use. A key claimed by a
/// transaction still running makes this wait for its end: then it is that one's answer, or free again
/// if it rolled back.
pub async fn claim(
    client: &impl GenericClient,
    key: &str,
    fingerprint: &[u8],
) -> anyhow::Result<Option<Claimed>> {
    let insert = client
        .prepare_cached(
            "INSERT INTO idempotency_keys (key, fingerprint) VALUES ($1, $2)
             ON CONFLICT (key) DO NOTHING",
        )
        .await?;
    if client
        .execute(&insert, &[&key, &fingerprint])
        .await
        .context("claiming an idempotency key")?
        == 1
    {
        return Ok(None);
    }
    let select = client
        .prepare_cached(
            "SELECT fingerprint, status, response FROM idempotency_keys
             WHERE key = $1 AND status IS NOT NULL",
        )
        .await?;
    let row = client
        .query_one(&select, &[&key])
        .await
        .context("reading an idempotency key's first answer")?;
    Ok(Some(Claimed {
        fingerprint: row.get(0),
        status: row.get(1),
        response: row.get(2),
    }))
}

/// Keeps the answer of the create that claimed `key` (in the same transaction).
pub async fn record(
    client: &impl GenericClient,
    key: &str,
    status: i16,
    response: &serde_json::Value,
) -> anyhow::Result<()> {
    let stmt = client
        .prepare_cached("UPDATE idempotency_keys SET status = $2, response = $3 WHERE key = $1")
        .await?;
    client
        .execute(&stmt, &[&key, &status, &response])
        .await
        .context("keeping an idempotent create's answer")?;
    Ok(())
}

/// Deletes the keys older than `older_than_hours`; how many.
pub async fn purge(client: &impl GenericClient, older_than_hours: i32) -> anyhow::Result<u64> {
    let stmt = client
        .prepare_cached(
            "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)",
        )
        .await?;
    client
        .execute(&stmt, &[&older_than_hours])
        .await
        .context("purging old idempotency keys")
}

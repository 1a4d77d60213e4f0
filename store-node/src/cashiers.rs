//! The cashier credentials head office issued, as this node accepts them: replicated into the node's
//! `cashier_tokens` (digests only) and reloaded into the service's token registry when they change, so
//! that a new credential, a revocation, or a store moved here takes effect within seconds, without a
//! restart and while central is down.

use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{GenericClient, Pool};
use pos_shared::auth::{Credential, TokenRegistry};

/// How often the replica is looked at for changes (one cheap aggregate).
const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// What changes whenever a credential is added, changed (its version is bumped) or removed.
async fn fingerprint(client: &impl GenericClient) -> anyhow::Result<(i64, i64)> {
    let stmt = client
        .prepare_cached("SELECT count(*), coalesce(sum(version), 0)::bigint FROM cashier_tokens")
        .await?;
    let row = client
        .query_one(&stmt, &[])
        .await
        .context("looking at the cashier credentials")?;
    Ok((row.get(0), row.get(1)))
}

/// Loads the credentials not revoked into `registry`; how many.
pub async fn load(client: &impl GenericClient, registry: &TokenRegistry) -> anyhow::Result<usize> {
    let stmt = client
        .prepare_cached(
            "SELECT token_sha256, store_id, id, role = 'manager' FROM cashier_tokens
             WHERE revoked_at IS NULL",
        )
        .await?;
    let rows = client
        .query(&stmt, &[])
        .await
        .context("reading the cashier credentials")?;
    Ok(registry.set_issued(rows.iter().map(|r| {
        (
            r.get::<_, &str>(0),
            r.get::<_, i32>(1),
            Credential {
                id: r.get(2),
                manager: r.get(3),
            },
        )
    })))
}

/// Loads the credentials once, then spawns the task that reloads them when they change.
pub async fn start(
    pool: Pool,
    registry: TokenRegistry,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let client = pool.get().await.context("getting a connection")?;
    let mut seen = fingerprint(&client).await?;
    load(&client, &registry).await?;
    drop(client);
    Ok(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(CHECK_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let reloaded = async {
                let client = pool.get().await.context("getting a connection")?;
                let now = fingerprint(&client).await?;
                if now == seen {
                    return Ok(None);
                }
                let count = load(&client, &registry).await?;
                seen = now;
                anyhow::Ok(Some(count))
            };
            match reloaded.await {
                Ok(None) => {}
                Ok(Some(count)) => tracing::info!(count, "cashier credentials reloaded"),
                // The ones loaded before stay in force meanwhile.
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "reloading cashier credentials failed")
                }
            }
        }
    }))
}

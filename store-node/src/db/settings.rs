//! What the node's SQL must know of the service's configuration.

use anyhow::Context;
use deadpool_postgres::GenericClient;

/// Tells the node's database which city it serves: sales of a store whose replica names another city
/// are refused (it has moved), and each sale is reported to central as made at this city's node.
pub async fn configure_city(client: &impl GenericClient, city_id: i32) -> anyhow::Result<()> {
    let stmt = client.prepare_cached("SELECT configure_node($1)").await?;
    client
        .execute(&stmt, &[&city_id])
        .await
        .context("writing the node's city")?;
    Ok(())
}

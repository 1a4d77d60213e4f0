use anyhow::Context;
use deadpool_postgres::GenericClient;

pub use pos_shared::catalogue::Product;

pub async fn list(client: &impl GenericClient) -> anyhow::Result<Vec<Product>> {
    let stmt = client
        .prepare_cached(
            "SELECT id, sku, name, category_id, price, active, version, updated_at
             FROM products ORDER BY id",
        )
        .await?;
    let rows = client.query(&stmt, &[]).await.context("listing products")?;
    Ok(rows.iter().map(Product::from).collect())
}

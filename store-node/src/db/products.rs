use anyhow::Context;
use deadpool_postgres::GenericClient;
use pos_shared::page::PageRequest;

pub use pos_shared::catalogue::Product;

pub async fn list(client: &impl GenericClient, page: PageRequest) -> anyhow::Result<Vec<Product>> {
    let stmt = client
        .prepare_cached(
            "SELECT id, sku, name, category_id, price, active, version, updated_at
             FROM products WHERE id > $1::bigint ORDER BY id LIMIT $2",
        )
        .await?;
    let rows = client
        .query(&stmt, &[&page.after_ascending(), &page.fetch()])
        .await
        .context("listing products")?;
    Ok(rows.iter().map(Product::from).collect())
}

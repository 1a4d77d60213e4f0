use anyhow::Context;
use deadpool_postgres::GenericClient;
use pos_shared::page::PageRequest;

pub use pos_shared::catalogue::Product;

pub async fn list(client: &impl GenericClient, page: PageRequest) -> anyhow::Result<Vec<Product>> {
    let stmt = client
        .prepare_cached(
            // The price a sale charges now: a scheduled price once its moment has come. The tax rate
            // a sale applies: the product's own, else its category's.
            "SELECT p.id, p.sku, p.name, p.category_id,
                    CASE WHEN p.next_price_at <= now() THEN p.next_price ELSE p.price END AS price,
                    coalesce(p.tax_rate, c.tax_rate, 0) AS tax_rate,
                    CASE WHEN p.next_price_at > now() THEN p.next_price END AS next_price,
                    CASE WHEN p.next_price_at > now() THEN p.next_price_at END AS next_price_at,
                    p.active, p.version, p.updated_at
             FROM products p LEFT JOIN categories c ON c.id = p.category_id
             WHERE p.id > $1::bigint ORDER BY p.id LIMIT $2",
        )
        .await?;
    let rows = client
        .query(&stmt, &[&page.after_ascending(), &page.fetch()])
        .await
        .context("listing products")?;
    Ok(rows.iter().map(Product::from).collect())
}

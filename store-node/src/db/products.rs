//! The catalogue as the till sees it: the price a sale charges now and the tax rate it applies, found
//! by page, by barcode, by SKU or by words of the name.

use anyhow::Context;
use deadpool_postgres::GenericClient;
use pos_shared::page::PageRequest;

pub use pos_shared::catalogue::Product;

/// What a till looks a product up by.
#[derive(Debug, Clone, Copy)]
pub enum Lookup<'a> {
    All,
    Barcode(&'a str),
    Sku(&'a str),
    /// Part of the name, in any case.
    Name(&'a str),
}

/// The price a sale charges now (a scheduled price once its moment has come) and the tax rate it
/// applies (the product's own, else its category's); a schedule still to come is shown as one.
const COLUMNS: &str = "p.id, p.sku, p.barcode, p.name, p.category_id,
       price_now(p.price, p.next_price, p.next_price_at) AS price,
       coalesce(p.tax_rate, c.tax_rate, 0) AS tax_rate,
       CASE WHEN p.next_price_at > now() THEN p.next_price END AS next_price,
       CASE WHEN p.next_price_at > now() THEN p.next_price_at END AS next_price_at,
       p.active, p.version, p.updated_at";

/// One statement per kind of lookup, each with its own index (barcode, SKU, the name's trigrams), all
/// paged by id.
pub async fn find(
    client: &impl GenericClient,
    lookup: Lookup<'_>,
    page: PageRequest,
) -> anyhow::Result<Vec<Product>> {
    let (filter, value) = match lookup {
        Lookup::All => ("$3::text IS NULL", None),
        Lookup::Barcode(code) => ("p.barcode = $3", Some(code.to_owned())),
        Lookup::Sku(sku) => ("p.sku = $3", Some(sku.to_owned())),
        Lookup::Name(words) => ("p.name ILIKE $3", Some(super::like_part(words))),
    };
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM products p LEFT JOIN categories c ON c.id = p.category_id
             WHERE ({filter}) AND p.id > $1::bigint ORDER BY p.id LIMIT $2"
        ))
        .await?;
    let rows = client
        .query(&stmt, &[&page.after_ascending(), &page.fetch(), &value])
        .await
        .context("looking products up")?;
    Ok(rows.iter().map(Product::from).collect())
}

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

/// The catalogue as `find_products()` shows it: the price a sale charges now and the tax rate it
/// applies, each kind of lookup by its own index (barcode, SKU, the name's trigrams), planned for the
/// value looked up, all paged by id.
pub async fn find(
    client: &impl GenericClient,
    lookup: Lookup<'_>,
    page: PageRequest,
) -> anyhow::Result<Vec<Product>> {
    let (mut barcode, mut sku, mut name) = (None, None, None);
    match lookup {
        Lookup::All => {}
        Lookup::Barcode(code) => barcode = Some(code),
        Lookup::Sku(code) => sku = Some(code),
        Lookup::Name(words) => name = Some(super::like_part(words)),
    }
    let stmt = client
        .prepare_cached("SELECT * FROM find_products($1, $2, $3, $4, $5)")
        .await?;
    let rows = client
        .query(
            &stmt,
            &[
                &barcode,
                &sku,
                &name,
                &page.after_ascending(),
                &page.fetch(),
            ],
        )
        .await
        .context("looking products up")?;
    Ok(rows.iter().map(Product::from).collect())
}

use anyhow::Context;
use deadpool_postgres::GenericClient;
use pos_shared::page::PageRequest;

pub use pos_shared::catalogue::Customer;

/// What a till looks a customer up by.
#[derive(Debug, Clone, Copy)]
pub enum Lookup<'a> {
    All,
    /// The exact number, as written.
    Phone(&'a str),
    /// The first digits of the number, whatever else it was written with.
    PhoneDigits(&'a str),
    /// Part of the name, in any case.
    Name(&'a str),
}

/// This city's live customers, all or looked up (`find_customers()`, planned for what is looked up:
/// each kind by its own index), paged by id. Rows of customers who moved away stay in the table for the
/// orders that refer to them but are not listed.
pub async fn list(
    client: &impl GenericClient,
    city_id: i32,
    lookup: Lookup<'_>,
    page: PageRequest,
) -> anyhow::Result<Vec<Customer>> {
    let (mut phone, mut digits, mut name) = (None, None, None);
    match lookup {
        Lookup::All => {}
        Lookup::Phone(number) => phone = Some(number.to_owned()),
        Lookup::PhoneDigits(first) => digits = Some(first.to_owned()),
        Lookup::Name(words) => name = Some(crate::db::like_part(words)),
    }
    let stmt = client
        .prepare_cached("SELECT * FROM find_customers($1, $2, $3, $4, $5, $6)")
        .await?;
    let rows = client
        .query(
            &stmt,
            &[
                &city_id,
                &phone,
                &digits,
                &name,
                &page.after_ascending(),
                &page.fetch(),
            ],
        )
        .await
        .context("listing customers")?;
    Ok(rows.iter().map(Customer::from).collect())
}

pub async fn get(
    client: &impl GenericClient,
    city_id: i32,
    id: i32,
) -> anyhow::Result<Option<Customer>> {
    let stmt = client
        .prepare_cached(
            "SELECT id, name, phone, email, city_id, deleted_at, version, updated_at FROM customers
             WHERE id = $1 AND city_id = $2 AND deleted_at IS NULL",
        )
        .await?;
    let row = client
        .query_opt(&stmt, &[&id, &city_id])
        .await
        .context("reading a customer")?;
    Ok(row.as_ref().map(Customer::from))
}

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

/// This city's live customers, all or looked up: one statement per kind of lookup, each with its own
/// index (the number, the digits of the number, the name's trigrams), all paged by id. Rows of customers
/// who moved away stay in the table for the orders that refer to them but are not listed.
pub async fn list(
    client: &impl GenericClient,
    city_id: i32,
    lookup: Lookup<'_>,
    page: PageRequest,
) -> anyhow::Result<Vec<Customer>> {
    let (filter, value) = match lookup {
        Lookup::All => ("$4::text IS NULL", None),
        Lookup::Phone(phone) => ("phone = $4", Some(phone.to_owned())),
        // A range of the digits, which an index of them answers whatever the value (a LIKE pattern
        // given as a parameter would not use it once the plan is made for any value).
        Lookup::PhoneDigits(digits) => (
            "phone_digits(phone) ~>=~ $4 AND phone_digits(phone) ~<~ ($4 || ':')",
            Some(digits.to_owned()),
        ),
        Lookup::Name(words) => ("name ILIKE $4", Some(crate::db::like_part(words))),
    };
    let stmt = client
        .prepare_cached(&format!(
            "SELECT id, name, phone, email, city_id, deleted_at, version, updated_at FROM customers
             WHERE city_id = $1 AND deleted_at IS NULL AND ({filter}) AND id > $2::bigint
             ORDER BY id LIMIT $3"
        ))
        .await?;
    let rows = client
        .query(
            &stmt,
            &[&city_id, &page.after_ascending(), &page.fetch(), &value],
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

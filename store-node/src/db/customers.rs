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

/// Signs a customer up at the store (`sign_up_customer()`); the new customer's id.
pub async fn sign_up(
    client: &impl GenericClient,
    store_id: i32,
    customer: &pos_shared::catalogue::NewCustomer,
) -> anyhow::Result<i32> {
    let stmt = client
        .prepare_cached("SELECT sign_up_customer($1, $2, $3, $4, $5)")
        .await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &store_id,
                &customer.name.as_str(),
                &customer.phone.as_ref().map(|p| p.as_str()),
                &customer.email.as_ref().map(|e| e.as_str()),
                &customer.city_id.get(),
            ],
        )
        .await
        .context("signing a customer up")?;
    Ok(row.get(0))
}

/// Edits a customer at the store (`edit_customer()`, `fields` as {"name"?, "phone"?, "email"?}); false
/// when this city has no such live customer.
pub async fn edit(
    client: &impl GenericClient,
    store_id: i32,
    id: i32,
    fields: &serde_json::Value,
) -> anyhow::Result<bool> {
    let stmt = client
        .prepare_cached("SELECT edit_customer($1, $2, $3)")
        .await?;
    let row = client
        .query_one(&stmt, &[&store_id, &id, fields])
        .await
        .context("editing a customer")?;
    Ok(row.get(0))
}

/// The customer this city's customer `id` was merged into at central (its number was another's), if so.
pub async fn merged_into(
    client: &impl GenericClient,
    city_id: i32,
    id: i32,
) -> anyhow::Result<Option<i32>> {
    let stmt = client
        .prepare_cached("SELECT merged_into FROM customers WHERE id = $1 AND city_id = $2")
        .await?;
    Ok(client
        .query_opt(&stmt, &[&id, &city_id])
        .await
        .context("reading a customer's merge")?
        .and_then(|row| row.get(0)))
}

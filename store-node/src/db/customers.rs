use anyhow::Context;
use deadpool_postgres::GenericClient;
use pos_shared::page::PageRequest;

pub use pos_shared::catalogue::Customer;

/// This city's live customers, optionally by exact phone. Rows of customers who moved away stay in
/// the table for the orders that refer to them but are not listed.
pub async fn list(
    client: &impl GenericClient,
    city_id: i32,
    phone: Option<&str>,
    page: PageRequest,
) -> anyhow::Result<Vec<Customer>> {
    let stmt = client
        .prepare_cached(
            "SELECT id, name, phone, email, city_id, deleted_at, version, updated_at FROM customers
             WHERE city_id = $1 AND deleted_at IS NULL AND ($2::text IS NULL OR phone = $2) AND id > $3::bigint
             ORDER BY id LIMIT $4",
        )
        .await?;
    let rows = client
        .query(
            &stmt,
            &[&city_id, &phone, &page.after_ascending(), &page.fetch()],
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

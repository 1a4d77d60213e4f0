use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::GenericClient;
use pos_shared::page::PageRequest;
use serde::Serialize;
use tokio_postgres::Row;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct City {
    pub id: i32,
    pub name: String,
    /// IANA time zone: the city's stores' business days are in it.
    pub time_zone: String,
    /// Shelf prices include tax (`true`), or tax is added to them at the till.
    pub prices_include_tax: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Row> for City {
    fn from(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            name: row.get("name"),
            time_zone: row.get("time_zone"),
            prices_include_tax: row.get("prices_include_tax"),
            version: row.get("version"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
        }
    }
}

pub async fn list(client: &impl GenericClient, page: PageRequest) -> anyhow::Result<Vec<City>> {
    let stmt = client
        .prepare_cached(
            "SELECT id, name, time_zone, prices_include_tax, version, created_at, updated_at FROM cities
             WHERE id > $1::bigint ORDER BY id LIMIT $2",
        )
        .await?;
    let rows = client
        .query(&stmt, &[&page.after_ascending(), &page.fetch()])
        .await
        .context("listing cities")?;
    Ok(rows.iter().map(City::from).collect())
}

/// The business days it is now in the cities: the earliest and the latest (each city's date in its own
/// zone; UTC's while there is no city).
pub async fn business_days_now(
    client: &impl GenericClient,
) -> anyhow::Result<(NaiveDate, NaiveDate)> {
    let stmt = client
        .prepare_cached(
            "SELECT coalesce(min((now() AT TIME ZONE time_zone)::date), (now() AT TIME ZONE 'UTC')::date),
                    coalesce(max((now() AT TIME ZONE time_zone)::date), (now() AT TIME ZONE 'UTC')::date)
             FROM cities",
        )
        .await?;
    let row = client
        .query_one(&stmt, &[])
        .await
        .context("reading the cities' business days")?;
    Ok((row.get(0), row.get(1)))
}

pub async fn create(
    client: &impl GenericClient,
    name: &str,
    time_zone: &str,
    prices_include_tax: bool,
) -> anyhow::Result<City> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO cities (name, time_zone, prices_include_tax) VALUES ($1, $2, $3)
             RETURNING id, name, time_zone, prices_include_tax, version, created_at, updated_at",
        )
        .await?;
    let row = client
        .query_one(&stmt, &[&name, &time_zone, &prices_include_tax])
        .await
        .context("creating a city")?;
    Ok(City::from(&row))
}

/// Changes what is given; `None` when there is no such city.
pub async fn update(
    client: &impl GenericClient,
    id: i32,
    name: Option<&str>,
    time_zone: Option<&str>,
    prices_include_tax: Option<bool>,
) -> anyhow::Result<Option<City>> {
    let stmt = client
        .prepare_cached(
            "UPDATE cities SET name = coalesce($2, name), time_zone = coalesce($3, time_zone),
                               prices_include_tax = coalesce($4, prices_include_tax)
             WHERE id = $1
             RETURNING id, name, time_zone, prices_include_tax, version, created_at, updated_at",
        )
        .await?;
    let row = client
        .query_opt(&stmt, &[&id, &name, &time_zone, &prices_include_tax])
        .await
        .context("updating a city")?;
    Ok(row.as_ref().map(City::from))
}

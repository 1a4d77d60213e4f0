use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde::Serialize;
use tokio_postgres::Row;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct City {
    pub id: i32,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Row> for City {
    fn from(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            name: row.get("name"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
        }
    }
}

pub async fn list(client: &impl GenericClient) -> anyhow::Result<Vec<City>> {
    let stmt = client
        .prepare_cached("SELECT id, name, created_at, updated_at FROM cities ORDER BY id")
        .await?;
    let rows = client.query(&stmt, &[]).await.context("listing cities")?;
    Ok(rows.iter().map(City::from).collect())
}

pub async fn create(client: &impl GenericClient, name: &str) -> anyhow::Result<City> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO cities (name) VALUES ($1) RETURNING id, name, created_at, updated_at",
        )
        .await?;
    let row = client
        .query_one(&stmt, &[&name])
        .await
        .context("creating a city")?;
    Ok(City::from(&row))
}

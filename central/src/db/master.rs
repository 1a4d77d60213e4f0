//! Master data: categories, products, stores, customers. Each write fires the replication triggers.

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use pos_shared::money::Money;
use pos_shared::page::PageRequest;
use serde::Serialize;

pub use pos_shared::catalogue::{Customer, Product};
use tokio_postgres::Row;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Category {
    pub id: i32,
    pub name: String,
    /// Tax rate in percent, of every product of the category without a rate of its own.
    pub tax_rate: Money,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

impl From<&Row> for Category {
    fn from(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            name: row.get("name"),
            tax_rate: row.get("tax_rate"),
            version: row.get("version"),
            updated_at: row.get("updated_at"),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Store {
    pub id: i32,
    pub code: String,
    pub name: String,
    pub city_id: i32,
    pub active: bool,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

impl From<&Row> for Store {
    fn from(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            code: row.get("code"),
            name: row.get("name"),
            city_id: row.get("city_id"),
            active: row.get("active"),
            version: row.get("version"),
            updated_at: row.get("updated_at"),
        }
    }
}

const CATEGORY_COLUMNS: &str = "id, name, tax_rate, version, updated_at";
const PRODUCT_COLUMNS: &str = "id, sku, barcode, name, category_id, price, tax_rate, next_price, \
                               next_price_at, active, version, updated_at";
const STORE_COLUMNS: &str = "id, code, name, city_id, active, version, updated_at";
const CUSTOMER_COLUMNS: &str = "id, name, phone, email, city_id, deleted_at, version, updated_at";

async fn query_all<T: for<'r> From<&'r Row>>(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> anyhow::Result<Vec<T>> {
    let stmt = client.prepare_cached(sql).await?;
    let rows = client.query(&stmt, params).await?;
    Ok(rows.iter().map(T::from).collect())
}

async fn query_maybe<T: for<'r> From<&'r Row>>(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> anyhow::Result<Option<T>> {
    let stmt = client.prepare_cached(sql).await?;
    Ok(client.query_opt(&stmt, params).await?.as_ref().map(T::from))
}

pub async fn list_categories(
    client: &impl GenericClient,
    page: PageRequest,
) -> anyhow::Result<Vec<Category>> {
    query_all(
        client,
        &format!(
            "SELECT {CATEGORY_COLUMNS} FROM categories WHERE id > $1::bigint ORDER BY id LIMIT $2"
        ),
        &[&page.after_ascending(), &page.fetch()],
    )
    .await
    .context("listing categories")
}

pub async fn create_category(
    client: &impl GenericClient,
    name: &str,
    tax_rate: Money,
) -> anyhow::Result<Category> {
    query_maybe(
        client,
        &format!(
            "INSERT INTO categories (name, tax_rate) VALUES ($1, $2) RETURNING {CATEGORY_COLUMNS}"
        ),
        &[&name, &tax_rate],
    )
    .await
    .context("creating a category")?
    .context("INSERT … RETURNING gave no row")
}

/// Partial update: `None` keeps the current value. `None` as result: no such category.
pub async fn update_category(
    client: &impl GenericClient,
    id: i32,
    name: Option<&str>,
    tax_rate: Option<Money>,
) -> anyhow::Result<Option<Category>> {
    query_maybe(
        client,
        &format!(
            "UPDATE categories SET name = coalesce($2, name), tax_rate = coalesce($3, tax_rate)
             WHERE id = $1 RETURNING {CATEGORY_COLUMNS}"
        ),
        &[&id, &name, &tax_rate],
    )
    .await
    .context("updating a category")
}

pub async fn list_products(
    client: &impl GenericClient,
    page: PageRequest,
) -> anyhow::Result<Vec<Product>> {
    query_all(
        client,
        &format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE id > $1::bigint ORDER BY id LIMIT $2"
        ),
        &[&page.after_ascending(), &page.fetch()],
    )
    .await
    .context("listing products")
}

pub async fn get_product(client: &impl GenericClient, id: i32) -> anyhow::Result<Option<Product>> {
    query_maybe(
        client,
        &format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1"),
        &[&id],
    )
    .await
    .context("reading a product")
}

pub async fn create_product(
    client: &impl GenericClient,
    sku: &str,
    name: &str,
    category_id: i32,
    price: Money,
    tax_rate: Option<Money>,
    barcode: Option<&str>,
) -> anyhow::Result<Product> {
    query_maybe(
        client,
        &format!(
            "INSERT INTO products (sku, name, category_id, price, tax_rate, barcode)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {PRODUCT_COLUMNS}"
        ),
        &[&sku, &name, &category_id, &price, &tax_rate, &barcode],
    )
    .await
    .context("creating a product")?
    .context("INSERT … RETURNING gave no row")
}

/// A product's fields to change: `None` keeps the current value; `Some(None)` clears the product's own
/// tax rate (its category's applies) or its scheduled price.
#[derive(Debug, Default)]
pub struct ProductChange<'a> {
    pub name: Option<&'a str>,
    pub category_id: Option<i32>,
    pub price: Option<Money>,
    pub tax_rate: Option<Option<Money>>,
    pub barcode: Option<Option<&'a str>>,
    pub scheduled_price: Option<Option<(Money, DateTime<Utc>)>>,
    pub active: Option<bool>,
}

/// `None` as result: no such product.
pub async fn update_product(
    client: &impl GenericClient,
    id: i32,
    change: &ProductChange<'_>,
) -> anyhow::Result<Option<Product>> {
    let scheduled = change.scheduled_price.flatten();
    query_maybe(
        client,
        &format!(
            "UPDATE products SET name = coalesce($2, name), category_id = coalesce($3, category_id),
                    price = coalesce($4, price), active = coalesce($5, active),
                    tax_rate = CASE WHEN $6 THEN $7 ELSE tax_rate END,
                    next_price = CASE WHEN $8 THEN $9 ELSE next_price END,
                    next_price_at = CASE WHEN $8 THEN $10 ELSE next_price_at END,
                    barcode = CASE WHEN $11 THEN $12 ELSE barcode END
             WHERE id = $1 RETURNING {PRODUCT_COLUMNS}"
        ),
        &[
            &id,
            &change.name,
            &change.category_id,
            &change.price,
            &change.active,
            &change.tax_rate.is_some(),
            &change.tax_rate.flatten(),
            &change.scheduled_price.is_some(),
            &scheduled.map(|(price, _)| price),
            &scheduled.map(|(_, at)| at),
            &change.barcode.is_some(),
            &change.barcode.flatten(),
        ],
    )
    .await
    .context("updating a product")
}

pub async fn list_stores(
    client: &impl GenericClient,
    page: PageRequest,
) -> anyhow::Result<Vec<Store>> {
    query_all(
        client,
        &format!("SELECT {STORE_COLUMNS} FROM stores WHERE id > $1::bigint ORDER BY id LIMIT $2"),
        &[&page.after_ascending(), &page.fetch()],
    )
    .await
    .context("listing stores")
}

pub async fn create_store(
    client: &impl GenericClient,
    code: &str,
    name: &str,
    city_id: i32,
) -> anyhow::Result<Store> {
    query_maybe(
        client,
        &format!(
            "INSERT INTO stores (code, name, city_id) VALUES ($1, $2, $3) RETURNING {STORE_COLUMNS}"
        ),
        &[&code, &name, &city_id],
    )
    .await
    .context("creating a store")?
    .context("INSERT … RETURNING gave no row")
}

pub async fn update_store(
    client: &impl GenericClient,
    id: i32,
    name: Option<&str>,
    city_id: Option<i32>,
    active: Option<bool>,
) -> anyhow::Result<Option<Store>> {
    query_maybe(
        client,
        &format!(
            "UPDATE stores SET name = coalesce($2, name), city_id = coalesce($3, city_id),
                    active = coalesce($4, active)
             WHERE id = $1 RETURNING {STORE_COLUMNS}"
        ),
        &[&id, &name, &city_id, &active],
    )
    .await
    .context("updating a store")
}

/// Customers, optionally by exact phone and/or city; soft-deleted ones are left out.
pub async fn list_customers(
    client: &impl GenericClient,
    phone: Option<&str>,
    city_id: Option<i32>,
    page: PageRequest,
) -> anyhow::Result<Vec<Customer>> {
    query_all(
        client,
        &format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers
             WHERE deleted_at IS NULL AND ($1::text IS NULL OR phone = $1) AND ($2::int IS NULL OR city_id = $2)
               AND id > $3::bigint
             ORDER BY id LIMIT $4"
        ),
        &[&phone, &city_id, &page.after_ascending(), &page.fetch()],
    )
    .await
    .context("listing customers")
}

pub async fn get_customer(
    client: &impl GenericClient,
    id: i32,
) -> anyhow::Result<Option<Customer>> {
    query_maybe(
        client,
        &format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1 AND deleted_at IS NULL"),
        &[&id],
    )
    .await
    .context("reading a customer")
}

pub async fn create_customer(
    client: &impl GenericClient,
    name: &str,
    phone: Option<&str>,
    email: Option<&str>,
    city_id: i32,
) -> anyhow::Result<Customer> {
    query_maybe(
        client,
        &format!(
            "INSERT INTO customers (name, phone, email, city_id) VALUES ($1, $2, $3, $4)
             RETURNING {CUSTOMER_COLUMNS}"
        ),
        &[&name, &phone, &email, &city_id],
    )
    .await
    .context("creating a customer")?
    .context("INSERT … RETURNING gave no row")
}

/// Partial update. A field given as `Some(None)` is cleared.
pub async fn update_customer(
    client: &impl GenericClient,
    id: i32,
    name: Option<&str>,
    phone: Option<Option<&str>>,
    email: Option<Option<&str>>,
    city_id: Option<i32>,
) -> anyhow::Result<Option<Customer>> {
    query_maybe(
        client,
        &format!(
            "UPDATE customers SET name = coalesce($2, name),
                    phone = CASE WHEN $3 THEN $4 ELSE phone END,
                    email = CASE WHEN $5 THEN $6 ELSE email END,
                    city_id = coalesce($7, city_id)
             WHERE id = $1 AND deleted_at IS NULL RETURNING {CUSTOMER_COLUMNS}"
        ),
        &[
            &id,
            &name,
            &phone.is_some(),
            &phone.flatten(),
            &email.is_some(),
            &email.flatten(),
            &city_id,
        ],
    )
    .await
    .context("updating a customer")
}

/// Soft delete: the nodes keep the row for the orders that refer to it. False: no such customer.
pub async fn delete_customer(client: &impl GenericClient, id: i32) -> anyhow::Result<bool> {
    let stmt = client
        .prepare_cached(
            "UPDATE customers SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL",
        )
        .await?;
    Ok(client
        .execute(&stmt, &[&id])
        .await
        .context("deleting a customer")?
        == 1)
}

/// Makes every scheduled price whose moment has come the product's price; how many.
pub async fn fold_scheduled_prices(client: &impl GenericClient) -> anyhow::Result<i32> {
    let stmt = client
        .prepare_cached("SELECT fold_scheduled_prices()")
        .await?;
    Ok(client
        .query_one(&stmt, &[])
        .await
        .context("folding scheduled prices")?
        .get(0))
}

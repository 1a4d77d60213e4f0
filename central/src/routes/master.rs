//! Master-data endpoints (admin only). Writes replicate to the nodes through the triggers.

use actix_web::{HttpResponse, web};
use pos_shared::auth::Admin;
use pos_shared::error::ApiError;
use pos_shared::money::Money;
use pos_shared::validate;
use serde::{Deserialize, Deserializer};

use super::{Reply, client};
use crate::db::{master, write_error};
use crate::startup::AppState;

fn price(value: Money) -> Result<Money, ApiError> {
    if value.is_negative() {
        return Err(ApiError::validation("price", "must not be negative"));
    }
    Ok(value)
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`) in PATCH bodies.
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCategory {
    pub name: String,
}

pub async fn list_categories(_: Admin, state: web::Data<AppState>) -> Reply {
    Ok(HttpResponse::Ok().json(master::list_categories(&client(&state).await?).await?))
}

#[tracing::instrument(skip_all, err)]
pub async fn create_category(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<NewCategory>,
) -> Reply {
    let name = validate::text("name", &body.name, 100)?;
    let category = master::create_category(&client(&state).await?, &name)
        .await
        .map_err(write_error)?;
    Ok(HttpResponse::Created().json(category))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    pub category_id: i32,
    pub price: Money,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    pub name: Option<String>,
    pub category_id: Option<i32>,
    pub price: Option<Money>,
    pub active: Option<bool>,
}

pub async fn list_products(_: Admin, state: web::Data<AppState>) -> Reply {
    Ok(HttpResponse::Ok().json(master::list_products(&client(&state).await?).await?))
}

pub async fn get_product(_: Admin, state: web::Data<AppState>, id: web::Path<i32>) -> Reply {
    let product = master::get_product(&client(&state).await?, *id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no product {id}")))?;
    Ok(HttpResponse::Ok().json(product))
}

#[tracing::instrument(skip_all, err)]
pub async fn create_product(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<NewProduct>,
) -> Reply {
    let sku = validate::text("sku", &body.sku, 64)?;
    let name = validate::text("name", &body.name, 200)?;
    let category_id = validate::positive_id("category_id", body.category_id)?;
    let price = price(body.price)?;
    let product = master::create_product(&client(&state).await?, &sku, &name, category_id, price)
        .await
        .map_err(write_error)?;
    Ok(HttpResponse::Created().json(product))
}

#[tracing::instrument(skip_all, err)]
pub async fn update_product(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<i32>,
    body: web::Json<ProductPatch>,
) -> Reply {
    let name = body
        .name
        .as_deref()
        .map(|n| validate::text("name", n, 200))
        .transpose()?;
    let category_id = body
        .category_id
        .map(|c| validate::positive_id("category_id", c))
        .transpose()?;
    let price = body.price.map(price).transpose()?;
    let product = master::update_product(
        &client(&state).await?,
        *id,
        name.as_deref(),
        category_id,
        price,
        body.active,
    )
    .await
    .map_err(write_error)?
    .ok_or_else(|| ApiError::not_found(format!("no product {id}")))?;
    Ok(HttpResponse::Ok().json(product))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStore {
    pub code: String,
    pub name: String,
    pub city_id: i32,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StorePatch {
    pub name: Option<String>,
    pub city_id: Option<i32>,
    pub active: Option<bool>,
}

pub async fn list_stores(_: Admin, state: web::Data<AppState>) -> Reply {
    Ok(HttpResponse::Ok().json(master::list_stores(&client(&state).await?).await?))
}

#[tracing::instrument(skip_all, err)]
pub async fn create_store(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<NewStore>,
) -> Reply {
    let code = validate::text("code", &body.code, 32)?;
    let name = validate::text("name", &body.name, 200)?;
    let city_id = validate::positive_id("city_id", body.city_id)?;
    let store = master::create_store(&client(&state).await?, &code, &name, city_id)
        .await
        .map_err(write_error)?;
    Ok(HttpResponse::Created().json(store))
}

#[tracing::instrument(skip_all, err)]
pub async fn update_store(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<i32>,
    body: web::Json<StorePatch>,
) -> Reply {
    let name = body
        .name
        .as_deref()
        .map(|n| validate::text("name", n, 200))
        .transpose()?;
    let city_id = body
        .city_id
        .map(|c| validate::positive_id("city_id", c))
        .transpose()?;
    let store = master::update_store(
        &client(&state).await?,
        *id,
        name.as_deref(),
        city_id,
        body.active,
    )
    .await
    .map_err(write_error)?
    .ok_or_else(|| ApiError::not_found(format!("no store {id}")))?;
    Ok(HttpResponse::Ok().json(store))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub city_id: i32,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub email: Option<Option<String>>,
    pub city_id: Option<i32>,
}

#[derive(Debug, Deserialize)]
pub struct CustomerQuery {
    pub phone: Option<String>,
    pub city_id: Option<i32>,
}

pub async fn list_customers(
    _: Admin,
    state: web::Data<AppState>,
    query: web::Query<CustomerQuery>,
) -> Reply {
    let customers = master::list_customers(
        &client(&state).await?,
        query.phone.as_deref(),
        query.city_id,
    )
    .await?;
    Ok(HttpResponse::Ok().json(customers))
}

pub async fn get_customer(_: Admin, state: web::Data<AppState>, id: web::Path<i32>) -> Reply {
    let customer = master::get_customer(&client(&state).await?, *id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no customer {id}")))?;
    Ok(HttpResponse::Ok().json(customer))
}

#[tracing::instrument(skip_all, err)]
pub async fn create_customer(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<NewCustomer>,
) -> Reply {
    let name = validate::text("name", &body.name, 200)?;
    let phone = validate::phone("phone", body.phone.as_deref())?;
    let email = validate::email("email", body.email.as_deref())?;
    let city_id = validate::positive_id("city_id", body.city_id)?;
    let customer = master::create_customer(
        &client(&state).await?,
        &name,
        phone.as_deref(),
        email.as_deref(),
        city_id,
    )
    .await
    .map_err(write_error)?;
    Ok(HttpResponse::Created().json(customer))
}

#[tracing::instrument(skip_all, err)]
pub async fn update_customer(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<i32>,
    body: web::Json<CustomerPatch>,
) -> Reply {
    let name = body
        .name
        .as_deref()
        .map(|n| validate::text("name", n, 200))
        .transpose()?;
    let phone = body
        .phone
        .as_ref()
        .map(|p| validate::phone("phone", p.as_deref()))
        .transpose()?;
    let email = body
        .email
        .as_ref()
        .map(|e| validate::email("email", e.as_deref()))
        .transpose()?;
    let city_id = body
        .city_id
        .map(|c| validate::positive_id("city_id", c))
        .transpose()?;
    let customer = master::update_customer(
        &client(&state).await?,
        *id,
        name.as_deref(),
        phone.as_ref().map(Option::as_deref),
        email.as_ref().map(Option::as_deref),
        city_id,
    )
    .await
    .map_err(write_error)?
    .ok_or_else(|| ApiError::not_found(format!("no customer {id}")))?;
    Ok(HttpResponse::Ok().json(customer))
}

#[tracing::instrument(skip_all, err)]
pub async fn delete_customer(_: Admin, state: web::Data<AppState>, id: web::Path<i32>) -> Reply {
    if !master::delete_customer(&client(&state).await?, *id).await? {
        return Err(ApiError::not_found(format!("no customer {id}")));
    }
    Ok(HttpResponse::NoContent().finish())
}

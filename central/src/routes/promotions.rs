//! Promotions (admin and manager): defined here, replicated to every node, applied by each node at the
//! time of a sale in the store's local time, also while central is down.

use actix_web::{HttpResponse, web};
use pos_shared::domain::{Amount, CategoryId, LocalTime, ProductId, PromotionName};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::{Body, Id, Query};
use pos_shared::idempotency::{IdempotencyKeyHeader, Idempotent};
use pos_shared::page::{Page, PageQuery};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{Reply, client, created_once, written};
use crate::auth::ManagerAccess;
use crate::db::promotions::{self, Promotion, PromotionKind};
use crate::db::write_error;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPromotion {
    pub name: PromotionName,
    pub kind: PromotionKind,
    /// Percent off (at most 100) or an amount off each unit.
    pub value: Amount,
    /// One product, or else `category_id`.
    pub product_id: Option<ProductId>,
    /// Every product of a category, or else `product_id`.
    pub category_id: Option<CategoryId>,
    /// In the selling store's local time, without a zone.
    pub starts_at: LocalTime,
    /// In the selling store's local time, without a zone; after `starts_at`.
    pub ends_at: LocalTime,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionPatch {
    /// `false` ends it at once on every node that has heard.
    pub active: Option<bool>,
    /// A new end, in the store's local time; after its start.
    pub ends_at: Option<LocalTime>,
}

/// Every promotion, running or not.
#[utoipa::path(
    get,
    path = "/promotions",
    tag = "master data",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Promotions by id, a page", body = Page<Promotion>),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        pos_shared::openapi::BadPage,
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn list_promotions(
    _: ManagerAccess,
    state: web::Data<AppState>,
    page: Query<PageQuery>,
) -> Reply {
    let page = page.request()?;
    let list = promotions::list(&client(&state).await?, page).await?;
    Ok(HttpResponse::Ok().json(page.page(list, |p| i64::from(p.id))))
}

/// A new promotion (replicated to every node).
#[utoipa::path(
    post,
    path = "/promotions",
    tag = "master data",
    security(("bearer" = [])),
    params(IdempotencyKeyHeader),
    request_body = NewPromotion,
    responses(
        (status = 201, description = "The promotion created", body = Promotion),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        super::CreateRefusals,
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn create_promotion(
    ManagerAccess(actor): ManagerAccess,
    state: web::Data<AppState>,
    request: Idempotent<NewPromotion>,
) -> Reply {
    let new = request.body;
    if new.product_id.is_some() == new.category_id.is_some() {
        return Err(ApiError::validation(
            "product_id",
            "a promotion applies to a product_id or to a category_id, one of the two",
        ));
    }
    if new.ends_at <= new.starts_at {
        return Err(ApiError::validation(
            "ends_at",
            "a promotion must end after it starts",
        ));
    }
    if new.kind == PromotionKind::Percent && new.value.get().amount() > Decimal::ONE_HUNDRED {
        return Err(ApiError::validation(
            "value",
            "a percent off must be at most 100",
        ));
    }
    let row = promotions::NewPromotion {
        name: new.name.as_str(),
        kind: new.kind,
        value: new.value.get(),
        product_id: new.product_id.map(ProductId::get),
        category_id: new.category_id.map(CategoryId::get),
        starts_at: new.starts_at.get(),
        ends_at: new.ends_at.get(),
    };
    created_once(&state, &actor, request.key.as_ref(), async |tx| {
        promotions::create(tx, &row).await.map_err(write_error)
    })
    .await
}

/// Ends a promotion early, brings it back or moves its end (replicated to every node).
#[utoipa::path(
    patch,
    path = "/promotions/{id}",
    tag = "master data",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The promotion's id")),
    request_body = PromotionPatch,
    responses(
        (status = 200, description = "The promotion as it is now", body = Promotion),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 404, description = "No such promotion, or the id is not a number (`not_found`)", body = ErrorBody),
        (status = 422, description = "An end before the start (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn update_promotion(
    ManagerAccess(actor): ManagerAccess,
    state: web::Data<AppState>,
    id: Id,
    Body(patch): Body<PromotionPatch>,
) -> Reply {
    let promotion = written(&state, &actor, async |tx| {
        promotions::update(tx, *id, patch.active, patch.ends_at.map(LocalTime::get))
            .await
            .map_err(|e| match write_error(e) {
                // The table's CHECK (ends_at > starts_at) is the only check an update can break.
                ApiError::Validation { .. } => {
                    ApiError::validation("ends_at", "a promotion must end after it starts")
                }
                other => other,
            })
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no promotion {id}")))?;
    Ok(HttpResponse::Ok().json(promotion))
}

pos_shared::routes! {
    schemas(NewPromotion, PromotionPatch, Promotion, PromotionKind),
    "/promotions" => { GET => list_promotions, POST => create_promotion },
    "/promotions/{id}" => { PATCH => update_promotion },
}

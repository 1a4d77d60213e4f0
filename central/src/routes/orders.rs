use actix_web::{HttpResponse, web};
use pos_shared::auth::Admin;
use pos_shared::error::ApiError;
use serde::Serialize;
use uuid::Uuid;

use super::{Reply, client};
use crate::db::orders::{self, OrderMapping};
use crate::startup::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct OrderView {
    pub mapping: OrderMapping,
    /// `node`: lines, payments and refunds as the store's node has them; `unavailable`: the node did
    /// not answer, and only the mapping is shown.
    pub details_source: &'static str,
    pub details: Option<serde_json::Value>,
}

/// Any sale of the chain by its global id.
pub async fn get(_: Admin, state: web::Data<AppState>, id: web::Path<Uuid>) -> Reply {
    let db = client(&state).await?;
    let mapping = orders::get(&db, *id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no order {id} has been reported")))?;
    let details = orders::details_from_node(&db, mapping.city_id, *id).await?;
    Ok(HttpResponse::Ok().json(OrderView {
        details_source: if details.is_some() {
            "node"
        } else {
            "unavailable"
        },
        details,
        mapping,
    }))
}

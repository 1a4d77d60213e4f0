use crate::auth::ViewerAccess;
use actix_web::{HttpResponse, web};
use pos_shared::error::{ApiError, ErrorBody};
use serde::Serialize;
use uuid::Uuid;

use super::{Reply, client};
use crate::db::orders::{self, OrderMapping};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct OrderView {
    pub mapping: OrderMapping,
    /// `node`: lines, payments and refunds as the store's node has them; `unavailable`: the node did
    /// not answer, and only the mapping is shown.
    pub details_source: &'static str,
    pub details: Option<serde_json::Value>,
}

/// Any sale of the chain by its global id.
#[utoipa::path(
    get,
    path = "/orders/{global_order_id}",
    operation_id = "get_order",
    tag = "orders",
    security(("bearer" = [])),
    params(("global_order_id" = Uuid, Path, description = "The global order id")),
    responses(
        (status = 200, description = "The order's mapping, with details from its node when the node answers", body = OrderView),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 404, description = "No order of that id has been reported, or the id is not a UUID (`not_found`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn get(_: ViewerAccess, state: web::Data<AppState>, id: web::Path<Uuid>) -> Reply {
    // Central's connection goes back to the pool before the node is asked: a node that hangs must not
    // hold central's connections.
    let mapping = orders::get(&client(&state).await?, *id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no order {id} has been reported")))?;
    let id = *id;
    let details = state
        .node_sessions
        .ask_node(mapping.city_id, |session, _| async move {
            orders::details_from_node(&session, id).await
        })
        .await
        .ok()
        .flatten();
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

pos_shared::routes! {
    schemas(OrderView, crate::db::orders::OrderMapping),
    "/orders/{global_order_id}" => { GET => get },
}

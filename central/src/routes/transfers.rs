//! Stock transfers between stores, as head office sees them: every transfer's state, reported by the
//! nodes of its stores.

use actix_web::{HttpResponse, web};
use pos_shared::domain::StoreId;
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::Query;
use pos_shared::page::{Page, PageQuery};
use pos_shared::transfers::TransferStatus;
use serde::Deserialize;
use uuid::Uuid;

use super::{Reply, client};
use crate::auth::ViewerAccess;
use crate::db::transfers::{self, TransferView};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TransferQuery {
    /// Only transfers in this state (`in_transit` lists the stock on its way).
    #[param(inline)]
    pub status: Option<TransferStatus>,
    /// Only transfers from or to this store.
    #[param(inline)]
    pub store_id: Option<StoreId>,
}

/// The chain's transfers between stores, newest first.
#[utoipa::path(
    get,
    path = "/transfers",
    operation_id = "list_transfers",
    tag = "transfers",
    security(("bearer" = [])),
    params(TransferQuery, PageQuery),
    responses(
        (status = 200, description = "Transfers, newest first (`next` is older), a page", body = Page<TransferView>),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        pos_shared::openapi::BadPage,
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn list(
    _: ViewerAccess,
    state: web::Data<AppState>,
    query: Query<TransferQuery>,
    page: Query<PageQuery>,
) -> Reply {
    let page = page.request()?;
    let rows = transfers::list(
        &client(&state).await?,
        query.status.map(TransferStatus::as_str),
        query.store_id.map(StoreId::get),
        page,
    )
    .await?;
    Ok(HttpResponse::Ok().json(page.page_keyed(rows)))
}

/// One transfer by its id.
#[utoipa::path(
    get,
    path = "/transfers/{transfer_id}",
    operation_id = "get_transfer",
    tag = "transfers",
    security(("bearer" = [])),
    params(("transfer_id" = Uuid, Path, description = "The transfer")),
    responses(
        (status = 200, description = "The transfer as central has heard of it", body = TransferView),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 404, description = "No transfer of that id has been reported, or the id is not a UUID (`not_found`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn get(_: ViewerAccess, state: web::Data<AppState>, id: web::Path<Uuid>) -> Reply {
    let transfer = transfers::get(&client(&state).await?, *id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no transfer {id} has been reported")))?;
    Ok(HttpResponse::Ok().json(transfer))
}

pos_shared::routes! {
    schemas(TransferView, pos_shared::transfers::Transfer, pos_shared::transfers::TransferLine, TransferStatus),
    "/transfers" => { GET => list },
    "/transfers/{transfer_id}" => { GET => get },
}

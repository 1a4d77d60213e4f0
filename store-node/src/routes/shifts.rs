//! Shifts at the till: a cashier opens one at their terminal with a float, puts cash in or (a store
//! manager) takes it out, reads the X report at any time, and closes it with the cash counted, which
//! gives the numbered Z report. The terminal is the credential's (head office names it when it issues
//! the credential).

use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::Cashier;
use pos_shared::domain::{Amount, Price, Reason};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::Body;
use serde::Deserialize;

use super::orders::sale_error;
use crate::db;
use crate::db::shifts::ShiftReport;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewShift {
    /// The cash in the drawer at the start.
    pub opening_float: Price,
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CashDirection {
    In,
    /// A store manager's credential only.
    Out,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCashMovement {
    pub kind: CashDirection,
    pub amount: Amount,
    pub reason: Reason,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShiftClose {
    /// The cash counted in the drawer.
    pub counted_cash: Price,
}

/// Opens a shift at the credential's terminal.
#[utoipa::path(
    post,
    path = "/shifts",
    operation_id = "open_shift",
    tag = "shifts",
    security(("bearer" = [])),
    request_body = NewShift,
    responses(
        (status = 201, description = "The shift opened: its X report", body = ShiftReport),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token (`forbidden`)", body = ErrorBody),
        (status = 409, description = "A shift is open at the terminal already, or the credential names no terminal (`conflict`)", body = ErrorBody),
        (status = 422, description = "An invalid float (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn open(
    cashier: Cashier,
    state: web::Data<AppState>,
    Body(body): Body<NewShift>,
) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await.context("getting a connection")?;
    let credential = cashier.credential.map(|c| c.id);
    let report = db::shifts::open(
        &client,
        cashier.store_id,
        credential,
        body.opening_float.get(),
    )
    .await
    .map_err(sale_error)?;
    Ok(HttpResponse::Created().json(report))
}

/// Cash put into the drawer, or taken out of it (a store manager's credential only), with a reason.
#[utoipa::path(
    post,
    path = "/shifts/current/cash-movements",
    operation_id = "move_cash",
    tag = "shifts",
    security(("bearer" = [])),
    request_body = NewCashMovement,
    responses(
        (status = 201, description = "Recorded: the shift's X report", body = ShiftReport),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token, or cash out without a manager's credential (`forbidden`)", body = ErrorBody),
        (status = 409, description = "No shift is open at the terminal, more out than the drawer is expected to hold, or so much that the shift's cash in, cash out or expected cash would reach 10,000,000,000.00 (`conflict`)", body = ErrorBody),
        (status = 422, description = "An invalid amount or reason (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn move_cash(
    cashier: Cashier,
    state: web::Data<AppState>,
    Body(body): Body<NewCashMovement>,
) -> Result<HttpResponse, ApiError> {
    let kind = match body.kind {
        CashDirection::In => "in",
        CashDirection::Out if cashier.credential.is_some_and(|c| c.manager) => "out",
        CashDirection::Out => {
            return Err(ApiError::Forbidden(
                "taking cash out of the drawer needs a store manager's credential".into(),
            ));
        }
    };
    let client = state.pool.get().await.context("getting a connection")?;
    let credential = cashier.credential.map(|c| c.id);
    db::shifts::move_cash(
        &client,
        cashier.store_id,
        credential,
        kind,
        body.amount.get(),
        body.reason.as_str(),
    )
    .await
    .map_err(sale_error)?;
    let report = db::shifts::current(&client, cashier.store_id, credential)
        .await
        .map_err(sale_error)?;
    Ok(HttpResponse::Created().json(report))
}

/// The X report of the terminal's open shift: its figures so far, changing nothing.
#[utoipa::path(
    get,
    path = "/shifts/current/report",
    operation_id = "x_report",
    tag = "shifts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The X report", body = ShiftReport),
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token (`forbidden`)", body = ErrorBody),
        (status = 409, description = "No shift is open at the terminal (`conflict`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn x_report(
    cashier: Cashier,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await.context("getting a connection")?;
    let report = db::shifts::current(&client, cashier.store_id, cashier.credential.map(|c| c.id))
        .await
        .map_err(sale_error)?;
    Ok(HttpResponse::Ok().json(report))
}

/// Closes the terminal's shift with the cash counted: the Z report, numbered per terminal and kept as
/// it is (expected cash, variance, totals by method).
#[utoipa::path(
    post,
    path = "/shifts/current/close",
    operation_id = "close_shift",
    tag = "shifts",
    security(("bearer" = [])),
    request_body = ShiftClose,
    responses(
        (status = 200, description = "The Z report", body = ShiftReport),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a cashier's token (`forbidden`)", body = ErrorBody),
        (status = 409, description = "No shift is open at the terminal (`conflict`)", body = ErrorBody),
        (status = 422, description = "An invalid count (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn close(
    cashier: Cashier,
    state: web::Data<AppState>,
    Body(body): Body<ShiftClose>,
) -> Result<HttpResponse, ApiError> {
    let mut client = state.pool.get().await.context("getting a connection")?;
    // One transaction: the row lock that makes sales in flight finish first is held to the end.
    let tx = client
        .transaction()
        .await
        .context("beginning a transaction")?;
    let report = db::shifts::close(
        &tx,
        cashier.store_id,
        cashier.credential.map(|c| c.id),
        body.counted_cash.get(),
    )
    .await
    .map_err(sale_error)?;
    tx.commit().await.context("committing the close")?;
    Ok(HttpResponse::Ok().json(report))
}

pos_shared::routes! {
    schemas(
        NewShift,
        NewCashMovement,
        CashDirection,
        ShiftClose,
        ShiftReport,
        crate::db::shifts::ShiftMethodTotals,
    ),
    "/shifts" => { POST => open },
    "/shifts/current/cash-movements" => { POST => move_cash },
    "/shifts/current/report" => { GET => x_report },
    "/shifts/current/close" => { POST => close },
}

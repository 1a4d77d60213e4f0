//! Approvals: a store manager approves, at the till, what a cashier may not do alone: a discount above
//! the cashier credential's limit, a void, a return without a receipt. The cashier's write carries the
//! approval's id and uses it up: once, within its validity, for the action it names, at the manager's
//! store.

use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::auth::Cashier;
use pos_shared::domain::{Reason, TaxRate, ValidForSeconds};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::Body;
use serde::Deserialize;

use super::orders::sale_error;
use crate::db;
use crate::db::approvals::Approval;
use crate::state::AppState;

/// What an approval allows.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApprovedAction {
    /// Discounts by hand above the cashier's limit, up to `max_discount_percent`.
    Discount,
    /// A void of a sale of the cashier's open shift.
    Void,
    /// A return without a receipt.
    Return,
}

impl ApprovedAction {
    fn as_str(self) -> &'static str {
        match self {
            Self::Discount => "discount",
            Self::Void => "void",
            Self::Return => "return",
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApproval {
    pub action: ApprovedAction,
    /// A discount approval's ceiling, in percent of what a discount applies to (absent: any).
    pub max_discount_percent: Option<TaxRate>,
    /// Absent, `null` or blank: none.
    #[serde(default, deserialize_with = "pos_shared::domain::blank_as_none")]
    #[schema(schema_with = pos_shared::domain::blank_or::<Reason>)]
    pub reason: Option<Reason>,
    /// Absent: 300 (five minutes).
    pub valid_for_seconds: Option<ValidForSeconds>,
}

/// A store manager grants an approval at their store.
#[utoipa::path(
    post,
    path = "/approvals",
    operation_id = "grant_approval",
    tag = "shifts",
    security(("bearer" = [])),
    request_body = NewApproval,
    responses(
        (status = 201, description = "The approval: its id goes with the cashier's write", body = Approval),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "Not a store manager's credential (`forbidden`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, or an invalid field; a ceiling on an approval of anything but a discount (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all, fields(store_id = cashier.store_id))]
pub async fn grant(
    cashier: Cashier,
    state: web::Data<AppState>,
    Body(body): Body<NewApproval>,
) -> Result<HttpResponse, ApiError> {
    if !matches!(body.action, ApprovedAction::Discount) && body.max_discount_percent.is_some() {
        return Err(ApiError::validation(
            "max_discount_percent",
            "only a discount approval has a ceiling",
        ));
    }
    let credential_id = cashier.credential.filter(|c| c.manager).ok_or_else(|| {
        ApiError::Forbidden("only a store manager's credential grants approvals".into())
    })?;
    let client = state.pool.get().await.context("getting a connection")?;
    let approval = db::approvals::grant(
        &client,
        &db::approvals::Grant {
            store_id: cashier.store_id,
            credential_id: credential_id.id,
            action: body.action.as_str(),
            max_discount_percent: body.max_discount_percent.map(TaxRate::get),
            reason: body.reason.as_ref().map(Reason::as_str),
            valid_for_seconds: body.valid_for_seconds.map_or(300, ValidForSeconds::get),
        },
    )
    .await
    .map_err(sale_error)?;
    Ok(HttpResponse::Created().json(approval))
}

pos_shared::routes! {
    schemas(NewApproval, ApprovedAction),
    "/approvals" => { POST => grant },
}

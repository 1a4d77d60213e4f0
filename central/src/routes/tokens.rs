//! Cashier credentials (admin only): head office issues a store's bearer tokens and revokes them. Every
//! node receives them by replication (digests only), so they work at whichever node sells for the
//! store, also while central is down.

use crate::auth::AdminAccess;
use actix_web::{HttpResponse, web};
use pos_shared::domain::{CashierName, Label, TaxRate, Terminal};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::{Body, Id, Query};
use pos_shared::money::Money;
use pos_shared::page::{Page, PageQuery};
use serde::{Deserialize, Serialize};

use super::{Reply, client, written};
use crate::db::tokens::{self, CashierToken, CredentialRole, NewCredential};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCashierToken {
    /// Who or which till it is for, as head office wants to recognise it (absent, `null` or blank:
    /// none).
    #[serde(default, deserialize_with = "pos_shared::domain::blank_as_none")]
    #[schema(schema_with = pos_shared::domain::blank_or::<Label>)]
    pub label: Option<Label>,
    /// The cashier, as receipts print it (absent, `null` or blank: none).
    #[serde(default, deserialize_with = "pos_shared::domain::blank_as_none")]
    #[schema(schema_with = pos_shared::domain::blank_or::<CashierName>)]
    pub cashier: Option<CashierName>,
    /// The terminal (till) it sells at, as receipts print it (absent, `null` or blank: none).
    #[serde(default, deserialize_with = "pos_shared::domain::blank_as_none")]
    #[schema(schema_with = pos_shared::domain::blank_or::<Terminal>)]
    pub terminal: Option<Terminal>,
    /// `cashier` when absent.
    #[serde(default)]
    pub role: CredentialRole,
    /// The most a cashier takes off a line or a sale by hand without a store manager's approval, in
    /// percent (`"0"` when absent: every discount by hand approved). A manager's credential has no limit.
    pub discount_limit: Option<TaxRate>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IssuedCashierToken {
    #[serde(flatten)]
    pub credential: CashierToken,
    /// The bearer token: shown this once, never stored (central keeps its SHA-256 digest).
    pub token: String,
}

/// Issues a cashier credential for a store.
#[utoipa::path(
    post,
    path = "/stores/{id}/cashier-tokens",
    operation_id = "issue_cashier_token",
    tag = "cashiers",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The store", minimum = 1)),
    request_body = NewCashierToken,
    responses(
        (status = 201, description = "The credential, with its token (shown once)", body = IssuedCashierToken),
        (status = 400, description = "Malformed JSON (`bad_request`)", body = ErrorBody),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 404, description = "No such store (`not_found`)", body = ErrorBody),
        (status = 422, description = "An invalid label (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn issue(
    AdminAccess(actor): AdminAccess,
    state: web::Data<AppState>,
    store_id: Id,
    Body(credential): Body<NewCashierToken>,
) -> Reply {
    let token = pos_shared::auth::generate_token();
    let digest = pos_shared::auth::token_digest_hex(&token);
    let new = NewCredential {
        store_id: *store_id,
        token_sha256: &digest,
        label: credential.label.as_ref().map(Label::as_str),
        cashier: credential.cashier.as_ref().map(CashierName::as_str),
        terminal: credential.terminal.as_ref().map(Terminal::as_str),
        role: credential.role,
        discount_limit: credential.discount_limit.map_or(Money::ZERO, TaxRate::get),
    };
    let credential = written(&state, &actor, async |tx| {
        tokens::issue(tx, &new).await.map_err(|e| {
            if pos_shared::db::sqlstate(&e)
                == Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION)
            {
                ApiError::not_found(format!("no store {store_id}"))
            } else {
                e.into()
            }
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(IssuedCashierToken { credential, token }))
}

/// A store's cashier credentials (without their tokens).
#[utoipa::path(
    get,
    path = "/stores/{id}/cashier-tokens",
    operation_id = "list_cashier_tokens",
    tag = "cashiers",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The store", minimum = 1), PageQuery),
    responses(
        (status = 200, description = "The store's credentials, oldest first, a page", body = Page<CashierToken>),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 404, description = "No such store, or the id is not a positive number (`not_found`)", body = ErrorBody),
        pos_shared::openapi::BadPage,
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn list(
    _: AdminAccess,
    state: web::Data<AppState>,
    store_id: Id,
    page: Query<PageQuery>,
) -> Reply {
    let page = page.request()?;
    let credentials = tokens::list(&client(&state).await?, *store_id, page)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no store {store_id}")))?;
    Ok(HttpResponse::Ok().json(page.page(credentials, |c| i64::from(c.id))))
}

/// Revokes a cashier credential: every node stops accepting it within seconds of hearing of it.
#[utoipa::path(
    delete,
    path = "/cashier-tokens/{id}",
    operation_id = "revoke_cashier_token",
    tag = "cashiers",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The credential", minimum = 1)),
    responses(
        (status = 204, description = "Revoked (or already revoked)"),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 404, description = "No such credential (`not_found`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn revoke(AdminAccess(actor): AdminAccess, state: web::Data<AppState>, id: Id) -> Reply {
    let revoked = written(
        &state,
        &actor,
        async |tx| Ok(tokens::revoke(tx, *id).await?),
    )
    .await?;
    if !revoked {
        return Err(ApiError::not_found(format!("no cashier credential {id}")));
    }
    Ok(HttpResponse::NoContent().finish())
}

pos_shared::routes! {
    schemas(NewCashierToken, IssuedCashierToken, CashierToken, CredentialRole),
    "/stores/{id}/cashier-tokens" => { GET => list, POST => issue },
    "/cashier-tokens/{id}" => { DELETE => revoke },
}

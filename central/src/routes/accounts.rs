//! Head office's named accounts: signing in and out (sessions), the accounts themselves (admin only) and
//! the audit trail of master data (admin only). See `crate::auth` for who may do what.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use pos_shared::domain::{NewPassword, Username};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::{Body, Id, Query};
use pos_shared::page::{Page, PageQuery};
use serde::{Deserialize, Serialize};

use super::{Reply, client, written};
use crate::auth::{AdminAccess, Role, ViewerAccess, hash_password, password_matches, token_sha256};
use crate::db::accounts::{self, Account, AuditEntry};
use crate::db::write_error;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub username: Username,
    pub password: pos_shared::domain::Password,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NewSession {
    /// The bearer token of the session (shown once; the dashboard keeps it in its cookie).
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub username: String,
    /// `admin`, `manager` or `viewer`.
    pub role: String,
}

/// Where a login comes from, for its rate limit: the connection's peer (not a forwarded header, which
/// the client writes).
pub fn client_address(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|addr| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Signs `username` in: a new session, or why not. Shared by `POST /sessions` and the dashboard's form.
/// A name or an address with `login_max_failures` failed logins within the window must wait (429),
/// whatever the password: guessing costs the window, not one request.
pub async fn sign_in(
    state: &AppState,
    username: &str,
    password: &str,
    address: &str,
) -> Result<NewSession, ApiError> {
    let limits = &state.config.accounts;
    let db = client(state).await?;
    let (by_name, by_address) =
        accounts::recent_failures(&db, username, address, limits.login_window_seconds).await?;
    // An address may try a few names (a shared office): four times a name's allowance.
    if by_name >= limits.login_max_failures || by_address >= 4 * limits.login_max_failures {
        return Err(ApiError::TooManyRequests {
            retry_after: u64::try_from(limits.login_window_seconds).unwrap_or(900),
        });
    }
    let account = accounts::login_account(&db, username).await?;
    let (hash, usable) = match &account {
        Some(found) => (Some(found.password_hash.clone()), !found.disabled),
        None => (None, false),
    };
    let matches = password_matches(password.to_owned(), hash).await?;
    let Some(account) = account.filter(|_| matches && usable) else {
        accounts::record_failure(&db, username, address).await?;
        tracing::warn!(username, address, "a login was refused");
        return Err(ApiError::Unauthorized);
    };
    let token = pos_shared::auth::generate_token();
    let (_, expires_at) = accounts::create_session(
        &db,
        Some(account.id),
        &token_sha256(&token),
        limits.session_hours,
    )
    .await?;
    Ok(NewSession {
        token,
        expires_at,
        username: username.to_owned(),
        role: account.role,
    })
}

/// Signs in with a head-office account's name and password: a session whose token is the bearer.
#[utoipa::path(
    post,
    path = "/sessions",
    tag = "accounts",
    request_body = Login,
    responses(
        (status = 201, description = "Signed in: the session (its token is shown once)", body = NewSession),
        pos_shared::openapi::BadJson,
        (status = 401, description = "Wrong name or password, or the account is disabled (`unauthorized`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape or an invalid field (`validation_failed`)", body = ErrorBody),
        (status = 429, description = "Too many failed logins of this name or from this address: wait `Retry-After` seconds (`too_many_requests`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(login): Body<Login>,
) -> Reply {
    let session = sign_in(
        &state,
        login.username.as_str(),
        login.password.expose(),
        &client_address(&req),
    )
    .await?;
    Ok(HttpResponse::Created().json(session))
}

/// Signs out: the session of this bearer stops working at once.
#[utoipa::path(
    delete,
    path = "/sessions/current",
    tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The session is revoked"),
        pos_shared::openapi::Unauthorized,
        (status = 403, description = "The admin token is no session: rotate it instead (`forbidden`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn logout(ViewerAccess(actor): ViewerAccess, state: web::Data<AppState>) -> Reply {
    let session = actor.session_id.ok_or_else(|| {
        ApiError::Forbidden("the admin token is no session: rotate it instead".into())
    })?;
    accounts::revoke_session(&client(&state).await?, session).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    Admin,
    Manager,
    Viewer,
}

impl RoleName {
    fn role(&self) -> Role {
        match self {
            Self::Admin => Role::Admin,
            Self::Manager => Role::Manager,
            Self::Viewer => Role::Viewer,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    pub username: Username,
    pub role: RoleName,
    pub password: NewPassword,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    pub role: Option<RoleName>,
    /// A new password: the account's sessions end.
    pub password: Option<NewPassword>,
    /// A disabled account cannot sign in, and its sessions stop working.
    pub disabled: Option<bool>,
}

/// The accounts.
#[utoipa::path(
    get,
    path = "/accounts",
    tag = "accounts",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Accounts by id, a page", body = Page<Account>),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        pos_shared::openapi::BadPage,
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn list(_: AdminAccess, state: web::Data<AppState>, page: Query<PageQuery>) -> Reply {
    let page = page.request()?;
    let accounts = accounts::list_accounts(&client(&state).await?, page).await?;
    Ok(HttpResponse::Ok().json(page.page(accounts, |a| i64::from(a.id))))
}

/// A new account.
#[utoipa::path(
    post,
    path = "/accounts",
    tag = "accounts",
    security(("bearer" = [])),
    request_body = NewAccount,
    responses(
        (status = 201, description = "The account created", body = Account),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 409, description = "The name is taken (`conflict`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape or an invalid field (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn create(
    AdminAccess(actor): AdminAccess,
    state: web::Data<AppState>,
    Body(account): Body<NewAccount>,
) -> Reply {
    let hash = hash_password(account.password.expose().to_owned()).await?;
    let made = written(&state, &actor, async |tx| {
        accounts::create_account(
            tx,
            account.username.as_str(),
            account.role.role().as_str(),
            &hash,
        )
        .await
        .map_err(write_error)
    })
    .await?;
    Ok(HttpResponse::Created().json(made))
}

/// Changes an account's role, password or whether it is disabled; a new password or disabling it ends
/// its sessions.
#[utoipa::path(
    patch,
    path = "/accounts/{id}",
    tag = "accounts",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The account")),
    request_body = AccountPatch,
    responses(
        (status = 200, description = "The account as it is now", body = Account),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 404, description = "No such account (`not_found`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape or an invalid field (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn update(
    AdminAccess(actor): AdminAccess,
    state: web::Data<AppState>,
    id: Id,
    Body(patch): Body<AccountPatch>,
) -> Reply {
    let hash = match &patch.password {
        Some(password) => Some(hash_password(password.expose().to_owned()).await?),
        None => None,
    };
    let ends_sessions = hash.is_some() || patch.disabled == Some(true);
    let account = written(&state, &actor, async |tx| {
        let account = accounts::update_account(
            tx,
            *id,
            patch.role.as_ref().map(|r| r.role().as_str()),
            hash.as_deref(),
            patch.disabled,
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no account {id}")))?;
        if ends_sessions {
            accounts::revoke_sessions_of(tx, *id).await?;
        }
        Ok(account)
    })
    .await?;
    Ok(HttpResponse::Ok().json(account))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this table's changes (`products`, `stores`, `accounts`…).
    #[param(inline)]
    pub entity: Option<pos_shared::domain::DbName>,
    /// Only this row's (with `entity`).
    #[param(inline)]
    pub entity_id: Option<pos_shared::domain::RecordId>,
}

/// The audit trail of master data and accounts: who changed what, the row before and after, when;
/// newest first.
#[utoipa::path(
    get,
    path = "/audit",
    tag = "accounts",
    security(("bearer" = [])),
    params(AuditQuery, PageQuery),
    responses(
        (status = 200, description = "Changes, newest first (`next` is older), a page", body = Page<AuditEntry>),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        pos_shared::openapi::BadPage,
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn audit(
    _: AdminAccess,
    state: web::Data<AppState>,
    query: Query<AuditQuery>,
    page: Query<PageQuery>,
) -> Reply {
    let page = page.request()?;
    let entries = accounts::audit_entries(
        &client(&state).await?,
        query.entity.as_ref().map(|e| e.as_str()),
        query.entity_id.map(|id| id.get()),
        page,
    )
    .await?;
    Ok(HttpResponse::Ok().json(page.page(entries, |e| e.id)))
}

pos_shared::routes! {
    schemas(Login, NewSession, NewAccount, AccountPatch, RoleName, Account, AuditEntry),
    "/sessions" => { POST => login },
    "/sessions/current" => { DELETE => logout },
    "/accounts" => { GET => list, POST => create },
    "/accounts/{id}" => { PATCH => update },
    "/audit" => { GET => audit },
}

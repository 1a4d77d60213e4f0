//! Signing in to the dashboard: a head-office account's name and password in the sign-in form, or a
//! one-time login link made with a bearer token (`POST /dashboard/links`). Either opens a session (the
//! same as `POST /sessions`), whose token is kept in an HttpOnly, SameSite=Strict cookie (Secure when
//! the service is reached over TLS); the admin token itself is never put in a cookie. Forms carry a
//! token of their session (an HMAC of the session's token), checked in constant time.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use hmac::{Hmac, Mac};
use pos_shared::auth::TokenRegistry;
use pos_shared::error::{ApiError, ErrorBody};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::html::login_page;
use crate::auth::{Actor, AdminAccess, actor_of, token_sha256};
use crate::state::{AppState, LINK_LIFETIME};

const COOKIE: &str = "pos_dashboard";

/// The signed-in actor of a dashboard request and its session's token: from the cookie (a session
/// only), else from an `Authorization: Bearer` header (a session or the admin token).
pub async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<(Actor, String)>, ApiError> {
    let Some(registry) = req.app_data::<web::Data<TokenRegistry>>() else {
        return Ok(None);
    };
    if let Some(cookie) = req.cookie(COOKIE) {
        let token = cookie.value().to_owned();
        if let Some(actor) = actor_of(state, registry, &token).await?
            && actor.session_id.is_some()
        {
            return Ok(Some((actor, token)));
        }
    }
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    match bearer {
        Some(token) => Ok(actor_of(state, registry, &token)
            .await?
            .map(|actor| (actor, token))),
        None => Ok(None),
    }
}

/// The form token of the session whose token is `session_token`: an HMAC-SHA256 keyed by it, so it
/// differs for every session and cannot be made without the (HttpOnly) session token.
pub fn csrf_token(session_token: &str) -> String {
    #[allow(clippy::expect_used)] // HMAC takes a key of any length
    let mut mac = Hmac::<Sha256>::new_from_slice(session_token.as_bytes())
        .expect("HMAC accepts any key length");
    mac.update(b"pos-dashboard-csrf");
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `given` is the form token of the session `session_token`, compared in constant time.
pub fn csrf_matches(session_token: &str, given: &str) -> bool {
    csrf_token(session_token)
        .as_bytes()
        .ct_eq(given.as_bytes())
        .into()
}

fn session_cookie(
    req: &HttpRequest,
    value: String,
    max_age: actix_web::cookie::time::Duration,
) -> Cookie<'static> {
    Cookie::build(COOKIE, value)
        .path("/dashboard")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(req.connection_info().scheme() == "https")
        .max_age(max_age)
        .finish()
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginForm {
    /// The account's name.
    pub username: String,
    /// The account's password.
    pub password: String,
}

/// Signs in with an account's name and password from the form: sets the session cookie.
#[utoipa::path(
    post,
    path = "/dashboard/login",
    operation_id = "dashboard_login",
    tag = "dashboard",
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed in: on to the dashboard", headers(("Location" = String, description = "`/dashboard`"), ("Set-Cookie" = String, description = "The HttpOnly, SameSite=Strict session cookie `pos_dashboard` (path `/dashboard`)"))),
        (status = 401, description = "Wrong name or password, or too many failed logins: the sign-in page again", content_type = "text/html", body = String),
        (status = 400, description = "Malformed, too large or not `application/x-www-form-urlencoded` (`bad_request`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, ApiError> {
    let address = crate::routes::accounts::client_address(&req);
    match crate::routes::accounts::sign_in(&state, form.username.trim(), &form.password, &address)
        .await
    {
        Ok(session) => Ok(signed_in_redirect(&req, &state, session.token)),
        Err(ApiError::Unauthorized) => Ok(login_page(Some("Wrong name or password."))),
        Err(ApiError::TooManyRequests { retry_after }) => Ok(login_page(Some(&format!(
            "Too many failed logins: try again in {} minutes.",
            retry_after.div_ceil(60)
        )))),
        Err(ApiError::Validation { .. }) => Ok(login_page(Some("Wrong name or password."))),
        Err(other) => Err(other),
    }
}

fn signed_in_redirect(req: &HttpRequest, state: &AppState, token: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .cookie(session_cookie(
            req,
            token,
            actix_web::cookie::time::Duration::hours(i64::from(
                state.config.accounts.session_hours,
            )),
        ))
        .insert_header((header::LOCATION, "/dashboard"))
        .finish()
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LogoutForm {
    /// The form token the dashboard page carries.
    pub csrf: String,
}

/// Signs out: ends the session and clears its cookie.
#[utoipa::path(
    post,
    path = "/dashboard/logout",
    operation_id = "dashboard_logout",
    tag = "dashboard",
    request_body(content = LogoutForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed out: back to the sign-in page", headers(("Location" = String, description = "`/dashboard`"), ("Set-Cookie" = String, description = "The HttpOnly, SameSite=Strict session cookie `pos_dashboard` (path `/dashboard`)"))),
        (status = 400, description = "Malformed, too large or not `application/x-www-form-urlencoded` (`bad_request`)", body = ErrorBody),
        (status = 403, description = "The form is not this session's (`forbidden`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LogoutForm>,
) -> Result<HttpResponse, ApiError> {
    if let Some(cookie) = req.cookie(COOKIE) {
        let client = crate::routes::client(&state).await?;
        if let Some(session) =
            crate::db::accounts::live_session(&client, &token_sha256(cookie.value())).await?
        {
            if !csrf_matches(cookie.value(), &form.csrf) {
                return Err(ApiError::Forbidden(
                    "the form is not this session's; reload the dashboard".into(),
                ));
            }
            crate::db::accounts::revoke_session(&client, session.id).await?;
        }
    }
    Ok(HttpResponse::SeeOther()
        .cookie(session_cookie(
            &req,
            String::new(),
            actix_web::cookie::time::Duration::ZERO,
        ))
        .insert_header((header::LOCATION, "/dashboard"))
        .finish())
}

// What `issue_link` answers (it writes the body with `json!`): for the OpenAPI document only; the
// integration tests check it against a real answer.
/// A one-time login link.
#[derive(utoipa::ToSchema)]
pub struct LoginLink {
    /// `/dashboard/session/{nonce}`: open it within the minute, once.
    pub url: String,
    pub expires_in_seconds: u64,
}

/// A one-time login link, valid for a minute (for a browser that cannot send a bearer token): it
/// opens a session of the bearer's account, or of the admin token.
#[utoipa::path(
    post,
    path = "/dashboard/links",
    operation_id = "dashboard_login_link",
    tag = "dashboard",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "A one-time link to open in the browser", body = LoginLink),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
    ),
)]
pub async fn issue_link(
    AdminAccess(actor): AdminAccess,
    state: web::Data<AppState>,
) -> HttpResponse {
    HttpResponse::Created().json(serde_json::json!({
        "url": format!("/dashboard/session/{}", state.login_links.issue(actor.account_id)),
        "expires_in_seconds": LINK_LIFETIME.as_secs(),
    }))
}

/// Opens a one-time login link: a new session, in the cookie.
#[utoipa::path(
    get,
    path = "/dashboard/session/{nonce}",
    operation_id = "dashboard_redeem_link",
    tag = "dashboard",
    params(("nonce" = String, Path, description = "The nonce of a link from `POST /dashboard/links`")),
    responses(
        (status = 303, description = "Signed in: on to the dashboard", headers(("Location" = String, description = "`/dashboard`"), ("Set-Cookie" = String, description = "The HttpOnly, SameSite=Strict session cookie `pos_dashboard` (path `/dashboard`)"))),
        (status = 401, description = "The link has expired or was used already: the sign-in page", content_type = "text/html", body = String),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn redeem_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    nonce: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Some(account_id) = state.login_links.redeem(&nonce) else {
        return Ok(login_page(Some(
            "That login link has expired or was used already.",
        )));
    };
    let token = pos_shared::auth::generate_token();
    crate::db::accounts::create_session(
        &crate::routes::client(&state).await?,
        account_id,
        &token_sha256(&token),
        state.config.accounts.session_hours,
    )
    .await?;
    Ok(signed_in_redirect(&req, &state, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_token_belongs_to_one_session() {
        let (a, b) = ("session-a-token", "session-b-token");
        assert!(csrf_matches(a, &csrf_token(a)));
        assert!(!csrf_matches(a, &csrf_token(b)));
        assert!(!csrf_matches(a, ""));
        assert!(!csrf_matches(a, &"0".repeat(64)));
    }
}

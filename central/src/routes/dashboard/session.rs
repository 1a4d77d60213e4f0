//! Signing in to the dashboard: the admin token, entered once in a login form or carried by a one-time
//! login link made with the bearer token, is kept in an HttpOnly, SameSite=Strict cookie; forms carry a
//! token tied to the session.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use pos_shared::auth::{Admin, Principal, TokenRegistry};
use pos_shared::error::ErrorBody;
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::html::login_page;
use crate::state::{AppState, LINK_LIFETIME};

const COOKIE: &str = "pos_dashboard";

/// The admin token from the cookie or the Authorization header, if it is the right one.
pub fn signed_in(req: &HttpRequest) -> bool {
    let Some(registry) = req.app_data::<web::Data<TokenRegistry>>() else {
        return false;
    };
    let from_cookie = req.cookie(COOKIE).map(|c| c.value().to_owned());
    let from_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    [from_cookie, from_header]
        .into_iter()
        .flatten()
        .any(|token| registry.principal(&token) == Some(Principal::Admin))
}

/// Ties a form to the signed-in session (forms are also protected by SameSite=Strict).
pub fn csrf_token(state: &AppState) -> String {
    let digest = Sha256::new()
        .chain_update(b"pos-dashboard-csrf:")
        .chain_update(state.config.admin_token.expose_secret().as_bytes())
        .finalize();
    hex::encode(digest)
}

fn session_cookie(value: String, max_age: actix_web::cookie::time::Duration) -> Cookie<'static> {
    Cookie::build(COOKIE, value)
        .path("/dashboard")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(max_age)
        .finish()
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginForm {
    /// The admin token.
    pub token: String,
}

/// Signs in with the admin token from the form: sets the session cookie.
#[utoipa::path(
    post,
    path = "/dashboard/login",
    operation_id = "dashboard_login",
    tag = "dashboard",
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed in: on to the dashboard", headers(("Location" = String, description = "`/dashboard`"), ("Set-Cookie" = String, description = "The HttpOnly, SameSite=Strict session cookie `pos_dashboard` (path `/dashboard`)"))),
        (status = 401, description = "Not the admin token: the sign-in page again", content_type = "text/html", body = String),
        (status = 400, description = "Malformed, too large or not `application/x-www-form-urlencoded` (`bad_request`)", body = ErrorBody),
    ),
)]
pub async fn login(
    state: web::Data<AppState>,
    registry: web::Data<TokenRegistry>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    if registry.principal(form.token.trim()) != Some(Principal::Admin) {
        return login_page(Some("That is not the admin token."));
    }
    signed_in_redirect(&state)
}

fn signed_in_redirect(state: &AppState) -> HttpResponse {
    HttpResponse::SeeOther()
        .cookie(session_cookie(
            state.config.admin_token.expose_secret().to_owned(),
            actix_web::cookie::time::Duration::hours(8),
        ))
        .insert_header((header::LOCATION, "/dashboard"))
        .finish()
}

/// Signs out: clears the session cookie.
#[utoipa::path(
    post,
    path = "/dashboard/logout",
    operation_id = "dashboard_logout",
    tag = "dashboard",
    responses(
        (status = 303, description = "Signed out: back to the sign-in page", headers(("Location" = String, description = "`/dashboard`"), ("Set-Cookie" = String, description = "The HttpOnly, SameSite=Strict session cookie `pos_dashboard` (path `/dashboard`)"))),
    ),
)]
pub async fn logout() -> HttpResponse {
    HttpResponse::SeeOther()
        .cookie(session_cookie(
            String::new(),
            actix_web::cookie::time::Duration::ZERO,
        ))
        .insert_header((header::LOCATION, "/dashboard"))
        .finish()
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

/// A one-time login link, valid for a minute (for a browser that cannot send a bearer token).
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
pub async fn issue_link(_: Admin, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Created().json(serde_json::json!({
        "url": format!("/dashboard/session/{}", state.login_links.issue()),
        "expires_in_seconds": LINK_LIFETIME.as_secs(),
    }))
}

/// Opens a one-time login link: sets the session cookie.
#[utoipa::path(
    get,
    path = "/dashboard/session/{nonce}",
    operation_id = "dashboard_redeem_link",
    tag = "dashboard",
    params(("nonce" = String, Path, description = "The nonce of a link from `POST /dashboard/links`")),
    responses(
        (status = 303, description = "Signed in: on to the dashboard", headers(("Location" = String, description = "`/dashboard`"), ("Set-Cookie" = String, description = "The HttpOnly, SameSite=Strict session cookie `pos_dashboard` (path `/dashboard`)"))),
        (status = 401, description = "The link has expired or was used already: the sign-in page", content_type = "text/html", body = String),
    ),
)]
pub async fn redeem_link(state: web::Data<AppState>, nonce: web::Path<String>) -> HttpResponse {
    if !state.login_links.redeem(&nonce) {
        return login_page(Some("That login link has expired or was used already."));
    }
    signed_in_redirect(&state)
}

//! Head office's dashboard: one server-rendered page (inline SVG, no script or stylesheet from
//! elsewhere) with today's sales by store and city, replication health per node with a way to re-queue
//! dead entries, and the stores' sync backlog. It refreshes itself.
//!
//! Protected like the API: the admin token, entered once in a login form or carried by a one-time
//! login link made with the bearer token, is kept in an HttpOnly, SameSite=Strict cookie.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use pos_shared::auth::{Admin, Principal, TokenRegistry};
use pos_shared::error::{ApiError, ErrorBody};
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::reports::{SalesQuery, SalesReportRow, sales_report};
use super::{Reply, client};
use crate::db;
use crate::startup::AppState;

const COOKIE: &str = "pos_dashboard";
const REFRESH_SECONDS: u32 = 15;
const LINK_LIFETIME: Duration = Duration::from_secs(60);

/// One-time login links: nonce → expiry. In memory: a link works on the replica that made it.
#[derive(Clone, Default)]
pub struct LoginLinks(Arc<Mutex<HashMap<String, Instant>>>);

impl LoginLinks {
    fn issue(&self) -> String {
        let nonce = pos_shared::auth::generate_token();
        let mut links = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        links.retain(|_, expiry| *expiry > now);
        links.insert(nonce.clone(), now + LINK_LIFETIME);
        nonce
    }

    fn redeem(&self, nonce: &str) -> bool {
        let mut links = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        links
            .remove(nonce)
            .is_some_and(|expiry| expiry > Instant::now())
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The admin token from the cookie or the Authorization header, if it is the right one.
fn signed_in(req: &HttpRequest) -> bool {
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
fn csrf_token(state: &AppState) -> String {
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

fn page(title: &str, body: &str, refresh: bool) -> String {
    let refresh = if refresh {
        format!(r#"<meta http-equiv="refresh" content="{REFRESH_SECONDS}">"#)
    } else {
        String::new()
    };
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8">{refresh}
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:24px;color:#1d2733;background:#f6f7f9}}
h1{{font-size:22px;margin:0 0 4px}} h2{{font-size:16px;margin:24px 0 8px}}
.muted{{color:#667}} .card{{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:16px;margin:12px 0}}
.totals{{display:flex;gap:32px}} .totals div b{{display:block;font-size:24px}}
table{{border-collapse:collapse;width:100%;background:#fff}} th,td{{text-align:left;padding:6px 10px;border-bottom:1px solid #e5e8eb}}
.bad{{color:#b42318;font-weight:600}} .ok{{color:#067647;font-weight:600}}
.warn{{background:#fffaeb;border:1px solid #fedf89;padding:10px;border-radius:6px}}
button{{padding:4px 10px}} input{{padding:6px;width:420px}}
</style></head><body>{body}</body></html>"#
    )
}

fn login_page(message: Option<&str>) -> HttpResponse {
    let message = message
        .map(|m| format!(r#"<p class="bad">{}</p>"#, escape(m)))
        .unwrap_or_default();
    let body = format!(
        r#"<h1>Head office dashboard</h1><div class="card">{message}
<form method="post" action="/dashboard/login"><label>Admin token<br>
<input type="password" name="token" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form></div>"#
    );
    HttpResponse::Unauthorized()
        .content_type("text/html; charset=utf-8")
        .body(page("Sign in", &body, false))
}

/// Horizontal bars, one per row, with the value written beside each.
fn bar_chart(kind: &str, rows: &[SalesReportRow]) -> String {
    if rows.is_empty() {
        return r#"<p class="muted">No sales yet today.</p>"#.into();
    }
    let max = rows
        .iter()
        .map(|r| r.figures.revenue.amount())
        .max()
        .filter(|m| *m > Decimal::ZERO)
        .unwrap_or(Decimal::ONE);
    let (label_width, bar_width, row_height) = (180u32, 380u32, 30u32);
    let height = row_height * u32::try_from(rows.len()).unwrap_or(u32::MAX).min(500) + 10;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="680" height="{height}" role="img" aria-label="Sales by {kind}">"#
    );
    for (i, row) in rows.iter().enumerate() {
        let y = row_height * u32::try_from(i).unwrap_or(0) + 5;
        let share = (row.figures.revenue.amount() / max).max(Decimal::ZERO);
        let width = (share * Decimal::from(bar_width)).round().to_string();
        let _ = write!(
            svg,
            r##"<g data-chart="{kind}" data-key="{key}" data-name="{name}" data-revenue="{revenue}">
<text x="0" y="{ty}" font-size="13">{name}</text>
<rect x="{label_width}" y="{y}" width="{width}" height="20" fill="#2e6fdb" rx="3"/>
<text x="{tx}" y="{ty}" font-size="13">{revenue} · {orders} orders</text></g>"##,
            key = escape(&row.key),
            name = escape(&row.name),
            revenue = row.figures.revenue,
            orders = row.figures.orders,
            ty = y + 15,
            tx = label_width + bar_width + 8,
        );
    }
    svg.push_str("</svg>");
    svg
}

fn age(seconds: Option<f64>) -> String {
    match seconds {
        None => "–".into(),
        Some(s) if s < 120.0 => format!("{s:.0} s"),
        Some(s) => format!("{:.0} min", s / 60.0),
    }
}

/// The page: today's sales by store and city, replication health, the stores' sync backlog.
///
/// Signed in by the session cookie (see `/dashboard/login` and `/dashboard/session/{nonce}`) or an
/// `Authorization: Bearer` admin token; otherwise the sign-in page.
#[utoipa::path(
    get,
    path = "/dashboard",
    operation_id = "dashboard",
    tag = "dashboard",
    responses(
        (status = 200, description = "The dashboard page (refreshes itself)", content_type = "text/html", body = String),
        (status = 401, description = "Not signed in: the sign-in page", content_type = "text/html", body = String),
        (status = 500, description = "Unexpected failure; the cause is in the log (`internal`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable (`unavailable`)", body = ErrorBody),
    ),
)]
pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Reply {
    if !signed_in(&req) {
        return Ok(login_page(None));
    }
    // Each city's own today (its time zone), not central's.
    let by = |group: &str| SalesQuery {
        from: None,
        to: None,
        group_by: Some(group.into()),
    };
    let (store_query, city_query) = (by("store"), by("city"));
    let (by_store, by_city, replication) = futures_util::try_join!(
        sales_report(&state, &store_query),
        sales_report(&state, &city_query),
        super::replication::replication_status(&state),
    )?;
    let backlog = state
        .node_sessions
        .ask_every_node(|client, _| async move { pos_shared::outbox::backlog(&client).await })
        .await?;

    let today = if by_store.from == by_store.to {
        by_store.from.to_string()
    } else {
        format!("{} to {} (each city's own day)", by_store.from, by_store.to)
    };
    let mut body = format!(
        r#"<h1>Head office dashboard</h1><p class="muted">Today, {today} · refreshes every {REFRESH_SECONDS} s ·
<form method="post" action="/dashboard/logout" style="display:inline"><button>Sign out</button></form></p>"#
    );
    let missing: Vec<String> = by_store
        .nodes
        .iter()
        .filter(|n| n.status != "ok")
        .map(|n| escape(&n.city))
        .collect();
    if !missing.is_empty() {
        let _ = write!(
            body,
            r#"<p class="warn" data-testid="partial">Partial figures: no answer from {} — their sales are missing, not zero.</p>"#,
            missing.join(", ")
        );
    }
    let total = &by_store.total;
    let _ = write!(
        body,
        r#"<div class="card totals"><div>Revenue<b data-testid="total-revenue">{}</b></div>
<div>Orders<b data-testid="total-orders">{}</b></div><div>Units<b data-testid="total-units">{}</b></div></div>
<h2>Sales by store</h2><div class="card">{}</div><h2>Sales by city</h2><div class="card">{}</div>"#,
        total.revenue,
        total.orders,
        total.units,
        bar_chart("store", &by_store.rows),
        bar_chart("city", &by_city.rows)
    );
    let csrf = csrf_token(&state);
    body.push_str(
        "<h2>Replication to the nodes</h2><table><tr><th>Node</th><th>Reachable</th><th>Pending</th>\
         <th>Failed</th><th>Dead</th><th>Oldest pending</th><th>Last success</th><th>Last error</th><th></th></tr>",
    );
    for node in &replication.nodes {
        let b = &node.backlog;
        let requeue = if b.dead > 0 {
            format!(
                r#"<form method="post" action="/dashboard/requeue"><input type="hidden" name="city_id" value="{}">
<input type="hidden" name="csrf" value="{csrf}"><button>Re-queue {} dead</button></form>"#,
                b.city_id, b.dead
            )
        } else {
            String::new()
        };
        let _ = write!(
            body,
            r#"<tr data-node="{city}"><td>{city}</td><td class="{rclass}">{reach}</td><td data-testid="pending">{}</td>
<td>{}</td><td data-testid="dead">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{requeue}</td></tr>"#,
            b.pending,
            b.failed,
            b.dead,
            age(b.oldest_pending_age_seconds),
            b.last_success
                .map(|t| t.format("%H:%M:%S UTC").to_string())
                .unwrap_or_else(|| "never".into()),
            escape(b.last_error.as_deref().unwrap_or("")),
            city = escape(&b.city),
            rclass = if node.reachable { "ok" } else { "bad" },
            reach = if node.reachable { "yes" } else { "no" },
        );
    }
    body.push_str(
        "</table><h2>Stores' sales waiting to reach head office</h2><table><tr><th>Node</th><th>Pending</th>\
         <th>Failed</th><th>Oldest</th><th>Last delivered</th></tr>",
    );
    for (answer, value) in &backlog {
        let city = escape(&answer.city);
        match value {
            Some(b) => {
                let _ = write!(
                    body,
                    r#"<tr data-backlog="{city}"><td>{city}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                    b.pending,
                    b.failed,
                    age(b.oldest_pending_age_seconds),
                    b.last_delivered_at
                        .map(|t| t.format("%H:%M:%S UTC").to_string())
                        .unwrap_or_else(|| "never".into())
                );
            }
            None => {
                let _ = write!(
                    body,
                    r#"<tr><td>{city}</td><td colspan="4" class="bad">no answer</td></tr>"#
                );
            }
        }
    }
    body.push_str("</table>");
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page("Head office dashboard", &body, true)))
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
        (status = 401, description = "Missing or unknown bearer token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "Not the admin token (`forbidden`)", body = ErrorBody),
    ),
)]
pub async fn issue_link(_: Admin, links: web::Data<LoginLinks>) -> HttpResponse {
    HttpResponse::Created().json(serde_json::json!({
        "url": format!("/dashboard/session/{}", links.issue()),
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
pub async fn redeem_link(
    state: web::Data<AppState>,
    links: web::Data<LoginLinks>,
    nonce: web::Path<String>,
) -> HttpResponse {
    if !links.redeem(&nonce) {
        return login_page(Some("That login link has expired or was used already."));
    }
    signed_in_redirect(&state)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RequeueForm {
    /// The node whose dead entries to re-queue.
    pub city_id: i32,
    /// The form token the dashboard page carries.
    pub csrf: String,
}

/// Puts a node's dead replication entries back in the queue (the dashboard's form).
#[utoipa::path(
    post,
    path = "/dashboard/requeue",
    operation_id = "dashboard_requeue",
    tag = "dashboard",
    request_body(content = RequeueForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Re-queued: back to the dashboard", headers(("Location" = String, description = "`/dashboard`"))),
        (status = 401, description = "Not signed in: the sign-in page", content_type = "text/html", body = String),
        (status = 400, description = "Malformed, too large or not `application/x-www-form-urlencoded` (`bad_request`)", body = ErrorBody),
        (status = 403, description = "The form is stale (`forbidden`)", body = ErrorBody),
        (status = 500, description = "Unexpected failure; the cause is in the log (`internal`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable (`unavailable`)", body = ErrorBody),
    ),
)]
pub async fn requeue(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<RequeueForm>,
) -> Reply {
    if !signed_in(&req) {
        return Ok(login_page(None));
    }
    if form.csrf != csrf_token(&state) {
        return Err(ApiError::Forbidden(
            "the form is stale; reload the dashboard".into(),
        ));
    }
    let requeued =
        db::replication::requeue_dead(&client(&state).await?, Some(form.city_id), None).await?;
    tracing::info!(
        city_id = form.city_id,
        requeued,
        "dead entries re-queued from the dashboard"
    );
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/dashboard"))
        .finish())
}

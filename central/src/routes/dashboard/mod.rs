//! Head office's dashboard: one server-rendered page (inline SVG, no script or stylesheet from
//! elsewhere) with each city's sales today by store and city, replication health per node, the entries
//! a node refused with a way to re-queue each, and the stores' sync backlog. It refreshes itself. The
//! nodes are asked everything at once under one deadline (`POS_DASHBOARD_NODE_DEADLINE_MS`).
//!
//! Protected like the API (see `session`): a session of a head-office account, its token in an HttpOnly,
//! SameSite=Strict cookie, or the admin token as a bearer token.

mod html;
mod session;

use pos_shared::page::PageRequest;
use std::fmt::Write as _;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use pos_shared::error::{ApiError, ErrorBody};
use serde::Deserialize;

use self::html::{age, bar_chart, escape, login_page, page};
pub use self::session::{
    __path_issue_link, __path_login, __path_logout, __path_redeem_link, LoginForm, LoginLink,
    LogoutForm, issue_link, login, logout, redeem_link,
};
use self::session::{csrf_matches, csrf_token, signed_in};
use super::reports::{SalesQuery, sales_report};
use super::{Reply, client};
use crate::auth::Role;
use crate::db;
use crate::state::AppState;

const REFRESH_SECONDS: u32 = 15;
/// Refused entries listed one by one; the counts per node cover the rest.
const DEAD_LISTED: i64 = 50;

fn time_or_never(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(|t| t.format("%H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "never".into())
}

/// A re-queue button: the node's dead entries of `queue`, or the one entry `id`.
fn requeue_button(
    queue: &str,
    city_id: i32,
    id: Option<i64>,
    label: &str,
    csrf: &Option<String>,
) -> String {
    let Some(csrf) = csrf else {
        return String::new();
    };
    let id = id
        .map(|id| format!(r#"<input type="hidden" name="id" value="{id}">"#))
        .unwrap_or_default();
    format!(
        r#"<form method="post" action="/dashboard/requeue"><input type="hidden" name="queue" value="{queue}">
<input type="hidden" name="city_id" value="{city_id}">{id}<input type="hidden" name="csrf" value="{csrf}"><button>{label}</button></form>"#
    )
}

/// The page: each city's sales today by store and city, replication health, refused entries, the
/// stores' sync backlog.
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
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Reply {
    let Some((actor, session_token)) = signed_in(&req, &state).await? else {
        return Ok(login_page(None));
    };
    // Each city's own today (its time zone), not central's.
    let by = |group: &str| SalesQuery {
        from: None,
        to: None,
        group_by: Some(group.into()),
    };
    let (store_query, city_query) = (by("store"), by("city"));
    // Everything asked of the nodes at once, under one deadline: a hung node costs the page that long.
    let deadline = Duration::from_millis(state.config.replication.dashboard_deadline_ms);
    let nodes = state.node_sessions.within(deadline);
    let central = client(&state).await?;
    let (by_store, by_city, replication, dead, backlog) = futures_util::try_join!(
        sales_report(&state, &nodes, &store_query),
        sales_report(&state, &nodes, &city_query),
        super::replication::replication_status(&state, Some(deadline)),
        async {
            db::replication::log_entries(
                &central,
                Some("Dead"),
                None,
                PageRequest::first(DEAD_LISTED),
            )
            .await
            .map_err(ApiError::from)
        },
        async {
            nodes
                .ask_every_node(
                    |client, _| async move { pos_shared::outbox::backlog(&client).await },
                )
                .await
                .map_err(ApiError::from)
        },
    )?;

    let today = if by_store.from == by_store.to {
        by_store.from.to_string()
    } else {
        format!("{} to {} (each city's own day)", by_store.from, by_store.to)
    };
    let session_csrf = csrf_token(&session_token);
    let who = escape(&actor.name);
    let mut body = format!(
        r#"<h1>Head office dashboard</h1><p class="muted">Today, {today} · refreshes every {REFRESH_SECONDS} s · {who} ·
<form method="post" action="/dashboard/logout" style="display:inline"><input type="hidden" name="csrf" value="{session_csrf}"><button>Sign out</button></form></p>"#
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
    // Re-queueing is an admin's: the buttons (and their form token) are shown to admins only.
    let csrf = (actor.role == Role::Admin).then_some(session_csrf);
    body.push_str(
        "<h2>Replication to the nodes</h2><table><tr><th>Node</th><th>Reachable</th><th>Pending</th>\
         <th>Failed</th><th>Dead</th><th>Oldest pending</th><th>Last success</th><th>Last error</th><th></th></tr>",
    );
    for node in &replication.nodes {
        let b = &node.backlog;
        let requeue = if b.dead > 0 {
            let label = format!("Re-queue {} dead", b.dead);
            requeue_button("replication", b.city_id, None, &label, &csrf)
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
            time_or_never(b.last_success),
            escape(b.last_error.as_deref().unwrap_or("")),
            city = escape(&b.city),
            rclass = if node.reachable { "ok" } else { "bad" },
            reach = if node.reachable { "yes" } else { "no" },
        );
    }
    body.push_str("</table>");
    if !dead.is_empty() {
        let _ = write!(
            body,
            "<h2>Rows a node refused (newest {DEAD_LISTED})</h2><table><tr><th>Entry</th><th>Node</th>\
             <th>Row</th><th>Change</th><th>Attempts</th><th>Last attempt</th><th>Why</th><th></th></tr>"
        );
        let cities: std::collections::HashMap<i32, &str> = replication
            .nodes
            .iter()
            .map(|n| (n.backlog.city_id, n.backlog.city.as_str()))
            .collect();
        for entry in &dead {
            let city = cities
                .get(&entry.target_city_id)
                .map_or_else(|| entry.target_city_id.to_string(), |c| escape(c));
            let _ = write!(
                body,
                r#"<tr data-dead="{id}"><td>{id}</td><td>{city}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td>
<td data-testid="dead-error">{}</td><td>{}</td></tr>"#,
                escape(&entry.table_name),
                entry.record_id,
                escape(&entry.operation),
                entry.attempts,
                time_or_never(entry.last_attempt_at),
                escape(entry.message.as_deref().unwrap_or("")),
                requeue_button(
                    "replication",
                    entry.target_city_id,
                    Some(entry.id),
                    "Re-queue",
                    &csrf
                ),
                id = entry.id,
            );
        }
        body.push_str("</table>");
    }
    body.push_str(
        "<h2>Stores' sales waiting to reach head office</h2><table><tr><th>Node</th><th>Pending</th>\
         <th>Failed</th><th>Dead</th><th>Oldest</th><th>Last delivered</th><th>Last error</th><th></th></tr>",
    );
    for (answer, value) in &backlog {
        let city = escape(&answer.city);
        match value {
            Some(b) => {
                let requeue = if b.dead > 0 {
                    let label = format!("Re-queue {} refused", b.dead);
                    requeue_button("outbox", answer.city_id, None, &label, &csrf)
                } else {
                    String::new()
                };
                let _ = write!(
                    body,
                    r#"<tr data-backlog="{city}"><td>{city}</td><td>{}</td><td>{}</td><td data-testid="outbox-dead">{}</td>
<td>{}</td><td>{}</td><td>{}</td><td>{requeue}</td></tr>"#,
                    b.pending,
                    b.failed,
                    b.dead,
                    age(b.oldest_pending_age_seconds),
                    time_or_never(b.last_delivered_at),
                    escape(b.last_error.as_deref().unwrap_or("")),
                );
            }
            None => {
                let _ = write!(
                    body,
                    r#"<tr><td>{city}</td><td colspan="7" class="bad">no answer</td></tr>"#
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
pub struct RequeueForm {
    /// `replication` (rows the node refused; the default) or `outbox` (the node's sales central refused).
    #[schema(nullable = false, pattern = "^(replication|outbox)$")]
    pub queue: Option<String>,
    /// The node whose dead entries to re-queue.
    pub city_id: i32,
    /// Only this replication entry (the list's button); all of the node's when absent.
    #[schema(nullable = false)]
    pub id: Option<i64>,
    /// The form token the dashboard page carries.
    pub csrf: String,
}

/// Puts dead entries back in their queue (the dashboard's forms): a node's refused replication
/// entries, one of them, or the node's outbox entries central refused.
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
        (status = 403, description = "The form is stale or another session's, or the account is no admin (`forbidden`)", body = ErrorBody),
        (status = 422, description = "An unknown queue (`validation_failed`)", body = ErrorBody),
        (status = 500, description = "Unexpected failure; the cause is in the log (`internal`)", body = ErrorBody),
        (status = 503, description = "The database, or for the outbox the node, is unavailable (`unavailable`)", body = ErrorBody),
    ),
)]
pub async fn requeue(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<RequeueForm>,
) -> Reply {
    let Some((actor, session_token)) = signed_in(&req, &state).await? else {
        return Ok(login_page(None));
    };
    if !csrf_matches(&session_token, &form.csrf) {
        return Err(ApiError::Forbidden(
            "the form is stale or not this session's; reload the dashboard".into(),
        ));
    }
    if actor.role != Role::Admin {
        return Err(ApiError::Forbidden(
            "re-queueing needs the admin role".into(),
        ));
    }
    let queue = form.queue.as_deref().unwrap_or("replication");
    let requeued = match queue {
        "replication" => {
            let ids = form.id.map(|id| vec![id]);
            db::replication::requeue_dead(
                &client(&state).await?,
                Some(form.city_id),
                ids.as_deref(),
            )
            .await?
        }
        "outbox" => state
            .node_sessions
            .ask_node(form.city_id, |client, _| async move {
                pos_shared::outbox::requeue_dead(&client).await
            })
            .await
            .map_err(|reason| ApiError::Unavailable(anyhow::anyhow!("the node: {reason}")))?,
        _ => {
            return Err(ApiError::validation(
                "queue",
                "must be replication or outbox",
            ));
        }
    };
    tracing::info!(
        queue,
        city_id = form.city_id,
        requeued,
        "dead entries re-queued from the dashboard"
    );
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/dashboard"))
        .finish())
}

pos_shared::routes! {
    schemas(LoginForm, LogoutForm, RequeueForm, LoginLink),
    "/dashboard" => { GET => show },
    "/dashboard/login" => { POST => login },
    "/dashboard/logout" => { POST => logout },
    "/dashboard/links" => { POST => issue_link },
    "/dashboard/session/{nonce}" => { GET => redeem_link },
    "/dashboard/requeue" => { POST => requeue },
}

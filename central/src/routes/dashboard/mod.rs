//! Head office's dashboard: one server-rendered page (inline SVG, no script or stylesheet from
//! elsewhere) with each city's sales today by store and city, replication health per node, the entries
//! a node refused with a way to re-queue each, and the stores' sync backlog. It refreshes itself. The
//! nodes are asked everything at once under one deadline (`POS_DASHBOARD_NODE_DEADLINE_MS`).
//!
//! Protected like the API (see `session`): a session of a head-office account, its token in an HttpOnly,
//! SameSite=Strict cookie, or the admin token as a bearer token.

mod html;
mod panels;
mod session;

use pos_shared::page::PageRequest;
use std::fmt::Write as _;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use pos_shared::domain::Day;
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::Query;
use serde::Deserialize;

use self::html::{bar_chart, escape, login_page, page, trend_chart};
pub use self::session::{
    __path_issue_link, __path_login, __path_logout, __path_redeem_link, LoginForm, LoginLink,
    LogoutForm, issue_link, login, logout, redeem_link,
};
use self::session::{csrf_matches, csrf_token, signed_in};
use super::reports::{SalesQuery, SalesReport, SalesReportRow, sales_report};
use super::{Reply, client};
use crate::auth::Role;
use crate::db;
use crate::state::AppState;

const REFRESH_SECONDS: u32 = 15;
/// Refused entries listed one by one; the counts per node cover the rest.
const DEAD_LISTED: i64 = 50;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DashboardQuery {
    /// First business day, `YYYY-MM-DD` (as `GET /reports/sales`: without either day, each city's today).
    #[param(inline)]
    pub from: Option<Day>,
    /// Last business day, `YYYY-MM-DD`; at most 366 days after `from`.
    #[param(inline)]
    pub to: Option<Day>,
}

/// Stock lines under this many units are listed as low.
const LOW_STOCK_BELOW: i32 = 10;
/// Products shown in the top list.
const TOP_PRODUCTS: usize = 10;

/// The page: sales in a range of business days (each city's today by default) in total, per day, by
/// city, store and category, and the top products; low stock; replication health per node with its lag,
/// the rows a node refused, and each store's backlog of sales not yet at head office.
///
/// Signed in by the session cookie (see `/dashboard/login` and `/dashboard/session/{nonce}`) or an
/// `Authorization: Bearer` admin token; otherwise the sign-in page.
#[utoipa::path(
    get,
    path = "/dashboard",
    operation_id = "dashboard",
    tag = "dashboard",
    params(DashboardQuery),
    responses(
        (status = 200, description = "The dashboard page (refreshes itself)", content_type = "text/html", body = String),
        (status = 401, description = "Not signed in: the sign-in page", content_type = "text/html", body = String),
        (status = 422, description = "A malformed day, `to` before `from`, or a range over 366 days (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: Query<DashboardQuery>,
) -> Reply {
    let Some((actor, session_token)) = signed_in(&req, &state).await? else {
        return Ok(login_page(None));
    };
    let by = |group: &str| SalesQuery {
        from: query.from,
        to: query.to,
        group_by: Some(group.into()),
    };
    let queries = [
        by("store"),
        by("city"),
        by("category"),
        by("product"),
        by("day"),
    ];
    // Everything asked of the nodes at once, under one deadline: a hung node costs the page that long.
    let deadline = Duration::from_millis(state.config.replication.dashboard_deadline_ms);
    let nodes = state.node_sessions.within(deadline);
    let central = client(&state).await?;
    let (by_store, by_city, by_category, by_product, by_day, replication, dead, backlog, low_stock) =
        futures_util::try_join!(
            sales_report(&state, &nodes, &queries[0]),
            sales_report(&state, &nodes, &queries[1]),
            sales_report(&state, &nodes, &queries[2]),
            sales_report(&state, &nodes, &queries[3]),
            sales_report(&state, &nodes, &queries[4]),
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
                    .ask_every_node(|client, _| async move {
                        pos_shared::outbox::backlog(&client).await
                    })
                    .await
                    .map_err(ApiError::from)
            },
            async {
                nodes
                    .ask_every_node(|client, city_id| async move {
                        db::reports::node_stock_below(&client, city_id, LOW_STOCK_BELOW).await
                    })
                    .await
                    .map_err(ApiError::from)
            },
        )?;

    let (from, to) = (by_store.from.to_string(), by_store.to.to_string());
    let range = if query.from.is_none() && query.to.is_none() {
        if from == to {
            format!("Today, {from}")
        } else {
            format!("Today: {from} to {to} (each city's own day)")
        }
    } else {
        format!("{from} to {to}")
    };
    let session_csrf = csrf_token(&session_token);
    let who = escape(&actor.name);
    let mut body = format!(
        r#"<h1>Head office dashboard</h1><p class="muted">{range} · refreshes every {REFRESH_SECONDS} s · {who} ·
<form method="post" action="/dashboard/logout" style="display:inline"><input type="hidden" name="csrf" value="{session_csrf}"><button>Sign out</button></form></p>
<form method="get" action="/dashboard" class="range"><label>From<br><input type="date" name="from" value="{from}"></label>
<label>To<br><input type="date" name="to" value="{to}"></label><button>Show</button><a href="/dashboard">Today</a></form>"#
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
    let mut days: Vec<&SalesReportRow> = by_day.rows.iter().collect();
    days.sort_by(|a, b| a.key.cmp(&b.key));
    let mut top: Vec<&SalesReportRow> = by_product.rows.iter().collect();
    top.sort_by_key(|r| std::cmp::Reverse(r.figures.revenue.amount()));
    top.truncate(TOP_PRODUCTS);
    let _ = write!(
        body,
        r#"<div class="card totals"><div>Revenue<b data-testid="total-revenue">{}</b></div>
<div>Orders<b data-testid="total-orders">{}</b></div><div>Units<b data-testid="total-units">{}</b></div>
<div>Tax<b data-testid="total-tax">{}</b></div><div>Discounts<b data-testid="total-discounts">{}</b></div></div>
<h2>Revenue per day</h2><div class="card">{}</div>
<div class="grid"><div><h2>Sales by city</h2><div class="card">{}</div></div>
<div><h2>Sales by store</h2><div class="card">{}</div></div>
<div><h2>Sales by category</h2><div class="card">{}</div></div>
<div><h2>Top products</h2><div class="card">{}</div></div></div>"#,
        total.revenue,
        total.orders,
        total.units,
        total.tax,
        total.discounts,
        trend_chart(&days, &from, &to),
        bar_chart("city", &rows(&by_city), "No sales in this range."),
        bar_chart("store", &rows(&by_store), "No sales in this range."),
        bar_chart("category", &rows(&by_category), "No sales in this range."),
        bar_chart("product", &top, "No sales in this range."),
    );
    body.push_str(&panels::low_stock_table(&low_stock));

    // Re-queueing is an admin's: the buttons (and their form token) are shown to admins only.
    let csrf = (actor.role == Role::Admin).then_some(session_csrf);
    body.push_str(&panels::replication_panel(&replication, &csrf));
    body.push_str(&panels::refused_panel(&dead, &replication, &csrf));
    body.push_str(&panels::outbox_panel(&backlog, &csrf));
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page("Head office dashboard", &body, true)))
}

/// A report's rows, in its order.
fn rows(report: &SalesReport) -> Vec<&SalesReportRow> {
    report.rows.iter().collect()
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

//! Head office's reports across every store, by parallel fan-out to the nodes.

use pos_shared::page::PageRequest;
use std::collections::BTreeMap;

use crate::auth::ViewerAccess;
use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use pos_shared::domain::Day;
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::Query;
use pos_shared::money::Money;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Reply, client};
use crate::db;
use crate::fanout::{NodeAnswer, NodeSessions};
use crate::state::AppState;

pub const GROUPS: [&str; 5] = ["store", "city", "day", "product", "category"];

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SalesQuery {
    /// First business day, `YYYY-MM-DD`. With neither `from` nor `to`, each city's own today (in its
    /// time zone); otherwise the latest city's today by default.
    #[param(inline)]
    pub from: Option<Day>,
    /// Last business day, `YYYY-MM-DD` (the later of `from` and the latest city's today by default); at most
    /// 366 days after `from`.
    #[param(inline)]
    pub to: Option<Day>,
    /// `store` (default), `city`, `day`, `product` or `category`.
    #[param(pattern = "^(store|city|day|product|category)$")]
    pub group_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SalesFigures {
    pub orders: i64,
    pub units: i64,
    /// Net of refunds; prices include tax.
    pub revenue: Money,
    /// The tax the revenue includes, net of what refunds gave back.
    pub tax: Money,
    /// Taken off the sales by promotions and by hand.
    pub discounts: Money,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SalesReportRow {
    pub key: String,
    pub name: String,
    #[serde(flatten)]
    pub figures: SalesFigures,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SalesReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group_by: String,
    pub rows: Vec<SalesReportRow>,
    pub total: SalesFigures,
    pub nodes: Vec<NodeAnswer>,
    /// True when a node did not answer: its sales are missing, not zero.
    pub partial: bool,
}

#[derive(Default)]
struct Accumulator {
    name: Option<String>,
    orders: i64,
    units: i64,
    revenue: Decimal,
    tax: Decimal,
    discounts: Decimal,
}

impl Accumulator {
    fn add(&mut self, row: &db::reports::SalesRow) {
        self.orders += row.orders;
        self.units += row.units;
        self.revenue += row.revenue;
        self.tax += row.tax;
        self.discounts += row.discounts;
        if self.name.is_none() {
            self.name.clone_from(&row.name);
        }
    }

    fn figures(&self) -> SalesFigures {
        SalesFigures {
            orders: self.orders,
            units: self.units,
            revenue: Money::rounded(self.revenue),
            tax: Money::rounded(self.tax),
            discounts: Money::rounded(self.discounts),
        }
    }
}

/// Sales of every store between two business days, grouped, net of refunds.
/// The sales report, asking the nodes on `nodes` (the service's sessions, or the dashboard's within its
/// deadline).
pub async fn sales_report(
    state: &AppState,
    nodes: &NodeSessions,
    query: &SalesQuery,
) -> Result<SalesReport, ApiError> {
    let central = client(state).await?;
    // With neither day given, each node reports its own today (its city's zone): `from` and `to` then
    // span the cities' todays. A day left out of a range is the latest city's today. The cities' days
    // are asked only when a day is left out.
    let (given_from, given_to) = (query.from.map(Day::get), query.to.map(Day::get));
    let each_city_today = given_from.is_none() && given_to.is_none();
    let (from, to) = match (given_from, given_to) {
        (Some(from), Some(to)) => (from, to),
        (from, to) => {
            let (earliest_today, latest_today) = db::cities::business_days_now(&central).await?;
            let from = from.unwrap_or(if each_city_today {
                earliest_today
            } else {
                latest_today
            });
            (from, to.unwrap_or(from.max(latest_today)))
        }
    };
    if from > to {
        return Err(ApiError::validation("to", "must not be before from"));
    }
    if (to - from).num_days() > 366 {
        return Err(ApiError::validation(
            "to",
            "a report spans at most 366 days",
        ));
    }
    let group_by = query.group_by.clone().unwrap_or_else(|| "store".into());
    if !GROUPS.contains(&group_by.as_str()) {
        return Err(ApiError::validation(
            "group_by",
            format!("must be one of {}", GROUPS.join(", ")),
        ));
    }
    let answers = nodes
        .ask_every_node(|client, _| {
            let group_by = group_by.clone();
            let (from, to) = if each_city_today {
                (None, None)
            } else {
                (Some(from), Some(to))
            };
            async move { db::reports::node_sales(&client, from, to, &group_by).await }
        })
        .await?;
    let city_names: BTreeMap<String, String> = db::cities::list(&central, PageRequest::all())
        .await?
        .into_iter()
        .map(|c| (c.id.to_string(), c.name))
        .collect();
    let mut groups: BTreeMap<String, Accumulator> = BTreeMap::new();
    let mut total = Accumulator::default();
    for row in answers
        .iter()
        .filter_map(|(_, rows)| rows.as_ref())
        .flatten()
    {
        match &row.key {
            None => total.add(row),
            Some(key) => groups.entry(key.clone()).or_default().add(row),
        }
    }
    let mut rows: Vec<SalesReportRow> = groups
        .into_iter()
        .map(|(key, acc)| SalesReportRow {
            name: if group_by == "city" {
                city_names.get(&key).cloned().unwrap_or_else(|| key.clone())
            } else {
                acc.name.clone().unwrap_or_else(|| key.clone())
            },
            figures: acc.figures(),
            key,
        })
        .collect();
    if group_by != "day" {
        rows.sort_by(|a, b| {
            b.figures
                .revenue
                .cmp(&a.figures.revenue)
                .then_with(|| a.key.cmp(&b.key))
        });
    }
    let nodes: Vec<NodeAnswer> = answers.into_iter().map(|(answer, _)| answer).collect();
    Ok(SalesReport {
        from,
        to,
        group_by,
        rows,
        total: total.figures(),
        partial: nodes.iter().any(|n| n.status != "ok"),
        nodes,
    })
}

/// Sales of every store between two business days, grouped, net of refunds (asks every node at once).
#[utoipa::path(
    get,
    path = "/reports/sales",
    operation_id = "sales_report",
    tag = "reports",
    security(("bearer" = [])),
    params(SalesQuery),
    responses(
        (status = 200, description = "Rows, total and each node's answer; `partial` when a node did not answer", body = SalesReport),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 422, description = "Malformed query: a bad date, `to` before `from`, more than 366 days, or an unknown group (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn sales(_: ViewerAccess, state: web::Data<AppState>, query: Query<SalesQuery>) -> Reply {
    Ok(HttpResponse::Ok().json(sales_report(&state, &state.node_sessions, &query).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InventoryQuery {
    /// Stock lines with fewer units than this (1 to 1000000; 10 by default).
    #[param(minimum = 1, maximum = 1_000_000)]
    pub below: Option<i32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InventoryReport {
    pub below: i32,
    pub rows: Vec<db::reports::StockRow>,
    pub nodes: Vec<NodeAnswer>,
    pub partial: bool,
}

/// Stock lines under `below`, or at or below their store's reorder level, across every store, lowest first.
#[utoipa::path(
    get,
    path = "/reports/inventory",
    operation_id = "inventory_report",
    tag = "reports",
    security(("bearer" = [])),
    params(InventoryQuery),
    responses(
        (status = 200, description = "Low stock lines and each node's answer; `partial` when a node did not answer", body = InventoryReport),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 422, description = "Malformed query, or `below` out of range (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn inventory(
    _: ViewerAccess,
    state: web::Data<AppState>,
    query: Query<InventoryQuery>,
) -> Reply {
    let below = query.below.unwrap_or(10);
    if !(1..=1_000_000).contains(&below) {
        return Err(ApiError::validation(
            "below",
            "must be between 1 and 1000000",
        ));
    }
    let answers = state
        .node_sessions
        .ask_every_node(|client, city_id| async move {
            db::reports::node_stock_below(&client, city_id, below).await
        })
        .await?;
    let mut rows: Vec<db::reports::StockRow> = answers
        .iter()
        .filter_map(|(_, rows)| rows.clone())
        .flatten()
        .collect();
    rows.sort_by_key(|r| (r.quantity, r.city_id, r.store_id, r.product_id));
    let nodes: Vec<NodeAnswer> = answers.into_iter().map(|(answer, _)| answer).collect();
    Ok(HttpResponse::Ok().json(InventoryReport {
        below,
        rows,
        partial: nodes.iter().any(|n| n.status != "ok"),
        nodes,
    }))
}

pos_shared::routes! {
    schemas(
        SalesFigures,
        SalesReportRow,
        SalesReport,
        InventoryReport,
        crate::db::reports::StockRow,
        crate::fanout::NodeAnswer,
    ),
    "/reports/sales" => { GET => sales },
    "/reports/inventory" => { GET => inventory },
}

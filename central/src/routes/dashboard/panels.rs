//! The dashboard's health panels: replication to each node, the rows a node refused, each store's
//! backlog of sales not yet at head office, and low stock. Each renders what the page asked of central
//! and the nodes; re-queue buttons appear only with a form token (admins).

use std::collections::HashMap;
use std::fmt::Write as _;

use super::html::{Table, age, escape};
use super::{DEAD_LISTED, LOW_STOCK_BELOW};
use crate::db;
use crate::db::replication::LogEntry;
use crate::fanout::NodeAnswer;
use crate::routes::replication::ReplicationStatus;
use pos_shared::outbox::OutboxBacklog;

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

/// Each node's replication queue: reachable, pending, failed, dead (with re-queue), lag, last success and error.
pub(super) fn replication_panel(replication: &ReplicationStatus, csrf: &Option<String>) -> String {
    let mut body = String::new();
    body.push_str("<h2>Replication to the nodes</h2>");
    let mut table = Table::new(&[
        "Node",
        "Reachable",
        "Pending",
        "Failed",
        "Dead",
        "Lag (oldest pending)",
        "Last success",
        "Last error",
        "",
    ]);
    for node in &replication.nodes {
        let b = &node.backlog;
        let requeue = if b.dead > 0 {
            let label = format!("Re-queue {} dead", b.dead);
            requeue_button("replication", b.city_id, None, &label, csrf)
        } else {
            String::new()
        };
        let city = escape(&b.city);
        let reach = if node.reachable {
            ("class=\"ok\"", "yes")
        } else {
            ("class=\"bad\"", "no")
        };
        table.row(
            &format!(r#"data-node="{city}""#),
            &[
                ("", city.clone()),
                (reach.0, reach.1.into()),
                (r#"data-testid="pending""#, b.pending.to_string()),
                ("", b.failed.to_string()),
                (r#"data-testid="dead""#, b.dead.to_string()),
                ("", age(b.oldest_pending_age_seconds)),
                ("", time_or_never(b.last_success)),
                ("", escape(b.last_error.as_deref().unwrap_or(""))),
                ("", requeue),
            ],
        );
    }
    body.push_str(&table.finish());
    body
}

/// The newest entries a node refused, each with its reason and a re-queue button; empty when none.
pub(super) fn refused_panel(
    dead: &[LogEntry],
    replication: &ReplicationStatus,
    csrf: &Option<String>,
) -> String {
    let mut body = String::new();
    if !dead.is_empty() {
        let _ = write!(body, "<h2>Rows a node refused (newest {DEAD_LISTED})</h2>");
        let cities: HashMap<i32, &str> = replication
            .nodes
            .iter()
            .map(|n| (n.backlog.city_id, n.backlog.city.as_str()))
            .collect();
        let mut table = Table::new(&[
            "Entry",
            "Node",
            "Row",
            "Change",
            "Attempts",
            "Last attempt",
            "Why",
            "",
        ]);
        for entry in dead {
            let city = cities
                .get(&entry.target_city_id)
                .map_or_else(|| entry.target_city_id.to_string(), |c| escape(c));
            table.row(
                &format!(r#"data-dead="{}""#, entry.id),
                &[
                    ("", entry.id.to_string()),
                    ("", city),
                    (
                        "",
                        format!("{} {}", escape(&entry.table_name), entry.record_id),
                    ),
                    ("", escape(&entry.operation)),
                    ("", entry.attempts.to_string()),
                    ("", time_or_never(entry.last_attempt_at)),
                    (
                        r#"data-testid="dead-error""#,
                        escape(entry.message.as_deref().unwrap_or("")),
                    ),
                    (
                        "",
                        requeue_button(
                            "replication",
                            entry.target_city_id,
                            Some(entry.id),
                            "Re-queue",
                            csrf,
                        ),
                    ),
                ],
            );
        }
        body.push_str(&table.finish());
    }
    body
}

/// Each node's outbox: sales not yet at head office, the oldest unsent, and the node that did not answer.
pub(super) fn outbox_panel(
    backlog: &[(NodeAnswer, Option<OutboxBacklog>)],
    csrf: &Option<String>,
) -> String {
    let mut body = String::new();
    body.push_str("<h2>Stores' sales waiting to reach head office</h2>");
    let mut table = Table::new(&[
        "Node",
        "Pending",
        "Failed",
        "Dead",
        "Oldest unsent",
        "Last delivered",
        "Last error",
        "",
    ]);
    for (answer, value) in backlog {
        let city = escape(&answer.city);
        match value {
            Some(b) => {
                let requeue = if b.dead > 0 {
                    let label = format!("Re-queue {} refused", b.dead);
                    requeue_button("outbox", answer.city_id, None, &label, csrf)
                } else {
                    String::new()
                };
                table.row(
                    &format!(r#"data-backlog="{city}""#),
                    &[
                        ("", city.clone()),
                        ("", b.pending.to_string()),
                        ("", b.failed.to_string()),
                        (r#"data-testid="outbox-dead""#, b.dead.to_string()),
                        ("", age(b.oldest_pending_age_seconds)),
                        ("", time_or_never(b.last_delivered_at)),
                        ("", escape(b.last_error.as_deref().unwrap_or(""))),
                        ("", requeue),
                    ],
                );
            }
            None => table.row(
                &format!(r#"data-backlog="{city}""#),
                &[
                    (r#"class="bad""#, city.clone()),
                    (
                        r#"class="bad" data-testid="outbox-unanswered""#,
                        "no answer".into(),
                    ),
                ],
            ),
        }
    }
    body.push_str(&table.finish());
    body
}

/// Stock lines under [`LOW_STOCK_BELOW`], or at or below their reorder level, at every node that answered,
/// lowest first.
pub(super) fn low_stock_table(
    answers: &[(NodeAnswer, Option<Vec<db::reports::StockRow>>)],
) -> String {
    let cities: HashMap<i32, &str> = answers
        .iter()
        .map(|(a, _)| (a.city_id, a.city.as_str()))
        .collect();
    let mut lines: Vec<&db::reports::StockRow> = answers
        .iter()
        .filter_map(|(_, rows)| rows.as_ref())
        .flatten()
        .collect();
    lines.sort_by_key(|r| (r.quantity, r.city_id, r.store_id, r.product_id));
    let mut html = format!("<h2>Low stock (under {LOW_STOCK_BELOW}, or at the reorder level)</h2>");
    if lines.is_empty() {
        html.push_str(r#"<p class="muted">No stock line is low.</p>"#);
        return html;
    }
    let mut table = Table::new(&["City", "Store", "SKU", "Product", "Quantity", "Reorder at"]);
    for line in lines.iter().take(DEAD_LISTED as usize) {
        table.row(
            &format!(r#"data-low-stock="{}-{}""#, line.store_id, line.product_id),
            &[
                ("", escape(cities.get(&line.city_id).copied().unwrap_or(""))),
                ("", escape(&line.store_code)),
                ("", escape(&line.sku)),
                ("", escape(&line.product_name)),
                (r#"data-testid="low-quantity""#, line.quantity.to_string()),
                (
                    "",
                    line.reorder_level
                        .map_or_else(|| "-".to_owned(), |level| level.to_string()),
                ),
            ],
        );
    }
    html.push_str(&table.finish());
    html
}

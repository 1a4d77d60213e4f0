//! The dashboard's HTML: the page frame and its style (one stylesheet in the page, nothing fetched from
//! elsewhere; on a narrow screen tables become labelled blocks), the sign-in page, the bar and trend
//! charts (HTML and CSS), tables, and escaping.

use std::fmt::Write as _;

use actix_web::HttpResponse;
use rust_decimal::Decimal;

use super::REFRESH_SECONDS;
use crate::routes::reports::SalesReportRow;

pub fn escape(text: &str) -> String {
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

pub fn page(title: &str, body: &str, refresh: bool) -> String {
    let refresh = if refresh {
        format!(r#"<meta http-equiv="refresh" content="{REFRESH_SECONDS}">"#)
    } else {
        String::new()
    };
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8">{refresh}
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>
*{{box-sizing:border-box}}
body{{font-family:system-ui,sans-serif;margin:24px;color:#1d2733;background:#f6f7f9}}
h1{{font-size:22px;margin:0 0 4px}} h2{{font-size:16px;margin:24px 0 8px}}
.muted{{color:#667}} .card{{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:16px;margin:12px 0}}
.totals{{display:flex;flex-wrap:wrap;gap:12px 32px}} .totals div b{{display:block;font-size:24px}}
.grid{{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,420px),1fr));gap:0 16px}}
table{{border-collapse:collapse;width:100%;background:#fff}}
th,td{{text-align:left;padding:6px 10px;border-bottom:1px solid #e5e8eb;overflow-wrap:anywhere}}
.bad{{color:#b42318;font-weight:600}} .ok{{color:#067647;font-weight:600}}
.warn{{background:#fffaeb;border:1px solid #fedf89;padding:10px;border-radius:6px}}
button{{padding:4px 10px}} input{{padding:6px;width:420px;max-width:100%}}
form.range{{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:end}} form.range input{{width:auto}}
.bar{{margin:0 0 10px}} .bar-label{{display:flex;flex-wrap:wrap;justify-content:space-between;gap:0 12px;font-size:14px}}
.bar-label span{{overflow-wrap:anywhere;min-width:0}}
.bar-track{{background:#eef1f4;border-radius:3px;height:14px;margin-top:3px}}
.bar-fill{{background:#2e6fdb;border-radius:3px;height:14px}}
.trend{{display:flex;align-items:flex-end;gap:2px;height:160px;border-bottom:1px solid #c8ced6}}
.trend .day{{flex:1 1 0;min-width:0;height:100%;display:flex;align-items:flex-end}}
.trend .col{{width:100%;background:#2e6fdb;border-radius:2px 2px 0 0;min-height:1px}}
.axis{{display:flex;justify-content:space-between;flex-wrap:wrap;font-size:13px}}
@media (max-width:700px){{
body{{margin:12px}}
table.stack,table.stack tbody,table.stack tr,table.stack td{{display:block;width:auto}}
table.stack tr.head{{display:none}} table.stack tr{{border-bottom:1px solid #dde1e6;padding:6px 0}}
table.stack td{{border:none;padding:2px 10px}} table.stack td::before{{content:attr(data-label) ": ";color:#667}} table.stack td[data-label=""]::before{{content:none}}
}}
</style></head><body>{body}</body></html>"#
    )
}

pub fn login_page(message: Option<&str>) -> HttpResponse {
    let message = message
        .map(|m| format!(r#"<p class="bad">{}</p>"#, escape(m)))
        .unwrap_or_default();
    let body = format!(
        r#"<h1>Head office dashboard</h1><div class="card">{message}
<form method="post" action="/dashboard/login"><label>Name<br>
<input type="text" name="username" autocomplete="username" required></label><br>
<label>Password<br>
<input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form></div>"#
    );
    HttpResponse::Unauthorized()
        .content_type("text/html; charset=utf-8")
        .body(page("Sign in", &body, false))
}

/// Horizontal bars, one per row in the order given, each with its name and figures on a line above it
/// (they wrap, never clip, on a narrow screen). `empty` is said when there are no rows.
pub fn bar_chart(kind: &str, rows: &[&SalesReportRow], empty: &str) -> String {
    if rows.is_empty() {
        return format!(r#"<p class="muted">{}</p>"#, escape(empty));
    }
    let max = largest_revenue(rows);
    let mut html = String::new();
    for row in rows {
        let _ = write!(
            html,
            r#"<div class="bar" data-chart="{kind}" data-key="{key}" data-name="{name}" data-revenue="{revenue}">
<div class="bar-label"><span>{name}</span><span>{revenue} · {orders} orders · {units} units</span></div>
<div class="bar-track"><div class="bar-fill" style="width:{share}%"></div></div></div>"#,
            key = escape(&row.key),
            name = escape(&row.name),
            revenue = row.figures.revenue,
            orders = row.figures.orders,
            units = row.figures.units,
            share = percent(row, max),
        );
    }
    html
}

/// Revenue per day as columns, oldest first (`rows` keyed by day), with the range and the best day
/// written under it; each column's day and figures in its tooltip.
pub fn trend_chart(rows: &[&SalesReportRow], from: &str, to: &str) -> String {
    if rows.is_empty() {
        return r#"<p class="muted">No sales in this range.</p>"#.into();
    }
    let max = largest_revenue(rows);
    let mut html = String::from(r#"<div class="trend" role="img" aria-label="Revenue per day">"#);
    for row in rows {
        let _ = write!(
            html,
            r#"<div class="day" data-chart="day" data-key="{day}" data-revenue="{revenue}" title="{day}: {revenue} · {orders} orders"><div class="col" style="height:{share}%"></div></div>"#,
            day = escape(&row.key),
            revenue = row.figures.revenue,
            orders = row.figures.orders,
            share = percent(row, max),
        );
    }
    let _ = write!(
        html,
        r#"</div><div class="axis"><span>{}</span><span>best day {}</span><span>{}</span></div>"#,
        escape(from),
        max,
        escape(to)
    );
    html
}

fn largest_revenue(rows: &[&SalesReportRow]) -> Decimal {
    rows.iter()
        .map(|r| r.figures.revenue.amount())
        .max()
        .filter(|m| *m > Decimal::ZERO)
        .unwrap_or(Decimal::ONE)
}

/// The row's revenue as a percentage of `max`, to one decimal.
fn percent(row: &SalesReportRow, max: Decimal) -> String {
    (row.figures.revenue.amount().max(Decimal::ZERO) * Decimal::ONE_HUNDRED / max)
        .round_dp(1)
        .to_string()
}

/// A table whose rows become labelled blocks on a narrow screen. Cells are HTML, escaped by the caller.
pub struct Table {
    headers: Vec<&'static str>,
    html: String,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Self {
        let mut html = String::from(r#"<table class="stack"><tr class="head">"#);
        for header in headers {
            let _ = write!(html, "<th>{header}</th>");
        }
        html.push_str("</tr>");
        Self {
            headers: headers.to_vec(),
            html,
        }
    }

    /// A row: `attrs` go on the `<tr>`; each cell is `(attributes, html)`.
    pub fn row(&mut self, attrs: &str, cells: &[(&str, String)]) {
        let _ = write!(self.html, "<tr {attrs}>");
        for (header, (cell_attrs, html)) in self.headers.iter().zip(cells) {
            let _ = write!(
                self.html,
                r#"<td data-label="{header}" {cell_attrs}>{html}</td>"#
            );
        }
        self.html.push_str("</tr>");
    }

    pub fn finish(mut self) -> String {
        self.html.push_str("</table>");
        self.html
    }
}

/// An age in seconds, as a person reads it.
pub fn age(seconds: Option<f64>) -> String {
    match seconds {
        None => "–".into(),
        Some(s) if s < 120.0 => format!("{s:.0} s"),
        Some(s) => format!("{:.0} min", s / 60.0),
    }
}

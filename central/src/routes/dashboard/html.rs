//! The dashboard's HTML: the page frame and its style, the sign-in page, the bar chart (inline SVG,
//! nothing fetched from elsewhere), and escaping.

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

/// Horizontal bars, one per row, with the value written beside each.
pub fn bar_chart(kind: &str, rows: &[SalesReportRow]) -> String {
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

/// An age in seconds, as a person reads it.
pub fn age(seconds: Option<f64>) -> String {
    match seconds {
        None => "–".into(),
        Some(s) if s < 120.0 => format!("{s:.0} s"),
        Some(s) => format!("{:.0} min", s / 60.0),
    }
}

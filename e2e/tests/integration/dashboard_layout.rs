//! The dashboard in headless Chromium, driven over the DevTools protocol: each view (today, and a
//! range of days) at a desktop (1280×800) and a phone (390×844) viewport, its numbers checked against
//! the API, and a script in the page asserting that no element sticks out of the page or overflows its
//! own box.

use std::time::Duration;

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
use chromiumoxide::page::ScreenshotParams;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::common::TestNode;
use crate::dashboard::{QUIET_BROWSER, chromium};
use crate::report_chain::chain_with_sales;

/// Run in the page: what overflows, and the figures as shown.
const READ_PAGE: &str = r#"(() => {
  const width = document.documentElement.clientWidth;
  const overflow = [];
  if (document.documentElement.scrollWidth > width) {
    overflow.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} > ${width}`);
  }
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    const name = `${el.tagName.toLowerCase()}.${el.className || ''} "${(el.textContent || '').trim().slice(0, 30)}"`;
    if (box.right > width + 0.5 || box.left < -0.5) overflow.push(`${name} sticks out: ${box.left}..${box.right} of ${width}`);
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) overflow.push(`${name} overflows its box: ${el.scrollWidth} > ${el.clientWidth}`);
  }
  const text = (id) => document.querySelector(`[data-testid="${id}"]`)?.textContent ?? null;
  const bars = (kind) => [...document.querySelectorAll(`[data-chart="${kind}"]`)]
    .map((e) => [e.dataset.key, e.dataset.name ?? null, e.dataset.revenue]);
  return JSON.stringify({
    overflow,
    revenue: text('total-revenue'),
    orders: text('total-orders'),
    stores: bars('store'),
    days: bars('day'),
    products: bars('product'),
    low: [...document.querySelectorAll('[data-testid="low-quantity"]')].map((e) => e.textContent),
    partial: text('partial'),
  });
})()"#;

/// Where `program` is on `PATH` (the browser is launched by path).
fn on_path(program: &str) -> std::path::PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{program} is not on PATH"))
}

/// The API's `(key, name, revenue)` rows of a sales report.
fn api_rows(report: &Value, with_name: bool) -> Vec<Value> {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let name = if with_name {
                r["name"].clone()
            } else {
                Value::Null
            };
            json!([r["key"], name, r["revenue"]])
        })
        .collect()
}

#[tokio::test]
async fn each_view_matches_the_api_and_nothing_overflows_on_a_desktop_or_a_phone() {
    let chain = chain_with_sales(TestNode::new(2).await).await;
    let central = &chain.central;
    // One low stock line, as a busy day leaves it.
    chain
        .karachi
        .db()
        .await
        .execute(
            "UPDATE inventory SET quantity = 3 WHERE product_id = (SELECT min(product_id) FROM inventory)",
            &[],
        )
        .await
        .unwrap();
    let (status, link) = central
        .send(reqwest::Method::POST, "/dashboard/links", &json!({}))
        .await;
    assert_eq!(status, 201, "{link}");

    let profile = tempfile::tempdir().unwrap();
    let config = BrowserConfig::builder()
        .chrome_executable(on_path(&chromium()))
        .no_sandbox()
        .user_data_dir(profile.path())
        .args(QUIET_BROWSER)
        .launch_timeout(Duration::from_secs(30))
        .request_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let (mut browser, mut handler) = Browser::launch(config).await.unwrap();
    let events = tokio::spawn(async move { while handler.next().await.is_some() {} });
    // The link signs the browser in (a cookie) and leads to the dashboard.
    let page = browser
        .new_page(format!("{}{}", central.url, link["url"].as_str().unwrap()))
        .await
        .unwrap();
    page.wait_for_navigation().await.unwrap();

    let (_, today) = central.get("/reports/sales?group_by=store").await;
    let to = chrono::NaiveDate::parse_from_str(today["to"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let from = to - chrono::Duration::days(6);
    let views = [
        ("today", String::new()),
        ("a week", format!("from={from}&to={to}")),
    ];
    for (width, height, phone) in [(1280, 800, false), (390, 844, true)] {
        for (view, range) in &views {
            // Set for each view: a full-page screenshot changes the page's metrics.
            page.execute(SetDeviceMetricsOverrideParams::new(
                width, height, 1.0, phone,
            ))
            .await
            .unwrap();
            page.goto(format!("{}/dashboard?{range}", central.url))
                .await
                .unwrap();
            page.wait_for_navigation().await.unwrap();
            let shown: String = page
                .evaluate(READ_PAGE)
                .await
                .unwrap()
                .into_value()
                .unwrap();
            let shown: Value = serde_json::from_str(&shown).unwrap();
            let at = format!("{view} at {width}×{height}");
            let layout_width: i64 = page
                .evaluate("document.documentElement.clientWidth")
                .await
                .unwrap()
                .into_value()
                .unwrap();
            assert_eq!(
                layout_width,
                i64::from(width),
                "{at}: laid out at its width"
            );
            // Kept for a person to look at (target/test-artifacts).
            let shot = pos_shared::testkit::artifacts_dir()
                .join(format!("dashboard-{}-{width}.png", view.replace(' ', "-")));
            page.save_screenshot(ScreenshotParams::builder().full_page(true).build(), &shot)
                .await
                .unwrap();
            assert_eq!(shown["overflow"], json!([]), "{at}: {shown}");

            let report = |group: &str| {
                let path = format!("/reports/sales?group_by={group}&{range}");
                async move { central.get(&path).await.1 }
            };
            let (stores, days, products) = (
                report("store").await,
                report("day").await,
                report("product").await,
            );
            assert_eq!(shown["revenue"], stores["total"]["revenue"], "{at}");
            assert_eq!(
                shown["orders"].as_str().map(str::to_owned),
                Some(stores["total"]["orders"].to_string()),
                "{at}"
            );
            assert_eq!(shown["stores"], json!(api_rows(&stores, true)), "{at}");
            let mut expected_days = api_rows(&days, false);
            expected_days.sort_by_key(|d| d[0].as_str().unwrap().to_owned());
            assert_eq!(shown["days"], json!(expected_days), "{at}");
            assert!(!expected_days.is_empty(), "{at}: sales on some day");
            let mut top: Vec<Value> = api_rows(&products, true);
            top.sort_by(|a, b| {
                let revenue = |v: &Value| {
                    v[2].as_str()
                        .unwrap()
                        .parse::<rust_decimal::Decimal>()
                        .unwrap()
                };
                revenue(b).cmp(&revenue(a))
            });
            top.truncate(10);
            assert_eq!(shown["products"], json!(top), "{at}");
            assert_eq!(shown["low"], json!(["3"]), "{at}: the low stock line");
            assert_eq!(shown["partial"], Value::Null, "{at}: every node answered");
        }
    }
    browser.close().await.unwrap();
    let _ = browser.wait().await;
    events.abort();
}

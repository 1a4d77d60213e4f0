use std::process::Command;

use std::time::Duration;

use serde_json::{Value, json};

use crate::chain::SalesChain;
use crate::common::{TestNode, eventually};
use crate::report_chain::chain_with_sales;

const WAIT: Duration = Duration::from_secs(30);

/// The value of `name="…"` in an HTML fragment.
fn attr<'a>(fragment: &'a str, name: &str) -> Option<&'a str> {
    let start = fragment.find(&format!("{name}=\""))? + name.len() + 2;
    let end = fragment[start..].find('"')? + start;
    Some(&fragment[start..end])
}

/// The text of the element marked `data-testid="…"`.
fn test_id<'a>(dom: &'a str, id: &str) -> Option<&'a str> {
    let start = dom.find(&format!("data-testid=\"{id}\""))?;
    let open = dom[start..].find('>')? + start + 1;
    let close = dom[open..].find('<')? + open;
    Some(&dom[open..close])
}

pub fn chromium() -> String {
    for candidate in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(candidate)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return candidate.to_owned();
        }
    }
    panic!("no headless browser: install Debian's chromium (make test and .ci/run do)");
}

/// Chromium's flags for a machine with a closed network: no background connections, updates or sync.
pub const QUIET_BROWSER: [&str; 6] = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
];

/// Runs headless Chromium on a fresh profile with `args`, returning stdout.
fn browse(args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium())
        .args(["--headless", "--no-sandbox"])
        .args(QUIET_BROWSER)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .output()
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn the_dashboard_in_a_real_browser_shows_what_the_api_reports() {
    let chain = chain_with_sales(TestNode::new(2).await).await;
    let central = &chain.central;

    let anonymous = central
        .http
        .get(format!("{}/dashboard", central.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(
        anonymous
            .text()
            .await
            .unwrap()
            .contains(r#"name="username""#),
        "a login form"
    );

    let link = || async {
        let (status, body) = central
            .send(
                reqwest::Method::POST,
                "/dashboard/links",
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        format!("{}{}", central.url, body["url"].as_str().unwrap())
    };
    let dom = tokio::task::spawn_blocking({
        let url = link().await;
        move || browse(&["--dump-dom", &url])
    })
    .await
    .unwrap();
    assert!(
        dom.contains("Head office dashboard"),
        "signed in through the link: {dom}"
    );

    // The dashboard's today is each city's own, as a report without dates is.
    let (_, report): (u16, Value) = central.get("/reports/sales?group_by=store").await;
    assert_eq!(
        test_id(&dom, "total-revenue"),
        report["total"]["revenue"].as_str()
    );
    assert_eq!(
        test_id(&dom, "total-orders").map(str::to_owned),
        Some(report["total"]["orders"].to_string())
    );
    for figure in ["tax", "discounts"] {
        assert_eq!(
            test_id(&dom, &format!("total-{figure}")),
            report["total"][figure].as_str(),
            "{figure}"
        );
    }
    let bars: Vec<(String, String)> = dom
        .split("data-chart=\"store\"")
        .skip(1)
        .map(|g| {
            (
                attr(g, "data-name").unwrap().to_owned(),
                attr(g, "data-revenue").unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["revenue"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(bars, expected);
    assert!(!bars.is_empty());
    assert_eq!(
        dom.matches("data-chart=\"city\"").count(),
        2,
        "a bar per city"
    );
    assert!(dom.contains("data-node=\"Karachi\"") && dom.contains("data-backlog=\"Lahore\""));

    let screenshot = pos_shared::testkit::artifacts_dir().join("dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let url = link().await;
    let target = format!("--screenshot={}", screenshot.display());
    tokio::task::spawn_blocking(move || {
        browse(&[
            &target,
            "--window-size=1280,1500",
            "--hide-scrollbars",
            &url,
        ])
    })
    .await
    .unwrap();
    let size = std::fs::metadata(&screenshot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "a screenshot was saved at {} ({size} bytes)",
        screenshot.display()
    );

    // A link signs in once: used again, it signs nobody in.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = link().await;
    let first = no_redirects.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 303, "a fresh link signs in");
    assert!(first.headers().contains_key("set-cookie"));
    let again = no_redirects.get(&url).send().await.unwrap();
    assert_eq!(again.status(), 401, "the same link, used again");
    assert!(!again.headers().contains_key("set-cookie"));
}

/// The dashboard as the API's admin token sees it (a bearer token signs in too).
pub async fn dashboard_html(chain: &SalesChain) -> String {
    let response = chain
        .http
        .get(format!("{}/dashboard", chain.central.url))
        .bearer_auth(&chain.central.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// Posts the dashboard's re-queue form with `fields` and the page's form token.
async fn requeue(chain: &SalesChain, html: &str, fields: &[(&str, String)]) {
    let csrf = html
        .split("name=\"csrf\"")
        .nth(1)
        .and_then(|rest| attr(rest, "value"))
        .expect("the page carries a form token")
        .to_owned();
    let mut form: Vec<(&str, String)> = fields.to_vec();
    form.push(("csrf", csrf));
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/dashboard/requeue", chain.central.url))
        .bearer_auth(&chain.central.admin_token)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
}

/// Rows a node refused are listed one by one with the node's reason, and each can be re-queued alone;
/// so can the sales central refused from a node's outbox.
#[tokio::test]
async fn refused_entries_are_listed_and_requeued_from_the_dashboard() {
    let chain = SalesChain::start().await;
    let node = chain.node.owner_db().await;
    node.batch_execute(
        "ALTER TABLE customers ADD CONSTRAINT no_refused_names CHECK (name NOT LIKE 'Refused%')",
    )
    .await
    .unwrap();
    let mut refused = Vec::new();
    for name in ["Refused One", "Refused Two"] {
        let customer = chain
            .central
            .post("/customers", json!({"name": name, "city_id": 1}))
            .await;
        refused.push(customer["id"].as_i64().unwrap() as i32);
    }
    let central_db = chain.central.db().await;
    let dead_entry = |record: i32| {
        let central_db = &central_db;
        async move {
            central_db
                .query_opt(
                    "SELECT id FROM replication_log
                     WHERE table_name = 'customers' AND record_id = $1 AND status = 'Dead'",
                    &[&record],
                )
                .await
                .unwrap()
                .map(|r| r.get::<_, i64>(0))
        }
    };
    eventually("both rows set aside as Dead", WAIT, || async {
        dead_entry(refused[0]).await.is_some() && dead_entry(refused[1]).await.is_some()
    })
    .await;
    let first = dead_entry(refused[0]).await.unwrap();
    let html = dashboard_html(&chain).await;
    assert_eq!(html.matches("data-dead=").count(), 2, "{html}");
    assert!(
        html.contains(&format!("data-dead=\"{first}\"")),
        "the entry is listed: {html}"
    );
    assert!(
        html.contains("no_refused_names"),
        "with the node's reason: {html}"
    );

    // The node is fixed; one entry is re-queued from its row, the other stays set aside.
    node.batch_execute("ALTER TABLE customers DROP CONSTRAINT no_refused_names")
        .await
        .unwrap();
    requeue(
        &chain,
        &html,
        &[
            ("queue", "replication".into()),
            ("city_id", "1".into()),
            ("id", first.to_string()),
        ],
    )
    .await;
    eventually("the re-queued row reaches the node", WAIT, || async {
        node.query_opt("SELECT 1 FROM customers WHERE id = $1", &[&refused[0]])
            .await
            .unwrap()
            .is_some()
    })
    .await;
    assert!(
        dead_entry(refused[1]).await.is_some(),
        "the other entry was not re-queued"
    );

    // A sale central refuses (its store number is taken there) is set aside in the node's outbox.
    chain.take_store_number_at_central(1).await;
    let order = chain.sell().await;
    let started = std::time::Instant::now();
    let html = loop {
        let html = dashboard_html(&chain).await;
        if html.contains(r#"data-testid="outbox-dead">1<"#) {
            break html;
        }
        assert!(started.elapsed() < WAIT, "no refused sale shown: {html}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(html.contains("Re-queue 1 refused"), "{html}");
    central_db
        .execute(
            "DELETE FROM order_mapping WHERE store_id = $1 AND global_order_id <> $2",
            &[&chain.store, &order],
        )
        .await
        .unwrap();
    requeue(
        &chain,
        &html,
        &[("queue", "outbox".into()), ("city_id", "1".into())],
    )
    .await;
    eventually("the re-queued sale reaches central", WAIT, || {
        chain.mappings(1)
    })
    .await;
}

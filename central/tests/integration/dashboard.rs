use std::process::Command;

use serde_json::Value;

use crate::common::TestNode;
use crate::reports::chain_with_sales;

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

fn chromium() -> String {
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

/// Runs headless Chromium on a fresh profile with `args`, returning stdout.
fn browse(args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
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
        anonymous.text().await.unwrap().contains("Admin token"),
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

    let today = chrono::Utc::now().date_naive();
    let (_, report): (u16, Value) = central
        .get(&format!(
            "/reports/sales?from={today}&to={today}&group_by=store"
        ))
        .await;
    assert_eq!(
        test_id(&dom, "total-revenue"),
        report["total"]["revenue"].as_str()
    );
    assert_eq!(
        test_id(&dom, "total-orders").map(str::to_owned),
        Some(report["total"]["orders"].to_string())
    );
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

    // A used link does not sign anyone in again.
    let again = central
        .http
        .get(format!(
            "{}{}",
            central.url, "/dashboard/session/not-a-nonce"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401);
}

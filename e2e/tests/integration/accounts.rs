//! Head office's named accounts, tried: roles allow what they should and nothing more, every
//! master-data change is in the audit trail with its author, a revoked session or a disabled account
//! stops working at once, guessing passwords is stopped by the rate limit, and a dashboard form token
//! works for its own session only.

use std::time::Duration;

use central::config::AccountsConfig;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{
    TestCentral, eventually, replication_config, spawn_central, spawn_central_with, start_central,
};

const PASSWORD: &str = "correct horse battery staple";

async fn call(
    central: &TestCentral,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = central
        .http
        .request(method, format!("{}{path}", central.url))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn account(central: &TestCentral, username: &str, role: &str) -> i64 {
    central
        .post(
            "/accounts",
            json!({"username": username, "role": role, "password": PASSWORD}),
        )
        .await["id"]
        .as_i64()
        .unwrap()
}

/// Signs in over the API: the status and the answer.
async fn sign_in(central: &TestCentral, username: &str, password: &str) -> (u16, Value) {
    let response = central
        .http
        .post(format!("{}/sessions", central.url))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn session(central: &TestCentral, username: &str) -> String {
    let (status, session) = sign_in(central, username, PASSWORD).await;
    assert_eq!(status, 201, "{session}");
    session["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn roles_allow_what_they_should_and_every_change_is_audited_with_its_author() {
    let central = spawn_central(replication_config()).await;
    account(&central, "maryam", "manager").await;
    let viewer_id = account(&central, "vikram", "viewer").await;
    // The password is kept as an Argon2id hash only.
    let stored: String = central
        .db()
        .await
        .query_one(
            "SELECT password_hash FROM accounts WHERE username = 'maryam'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        stored.starts_with("$argon2id$") && !stored.contains("horse"),
        "{stored}"
    );

    let manager = session(&central, "maryam").await;
    let viewer = session(&central, "vikram").await;
    // A viewer reads reports, and writes nothing.
    assert_eq!(
        call(&central, &viewer, Method::GET, "/reports/sales", None)
            .await
            .0,
        200
    );
    let (status, body) = call(
        &central,
        &viewer,
        Method::POST,
        "/categories",
        Some(json!({"name": "Tea"})),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    // A manager keeps master data, and may not touch nodes, credentials, accounts or the audit trail.
    let (status, category) = call(
        &central,
        &manager,
        Method::POST,
        "/categories",
        Some(json!({"name": "Tea"})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, product) = call(
        &central,
        &manager,
        Method::POST,
        "/products",
        Some(json!({"sku": "TEA-1", "name": "Chai", "category_id": category["id"], "price": "10.00"})),
    )
    .await;
    assert_eq!(status, 201);
    let path = format!("/products/{}", product["id"]);
    assert_eq!(
        call(
            &central,
            &manager,
            Method::PATCH,
            &path,
            Some(json!({"price": "12.00"}))
        )
        .await
        .0,
        200
    );
    for (method, path) in [
        (Method::GET, "/nodes"),
        (Method::GET, "/audit"),
        (Method::GET, "/accounts"),
    ] {
        assert_eq!(
            call(&central, &manager, method, path, None).await.0,
            403,
            "{path}"
        );
    }

    // The audit trail names who changed what, with the row before and after.
    let (status, trail) = call(
        &central,
        &central.admin_token,
        Method::GET,
        &format!("/audit?entity=products&entity_id={}", product["id"]),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let entries = trail["items"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{trail}");
    assert_eq!(
        (entries[0]["actor"].as_str(), entries[0]["action"].as_str()),
        (Some("maryam"), Some("update"))
    );
    // Rows as PostgreSQL writes them in JSON (a numeric is a number).
    assert_eq!(entries[0]["before"]["price"].as_f64(), Some(10.0));
    assert_eq!(entries[0]["after"]["price"].as_f64(), Some(12.0));
    assert_eq!(entries[1]["action"], "create");
    assert!(entries[1]["before"].is_null());
    let (_, accounts_trail) = call(
        &central,
        &central.admin_token,
        Method::GET,
        "/audit?entity=accounts",
        None,
    )
    .await;
    let first = &accounts_trail["items"].as_array().unwrap()[1];
    assert_eq!(first["actor"], "admin-token");
    assert!(
        first["after"].get("password_hash").is_none(),
        "no secret in the trail: {first}"
    );

    // Signing out ends the session at once; so does disabling the account.
    assert_eq!(
        call(
            &central,
            &manager,
            Method::DELETE,
            "/sessions/current",
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        call(&central, &manager, Method::GET, "/products", None)
            .await
            .0,
        401
    );
    central
        .patch(&format!("/accounts/{viewer_id}"), json!({"disabled": true}))
        .await;
    assert_eq!(
        call(&central, &viewer, Method::GET, "/reports/sales", None)
            .await
            .0,
        401
    );
    assert_eq!(sign_in(&central, "vikram", PASSWORD).await.0, 401);
    // A session token forged from nothing is no session.
    let forged = pos_shared::auth::generate_token();
    assert_eq!(
        call(&central, &forged, Method::GET, "/reports/sales", None)
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn guessing_passwords_is_stopped_for_the_window_even_with_the_right_one() {
    // Long enough that six password checks (Argon2, a few hundred ms on a loaded machine) fit in it.
    let window = 10;
    let central = spawn_central_with(
        pos_shared::testkit::shared_instance(0).await.unwrap(),
        replication_config(),
        AccountsConfig {
            session_hours: 8,
            login_max_failures: 5,
            login_window_seconds: window,
        },
    )
    .await;
    account(&central, "amina", "admin").await;
    for guess in 0..5 {
        let (status, body) = sign_in(&central, "amina", &format!("guess number {guess}")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("unauthorized"))
        );
    }
    // The sixth try is refused before its password is looked at: the right one too.
    let response = central
        .http
        .post(format!("{}/sessions", central.url))
        .json(&json!({"username": "amina", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], window.to_string());
    // A name that does not exist is refused as a wrong password is (and counted).
    assert_eq!(sign_in(&central, "nobody", PASSWORD).await.0, 401);
    // Past the window the account's owner signs in.
    tokio::time::sleep(Duration::from_secs(u64::try_from(window).unwrap() + 1)).await;
    assert_eq!(sign_in(&central, "amina", PASSWORD).await.0, 201);
}

/// The dashboard's sign-in form as a browser posts it: the session cookie (name=value).
async fn dashboard_cookie(central: &TestCentral, username: &str) -> String {
    let response = no_redirects()
        .post(format!("{}/dashboard/login", central.url))
        .form(&[("username", username), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    cookie.split(';').next().unwrap().to_owned()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn dashboard_page(central: &TestCentral, cookie: &str) -> String {
    let response = central
        .http
        .get(format!("{}/dashboard", central.url))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

async fn requeue(central: &TestCentral, cookie: &str, csrf: &str) -> u16 {
    no_redirects()
        .post(format!("{}/dashboard/requeue", central.url))
        .header("Cookie", cookie)
        .form(&[("city_id", "1"), ("csrf", csrf)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn form_token(html: &str) -> Option<String> {
    let rest = html.split("name=\"csrf\" value=\"").nth(1)?;
    Some(rest.split('"').next()?.to_owned())
}

#[tokio::test]
async fn a_dashboard_form_token_works_for_its_own_session_only() {
    let central = spawn_central(replication_config()).await;
    account(&central, "amina", "admin").await;
    account(&central, "vikram", "viewer").await;
    let (first, second) = (
        dashboard_cookie(&central, "amina").await,
        dashboard_cookie(&central, "amina").await,
    );
    let csrf = form_token(&dashboard_page(&central, &first).await).expect("the page has forms");
    let other = form_token(&dashboard_page(&central, &second).await).unwrap();
    assert_ne!(csrf, other, "each session has its own form token");
    // Another session's token, or one made up, is refused; the session's own goes through.
    assert_eq!(requeue(&central, &second, &csrf).await, 403);
    assert_eq!(requeue(&central, &first, &"0".repeat(64)).await, 403);
    assert_eq!(requeue(&central, &first, &csrf).await, 303);
    // Signed out (with the session's own form token), the session and its token are spent.
    let logout = async |cookie: &str, csrf: &str| {
        no_redirects()
            .post(format!("{}/dashboard/logout", central.url))
            .header("Cookie", cookie)
            .form(&[("csrf", csrf)])
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(logout(&first, &other).await, 403);
    assert_eq!(logout(&first, &csrf).await, 303);
    assert_eq!(requeue(&central, &first, &csrf).await, 401);
    // A viewer's page has no re-queue buttons, and a viewer may not re-queue with the right token.
    let viewer = dashboard_cookie(&central, "vikram").await;
    let page = dashboard_page(&central, &viewer).await;
    assert!(!page.contains("/dashboard/requeue"));
    let viewer_csrf = form_token(&page).unwrap();
    assert_eq!(requeue(&central, &viewer, &viewer_csrf).await, 403);
}

/// The admin token is rotated by restarting with `NEW,OLD` (both work while automation switches), then
/// with `NEW` alone (the old one is refused).
#[tokio::test]
async fn the_admin_token_is_rotated_with_an_overlap() {
    let first = spawn_central(replication_config()).await;
    let old = first.admin_token.clone();
    let new = pos_shared::auth::generate_token();
    let restart = async |setting: String| {
        start_central(
            first.instance,
            first.db_name.clone(),
            replication_config(),
            AccountsConfig::default(),
            setting,
        )
        .await
    };
    let rotating = restart(format!("{new},{old}")).await;
    for token in [&new, &old] {
        assert_eq!(
            call(&rotating, token, Method::GET, "/nodes", None).await.0,
            200
        );
    }
    let rotated = restart(new.clone()).await;
    assert_eq!(
        call(&rotated, &new, Method::GET, "/nodes", None).await.0,
        200
    );
    assert_eq!(
        call(&rotated, &old, Method::GET, "/nodes", None).await.0,
        401
    );
}

/// Read from `POS_ADMIN_TOKEN_FILE`, the admin token is rotated with no restart: the file rewritten with
/// `NEW,OLD` lets both in within seconds, then `NEW` alone shuts the old one out.
#[tokio::test]
async fn the_admin_token_is_rotated_by_rewriting_its_file_with_no_restart() {
    let instance = crate::common::central_database().await;
    let (db_instance, db_name) = instance;
    let (mut config, old) = crate::common::central_config(
        db_instance.app_url(&db_name),
        Some(db_instance.owner_url(&db_name)),
        replication_config(),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("admin_token");
    std::fs::write(&file, format!("{old}\n")).unwrap();
    config.admin_token_file = Some(file.clone());
    let app = central::startup::Application::build(config).await.unwrap();
    let central = TestCentral {
        url: format!("http://127.0.0.1:{}", app.port()),
        admin_token: old.clone(),
        http: reqwest::Client::new(),
        instance: db_instance,
        db_name,
    };
    tokio::spawn(app.run_until_stopped());
    let status = |token: String| {
        let central = &central;
        async move { call(central, &token, Method::GET, "/nodes", None).await.0 }
    };
    assert_eq!(status(old.clone()).await, 200);
    let new = pos_shared::auth::generate_token();
    assert_eq!(status(new.clone()).await, 401);

    std::fs::write(&file, format!("{new},{old}\n")).unwrap();
    eventually(
        "the new token is taken",
        Duration::from_secs(10),
        || async { status(new.clone()).await == 200 },
    )
    .await;
    assert_eq!(
        status(old.clone()).await,
        200,
        "the old one still works while clients move"
    );
    std::fs::write(&file, &new).unwrap();
    eventually(
        "the old token is refused",
        Duration::from_secs(10),
        || async { status(old.clone()).await == 401 },
    )
    .await;
    assert_eq!(status(new.clone()).await, 200);
}

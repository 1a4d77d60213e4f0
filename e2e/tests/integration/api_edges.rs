//! Central's API edges, each found by schema fuzzing (schemathesis) and kept here as a regression test:
//! pagination that cuts nothing, control characters, wrong methods, oversized bodies, amounts that are
//! not decimal strings, ids outside the documented range.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestCentral, replication_config, spawn_central};

async fn customers_page(central: &TestCentral, query: &str) -> (Vec<i64>, Value) {
    let (status, page) = central.get(&format!("/customers?{query}")).await;
    assert_eq!(status, 200, "{query}: {page}");
    let ids = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    (ids, page["next"].clone())
}

#[tokio::test]
async fn lists_come_in_pages_that_skip_and_repeat_nothing_while_rows_are_added() {
    let central = spawn_central(replication_config()).await;
    let city = central
        .post(
            "/cities",
            json!({"name": "Karachi", "time_zone": "Asia/Karachi"}),
        )
        .await;
    let add = async |n: usize| {
        central
            .post(
                "/customers",
                json!({"name": format!("Customer {n}"), "city_id": city["id"]}),
            )
            .await["id"]
            .as_i64()
            .unwrap()
    };
    let mut created = Vec::new();
    for n in 0..5 {
        created.push(add(n).await);
    }
    // Page by page, two at a time; a customer added after the first page shows on a later one.
    let (first, next) = customers_page(&central, "limit=2").await;
    assert_eq!(first, created[..2]);
    created.push(add(5).await);
    let mut seen = first;
    let mut next = next;
    while let Some(after) = next.as_i64() {
        let (ids, following) = customers_page(&central, &format!("limit=2&after={after}")).await;
        assert!(ids.len() <= 2);
        seen.extend(ids);
        next = following;
    }
    assert_eq!(seen, created, "every customer once, in id order");
    // Without a limit: the default page holds them all, and says it is the last.
    let (all, next) = customers_page(&central, "").await;
    assert_eq!((all, next), (created.clone(), Value::Null));
    for query in ["limit=0", "limit=1001", "after=-1", "limit=x"] {
        let (status, body) = central.get(&format!("/customers?{query}")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (422, Some("validation_failed")),
            "{query}"
        );
    }
    // The other lists answer pages too.
    for path in [
        "/cities",
        "/categories",
        "/products",
        "/stores",
        "/nodes",
        "/replication/log",
    ] {
        let (status, page) = central.get(&format!("{path}?limit=1")).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            page["items"].is_array() && page.get("next").is_some(),
            "{path}: {page}"
        );
    }
}

#[tokio::test]
async fn control_characters_wrong_methods_big_bodies_and_odd_numbers_get_clear_answers() {
    let central = spawn_central(replication_config()).await;
    // A NUL in a query reached the database once (500); now it is refused first.
    for query in ["phone=%00", "phone=12%0034", "city_id=%01"] {
        let (status, body) = central.get(&format!("/customers?{query}")).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("control characters"),
            "{body}"
        );
    }
    // An empty parameter is no value of its type: leave it out for "any".
    assert_eq!(central.get("/customers?phone=").await.0, 422);
    assert_eq!(central.get("/customers?city_id=1").await.0, 200);

    // A known path with another method: 405 with Allow.
    for (method, path, allow) in [
        (Method::PUT, "/customers", "GET, POST"),
        (Method::GET, "/replication/retry", "POST"),
        (Method::TRACE, "/health", "GET"),
    ] {
        let response = central
            .http
            .request(method.clone(), format!("{}{path}", central.url))
            .bearer_auth(&central.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "method_not_allowed");
    }

    // A body over the limit: 413 in the API's shape, nothing written.
    let big = json!({"name": "x".repeat(5 * 1024 * 1024), "time_zone": "Asia/Karachi"});
    let (status, body) = central.send(Method::POST, "/cities", &big).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("payload_too_large"))
    );
    assert_eq!(central.get("/cities").await.1["items"], json!([]));

    // Amounts are decimal strings only; integers may be written 5.0, as JSON Schema allows.
    let category = central.post("/categories", json!({"name": "Tea"})).await;
    let product = central
        .post(
            "/products",
            json!({"sku": "TEA-1", "name": "Tea", "category_id": category["id"], "price": "10.00"}),
        )
        .await;
    let path = format!("/products/{}", product["id"]);
    let (status, body) = central
        .send(Method::PATCH, &path, &json!({"price": 12}))
        .await;
    assert_eq!(
        (status, body["details"]["field"].as_str()),
        (422, Some("price")),
        "{body}"
    );
    let whole = format!("{}.0", category["id"]);
    let patched = central
        .patch(
            &path,
            serde_json::from_str(&format!(r#"{{"category_id": {whole}}}"#)).unwrap(),
        )
        .await;
    assert_eq!(patched["price"], "10.00");

    // Ids outside 1..2^31-1 name nothing: 404, as the documents say; so does an unknown store's list.
    for path in [
        "/stores/-5/cashier-tokens",
        "/stores/2147483648/cashier-tokens",
        "/stores/99/cashier-tokens",
        "/customers/0",
    ] {
        let (status, body) = central.get(path).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    // A second node for a city: 409 saying it exists (it once said "body is already taken").
    let city = central
        .post(
            "/cities",
            json!({"name": "Quetta", "time_zone": "Asia/Karachi"}),
        )
        .await;
    // A NUL in a password cannot reach libpq (it was a 500, found by the fuzzer's stateful phase).
    let with_nul = json!({"city_id": city["id"], "host": "127.0.0.1", "port": 1, "dbname": "none",
                          "user": "nobody", "password": "un\u{0}used"});
    let (status, body) = central.send(Method::POST, "/nodes", &with_nul).await;
    assert_eq!(
        (status, body["details"]["field"].as_str()),
        (422, Some("password")),
        "{body}"
    );
    let node = json!({"city_id": city["id"], "host": "127.0.0.1", "port": 1, "dbname": "none",
                      "user": "nobody", "password": "unused"});
    assert_eq!(central.send(Method::POST, "/nodes", &node).await.0, 201);
    let (status, body) = central.send(Method::POST, "/nodes", &node).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("exists already"),
        "{body}"
    );

    // A text with a control character is refused, with its field named; so is a blank one.
    for name in ["Kar\u{7}achi", "   "] {
        let (status, body) = central
            .send(
                Method::POST,
                "/cities",
                &json!({"name": name, "time_zone": "Asia/Karachi"}),
            )
            .await;
        assert_eq!(
            (status, body["details"]["field"].as_str()),
            (422, Some("name")),
            "{name:?}"
        );
    }
}

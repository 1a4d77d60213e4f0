use reqwest::Method;
use serde_json::json;

use crate::common::{central_database, replication_config, spawn_central};

#[tokio::test]
async fn health_is_open_and_everything_else_needs_the_admin_token() {
    let central = spawn_central(replication_config()).await;
    let health = central
        .http
        .get(format!("{}/health", central.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    for token in [None, Some("wrong-token")] {
        let mut request = central.http.get(format!("{}/cities", central.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized");
    }
    let (status, cities) = central.get("/cities").await;
    assert_eq!(status, 200);
    assert_eq!(cities, json!({"items": [], "next": null}));
    let (status, body) = central.get("/no/such/thing").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));

    let metrics = central
        .http
        .get(format!("{}/metrics", central.url))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200, "metrics need no token");
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(r#"pos_http_requests_total{method="GET",route="/cities",status="401",service="central"} 2"#),
        "{text}"
    );
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let (instance, db) = central_database().await;
    let config = pos_shared::db::parse_url(&instance.owner_url(&db), "test").unwrap();
    let runtime = Some(pos_shared::pgctl::APP_ROLE);
    central::schema::migrate(&config, runtime).await.unwrap();
    central::schema::migrate(&config, runtime).await.unwrap();
    let client = pos_shared::db::connect(&config).await.unwrap();
    pos_shared::testkit::check_each_migration_applied_once(
        &client,
        std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../sql/central/migrations"
        )),
    )
    .await
    .unwrap();
    let trigger_count: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
             WHERE c.relname IN ('customers', 'stores', 'products', 'categories', 'cities', 'cashier_tokens')
               AND t.tgname IN (SELECT 'trg_' || c.relname || '_' || e FROM unnest(ARRAY['insert', 'update', 'delete']) e)
               AND t.tgtype & 1 = 0 -- a statement trigger (pg_trigger's TRIGGER_TYPE_ROW bit unset)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(trigger_count, 18);
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_writes_nothing() {
    let central = spawn_central(replication_config()).await;
    let city = central.create_city("Karachi").await;
    let category = central
        .post("/categories", json!({"name": "Grocery"}))
        .await["id"]
        .clone();

    let malformed = central
        .http
        .post(format!("{}/products", central.url))
        .bearer_auth(&central.admin_token)
        .header("content-type", "application/json")
        .body("{\"sku\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let body: serde_json::Value = malformed.json().await.unwrap();
    assert_eq!(body["error"], "bad_request");

    let cases = [
        (
            json!({"sku": "A1", "name": "Rice", "category_id": category, "price": "-1.00"}),
            422,
            "price",
        ),
        (
            json!({"sku": "A1", "name": "Rice", "category_id": category, "price": "1.005"}),
            422,
            "price",
        ),
        (
            json!({"sku": "A1", "name": "  ", "category_id": category, "price": "1.00"}),
            422,
            "name",
        ),
        (
            json!({"sku": "A1", "name": "Rice", "category_id": 9999, "price": "1.00"}),
            422,
            "category_id",
        ),
    ];
    for (body, status, field) in cases {
        let (got, answer) = central.send(Method::POST, "/products", &body).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(answer["error"], "validation_failed", "{answer}");
        assert_eq!(answer["details"]["field"], field, "{answer}");
        assert!(
            !answer.to_string().contains("violates"),
            "no SQL text in {answer}"
        );
    }
    central
        .post(
            "/products",
            json!({"sku": "A1", "name": "Rice", "category_id": category, "price": "1.00"}),
        )
        .await;
    let (status, duplicate) = central
        .send(
            Method::POST,
            "/products",
            &json!({"sku": "A1", "name": "Rice 2", "category_id": category, "price": "2.00"}),
        )
        .await;
    assert_eq!(
        (status, duplicate["error"].as_str()),
        (409, Some("conflict")),
        "{duplicate}"
    );
    let (_, products) = central.get("/products").await;
    assert_eq!(
        products["items"].as_array().unwrap().len(),
        1,
        "only the valid product was written"
    );

    let (status, bad_phone) = central
        .send(
            Method::POST,
            "/customers",
            &json!({"name": "A", "phone": "call me", "city_id": city}),
        )
        .await;
    assert_eq!(
        (status, bad_phone["details"]["field"].as_str()),
        (422, Some("phone"))
    );
    let (status, _) = central
        .send(Method::PATCH, "/customers/4242", &json!({"name": "B"}))
        .await;
    assert_eq!(status, 404);
}

//! Master-data creates under an `Idempotency-Key`: a retry gets the first answer and makes no second
//! row, even when the retries race; another request under the key is refused; a refused create keeps
//! nothing, so its key can be used again.

use serde_json::{Value, json};

use crate::common::{TestCentral, replication_config, spawn_central};

/// POSTs raw JSON text under `key`: the status, whether it was a replay, and the body.
async fn post_with_key(
    central: &TestCentral,
    path: &str,
    key: &str,
    body: &str,
) -> (u16, bool, Value) {
    let response = central
        .http
        .post(format!("{}{path}", central.url))
        .bearer_auth(&central.admin_token)
        .header("Idempotency-Key", key)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let replayed = response
        .headers()
        .get("Idempotent-Replayed")
        .is_some_and(|v| v == "true");
    (status, replayed, response.json().await.unwrap())
}

async fn count(central: &TestCentral, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    central
        .db()
        .await
        .query_one(&sql, &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_retried_create_answers_as_the_first_did_and_makes_one_row() {
    let central = spawn_central(replication_config()).await;
    let city = central
        .post(
            "/cities",
            json!({"name": "Karachi", "time_zone": "Asia/Karachi"}),
        )
        .await;
    let city_id = city["id"].as_i64().unwrap();

    // The same request again (its keys in another order, other spacing): the first answer, replayed.
    let key = "8c1f6a52-3f0e-4c3b-9d4e-2b7a51e0c9a1";
    let first =
        format!(r#"{{"name":"Ayesha Khan","phone":"+92 300 1234567","city_id":{city_id}}}"#);
    let again =
        format!(r#"{{ "city_id": {city_id}, "phone": "+92 300 1234567", "name": "Ayesha Khan" }}"#);
    let (status, replayed, made) = post_with_key(&central, "/customers", key, &first).await;
    assert_eq!((status, replayed), (201, false), "{made}");
    let (status, replayed, replay) = post_with_key(&central, "/customers", key, &again).await;
    assert_eq!((status, replayed), (201, true), "{replay}");
    assert_eq!(replay, made);
    assert_eq!(count(&central, "customers").await, 1);

    // Another request under the key: refused, nothing written.
    let other = format!(r#"{{"name":"Bilal","city_id":{city_id}}}"#);
    let (status, _, body) = post_with_key(&central, "/customers", key, &other).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("idempotency_mismatch")),
        "{body}"
    );
    let (status, _, body) = post_with_key(&central, "/categories", key, r#"{"name":"Tea"}"#).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("idempotency_mismatch")),
        "{body}"
    );
    assert_eq!(count(&central, "customers").await, 1);
    assert_eq!(count(&central, "categories").await, 0);

    // A refused create keeps no key: the corrected request under it goes through.
    let (status, _, body) = post_with_key(
        &central,
        "/stores",
        "store-1",
        r#"{"code":"KHI-1","name":"Saddar","city_id":999}"#,
    )
    .await;
    assert_eq!(
        (status, body["details"]["field"].as_str()),
        (422, Some("city_id")),
        "{body}"
    );
    let fixed = format!(r#"{{"code":"KHI-1","name":"Saddar","city_id":{city_id}}}"#);
    let (status, replayed, _) = post_with_key(&central, "/stores", "store-1", &fixed).await;
    assert_eq!((status, replayed), (201, false));

    // A key that is no key: 422 naming the header.
    let (status, _, body) =
        post_with_key(&central, "/categories", "a key", r#"{"name":"Tea"}"#).await;
    assert_eq!(
        (status, body["details"]["field"].as_str()),
        (422, Some("Idempotency-Key")),
        "{body}"
    );

    // Without a key a create is as it always was: each POST a row.
    central.post("/categories", json!({"name": "Tea"})).await;
    assert_eq!(count(&central, "categories").await, 1);
}

#[tokio::test]
async fn racing_retries_of_one_create_make_one_row_and_all_get_its_answer() {
    let central = spawn_central(replication_config()).await;
    let central = &central;
    let body = r#"{"sku":"TEA-1","name":"Tea","price":"250.00"}"#;
    let category = central.post("/categories", json!({"name": "Tea"})).await;
    let body = body.replace(
        r#""price""#,
        &format!(r#""category_id":{},"price""#, category["id"]),
    );
    let answers = futures_util::future::join_all(
        (0..8).map(|_| post_with_key(central, "/products", "product-tea-1", &body)),
    )
    .await;
    let ids: Vec<&Value> = answers.iter().map(|(_, _, b)| &b["id"]).collect();
    for (status, _, answer) in &answers {
        assert_eq!(*status, 201, "{answer}");
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(
        answers.iter().filter(|(_, replayed, _)| !replayed).count(),
        1
    );
    assert_eq!(count(central, "products").await, 1);
}

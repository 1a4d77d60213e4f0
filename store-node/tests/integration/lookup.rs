//! Finding a product at the till: by the barcode the scanner reads, by SKU, or by part of its name,
//! in pages; a lookup by two things at once, or by a malformed barcode, is refused.

use serde_json::Value;

use crate::spawn_store_node;

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_till_finds_products_by_barcode_sku_and_part_of_the_name() {
    let node = spawn_store_node().await;
    node.db
        .batch_execute(
            "UPDATE products SET barcode = '8901234567890', name = 'Doodh Patti Chai' WHERE id = 1;
             INSERT INTO products (id, sku, barcode, name, category_id, price, active, version, created_at, updated_at)
             SELECT g, 'SKU-' || g, '89' || lpad(g::text, 11, '0'), CASE WHEN g % 2 = 0 THEN 'Masala chai ' ELSE 'Rusk ' END || g,
                    1, 10, true, 1, now(), now()
             FROM generate_series(3, 12) g;
             INSERT INTO products (id, sku, name, category_id, price, active, version, created_at, updated_at)
             VALUES (13, 'ODD', '100%_pure', 1, 1, true, 1, now(), now());",
        )
        .await
        .unwrap();
    let token = node.tokens[0].1.clone();
    let get = |query: String| {
        let node = &node;
        let token = token.clone();
        async move { node.get(&format!("/products?{query}"), Some(&token)).await }
    };
    let (status, found) = get("barcode=8901234567890".into()).await;
    assert_eq!((status, ids(&found)), (200, vec![1]), "{found}");
    assert_eq!(found["items"][0]["barcode"], "8901234567890");
    assert_eq!(ids(&get("sku=SKU-7".into()).await.1), [7]);
    assert_eq!(ids(&get("sku=SKU-999".into()).await.1), Vec::<i64>::new());
    // Any case, any part; the chai of product 1 and the even ones, a page of two at a time.
    let (_, first) = get("q=CHAI&limit=2".into()).await;
    assert_eq!(ids(&first), [1, 4]);
    let next = first["next"].as_i64().unwrap();
    let (_, second) = get(format!("q=chai&limit=2&after={next}")).await;
    assert_eq!(ids(&second), [6, 8]);
    let (_, rest) = get(format!("q=chai&after={}", second["next"])).await;
    assert_eq!((ids(&rest), &rest["next"]), (vec![10, 12], &Value::Null));
    // LIKE's wildcards in the words are the characters themselves.
    assert_eq!(ids(&get("q=%25_".into()).await.1), [13]);
    assert_eq!(ids(&get("q=0%25".into()).await.1), [13]);
    for refused in [
        "barcode=123",
        "barcode=8901234567890&sku=TEA",
        "q=%20%20",
        "sku=",
    ] {
        let (status, body) = get(refused.into()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (422, Some("validation_failed")),
            "{refused}: {body}"
        );
    }
}

/// Finding a customer at the till: by the first digits of the number however it was written, or by part
/// of the name, only this city's, in pages; two lookups at once, or too few digits, are refused.
#[tokio::test]
async fn the_till_finds_customers_by_the_start_of_the_number_or_part_of_the_name() {
    let node = spawn_store_node().await;
    node.db
        .batch_execute(
            "UPDATE customers SET phone = '+92 300-1234567' WHERE id = 1;
             INSERT INTO customers (id, name, phone, city_id, version, created_at, updated_at)
             VALUES (3, 'Ali Raza', '0300 7654321', 1, 1, now(), now()),
                    (4, 'Alia Bhatti', '0321-5550000', 1, 1, now(), now()),
                    (5, 'Ali of elsewhere', '0300 1111111', 2, 1, now(), now()),
                    (6, '50%_off Ali', '0300 2222222', 1, 1, now(), now());
             UPDATE customers SET deleted_at = now() WHERE id = 6;",
        )
        .await
        .unwrap();
    let token = node.tokens[0].1.clone();
    let get = |query: &str| {
        let node = &node;
        let token = token.clone();
        let query = query.to_owned();
        async move { node.get(&format!("/customers?{query}"), Some(&token)).await }
    };
    for (query, expected) in [
        // The digits, whatever the number was written with; not another city's, nor one deleted.
        ("phone_prefix=0300", vec![3]),
        ("phone_prefix=92%20300", vec![1]),
        ("phone_prefix=%2B92-300-12", vec![1]),
        ("phone_prefix=032", vec![4]),
        ("q=ali", vec![3, 4]),
        ("q=ALI%20R", vec![3]),
        ("q=%25_off", vec![]),
        ("q=ali&limit=1", vec![3]),
        ("q=ali&after=3", vec![4]),
    ] {
        let (status, found) = get(query).await;
        assert_eq!((status, ids(&found)), (200, expected), "{query}: {found}");
    }
    for query in [
        "phone_prefix=03",
        "phone_prefix=03a0",
        "q=ali&phone_prefix=0300",
    ] {
        assert_eq!(get(query).await.0, 422, "{query}");
    }
    // A prefix thousands share is read by id rather than from its index; one a hundred share, from its
    // index: the same answers, in pages, only this city's.
    node.db
        .batch_execute(
            "INSERT INTO customers (id, name, phone, city_id, version, created_at, updated_at)
             SELECT g, 'Many ' || g, '0399 ' || g, CASE WHEN g % 3 = 0 THEN 2 ELSE 1 END, 1, now(), now()
             FROM generate_series(100, 3099) g",
        )
        .await
        .unwrap();
    let (_, first) = get("phone_prefix=0399&limit=3").await;
    assert_eq!(ids(&first), [100, 101, 103], "{first}");
    let (_, later) = get("phone_prefix=0399-3&after=3000&limit=3").await;
    assert_eq!(ids(&later), [3001, 3002, 3004], "{later}");
}

//! A sale's business day is its time in its store's city's time zone, whatever the database server's
//! zone: a sale at 23:xx local time counts on that day, at the node and at central.

use std::time::Duration;

use chrono::{Duration as Days, NaiveDate, Timelike, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::chain::SalesChain;
use crate::common::eventually;

const WAIT: Duration = Duration::from_secs(30);

/// An IANA zone of a whole-hour offset east of UTC (`Etc/GMT-5` is UTC+5: POSIX signs are inverted).
fn etc_zone(offset_hours: i64) -> String {
    match offset_hours {
        0 => "Etc/GMT".into(),
        h if h > 0 => format!("Etc/GMT-{h}"),
        h => format!("Etc/GMT+{}", -h),
    }
}

#[tokio::test]
async fn a_sale_late_in_the_evening_counts_on_its_local_day() {
    // Started before the hour is looked at: starting takes a while on a loaded machine.
    let chain = SalesChain::start().await;
    // Not in the last two minutes of an hour: the sales below must all fall in the same local hour.
    while Utc::now().minute() >= 58 {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let now = Utc::now();
    // The city's zone: the one where it is 23:xx now. The other session's zone is two hours ahead,
    // where it is already tomorrow.
    let offset = (-12..=12)
        .find(|h| (now + Days::hours(*h)).hour() == 23)
        .expect("some whole-hour zone is at 23:xx");
    let city_zone = etc_zone(offset);
    let server_zone = etc_zone(offset + 2);
    let local_day: NaiveDate = (now + Days::hours(offset)).date_naive();

    let (code, city) = chain
        .central
        .send(Method::PATCH, "/cities/1", &json!({"time_zone": city_zone}))
        .await;
    assert_eq!(code, 200, "{city}");
    assert_eq!(city["time_zone"], json!(city_zone));
    let (code, refused) = chain
        .central
        .send(
            Method::PATCH,
            "/cities/1",
            &json!({"time_zone": "Mars/Olympus_Mons"}),
        )
        .await;
    assert_eq!(
        (code, refused["details"]["field"].as_str()),
        (422, Some("time_zone")),
        "{refused}"
    );
    let node = chain.node.db().await;
    eventually("the zone reaches the node", WAIT, || async {
        let zone: Option<String> = node
            .query_opt("SELECT time_zone FROM cities WHERE id = 1", &[])
            .await
            .unwrap()
            .map(|r| r.get(0));
        zone.as_deref() == Some(city_zone.as_str())
    })
    .await;

    // At the till, over HTTP (the server's own zone), and from psql in a session whose zone is already
    // on the next day.
    let response = chain
        .http
        .post(format!("{}/orders", chain.node_url))
        .bearer_auth(&chain.cashier)
        .json(
            &json!({"idempotency_key": Uuid::new_v4(), "customer_id": null,
                      "items": [{"product_id": chain.product, "quantity": 1}],
                      "payments": [{"method": "card", "amount": "150.00"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let order: Value = response.json().await.unwrap();
    assert_eq!(
        order["business_date"],
        json!(local_day.to_string()),
        "{order}"
    );
    node.batch_execute(&format!("SET TimeZone = '{server_zone}'"))
        .await
        .unwrap();
    let psql_day: NaiveDate = node
        .query_one("SELECT current_date", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        psql_day,
        local_day + Days::days(1),
        "the session is on the next day"
    );
    let sold: Uuid = node
        .query_one(
            "SELECT process_order($1, NULL, $2, '[{\"method\": \"cash\", \"amount\": \"150.00\"}]', $3)",
            &[
                &chain.store,
                &json!([{"product_id": chain.product, "quantity": 1}]),
                &Uuid::new_v4(),
            ],
        )
        .await
        .unwrap()
        .get(0);
    let day: NaiveDate = node
        .query_one(
            "SELECT business_date FROM orders WHERE global_order_id = $1",
            &[&sold],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(day, local_day);

    // The store's end of day and head office's report count both on the local day.
    let daily = chain
        .node_get(&format!("/reports/daily?date={local_day}"))
        .await;
    assert_eq!(daily["sales_count"], json!(2), "{daily}");
    eventually("both sales reach central", WAIT, || chain.mappings(2)).await;
    eventually(
        "central's report counts both on the local day",
        WAIT,
        || async {
            let (_, report) = chain
                .central
                .get(&format!(
                    "/reports/sales?from={local_day}&to={local_day}&group_by=store"
                ))
                .await;
            report["total"]["orders"] == json!(2)
        },
    )
    .await;
    let next = local_day + Days::days(1);
    let (_, report) = chain
        .central
        .get(&format!(
            "/reports/sales?from={next}&to={next}&group_by=store"
        ))
        .await;
    assert_eq!(report["total"]["orders"], json!(0), "{report}");
}

#[tokio::test]
async fn head_offices_today_is_each_citys_own_day() {
    // Started before the hour is looked at: starting takes a while on a loaded machine.
    let chain = SalesChain::start().await;
    // Not in the last minutes of an hour, so that the zone below stays on another day than UTC.
    while Utc::now().minute() >= 58 {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let now = Utc::now();
    // Twelve hours ahead of UTC in the afternoon, behind it in the morning: another date than UTC's.
    let offset = if now.hour() >= 12 { 12 } else { -12 };
    let zone = etc_zone(offset);
    let local_day = (now + Days::hours(offset)).date_naive();
    let utc_day = now.date_naive();
    assert_ne!(local_day, utc_day);

    let (code, city) = chain
        .central
        .send(Method::PATCH, "/cities/1", &json!({"time_zone": zone}))
        .await;
    assert_eq!(code, 200, "{city}");
    let node = chain.node.db().await;
    eventually("the zone reaches the node", WAIT, || async {
        node.query_opt(
            "SELECT 1 FROM cities WHERE id = 1 AND time_zone = $1",
            &[&zone],
        )
        .await
        .unwrap()
        .is_some()
    })
    .await;
    chain.sell().await;
    eventually("the sale reaches central", WAIT, || chain.mappings(1)).await;

    // No dates given, as the dashboard asks: the city's today, not UTC's.
    let (code, report) = chain.central.get("/reports/sales?group_by=store").await;
    assert_eq!(code, 200, "{report}");
    let local = local_day.to_string();
    assert_eq!(
        (report["from"].as_str(), report["to"].as_str()),
        (Some(local.as_str()), Some(local.as_str())),
        "{report}"
    );
    assert_eq!(report["total"]["orders"], json!(1), "{report}");
    let (_, report) = chain
        .central
        .get(&format!("/reports/sales?from={utc_day}&to={utc_day}"))
        .await;
    assert_eq!(
        report["total"]["orders"],
        json!(0),
        "UTC's day is another: {report}"
    );
}

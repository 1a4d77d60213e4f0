//! Head office's reports across the nodes: every grouping adds up, a missing node is named, low stock,
//! and each sale counts once whether or not its node has folded it.

use pos_shared::testkit::TestInstance;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::common::{TestCentral, TestNode};
use crate::report_chain::{
    chain_with_sales, late_day, money, node_net, node_net_revenue, range, sell,
};

#[tokio::test]
async fn sales_reports_add_up_for_every_grouping_and_mark_a_missing_node() {
    let lahore_pg: &'static TestInstance =
        Box::leak(Box::new(TestInstance::start_dedicated().await.unwrap()));
    let chain = chain_with_sales(TestNode::on(lahore_pg).await).await;
    let central = &chain.central;
    let expected = node_net_revenue(&chain.karachi).await + node_net_revenue(&chain.lahore).await;
    assert_eq!(
        expected.to_string(),
        "998.00",
        "Karachi 300 + 349 - 99.50 refunded, Lahore 298.50 + 150"
    );
    let tax = node_net(&chain.karachi).await.1 + node_net(&chain.lahore).await.1;
    assert!(tax > Decimal::ZERO, "tea is taxed at 17 %");

    for group in ["store", "city", "day", "product", "category"] {
        let (status, report) = central
            .get(&format!("/reports/sales?{}&group_by={group}", range()))
            .await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["partial"], false);
        assert_eq!(
            money(&report["total"]["revenue"]),
            expected,
            "{group}: {report}"
        );
        let sum: Decimal = report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| money(&r["revenue"]))
            .sum();
        assert_eq!(sum, expected, "{group}: rows add up to the total");
        assert_eq!(money(&report["total"]["tax"]), tax, "{group}: {report}");
        let tax_sum: Decimal = report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| money(&r["tax"]))
            .sum();
        assert_eq!(tax_sum, tax, "{group}: the rows' tax adds up to the total");
        assert_eq!(report["total"]["orders"], 4, "{group}");
        assert_eq!(report["total"]["units"], 8, "{group}: 9 sold, 1 refunded");
    }
    let (_, by_city) = central
        .get(&format!("/reports/sales?{}&group_by=city", range()))
        .await;
    let names: Vec<&str> = by_city["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Karachi", "Lahore"]);
    let (_, by_day) = central
        .get(&format!(
            "/reports/sales?from={0}&to={0}&group_by=day",
            late_day()
        ))
        .await;
    assert_eq!(by_day["rows"][0]["key"], late_day().to_string());
    assert_eq!(
        by_day["total"]["revenue"], "150.00",
        "the late sale lands on its own day"
    );

    for bad in [
        "group_by=weekday",
        "from=2026-13-01",
        "from=2026-02-01&to=2026-01-01",
    ] {
        let (status, body) = central.get(&format!("/reports/sales?{bad}")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (422, Some("validation_failed")),
            "{bad}"
        );
    }

    let (_, before) = central
        .get(&format!("/reports/sales?{}&group_by=store", range()))
        .await;
    let karachi_row = before["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Saddar")
        .unwrap()
        .clone();
    lahore_pg.stop().unwrap();
    let (status, report) = central
        .get(&format!("/reports/sales?{}&group_by=store", range()))
        .await;
    lahore_pg.start().unwrap();
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["partial"], true);
    let lahore = report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["city"] == "Lahore")
        .unwrap()
        .clone();
    assert_eq!(lahore["status"], "unreachable", "{report}");
    assert_eq!(lahore["reason"], "cannot connect to the node's database");
    assert_eq!(report["rows"].as_array().unwrap().len(), 1);
    assert_eq!(
        report["rows"][0], karachi_row,
        "the others' figures are unchanged"
    );
    assert_eq!(
        money(&report["total"]["revenue"]),
        node_net_revenue(&chain.karachi).await
    );

    // The node is back: the next report has it again (its sessions reconnect; none is stale).
    let (status, after) = central
        .get(&format!("/reports/sales?{}&group_by=store", range()))
        .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["partial"], false, "{after}");
    assert_eq!(after, before);
}

#[tokio::test]
async fn the_inventory_report_lists_low_stock_lowest_first() {
    let chain = chain_with_sales(TestNode::new(2).await).await;
    let (status, report) = chain.central.get("/reports/inventory?below=100").await;
    assert_eq!(status, 200, "{report}");
    let quantities: Vec<i64> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["quantity"].as_i64().unwrap())
        .collect();
    assert_eq!(quantities, [97, 97, 99, 99], "{report}");
    assert_eq!(report["partial"], false);
    assert_eq!(chain.central.get("/reports/inventory?below=0").await.0, 422);
    // A line at or below its store's reorder level is low whatever the threshold.
    chain
        .lahore
        .db()
        .await
        .execute(
            "UPDATE inventory SET reorder_level = 99 WHERE quantity = 99",
            &[],
        )
        .await
        .unwrap();
    let (_, report) = chain.central.get("/reports/inventory?below=1").await;
    let levels: Vec<(i64, i64)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["quantity"].as_i64().unwrap(),
                r["reorder_level"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(levels, [(99, 99)], "{report}");
}

/// Every node's sales and refunds folded into its per-day totals, as its service does every second.
async fn fold_sales(node: &TestNode) -> i32 {
    node.db()
        .await
        .query_one("SELECT fold_sales()", &[])
        .await
        .unwrap()
        .get(0)
}

/// Every grouping over the whole test, over the late sale's day alone, and over the days after it (a
/// range whose running totals start after some sales, and one that ends before the latest day).
async fn every_grouping(central: &TestCentral) -> Vec<(Value, Value)> {
    let today = chrono::Utc::now().date_naive();
    let ranges = [
        range(),
        format!("from={0}&to={0}", late_day()),
        format!(
            "from={}&to={}",
            late_day() + chrono::Days::new(1),
            today + chrono::Days::new(1)
        ),
    ];
    let mut reports = Vec::new();
    for range in &ranges {
        for group in ["store", "city", "day", "product", "category"] {
            let (status, report) = central
                .get(&format!("/reports/sales?{range}&group_by={group}"))
                .await;
            assert_eq!(status, 200, "{report}");
            reports.push((report["rows"].clone(), report["total"].clone()));
        }
    }
    reports
}

#[tokio::test]
async fn reports_count_each_sale_once_whether_or_not_it_is_folded() {
    let chain = chain_with_sales(TestNode::new(2).await).await;
    let central = &chain.central;
    let queued = every_grouping(central).await;
    assert_eq!(
        fold_sales(&chain.karachi).await,
        3,
        "two sales and a refund"
    );
    assert_eq!(fold_sales(&chain.lahore).await, 2);
    assert_eq!(
        fold_sales(&chain.karachi).await,
        0,
        "nothing is folded twice"
    );
    assert_eq!(every_grouping(central).await, queued);

    // Some folded, some not: a new sale, and a refund of a sale folded already.
    let karachi = chain.karachi.db().await;
    let store: i32 = karachi
        .query_one("SELECT id FROM stores", &[])
        .await
        .unwrap()
        .get(0);
    let rusk: i32 = karachi
        .query_one("SELECT id FROM products WHERE sku = 'RUSK'", &[])
        .await
        .unwrap()
        .get(0);
    sell(
        &chain.karachi,
        i64::from(store),
        json!([{"product_id": rusk, "quantity": 1}]),
        "99.50",
    )
    .await;
    karachi
        .execute(
            "SELECT refund_order($1, (SELECT global_order_id FROM orders ORDER BY id LIMIT 1),
                                 '[{\"line_no\": 1, \"quantity\": 1}]', NULL, NULL, gen_random_uuid())",
            &[&store],
        )
        .await
        .unwrap();
    let expected = node_net_revenue(&chain.karachi).await + node_net_revenue(&chain.lahore).await;
    assert_eq!(expected.to_string(), "947.50", "998 + 99.50 - 150");
    let mixed = every_grouping(central).await;
    let [whole, late, after] = [&mixed[..5], &mixed[5..10], &mixed[10..]];
    for (rows, total) in whole {
        assert_eq!(money(&total["revenue"]), expected, "{rows}");
        assert_eq!(total["orders"], 5, "{rows}");
        assert_eq!(total["units"], 8, "{rows}: 9 + 1 sold, 2 refunded");
    }
    for (rows, total) in late {
        assert_eq!(total["revenue"], "150.00", "{rows}: the late sale alone");
        assert_eq!(total["orders"], 1, "{rows}");
    }
    for (rows, total) in after {
        assert_eq!(
            money(&total["revenue"]),
            expected - Decimal::from(150),
            "{rows}"
        );
        assert_eq!(total["orders"], 4, "{rows}");
    }
    assert_eq!(fold_sales(&chain.karachi).await, 2);
    assert_eq!(every_grouping(central).await, mixed);

    // A node upgraded from a release without running totals (Lahore: the late sale's day has them)
    // gets them from applying the schema at start-up.
    let lahore = chain.lahore.owner_db().await;
    lahore
        .batch_execute(
            "TRUNCATE sales_running_totals; DELETE FROM schema_functions WHERE name = 'store/reports.sql'",
        )
        .await
        .unwrap();
    store_node::schema::migrate(
        &pos_shared::db::parse_url(
            &chain.lahore.instance.owner_url(&chain.lahore.db_name),
            "test",
        )
        .unwrap(),
        Some(pos_shared::pgctl::APP_ROLE),
    )
    .await
    .unwrap();
    let rebuilt: i64 = lahore
        .query_one("SELECT count(*) FROM sales_running_totals", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rebuilt, 3, "the late sale's day, for each grain");
    assert_eq!(every_grouping(central).await, mixed);
}

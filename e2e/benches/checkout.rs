//! Checkout benchmark: prints ratios measured side by side in one run, on real instances.
//!
//! 1. `POST /orders` over HTTP against `SELECT process_order(...)` straight on the node, same concurrency;
//! 2. the same against a variant that writes the mapping to central inline over dblink per sale (the
//!    naive design), instead of the outbox;
//! 3. one hot product, 32 concurrent cashiers: sales per second, oversold, deadlocks;
//! 4. a sale of products with a tax rate and a running promotion (among a thousand that are not
//!    running) against the same sale of untaxed products without promotions, over HTTP.
//!
//! The figures are also recorded for BENCHMARKS.md. Run: `cargo bench -p pos-e2e --bench checkout`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failed step should stop it

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pos_e2e::benchmarks::{Goal, Results, Unit};
use pos_shared::testkit::TestInstance;
use serde_json::json;
use uuid::Uuid;

mod common;

const CONCURRENCY: usize = 8;
const ORDERS_PER_ROUND: usize = 1200;
/// Sales a round for the inline-dblink design: at a twentieth of the rate, 1,200 took half a minute a
/// round (four minutes of the whole benchmark) for a reference figure.
const INLINE_ORDERS_PER_ROUND: usize = 160;
/// Rounds of every path, interleaved: this machine is shared, and a round of one path alone swung the
/// ratios by a tenth between runs with 3 rounds of 1,600; the median of more, shorter rounds holds better.
const ROUNDS: usize = 7;
const PRODUCTS: i32 = 20;

/// Products 1..=PRODUCTS have no tax and no promotion; the next PRODUCTS ones, the same prices with
/// both (see `price_the_second_catalogue`). `offset` picks the catalogue.
fn items_from(i: usize, offset: i32) -> serde_json::Value {
    let first = (i % PRODUCTS as usize) as i32 + 1;
    json!([{"product_id": first + offset, "quantity": 1},
           {"product_id": (first % PRODUCTS) + 1 + offset, "quantity": 2}])
}

fn items(i: usize) -> serde_json::Value {
    items_from(i, 0)
}

/// The second catalogue: products PRODUCTS+1..=2·PRODUCTS in category 2, taxed at 17 %, with a 10 %
/// promotion on the category running now; beside it a thousand promotions of its products and of
/// other categories that have ended or not begun, as a year of campaigns leaves them.
async fn price_the_second_catalogue(setup: &common::Db) -> anyhow::Result<()> {
    setup
        .batch_execute(&format!(
            "INSERT INTO categories (id, name, tax_rate, version, created_at, updated_at)
             SELECT g, 'Category ' || g, CASE g WHEN 2 THEN 17 ELSE 5 END, 1, now(), now() FROM generate_series(2, 50) g;
             INSERT INTO products (id, sku, name, category_id, price, active, version, created_at, updated_at)
             SELECT g + {PRODUCTS}, 'TAXED' || g, 'Taxed ' || g, 2, 10.00 + g, true, 1, now(), now()
             FROM generate_series(1, {PRODUCTS}) g;
             INSERT INTO inventory (store_id, product_id, quantity)
             SELECT 1, g + {PRODUCTS}, 10000000 FROM generate_series(1, {PRODUCTS}) g;
             INSERT INTO promotions (id, name, kind, value, product_id, category_id, starts_at, ends_at, active,
                                     version, created_at, updated_at)
             SELECT 1, 'Running', 'percent', 10, NULL, 2, localtimestamp - interval '1 day',
                    localtimestamp + interval '1 day', true, 1, now(), now()
             UNION ALL
             SELECT 1 + g, 'Campaign ' || g, CASE WHEN g % 2 = 0 THEN 'percent' ELSE 'amount' END, 5,
                    CASE WHEN g % 3 = 0 THEN {PRODUCTS} + 1 + g % {PRODUCTS} END,
                    CASE WHEN g % 3 <> 0 THEN 2 + g % 49 END,
                    localtimestamp + make_interval(days => CASE WHEN g % 2 = 0 THEN -400 + g % 300 ELSE 2 + g % 300 END),
                    localtimestamp + make_interval(days => CASE WHEN g % 2 = 0 THEN -399 + g % 300 ELSE 3 + g % 300 END),
                    true, 1, now(), now()
             FROM generate_series(1, 1000) g;
             ANALYZE categories, products, inventory, promotions;"
        ))
        .await?;
    Ok(())
}

fn payments() -> serde_json::Value {
    json!([{"method": "cash", "amount": "1000.00"}])
}

/// Runs `orders` calls of `call` from `CONCURRENCY` workers; orders per second.
async fn measure<F, Fut>(orders: usize, call: F) -> f64
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let call = Arc::new(call);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers = (0..CONCURRENCY).map(|worker| {
        let call = call.clone();
        let next = next.clone();
        tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= orders {
                    break;
                }
                call(worker, i).await;
            }
        })
    });
    futures_util::future::join_all(workers).await;
    orders as f64 / started.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut results = Results::new("checkout");
    let central_pg = TestInstance::start_dedicated().await?;
    let node_pg = TestInstance::start_dedicated().await?;
    let common::SellingNode {
        url,
        token,
        hot_token,
        node_url,
        setup,
        ..
    } = common::start_selling_node(&central_pg, &node_pg, PRODUCTS).await?;
    let http = reqwest::Client::new();

    // The naive design: the sale writes central's mapping itself, over a new dblink connection each time.
    setup
        .batch_execute(
            "CREATE FUNCTION process_order_inline(p_store_id int, p_customer_id int, p_items jsonb, p_payments jsonb,
                                                  p_key uuid) RETURNS uuid LANGUAGE plpgsql AS $f$
             DECLARE v_id uuid;
             BEGIN
                 v_id := process_order(p_store_id, p_customer_id, p_items, p_payments, p_key);
                 PERFORM * FROM dblink('pos_central', format('SELECT apply_order_mappings(%L::jsonb)',
                     (SELECT jsonb_agg(payload || jsonb_build_object('kind', kind)) FROM outbox WHERE global_order_id = v_id)))
                     AS t(applied integer);
                 UPDATE outbox SET status = 'Success', delivered_at = now() WHERE global_order_id = v_id;
                 RETURN v_id;
             END $f$;",
        )
        .await?;

    let mut sql_clients = Vec::new();
    for _ in 0..CONCURRENCY {
        sql_clients.push(Arc::new(
            pos_shared::db::connect(&pos_shared::db::parse_url(&node_url, "bench")?).await?,
        ));
    }
    let sql_clients = Arc::new(sql_clients);
    price_the_second_catalogue(&setup).await?;
    let run_http_from = |offset: i32| {
        let http = http.clone();
        let url = url.clone();
        let token = token.clone();
        measure(ORDERS_PER_ROUND, move |_, i| {
            let http = http.clone();
            let url = url.clone();
            let token = token.clone();
            async move {
                let response = http
                    .post(format!("{url}/orders"))
                    .bearer_auth(&token)
                    .json(
                        &json!({"idempotency_key": Uuid::new_v4(), "customer_id": null,
                                  "items": items_from(i, offset), "payments": payments()}),
                    )
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                if offset > 0 {
                    let order: serde_json::Value = response.json().await.unwrap();
                    assert_ne!(
                        order["discount_total"], "0.00",
                        "the promotion applies: {order}"
                    );
                    assert_ne!(order["tax_total"], "0.00", "the tax applies: {order}");
                }
            }
        })
    };
    let run_http = || run_http_from(0);
    // `extra`: trailing arguments (the endpoint's call asks checkout() for the order's JSON).
    let run_sql = |function: &'static str, extra: &'static str, orders: usize| {
        let clients = sql_clients.clone();
        measure(orders, move |worker, i| {
            let client = clients[worker].clone();
            async move {
                let sql = format!("SELECT {function}(1, NULL, $1, $2, $3{extra})");
                client
                    .query_one(&sql, &[&items(i), &payments(), &Uuid::new_v4()])
                    .await
                    .unwrap();
            }
        })
    };

    run_http().await; // warm-up
    let (mut http_rates, mut sql_rates, mut inline_rates) = (Vec::new(), Vec::new(), Vec::new());
    let (mut endpoint_sql_rates, mut priced_rates) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        http_rates.push(run_http().await);
        priced_rates.push(run_http_from(PRODUCTS).await);
        sql_rates.push(run_sql("process_order", "", ORDERS_PER_ROUND).await);
        endpoint_sql_rates.push(run_sql("checkout", ", true", ORDERS_PER_ROUND).await);
        inline_rates.push(run_sql("process_order_inline", "", INLINE_ORDERS_PER_ROUND).await);
    }
    let (http_rate, sql_rate, inline_rate) =
        (median(http_rates), median(sql_rates), median(inline_rates));
    let endpoint_sql_rate = median(endpoint_sql_rates);
    let priced_rate = median(priced_rates);
    println!("# Checkout benchmark (node and central each on their own PostgreSQL instance)\n");
    println!(
        "## Checkout throughput, {CONCURRENCY} concurrent clients, 2-line sales, median of {ROUNDS} interleaved rounds of {ORDERS_PER_ROUND} ({INLINE_ORDERS_PER_ROUND} for the inline-dblink design)"
    );
    println!("| path | orders/s | ratio |\n|---|---|---|");
    println!("| `SELECT process_order(...)` straight on the node | {sql_rate:.0} | 1.00 |");
    println!(
        "| `SELECT checkout(..., true)` straight on the node (the endpoint's SQL: the sale and its order JSON) | {endpoint_sql_rate:.0} | {:.2} of process_order |",
        endpoint_sql_rate / sql_rate
    );
    println!(
        "| HTTP `POST /orders` (outbox to central) | {http_rate:.0} | {:.2} of direct SQL |",
        http_rate / sql_rate
    );
    println!(
        "| SQL with the mapping written to central inline over dblink per sale | {inline_rate:.0} | HTTP is {:.1}x this |",
        http_rate / inline_rate
    );
    println!(
        "| HTTP `POST /orders` of taxed products with a running promotion (1,001 promotions on the node) | {priced_rate:.0} | {:.2} of the plain sale over HTTP |\n",
        priced_rate / http_rate
    );
    let area = "Checkout (a 2-line cash sale, 8 concurrent clients)";
    results.record(
        area,
        "HTTP `POST /orders` against `SELECT process_order(...)` straight on the node",
        http_rate / sql_rate,
        Unit::Ratio,
        Some(Goal::AtLeast(0.8)),
    );
    results.record(
        area,
        "HTTP `POST /orders` (outbox to central) against the inline-dblink design",
        http_rate / inline_rate,
        Unit::Ratio,
        Some(Goal::AtLeast(4.0)),
    );
    results.record(
        area,
        "HTTP `POST /orders`",
        http_rate,
        Unit::SalesPerSecond,
        None,
    );
    results.record(
        area,
        "a sale with tax and a promotion against a plain sale, both over HTTP",
        priced_rate / http_rate,
        Unit::Ratio,
        Some(Goal::AtLeast(0.9)),
    );

    // One hot product, 32 cashiers at once.
    setup
        .batch_execute(
            "INSERT INTO inventory (store_id, product_id, quantity) VALUES (2, 1, 50000)",
        )
        .await?;
    let sold = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let cashiers = (0..32).map(|_| {
        let (http, url, token) = (http.clone(), url.clone(), hot_token.clone());
        let (sold, refused, errors) = (sold.clone(), refused.clone(), errors.clone());
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                let response = http
                    .post(format!("{url}/orders"))
                    .bearer_auth(&token)
                    .json(&json!({"idempotency_key": Uuid::new_v4(), "customer_id": null,
                                  "items": [{"product_id": 1, "quantity": 1}], "payments": payments()}))
                    .send()
                    .await;
                match response.map(|r| r.status().as_u16()) {
                    Ok(201) => sold.fetch_add(1, Ordering::SeqCst),
                    Ok(409) => refused.fetch_add(1, Ordering::SeqCst),
                    _ => errors.fetch_add(1, Ordering::SeqCst),
                };
            }
        })
    });
    futures_util::future::join_all(cashiers).await;
    let elapsed = started.elapsed().as_secs_f64();
    let left: i32 = setup
        .query_one(
            "SELECT quantity FROM inventory WHERE store_id = 2 AND product_id = 1",
            &[],
        )
        .await?
        .get(0);
    let sold = sold.load(Ordering::SeqCst);
    let oversold = (sold as i64 - 50_000).max(0) + i64::from((left < 0) as i32);
    let deadlocks: i64 = setup
        .query_one(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .await?
        .get(0);
    println!("## One hot product (stock 50000), 32 concurrent cashiers for 5 s");
    println!(
        "| sales/s | sold | refused (409) | errors | stock left | oversold | deadlocks |\n|---|---|---|---|---|---|---|"
    );
    println!(
        "| {:.0} | {sold} | {} | {} | {left} | {oversold} | {deadlocks} |",
        sold as f64 / elapsed,
        refused.load(Ordering::SeqCst),
        errors.load(Ordering::SeqCst)
    );
    assert_eq!(
        sold as i32 + left,
        50_000,
        "every unit sold left the stock exactly once"
    );
    let area = "Checkout: one hot product, 32 concurrent cashiers for 5 s";
    results.record(
        area,
        "sales through HTTP",
        sold as f64 / elapsed,
        Unit::SalesPerSecond,
        None,
    );
    results.record(
        area,
        "units oversold",
        oversold as f64,
        Unit::Count,
        Some(Goal::AtMost(0.0)),
    );
    results.record(
        area,
        "deadlocks",
        deadlocks as f64,
        Unit::Count,
        Some(Goal::AtMost(0.0)),
    );
    results.save()
}

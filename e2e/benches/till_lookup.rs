//! Lookup at the till, on real instances: `GET /products` by barcode, by SKU and by part of the name
//! over HTTP, one cashier asking after another, on a node with 100,000 products. Prints p50 and p99 of
//! each kind of lookup; the goal is p99 under 10 ms.
//!
//! The figures are also recorded for BENCHMARKS.md. Run: `cargo bench -p pos-e2e --bench till_lookup`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failed step should stop it

use std::time::{Duration, Instant};

use pos_e2e::benchmarks::{Goal, Results, Unit};
use pos_shared::testkit::TestInstance;

mod common;
use common::percentile;

const PRODUCTS: i32 = 100_000;
/// Lookups of each kind (after 50 to warm up).
const LOOKUPS: usize = 2000;

/// The query string of a kind of lookup's i-th request.
type Query = Box<dyn Fn(usize) -> String>;

/// The second word of product `id`'s name is `SECOND_WORDS[(id / 10) % 10]` (as the set-up writes them).
const SECOND_WORDS: [&str; 10] = [
    "Chai", "Patti", "Gold", "Lite", "Family", "Mini", "Classic", "Fresh", "Pure", "Extra",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let central_pg = TestInstance::start_dedicated().await?;
    let node_pg = TestInstance::start_dedicated().await?;
    let node = common::start_selling_node(&central_pg, &node_pg, PRODUCTS).await?;
    // Names of two words and a number from a small vocabulary (each word is in a tenth of the names),
    // barcodes as EAN-13.
    node.setup
        .batch_execute(
            "UPDATE products SET
                 name = (ARRAY['Doodh', 'Masala', 'Rusk', 'Biscuit', 'Atta', 'Ghee', 'Daal', 'Sabun', 'Chawal', 'Namak'])[id % 10 + 1]
                        || ' ' || (ARRAY['Chai', 'Patti', 'Gold', 'Lite', 'Family', 'Mini', 'Classic', 'Fresh', 'Pure', 'Extra'])[(id / 10) % 10 + 1]
                        || ' ' || id,
                 barcode = '890' || lpad(id::text, 10, '0')",
        )
        .await?;
    // Alone: VACUUM cannot run inside the transaction block of a multi-statement batch.
    node.setup.batch_execute("VACUUM ANALYZE products").await?;
    let http = reqwest::Client::new();
    let lookup = |query: String| {
        let (http, url, token) = (http.clone(), node.url.clone(), node.token.clone());
        async move {
            let started = Instant::now();
            let response = http
                .get(format!("{url}/products?{query}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{query}");
            let page: serde_json::Value = response.json().await.unwrap();
            assert!(
                !page["items"].as_array().unwrap().is_empty(),
                "{query} finds something"
            );
            started.elapsed()
        }
    };
    let product = |i: usize| (i * 7919) % PRODUCTS as usize + 1;
    let kinds: [(&str, Query); 5] = [
        (
            "barcode (the scanner)",
            Box::new(move |i| format!("barcode=890{:010}", product(i))),
        ),
        ("SKU", Box::new(move |i| format!("sku=SKU{}", product(i)))),
        (
            "part of a name that few products share (`gold 4711`)",
            Box::new(move |i| {
                let id = product(i);
                format!("q={}%20{id}", SECOND_WORDS[(id / 10) % 10])
            }),
        ),
        (
            "a word a tenth of the products share (`masala`), first page of 20",
            Box::new(|i| {
                ["q=masala&limit=20", "q=GHEE&limit=20", "q=patti&limit=20"][i % 3].to_owned()
            }),
        ),
        (
            "the whole catalogue, a page of 100 deep in it",
            Box::new(move |i| format!("after={}", product(i) - 1)),
        ),
    ];
    let mut results = Results::new("till_lookup");
    let area = "Lookup at the till: `GET /products` on a node with 100,000 products, over HTTP";
    println!(
        "# Lookup at the till ({PRODUCTS} products on the node, {LOOKUPS} lookups of each kind, one after another)\n"
    );
    println!("| lookup | p50 | p99 |\n|---|---|---|");
    for (name, query) in &kinds {
        for i in 0..50 {
            lookup(query(i)).await;
        }
        let mut times: Vec<Duration> = Vec::with_capacity(LOOKUPS);
        for i in 0..LOOKUPS {
            times.push(lookup(query(i + 50)).await);
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let (p50, p99) = (ms(percentile(&times, 0.5)), ms(percentile(&times, 0.99)));
        println!("| {name} | {p50:.2} ms | {p99:.2} ms |");
        results.record(
            area,
            &format!("{name}: p99"),
            p99,
            Unit::Milliseconds,
            Some(Goal::AtMost(10.0)),
        );
    }
    results.save()
}

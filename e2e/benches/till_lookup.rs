//! Lookup at the till, on real instances: `GET /products` by barcode, by SKU and by part of the name
//! on a node with 100,000 products, and `GET /customers` by the first digits of the number and by part
//! of the name with 1,000,000 customers in the city, over HTTP, one cashier asking after another. Prints
//! p50 and p99 of each kind of lookup; the goal is p99 under 10 ms.
//!
//! The figures are also recorded for BENCHMARKS.md. Run: `cargo bench -p pos-e2e --bench till_lookup`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failed step should stop it

use std::time::{Duration, Instant};

use pos_e2e::benchmarks::{Goal, Results, Unit};
use pos_shared::testkit::TestInstance;

mod common;
use common::percentile;

const PRODUCTS: i32 = 100_000;
const CUSTOMERS: i64 = 1_000_000;
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
    let mut results = Results::new("till_lookup");
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
    // Customers of the node's city: numbers `03NN NNNNNNN` (NN a hundredth of them each, written with a
    // space), names of a first name (a twentieth each), a last name and the id.
    node.setup
        .batch_execute(&format!(
            "INSERT INTO customers (id, name, phone, city_id, version, created_at, updated_at)
             SELECT g, (ARRAY['Ali', 'Ayesha', 'Bilal', 'Sana', 'Omar', 'Hina', 'Usman', 'Zara', 'Hamza', 'Fatima',
                              'Saad', 'Maryam', 'Fahad', 'Iqra', 'Asad', 'Noor', 'Danish', 'Amna', 'Talha', 'Rabia'])[g % 20 + 1]
                       || ' ' || (ARRAY['Khan', 'Raza', 'Butt', 'Qureshi', 'Sheikh', 'Malik', 'Chaudhry', 'Siddiqui'])[(g / 20) % 8 + 1]
                       || ' ' || g,
                    '03' || lpad((g % 100)::text, 2, '0') || ' ' || lpad(g::text, 7, '0'), 1, 1, now(), now()
             FROM generate_series(10, {CUSTOMERS} + 9) g"
        ))
        .await?;
    // Alone: VACUUM cannot run inside the transaction block of a multi-statement batch.
    node.setup.batch_execute("VACUUM ANALYZE products").await?;
    node.setup.batch_execute("VACUUM ANALYZE customers").await?;
    let http = reqwest::Client::new();
    let lookup = |query: String| {
        let (http, url, token) = (http.clone(), node.url.clone(), node.token.clone());
        async move {
            let started = Instant::now();
            let response = http
                .get(format!("{url}/{query}"))
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
    let customer = |i: usize| (i * 7919) % CUSTOMERS as usize + 10;
    let kinds: [(&str, Query); 9] = [
        (
            "product by barcode (the scanner)",
            Box::new(move |i| format!("products?barcode=890{:010}", product(i))),
        ),
        (
            "product by SKU",
            Box::new(move |i| format!("products?sku=SKU{}", product(i))),
        ),
        (
            "product by part of a name that few products share (`gold 4711`)",
            Box::new(move |i| {
                let id = product(i);
                format!("products?q={}%20{id}", SECOND_WORDS[(id / 10) % 10])
            }),
        ),
        (
            "product by a word a tenth of the products share (`masala`), first page of 20",
            Box::new(|i| format!("products?q={}&limit=20", ["masala", "GHEE", "patti"][i % 3])),
        ),
        (
            "the whole catalogue, a page of 100 deep in it",
            Box::new(move |i| format!("products?after={}", product(i) - 1)),
        ),
        (
            "customer by the first 8 digits of the number (ten customers share them)",
            Box::new(move |i| {
                let id = customer(i);
                format!(
                    "customers?phone_prefix=03{:02}%20{:04}",
                    id % 100,
                    id / 1_000
                )
            }),
        ),
        (
            "customer by 4 digits a hundredth of the customers share (`0317`), first page of 20",
            Box::new(|i| format!("customers?phone_prefix=03{:02}&limit=20", (i * 37) % 100)),
        ),
        (
            "customer by part of a name few share (`raza 123456`)",
            Box::new(move |i| {
                let id = customer(i);
                let last = [
                    "Khan", "Raza", "Butt", "Qureshi", "Sheikh", "Malik", "Chaudhry", "Siddiqui",
                ];
                format!("customers?q={}%20{id}", last[(id / 20) % 8])
            }),
        ),
        (
            "customer by a first name a twentieth share (`ayesha`), first page of 20",
            Box::new(|i| format!("customers?q={}&limit=20", ["ayesha", "OMAR", "zara"][i % 3])),
        ),
    ];
    let area = "Lookup at the till: `GET /products` with 100,000 products and `GET /customers` with 1,000,000 customers on a node, over HTTP";
    println!(
        "# Lookup at the till ({PRODUCTS} products and {CUSTOMERS} customers on the node, {LOOKUPS} lookups of each kind, one after another)\n"
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

//! `--demo-data`: a catalogue, one store per city, customers and opening stock, all through the APIs
//! (central's for master data, the node's for stock), so it exercises replication like real use does.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Datelike;
use serde_json::{Value, json};

use crate::api::model::{Category, Customer, Product, StockLine, Store};
use crate::api::{Api, status_of};
use crate::cluster::slug;

/// How long the node gets to receive the catalogue by replication.
pub const REPLICATION_TIMEOUT: Duration = Duration::from_secs(60);

type Item = (&'static str, &'static str, &'static str);

/// Categories with their products: (sku, name, price).
const CATALOGUE: &[(&str, &[Item])] = &[
    (
        "Beverages",
        &[
            ("BEV-001", "Mineral Water 1.5L", "80.00"),
            ("BEV-002", "Mango Juice 1L", "260.00"),
            ("BEV-003", "Green Tea (25 bags)", "350.00"),
            ("BEV-004", "Cola 1.5L", "170.00"),
            ("BEV-005", "Instant Coffee 100g", "1250.00"),
        ],
    ),
    (
        "Snacks",
        &[
            ("SNK-001", "Salted Crisps 70g", "100.00"),
            ("SNK-002", "Chocolate Biscuits", "150.00"),
            ("SNK-003", "Roasted Peanuts 200g", "220.00"),
            ("SNK-004", "Nimko Mix 250g", "240.00"),
            ("SNK-005", "Dark Chocolate 90g", "480.00"),
        ],
    ),
    (
        "Dairy",
        &[
            ("DRY-001", "Full Cream Milk 1L", "280.00"),
            ("DRY-002", "Plain Yoghurt 500g", "190.00"),
            ("DRY-003", "Cheddar Cheese 200g", "890.00"),
            ("DRY-004", "Salted Butter 200g", "620.00"),
            ("DRY-005", "Eggs (dozen)", "390.00"),
        ],
    ),
    (
        "Bakery",
        &[
            ("BAK-001", "Sandwich Bread", "190.00"),
            ("BAK-002", "Rusk 300g", "210.00"),
            ("BAK-003", "Croissant (4 pack)", "450.00"),
            ("BAK-004", "Fruit Cake 400g", "560.00"),
            ("BAK-005", "Naan (5 pack)", "150.00"),
        ],
    ),
    (
        "Household",
        &[
            ("HSE-001", "Dishwashing Liquid 500ml", "330.00"),
            ("HSE-002", "Laundry Powder 1kg", "720.00"),
            ("HSE-003", "Kitchen Towels (2 rolls)", "400.00"),
            ("HSE-004", "Floor Cleaner 1L", "540.00"),
            ("HSE-005", "Garbage Bags (30)", "280.00"),
        ],
    ),
    (
        "Personal Care",
        &[
            ("PRC-001", "Bath Soap 125g", "120.00"),
            ("PRC-002", "Shampoo 360ml", "780.00"),
            ("PRC-003", "Toothpaste 150g", "310.00"),
            ("PRC-004", "Hand Wash 250ml", "260.00"),
            ("PRC-005", "Sunscreen SPF 50", "1450.00"),
        ],
    ),
];

/// Each category's tax rate in percent (prices include it): unprocessed food is exempt.
fn tax_rate(category: &str) -> &'static str {
    match category {
        "Dairy" | "Bakery" => "0",
        _ => "17",
    }
}

/// The product with the demo's running promotion.
const PROMOTED_SKU: &str = "SNK-001";

/// Customer names: apostrophes and non-ASCII letters on purpose.
const CUSTOMERS: &[&str] = &[
    "Ayesha Khan",
    "Rohan D'Souza",
    "Zoë Ahmed",
    "Ayşe Yılmaz",
    "Carlos Muñoz",
    "Sinéad O'Connor",
];

/// Creates the catalogue's categories and products that central does not have (by name and by SKU), so
/// that a run cut short is completed by the next. Returns how many products were created.
pub async fn seed_catalogue(central: &Api) -> anyhow::Result<usize> {
    let products: Vec<Product> = central.get_all("/products").await?;
    let skus: HashSet<&str> = products.iter().map(|p| p.sku.as_str()).collect();
    let mut categories: Vec<Category> = central.get_all("/categories").await?;
    let mut created = 0;
    let mut position = 0;
    for (category, items) in CATALOGUE {
        let mut category_id = categories
            .iter()
            .find(|c| c.name == *category)
            .map(|c| c.id);
        for (sku, name, price) in *items {
            position += 1;
            if skus.contains(sku) {
                continue;
            }
            let category_id = match category_id {
                Some(id) => id,
                None => {
                    let c: Category = central
                        .post(
                            "/categories",
                            &json!({ "name": category, "tax_rate": tax_rate(category) }),
                        )
                        .await
                        .with_context(|| format!("creating category {category}"))?;
                    let id = c.id;
                    categories.push(c);
                    *category_id.insert(id)
                }
            };
            // EAN-13-shaped barcodes, one per product (by its place in the catalogue), for scanning.
            let barcode = format!("890{position:010}");
            let product: Product = central
                .post(
                    "/products",
                    &json!({"sku": sku, "name": name, "category_id": category_id, "price": price,
                            "barcode": barcode}),
                )
                .await
                .with_context(|| format!("creating product {sku}"))?;
            created += 1;
            if *sku == PROMOTED_SKU {
                // A promotion running all this year and the next, in every store's local time.
                let year = chrono::Utc::now().year();
                let _: Value = central
                    .post(
                        "/promotions",
                        &json!({"name": "Snack week", "kind": "percent", "value": "10",
                                "product_id": product.id,
                                "starts_at": format!("{year}-01-01T00:00:00"),
                                "ends_at": format!("{}-01-01T00:00:00", year + 2)}),
                    )
                    .await
                    .context("creating the demo promotion")?;
            }
        }
    }
    crate::step!("demo data: {created} of the catalogue's products created");
    Ok(created)
}

/// `KHI001` for Karachi, `LHR001` for Lahore, else the first three letters of the name; the number goes
/// up when the code is taken.
pub fn store_code(city: &str, taken: &HashSet<String>) -> String {
    let prefix = match city.trim().to_lowercase().as_str() {
        "karachi" => "KHI".to_owned(),
        "lahore" => "LHR".to_owned(),
        other => {
            let mut letters: String = other
                .chars()
                .filter(char::is_ascii_alphabetic)
                .take(3)
                .collect::<String>()
                .to_ascii_uppercase();
            while letters.len() < 3 {
                letters.push('X');
            }
            letters
        }
    };
    (1..)
        .map(|n| format!("{prefix}{n:03}"))
        .find(|code| !taken.contains(code))
        .unwrap_or(prefix)
}

/// The name of the store the demo data gives a city.
pub fn demo_store_name(city: &str) -> String {
    format!("{city} Main")
}

/// One store per city that has none, and the city's demo customers that central does not have (by
/// e-mail), so that a run cut short is completed by the next. `cities` are (name, id at central).
pub async fn seed_stores_and_customers(
    central: &Api,
    cities: &[(&str, i32)],
) -> anyhow::Result<()> {
    let stores: Vec<Store> = central.get_all("/stores").await?;
    let mut taken: HashSet<String> = stores.iter().map(|s| s.code.clone()).collect();
    for &(city_name, city_id) in cities {
        if !stores.iter().any(|s| s.city_id == city_id) {
            let code = store_code(city_name, &taken);
            let _: Value = central
                .post(
                    "/stores",
                    &json!({"code": code, "name": demo_store_name(city_name), "city_id": city_id}),
                )
                .await
                .with_context(|| format!("creating store {code}"))?;
            crate::step!("demo data: store {code} in {city_name}");
            taken.insert(code);
        }
        let existing: Vec<Customer> = central
            .get_all(&format!("/customers?city_id={city_id}"))
            .await?;
        let emails: HashSet<&str> = existing.iter().filter_map(|c| c.email.as_deref()).collect();
        let mut created = 0;
        for (n, name) in CUSTOMERS.iter().enumerate() {
            let email = format!("customer{}.{}@example.com", n + 1, slug(city_name));
            if emails.contains(email.as_str()) {
                continue;
            }
            // Numbers are one customer's each across the chain: the city's id keeps cities apart.
            let phone = format!("+92 3{city_id:02} {:07}", n + 1);
            let _: Value = central
                .post(
                    "/customers",
                    &json!({"name": name, "phone": phone, "email": email, "city_id": city_id}),
                )
                .await
                .with_context(|| format!("creating customer {name:?}"))?;
            created += 1;
        }
        if created > 0 {
            crate::step!("demo data: {created} customers in {city_name}");
        }
    }
    Ok(())
}

/// A quantity between 50 and 200, varied by store and product.
fn quantity(store_id: i32, index: usize) -> i64 {
    let seed = i64::from(store_id) * 11 + i64::try_from(index).unwrap_or(0) * 37;
    50 + seed.rem_euclid(151)
}

/// Opening stock for a store whose inventory is empty, once the node has the whole catalogue. `node`
/// carries a credential of the store that the node accepts already. Returns whether stock was added.
pub async fn opening_stock(node: &Api, store_id: i32, product_ids: &[i32]) -> anyhow::Result<bool> {
    let deadline = Instant::now() + REPLICATION_TIMEOUT;
    let wanted: HashSet<i32> = product_ids.iter().copied().collect();
    loop {
        let listed: Vec<Product> = node.get_all("/products").await?;
        let have = listed.iter().filter(|p| wanted.contains(&p.id)).count();
        if have == wanted.len() {
            break;
        }
        if Instant::now() >= deadline {
            bail!(
                "{} lists {have} of {} products after {} s: replication from central has not caught up \
                 (see central's GET /replication/status)",
                node.base(),
                wanted.len(),
                REPLICATION_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    match node.get_all::<StockLine>("/inventory").await {
        Ok(stock) if !stock.is_empty() => return Ok(false),
        Ok(_) => {}
        Err(e) if status_of(&e) == Some(404) => {}
        Err(e) => return Err(e),
    }
    let items: Vec<Value> = product_ids
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"product_id": id, "quantity": quantity(store_id, i)}))
        .collect();
    let body = json!({
        "idempotency_key": uuid::Uuid::new_v4(),
        "reference": "posctl demo data: opening stock",
        "items": items,
    });
    loop {
        match node.post::<_, Value>("/inventory/receipts", &body).await {
            Ok(_) => return Ok(true),
            // The store row may not have arrived yet: it comes with the same replication stream.
            Err(e) if status_of(&e) == Some(422) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e.context("receiving the opening stock")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_codes() {
        let mut taken = HashSet::new();
        assert_eq!(store_code("Karachi", &taken), "KHI001");
        assert_eq!(store_code("lahore", &taken), "LHR001");
        assert_eq!(store_code("Islamabad", &taken), "ISL001");
        assert_eq!(store_code("Ūb", &taken), "BXX001");
        taken.insert("ISL001".to_owned());
        assert_eq!(store_code("Islamkot", &taken), "ISL002");
    }

    #[test]
    fn quantities_stay_in_range_and_catalogue_is_about_thirty() {
        for store in 1..5 {
            for i in 0..40 {
                assert!((50..=200).contains(&quantity(store, i)));
            }
        }
        let products: usize = CATALOGUE.iter().map(|(_, items)| items.len()).sum();
        assert_eq!(products, 30);
    }
}

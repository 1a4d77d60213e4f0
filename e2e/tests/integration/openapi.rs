//! `GET /openapi.json`: every route central registers is documented, with the right method and
//! security, and nothing else is.

use pos_shared::testkit::openapi::{self, assert_documents, keys, schema_properties};

use crate::common::{replication_config, spawn_central};

/// Routes open without a bearer token: operations, and the dashboard's page and forms (cookie session).
const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/dashboard"),
    ("POST", "/dashboard/login"),
    ("POST", "/sessions"),
    ("POST", "/dashboard/logout"),
    ("GET", "/dashboard/session/{nonce}"),
    ("POST", "/dashboard/requeue"),
];

#[tokio::test]
async fn openapi_documents_every_registered_route_and_nothing_else() {
    let central = spawn_central(replication_config()).await;
    let doc = openapi::fetch(&central.http, &central.url).await.unwrap();
    assert_eq!(doc["info"]["title"], "POS central");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    let registered = openapi::registered(&central::routes::routes());
    assert!(registered.len() > 30, "{registered:?}");
    assert_documents(&doc, &registered, PUBLIC);

    // Spot checks of what the general check covers.
    assert_eq!(
        doc["paths"]["/cities"]["post"]["security"],
        serde_json::json!([{ "bearer": [] }])
    );
    assert!(doc["paths"]["/health"]["get"].get("security").is_none());
    assert_eq!(
        doc["paths"]["/products/{id}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/ProductPatch"
    );
    assert_eq!(
        doc["paths"]["/cities"]["post"]["responses"]["409"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/ErrorBody"
    );
    assert!(
        doc["paths"]["/dashboard"]["get"]["responses"]["200"]["content"]
            .get("text/html")
            .is_some()
    );
    assert_eq!(doc["components"]["schemas"]["Money"]["type"], "string");
}

/// `LoginLink` describes a body the handler writes with `json!`: the real answer has its fields.
#[tokio::test]
async fn openapi_login_link_matches_the_real_answer() {
    let central = spawn_central(replication_config()).await;
    let doc = openapi::fetch(&central.http, &central.url).await.unwrap();
    let (status, link) = central
        .send(
            reqwest::Method::POST,
            "/dashboard/links",
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 201, "{link}");
    let schema = &doc["paths"]["/dashboard/links"]["post"]["responses"]["201"]["content"]["application/json"]
        ["schema"];
    assert_eq!(schema_properties(&doc, schema), keys(&link));
}

/// `$ref`s of a document that name no schema of its components.
fn dangling_references(doc: &serde_json::Value) -> Vec<String> {
    let text = doc.to_string();
    let prefix = "\"#/components/schemas/";
    text.match_indices(prefix)
        .filter_map(|(at, _)| {
            let name = text[at + prefix.len()..].split('"').next()?;
            doc["components"]["schemas"]
                .get(name)
                .is_none()
                .then(|| name.to_owned())
        })
        .collect()
}

#[test]
fn every_reference_resolves_and_the_limits_are_the_domain_types() {
    use pos_shared::domain::{ProductName, Quantity};
    let central = serde_json::to_value(central::openapi::api()).unwrap();
    let node = serde_json::to_value(store_node::openapi::api()).unwrap();
    assert_eq!(dangling_references(&central), Vec::<String>::new());
    assert_eq!(dangling_references(&node), Vec::<String>::new());
    let schemas = &central["components"]["schemas"];
    assert_eq!(
        schemas["NewProduct"]["properties"]["name"]["$ref"],
        "#/components/schemas/ProductName"
    );
    assert_eq!(schemas["ProductName"]["maxLength"], ProductName::MAX_CHARS);
    let schemas = &node["components"]["schemas"];
    assert_eq!(schemas["Quantity"]["maximum"], f64::from(Quantity::MAX));
    assert_eq!(schemas["NewOrder"]["properties"]["items"]["minItems"], 1);
}

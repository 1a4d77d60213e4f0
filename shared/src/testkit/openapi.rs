//! Checks of a service's OpenAPI document against the routes the service registers.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `(method, path)` pairs, methods in lower case as OpenAPI writes them.
fn pairs<'a>(
    routes: impl IntoIterator<Item = &'a (&'a str, &'a str)>,
) -> BTreeSet<(String, String)> {
    routes
        .into_iter()
        .map(|(method, path)| (method.to_ascii_lowercase(), (*path).to_owned()))
        .collect()
}

/// Every operation of the document: `(method, path) → operation`.
pub fn operations(document: &Value) -> BTreeMap<(String, String), &Value> {
    let mut out = BTreeMap::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            if METHODS.contains(&method.as_str()) {
                out.insert((method.clone(), path.clone()), operation);
            }
        }
    }
    out
}

fn has_bearer(operation: &Value) -> bool {
    operation["security"].as_array().is_some_and(|reqs| {
        reqs.iter()
            .any(|req| req.get(crate::openapi::BEARER).is_some())
    })
}

fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => out.push(target),
                    _ => refs(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// What is wrong with `document` as the description of a service that registers `registered` and
/// leaves `public` open (no bearer token); empty when nothing is.
///
/// Checks: the documented operations are exactly the registered routes; public operations carry no
/// bearer requirement and every other one does (and documents its 401); the `bearer` scheme is
/// HTTP bearer; operation ids are unique; every `{param}` of a path is a required path parameter of
/// each of its operations; every operation has a success or redirect response; every `$ref` resolves.
pub fn problems(
    document: &Value,
    registered: &[(&str, &str)],
    public: &[(&str, &str)],
) -> Vec<String> {
    let mut problems = Vec::new();
    let registered = pairs(registered);
    let public = pairs(public);
    let operations = operations(document);
    let documented: BTreeSet<(String, String)> = operations.keys().cloned().collect();
    if registered.is_empty() || documented.is_empty() {
        problems.push(format!(
            "nothing to compare: {} routes registered, {} operations documented",
            registered.len(),
            documented.len()
        ));
    }
    for (method, path) in registered.difference(&documented) {
        problems.push(format!("{method} {path} is registered but not documented"));
    }
    for (method, path) in documented.difference(&registered) {
        problems.push(format!("{method} {path} is documented but not registered"));
    }
    for (method, path) in public.difference(&registered) {
        problems.push(format!(
            "{method} {path} is listed as public but not registered"
        ));
    }

    let scheme = &document["components"]["securitySchemes"][crate::openapi::BEARER];
    if scheme["type"] != "http" || scheme["scheme"] != "bearer" {
        problems.push(format!(
            "the `{}` security scheme is not HTTP bearer: {scheme}",
            crate::openapi::BEARER
        ));
    }

    let mut operation_ids = BTreeMap::new();
    for ((method, path), operation) in &operations {
        let name = format!("{method} {path}");
        let public = public.contains(&(method.clone(), path.clone()));
        match (public, has_bearer(operation)) {
            (true, true) => problems.push(format!("{name} is public but requires a bearer token")),
            (false, false) => problems.push(format!("{name} does not require a bearer token")),
            _ => {}
        }
        if !public && operation["responses"].get("401").is_none() {
            problems.push(format!("{name} requires a token but documents no 401"));
        }
        match operation["operationId"].as_str() {
            None => problems.push(format!("{name} has no operationId")),
            Some(id) => {
                if let Some(other) = operation_ids.insert(id.to_owned(), name.clone()) {
                    problems.push(format!("{name} and {other} share operationId {id}"));
                }
            }
        }
        let responses = operation["responses"].as_object();
        if !responses.is_some_and(|r| r.keys().any(|s| s.starts_with('2') || s.starts_with('3'))) {
            problems.push(format!("{name} documents no success or redirect response"));
        }
        let parameters = operation["parameters"].as_array();
        for param in path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        {
            let declared = parameters.into_iter().flatten().any(|p| {
                p["in"] == "path"
                    && p["name"] == param
                    && p["required"] == true
                    && p["schema"].is_object()
            });
            if !declared {
                problems.push(format!(
                    "{name} does not declare its path parameter {{{param}}}"
                ));
            }
        }
    }

    let mut targets = Vec::new();
    refs(document, &mut targets);
    for target in targets {
        let resolved = target
            .strip_prefix("#/")
            .map(|pointer| document.pointer(&format!("/{pointer}")).is_some());
        if resolved != Some(true) {
            problems.push(format!("$ref {target} does not resolve"));
        }
    }
    problems
}

/// Panics with every problem [`problems`] finds.
pub fn assert_documents(document: &Value, registered: &[(&str, &str)], public: &[(&str, &str)]) {
    let problems = problems(document, registered, public);
    assert!(
        problems.is_empty(),
        "the OpenAPI document does not match the service:\n  {}",
        problems.join("\n  ")
    );
}

/// The property names of a component schema, following `allOf` and `$ref` (as `#[serde(flatten)]`
/// renders), for comparing a real answer's keys with its documented shape.
pub fn schema_properties(document: &Value, schema: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(resolved) = schema["$ref"]
        .as_str()
        .and_then(|target| target.strip_prefix('#'))
        .and_then(|pointer| document.pointer(pointer))
    {
        out.extend(schema_properties(document, resolved));
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        out.extend(schema_properties(document, part));
    }
    out.extend(
        schema["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone()),
    );
    out
}

/// The keys of the JSON object `answer`.
pub fn keys(answer: &Value) -> BTreeSet<String> {
    answer
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .collect()
}

/// The routes an app registers: the common ones (`/health`) and the service's own.
pub fn registered(service: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    crate::http::common::ROUTES
        .iter()
        .chain(service)
        .copied()
        .collect()
}

/// `GET /openapi.json` of the app at `base_url`: 200 without a token, JSON.
pub async fn fetch(http: &reqwest::Client, base_url: &str) -> anyhow::Result<Value> {
    let response = http.get(format!("{base_url}/openapi.json")).send().await?;
    anyhow::ensure!(
        response.status() == 200,
        "GET /openapi.json answered {}",
        response.status()
    );
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    anyhow::ensure!(
        content_type == "application/json",
        "content-type {content_type:?}"
    );
    Ok(response.json().await?)
}

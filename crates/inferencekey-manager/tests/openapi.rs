//! The OpenAPI document is generated from the code (`inferencekey_manager::openapi`); the
//! committed copy `src/openapi.json`, which docs and the tests that run without a Manager read,
//! must be exactly what the code makes. `INFERENCEKEY_BLESS=1` rewrites it instead.

mod common;

use std::path::PathBuf;

use common::Harness;
use serde_json::Value;

#[test]
fn committed_document_is_current() {
    let generated = inferencekey_manager::openapi::document();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/openapi.json");
    if std::env::var_os("INFERENCEKEY_BLESS").is_some() {
        std::fs::write(&path, generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "crates/inferencekey-manager/src/openapi.json is stale; regenerate it with \
         `INFERENCEKEY_BLESS=1 cargo test -p inferencekey-manager --test openapi` and commit it"
    );
}

/// The documented operations: (method, path template).
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            ops.push((method.to_uppercase(), path.clone()));
        }
    }
    ops
}

/// A template with every `{param}` filled in.
fn fill(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').expect("closed parameter") + open;
        out.push('x');
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The router's own answers for a path it has no route for, or a method a path lacks.
fn is_fallback(status: u16, body: &Value) -> bool {
    let message = body["error"]["message"].as_str().unwrap_or_default();
    (status == 404 && message.starts_with("no route for"))
        || (status == 405 && message.contains("is not supported on"))
}

/// `method` on the document's path `template` (placeholders filled), without a token: the
/// status and the JSON body (`null` when it is not JSON).
async fn call(h: &Harness, method: &str, template: &str) -> (u16, Value) {
    let url = format!("{}{}", h.url, fill(template));
    let resp = h
        .http
        .request(method.parse().unwrap(), &url)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Every documented operation is served by a route (an unauthenticated call reaches the
/// route's auth, not the router's fallback), and a documented `/api` or `/admin` path has no
/// route for a method the document does not list. Together with `utoipa_axum::routes!`, which
/// registers each such route from its operation, the document and the router cannot drift
/// (the dashboard's routes, merged beside them, are outside the document).
#[tokio::test]
async fn every_operation_has_a_route_and_every_api_route_an_operation() {
    let h = Harness::start().await;
    let doc: Value = serde_json::from_str(inferencekey_manager::openapi::document()).unwrap();
    let ops = operations(&doc);
    assert!(ops.len() >= 20, "{ops:?}");
    for (method, template) in &ops {
        let (status, body) = call(&h, method, template).await;
        assert!(
            !is_fallback(status, &body),
            "{method} {template} is documented but no route serves it ({status} {body})"
        );
        let public = template == "/api/openapi.json";
        assert_eq!(
            status,
            if public { 200 } else { 401 },
            "{method} {template} without a token: {body}"
        );
    }
    for path in doc["paths"].as_object().unwrap().keys() {
        if path.starts_with("/endpoint/") {
            continue; // the data plane forwards any method under /v1 to the engine
        }
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if ops.iter().any(|(m, p)| m == method && p == path) {
                continue;
            }
            let (status, body) = call(&h, method, path).await;
            assert!(
                status == 405 && is_fallback(status, &body),
                "{method} {path} is served ({status} {body}) but not documented"
            );
        }
    }
    h.stop().await;
}

//! The machine-readable contract: /api/v1/openapi.json covers every endpoint of docs/API.md.

use crate::both;
use crate::harness::*;

/// `(method, path)` of every endpoint named in docs/API.md, e.g. `("get", "/api/v1/conversations/{id}")`.
fn documented_endpoints() -> Vec<(String, String)> {
    let doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/API.md"));
    let mut out = Vec::new();
    for piece in doc.split('`') {
        let Some((method, rest)) = piece.split_once(' ') else {
            continue;
        };
        if !matches!(method, "GET" | "POST" | "PUT" | "PATCH" | "DELETE")
            || !rest.starts_with("/api/")
        {
            continue;
        }
        let path = rest.split(['?', ' ']).next().unwrap_or(rest).to_owned();
        if path == "/api/v1/openapi.json" {
            continue; // the document itself (fetched by this test) need not describe itself
        }
        let entry = (method.to_lowercase(), path);
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out
}

both!(openapi_covers_api_md, openapi_body);
async fn openapi_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let r = s.get("/api/v1/openapi.json", None).await;
    let doc = r.expect(200);
    let version = doc["openapi"].as_str().expect("an openapi field");
    assert!(
        version.starts_with("3."),
        "OpenAPI 3.x expected, got {version}"
    );
    let paths = doc["paths"].as_object().expect("paths");
    let endpoints = documented_endpoints();
    assert!(
        endpoints.len() >= 20,
        "docs/API.md parsing found too few endpoints: {endpoints:?}"
    );
    let missing: Vec<String> = endpoints
        .iter()
        .filter(|(method, path)| paths.get(path).and_then(|p| p.get(method)).is_none())
        .map(|(m, p)| format!("{} {p}", m.to_uppercase()))
        .collect();
    assert!(
        missing.is_empty(),
        "documented in docs/API.md but missing from openapi.json: {missing:?}"
    );
    // Error responses point at the shared error schema.
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    assert_eq!(s.get("/healthz", None).await.text, "ok");
}

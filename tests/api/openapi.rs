//! The OpenAPI document and the routes agree, and every documented route answers.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};

use crate::helpers::{Backend, TestApp, all_routes};

/// The document as the handlers' types generate it, for the built-in instruments.
fn generated() -> serde_json::Value {
    use utoipa::OpenApi;
    let mut doc = api::openapi::assemble([
        auth_fn::Api::openapi(),
        account_fn::Api::openapi(),
        orders_fn::Api::openapi(),
        reports_fn::Api::openapi(),
        market_fn::Api::openapi(),
        research_fn::Api::openapi(),
        admin_fn::Api::openapi(),
        core_service::Api::openapi(),
    ]);
    api::openapi::for_catalog(&mut doc, &domain::InstrumentCatalog::builtin());
    doc
}

/// `functions/openapi.json` is what the types generate (`STRATUS_BLESS=1` rewrites it).
#[test]
fn the_committed_document_is_the_generated_one() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../functions/openapi.json");
    let generated = generated();
    let text = format!("{}\n", serde_json::to_string_pretty(&generated).unwrap());
    if std::env::var_os("STRATUS_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == text,
        "functions/openapi.json is not what the handlers' types generate: run STRATUS_BLESS=1 cargo test -p stratus --test api openapi and review the diff"
    );
}

#[test]
fn the_document_lists_exactly_the_routes() {
    let doc = api::openapi::document(&domain::InstrumentCatalog::builtin());
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = api::openapi::operations(&doc)
        .into_iter()
        .map(|(m, p)| (m.to_string(), p))
        .collect();
    let mut routed: BTreeSet<(String, String)> = all_routes()
        .table()
        .iter()
        .map(|(m, p)| (m.to_string(), (*p).to_owned()))
        .collect();
    routed.insert(("GET".into(), "/openapi.json".into()));
    // Served by the streaming core (in `stratus up` and its container).
    routed.insert(("GET".into(), "/health".into()));
    routed.insert(("GET".into(), "/ws".into()));
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from functions/openapi.json: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );
    // Every operation documents its responses and every $ref resolves.
    let text = doc.to_string();
    for (_, path) in &documented {
        for (method, op) in doc["paths"][path].as_object().unwrap() {
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
            assert!(op["operationId"].is_string(), "{method} {path}");
        }
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for piece in text.split("#/components/schemas/").skip(1) {
        let name: String = piece.chars().take_while(|c| c.is_alphanumeric()).collect();
        assert!(schemas.contains_key(&name), "unresolved $ref {name}");
    }
}

#[tokio::test]
async fn every_documented_route_is_served_and_the_document_too() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let r = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        api::openapi::document(&domain::InstrumentCatalog::builtin())
    );
    let ada = app.user("ada@example.com").await;
    for (method, path) in api::openapi::operations(&api::openapi::document(
        &domain::InstrumentCatalog::builtin(),
    )) {
        if path == "/health" || path == "/ws" {
            continue; // the core's routes (tested with the core)
        }
        let concrete = path
            .replace("{account_id}", "00000000-0000-4000-8000-000000000000")
            .replace("{order_id}", "00000000-0000-4000-8000-000000000000")
            .replace("{connection_id}", "c")
            .replace("{key_id}", "k")
            .replace("{symbol}", "ES")
            .replace("{code}", "XNYS")
            .replace("{name}", "sma_cross")
            .replace("{job_id}", "00000000-0000-4000-8000-000000000000")
            .replace("{user_id}", "00000000-0000-4000-8000-000000000000")
            .replace("{strategy_id}", "00000000-0000-4000-8000-000000000000")
            .replace("{module_id}", "00000000-0000-4000-8000-000000000000");
        let body = matches!(method, Method::POST | Method::PUT | Method::PATCH)
            .then(|| serde_json::json!({}));
        let r = app
            .call(method.clone(), &concrete, Some(&ada.token), body)
            .await;
        assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_ne!(
            r.body["detail"], "no such route",
            "{method} {path} is not routed"
        );
    }
}

//! The OpenAPI 3.1 document, generated from the handlers' request and response types
//! (`utoipa`): each function declares its operations (`#[utoipa::path]`) and types
//! (`ToSchema`, the validating inputs of [`crate::input`]); [`assemble`] joins them and
//! adds what every operation shares (authentication, the problem answers a request can
//! get); [`for_catalog`] states the instruments this deployment trades (symbols, and
//! each instrument's tick and lot grid in the order schema).
//!
//! `functions/openapi.json` is the document for the built-in instruments, committed so
//! that the infrastructure checks can read it; a test fails when it differs from the
//! generated one (`STRATUS_BLESS=1` rewrites it). Every function serves it at
//! `/openapi.json`, adjusted to its own catalog.

use std::sync::OnceLock;

use axum::Json;
use axum::extract::State;
use axum::http::Method;
use domain::InstrumentCatalog;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::input::pattern;
use app::state::AppState;

const DOCUMENT: &str = include_str!("../../openapi.json");

/// An RFC 9457 problem, as every error answer carries it (see [`crate::error`]).
#[derive(Debug, ToSchema)]
#[schema(as = Problem)]
#[allow(dead_code)] // a schema only: `ApiError` writes the body
pub struct ProblemSchema {
    /// `/problems/<slug>`: what kind of problem (`validation`, `insufficient-buying-power`, …).
    #[schema(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: String,
    /// Each invalid field and what is wrong with it.
    #[schema(nullable = false)]
    errors: Option<Vec<FieldErrorSchema>>,
}

/// One field's problem.
#[derive(Debug, ToSchema)]
#[schema(as = FieldError)]
#[allow(dead_code)]
pub struct FieldErrorSchema {
    field: String,
    message: String,
}

/// What every function shares, for [`assemble`]: `/openapi.json` and the problem schema.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(paths(serve), components(schemas(ProblemSchema, FieldErrorSchema)))]
pub struct SharedApi;

fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

/// Joins the functions' parts into the document: info, servers, security, and the answers
/// every operation can give — 503 (a backend is unavailable); 401 and 404 when it needs
/// authentication; 400 when it reads a query string; 400, 413, 415 and 422 when it takes a
/// JSON body.
pub fn assemble(parts: impl IntoIterator<Item = utoipa::openapi::OpenApi>) -> Value {
    let mut merged = <SharedApi as utoipa::OpenApi>::openapi();
    for part in parts {
        merged.merge(part);
    }
    let mut doc = serde_json::to_value(&merged).unwrap_or_else(|_| json!({}));
    doc["openapi"] = json!("3.1.0");
    doc["info"] = json!({
        "title": "Stratus",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "The Stratus trading platform's HTTP API: auth, accounts, orders and reports. Decimals are strings (exact), in requests and answers; times are RFC 3339 UTC; errors are RFC 9457 problem documents naming each invalid field: 422 for a request that breaks a rule stated here, 409 for a valid request the account's state refuses (buying power, holdings, limits, halts). A user only ever sees their own data: another user's ids answer 404.",
        "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
    });
    doc["servers"] = json!([{"url": "http://127.0.0.1:8080", "description": "stratus up"}]);
    doc["security"] = json!([{"bearerAuth": []}, {"apiKey": []}]);
    doc["components"]["securitySchemes"] = json!({
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "An access token from /auth/login (HS256, 15 minutes)."},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key", "description": "An API key from /auth/api-keys (also accepted as `Authorization: ApiKey <key>` or `Authorization: Bearer <key>`)."},
    });
    let mut tags: Vec<String> = Vec::new();
    if let Some(paths) = doc["paths"].as_object_mut() {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for operation in item.values_mut() {
                finish_operation(operation);
                for tag in operation["tags"].as_array().into_iter().flatten() {
                    if let Some(tag) = tag.as_str() {
                        if !tags.iter().any(|t| t == tag) {
                            tags.push(tag.to_owned());
                        }
                    }
                }
            }
        }
    }
    doc["tags"] = json!(tags.iter().map(|t| json!({"name": t})).collect::<Vec<_>>());
    doc
}

fn finish_operation(operation: &mut Value) {
    // `security(())` in a path attribute is an empty requirement: no authentication.
    let public = operation["security"].as_array().is_some_and(|s| {
        s.iter()
            .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
    });
    if public {
        operation["security"] = json!([]);
    }
    let has_body = operation.get("requestBody").is_some();
    let has_query = operation["parameters"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
    let responses = &mut operation["responses"];
    let mut add = |code: &str, description: &str| {
        if responses.get(code).is_none() {
            responses[code] = problem(description);
        }
    };
    if !public {
        add(
            "401",
            "Not authenticated: no credential, or an invalid, expired or revoked one",
        );
        add("404", "Unknown, or not the caller's");
    }
    if has_query {
        add("400", "A query parameter that cannot be used (named)");
    }
    if has_body {
        add("400", "Malformed JSON");
        add("413", "Body too large");
        add("415", "Not JSON");
        add("422", "Invalid fields (each named)");
    }
    add(
        "503",
        "A backend is unavailable; retry after Retry-After seconds",
    );
}

/// A pattern matching `symbol` with its letters in either case (as symbols are read).
fn symbol_alternative(symbol: &str) -> String {
    symbol
        .chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
            } else if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// States the instruments of `catalog` in `doc`: the `InstrumentSymbol` schema (any of
/// them, letters in either case) and the `PlaceOrder` schema (one alternative per
/// instrument and order type, with the instrument's lot grid for the quantity and its
/// tick grid for the prices).
pub fn for_catalog(doc: &mut Value, catalog: &InstrumentCatalog) {
    let symbols: Vec<String> = catalog
        .iter()
        .map(|i| symbol_alternative(i.symbol().as_str()))
        .collect();
    doc["components"]["schemas"]["InstrumentSymbol"] = json!({
        "type": "string",
        "pattern": format!("^({})$", symbols.join("|")),
        "description": "A symbol traded here (GET /instruments), in either case.",
    });
    let mut alternatives = Vec::new();
    for instrument in catalog.iter() {
        let symbol = instrument.symbol();
        let decimal = |step: domain::Decimal| {
            json!({
                "type": "string",
                "maxLength": crate::input::DECIMAL_TEXT_MAX,
                "pattern": pattern::positive_decimal(crate::input::INTEGER_DIGITS, &pattern::grid(step)),
            })
        };
        let quantity = decimal(instrument.lot_size());
        let price = decimal(instrument.tick_size());
        for kind in ["market", "limit", "stop", "stop_limit"] {
            let (limit, stop) = match kind {
                "market" => (false, false),
                "limit" => (true, false),
                "stop" => (false, true),
                _ => (true, true),
            };
            let field = |needed: bool| {
                if needed {
                    price.clone()
                } else {
                    json!({"type": "null"})
                }
            };
            let tif: Vec<&str> = if kind == "market" {
                vec!["ioc", "fok"]
            } else {
                vec!["gtc", "ioc", "fok", "day"]
            };
            let mut required = vec!["symbol", "side", "type", "quantity"];
            if limit {
                required.push("limit_price");
            }
            if stop {
                required.push("stop_price");
            }
            alternatives.push(json!({
                "type": "object",
                "title": format!("{symbol} {kind}"),
                "properties": {
                    "symbol": {"type": "string", "pattern": format!("^{}$", symbol_alternative(symbol.as_str()))},
                    "side": {"type": "string", "enum": ["buy", "sell"]},
                    "type": {"type": "string", "enum": [kind]},
                    "quantity": quantity,
                    "limit_price": field(limit),
                    "stop_price": field(stop),
                    "time_in_force": {"oneOf": [{"type": "string", "enum": tif}, {"type": "null"}]},
                    "client_order_id": {"oneOf": [{"$ref": "#/components/schemas/ClientOrderIdInput"}, {"type": "null"}]},
                },
                "required": required,
                "additionalProperties": false,
            }));
        }
    }
    doc["components"]["schemas"]["PlaceOrder"] = json!({
        "description": "An order: one alternative per instrument and type. The quantity is on the instrument's lot grid and the prices on its tick grid (GET /instruments); time in force defaults to gtc (ioc for market orders, which never rest).",
        "oneOf": alternatives,
    });
}

/// The document for `catalog`.
pub fn document(catalog: &InstrumentCatalog) -> Value {
    let mut doc: Value = serde_json::from_str(DOCUMENT).unwrap_or_else(|e| {
        json!({ "openapi": "3.1.0", "info": { "title": "Stratus", "version": "0", "description": format!("openapi.json is invalid: {e}") }, "paths": {} })
    });
    for_catalog(&mut doc, catalog);
    doc
}

/// `GET /openapi.json`: the document for this process's instruments (built once).
#[utoipa::path(get, path = "/openapi.json", tag = "meta", operation_id = "openapi",
    summary = "This document", security(()),
    responses((status = 200, description = "OpenAPI 3.1", body = Object)))]
pub async fn serve(State(state): State<AppState>) -> Json<Value> {
    static DOC: OnceLock<Value> = OnceLock::new();
    Json(DOC.get_or_init(|| document(&state.instruments)).clone())
}

/// `(method, path)` of every operation in the document.
pub fn operations(document: &Value) -> Vec<(Method, String)> {
    let mut out = Vec::new();
    if let Some(paths) = document["paths"].as_object() {
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for method in item.keys() {
                if let Ok(m) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) {
                    if matches!(
                        m,
                        Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE
                    ) {
                        out.push((m, path.clone()));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_is_valid_json_of_openapi_3_1() {
        let doc: serde_json::Value =
            serde_json::from_str(super::DOCUMENT).expect("openapi.json parses");
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(!super::operations(&doc).is_empty());
    }

    #[test]
    fn symbols_match_in_either_case_and_nothing_else() {
        let p = format!("^{}$", super::symbol_alternative("BTC-USD"));
        let re = regex_lite::Regex::new(&p).expect("pattern");
        assert!(re.is_match("BTC-USD") && re.is_match("btc-usd") && re.is_match("Btc-Usd"));
        assert!(!re.is_match("BTCXUSD") && !re.is_match("BTC-USDT"));
    }
}

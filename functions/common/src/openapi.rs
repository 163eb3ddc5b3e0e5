//! The OpenAPI 3.1 document of every route of every function (`functions/openapi.json`,
//! written by hand and reviewed like code), served at `/openapi.json` by each function.
//! The api-tests package holds it against the functions' route tables: a route missing
//! from either side fails the build's tests.

use axum::Json;
use axum::http::Method;

const DOCUMENT: &str = include_str!("../../openapi.json");

/// The document, parsed.
pub fn document() -> serde_json::Value {
    serde_json::from_str(DOCUMENT).unwrap_or_else(|e| {
        serde_json::json!({ "openapi": "3.1.0", "info": { "title": "Stratus", "version": "0", "description": format!("openapi.json is invalid: {e}") }, "paths": {} })
    })
}

/// `GET /openapi.json`.
pub async fn serve() -> Json<serde_json::Value> {
    Json(document())
}

/// `(method, path)` of every operation in the document.
pub fn operations(document: &serde_json::Value) -> Vec<(Method, String)> {
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
}

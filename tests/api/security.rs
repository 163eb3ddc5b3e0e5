//! Security: another user's ids are 404 and leak nothing, forged or stale tokens are
//! 401 (so is a correctly signed token of a user that does not exist), fields a client
//! must not set are refused, bodies are JSON objects (never arrays of fields), oversized
//! bodies are 413, and no malformed input makes anything answer 5xx.

use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::api_tests;
use crate::helpers::{Backend, JWT_SECRET, TestApp, all_routes};

async fn another_users_ids_are_not_found_on_every_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let eve = app.user("eve@example.com").await;
    let account = app.funded_account(&ada, "10000").await;
    let order = app
        .post(
            &format!("/accounts/{account}/orders"),
            &ada.token,
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "limit_price": "100.13"}),
        )
        .await;
    let order = order.body["id"].as_str().unwrap().to_owned();
    let connection = app
        .post(
            &format!("/accounts/{account}/broker-connections"),
            &ada.token,
            json!({"broker": "coinbase", "credentials": {"k": "v"}}),
        )
        .await;
    let connection = connection.body["id"].as_str().unwrap().to_owned();
    let strategy = app
        .post(
            &format!("/accounts/{account}/strategies"),
            &ada.token,
            json!({"strategy": "sma_cross", "symbols": ["AAPL"], "timeframes": ["1m"], "params": {"period": 5}}),
        )
        .await;
    assert_eq!(strategy.status, StatusCode::CREATED, "{}", strategy.text);
    let strategy = strategy.body["id"].as_str().unwrap().to_owned();
    let key = app
        .post("/auth/api-keys", &ada.token, json!({"name": "bot"}))
        .await;
    let key_id = key.body["key_id"].as_str().unwrap().to_owned();
    // Eve has her own account, so "no accounts at all" cannot explain a 404.
    app.funded_account(&eve, "10").await;

    let bodies = |path: &str, method: &Method| -> Option<Value> {
        match (method.as_str(), path) {
            ("POST", p) if p.ends_with("/orders") => Some(
                json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "limit_price": "1"}),
            ),
            ("POST", p) if p.ends_with("/deposits") || p.ends_with("/withdrawals") => {
                Some(json!({"amount": "1"}))
            }
            ("POST", p) if p.ends_with("/broker-connections") => {
                Some(json!({"broker": "alpaca", "credentials": {"k": "v"}}))
            }
            ("PUT", p) if p.ends_with("/risk-limits") => Some(json!({})),
            ("POST", p) if p.ends_with("/strategies") => {
                Some(json!({"strategy": "sma_cross", "symbols": ["AAPL"], "timeframes": ["1m"]}))
            }
            ("PATCH", _) => Some(json!({"quantity": "2"})),
            ("POST", _) | ("PUT", _) => Some(json!({})),
            _ => None,
        }
    };
    let mut checked = 0;
    for (method, template) in all_routes().table() {
        let uses_foreign_id = template.contains("{account_id}")
            || template.contains("{order_id}")
            || template.contains("{strategy_id}")
            || template.contains("{key_id}");
        if !uses_foreign_id {
            continue;
        }
        let path = template
            .replace("{account_id}", &account)
            .replace("{order_id}", &order)
            .replace("{connection_id}", &connection)
            .replace("{strategy_id}", &strategy)
            .replace("{key_id}", &key_id);
        let r = app
            .call(
                method.clone(),
                &path,
                Some(&eve.token),
                bodies(&path, method),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            r.text
        );
        for secret in [&account, &order, &connection, &strategy] {
            if !path.contains(secret.as_str()) {
                assert!(
                    !r.text.contains(secret.as_str()),
                    "{method} {path} leaked {secret}"
                );
            }
        }
        assert!(
            !r.text.contains("10000") && !r.text.contains("100.13"),
            "{method} {path}: {}",
            r.text
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} routes checked");
    // And Ada's data is untouched by all that.
    let acct = app.get(&format!("/accounts/{account}"), &ada.token).await;
    assert_eq!(acct.body["cash"], "10000");
    let o = app.get(&format!("/orders/{order}"), &ada.token).await;
    assert_eq!(o.body["quantity"], "1");
    let keys = app.get("/auth/api-keys", &ada.token).await;
    assert_eq!(keys.body["api_keys"][0]["revoked"], false);
    let s = app
        .get(&format!("/strategies/{strategy}"), &ada.token)
        .await;
    assert_eq!(
        s.body["status"], "running",
        "Eve's pause and stop did nothing"
    );
}

fn sign(claims: &Value, key: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(key),
    )
    .unwrap()
}

async fn forged_expired_and_misdirected_tokens_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let now = app.now().nanos() / 1_000_000_000;
    let claims = |f: &dyn Fn(&mut Value)| {
        let mut c = json!({
            "sub": ada.user_id, "role": "admin", "iss": "stratus", "aud": "stratus-api",
            "iat": now, "nbf": now, "exp": now + 600, "jti": "x"
        });
        f(&mut c);
        c
    };
    let good = sign(&claims(&|_| {}), JWT_SECRET.as_bytes());
    assert_eq!(
        app.get("/auth/me", &good).await.status,
        StatusCode::OK,
        "the baseline works"
    );
    let none = {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims(&|_| {}).to_string());
        format!("{header}.{body}.")
    };
    let tampered = {
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        let forged = URL_SAFE_NO_PAD.encode(
            claims(&|c| c["sub"] = json!("00000000-0000-4000-8000-000000000001")).to_string(),
        );
        parts[1] = forged;
        parts.join(".")
    };
    let flipped = {
        let mut t = good.clone();
        let last = t.pop().unwrap();
        t.push(if last == 'A' { 'B' } else { 'A' });
        t
    };
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims(&|_| {}),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let cases = [
        ("alg none", none),
        (
            "wrong key",
            sign(
                &claims(&|_| {}),
                b"another-secret-of-at-least-thirty-two-bytes",
            ),
        ),
        (
            "expired",
            sign(
                &claims(&|c| c["exp"] = json!(now - 60)),
                JWT_SECRET.as_bytes(),
            ),
        ),
        (
            "nbf in the future",
            sign(
                &claims(&|c| c["nbf"] = json!(now + 300)),
                JWT_SECRET.as_bytes(),
            ),
        ),
        (
            "wrong audience",
            sign(
                &claims(&|c| c["aud"] = json!("someone-else")),
                JWT_SECRET.as_bytes(),
            ),
        ),
        (
            "wrong issuer",
            sign(
                &claims(&|c| c["iss"] = json!("evil")),
                JWT_SECRET.as_bytes(),
            ),
        ),
        (
            "no exp",
            sign(
                &claims(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
                JWT_SECRET.as_bytes(),
            ),
        ),
        (
            "no nbf",
            sign(
                &claims(&|c| {
                    c.as_object_mut().unwrap().remove("nbf");
                }),
                JWT_SECRET.as_bytes(),
            ),
        ),
        ("tampered payload", tampered),
        ("flipped signature", flipped),
        ("another algorithm", hs512),
        ("garbage", "not.a.token".to_owned()),
        ("empty", String::new()),
    ];
    for (what, token) in cases {
        let r = app.get("/auth/me", &token).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.text);
        assert_eq!(
            r.body["detail"], "the access token is invalid or expired",
            "{what}: the same answer for every forgery"
        );
    }
    let r = app.call(Method::GET, "/auth/me", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .send(
            axum::http::Request::get("/auth/me")
                .header("authorization", "Basic YTpi")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn fields_a_client_must_not_set_are_refused_and_never_applied(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let eve = app.user("eve@example.com").await;
    let account = app.funded_account(&ada, "1000").await;
    let orders = format!("/accounts/{account}/orders");
    let base = json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "limit_price": "10"});
    for (field, value) in [
        ("user_id", json!(eve.user_id)),
        ("account_id", json!("00000000-0000-4000-8000-000000000001")),
        ("status", json!("filled")),
        ("filled_qty", json!("1")),
        ("filled_quantity", json!("1")),
        ("id", json!("00000000-0000-4000-8000-000000000002")),
        ("created_at", json!("2020-01-01T00:00:00Z")),
    ] {
        let mut body = base.clone();
        body[field] = value;
        let r = app.post(&orders, &ada.token, body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {}",
            r.text
        );
        assert_eq!(r.body["errors"][0]["field"], field);
    }
    assert!(
        app.get(&orders, &ada.token).await.body["orders"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    for (path, body, field) in [
        (
            format!("/accounts/{account}/deposits"),
            json!({"amount": "1", "balance_after": "1000000"}),
            "balance_after",
        ),
        (
            "/accounts".to_owned(),
            json!({"name": "x", "user_id": eve.user_id}),
            "user_id",
        ),
        (
            format!("/accounts/{account}/risk-limits"),
            json!({"halted": false}),
            "halted",
        ),
        (
            "/auth/api-keys".to_owned(),
            json!({"name": "x", "user_id": eve.user_id}),
            "user_id",
        ),
    ] {
        let r = if path.ends_with("risk-limits") {
            app.put(&path, &ada.token, body).await
        } else {
            app.post(&path, &ada.token, body).await
        };
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {}",
            r.text
        );
        assert_eq!(r.body["errors"][0]["field"], field, "{path}");
    }
    assert_eq!(
        app.get(&format!("/accounts/{account}"), &ada.token)
            .await
            .body["cash"],
        "1000"
    );
    assert_eq!(
        app.get("/accounts", &eve.token).await.body["accounts"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

async fn bodies_over_the_limit_are_413(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let big = json!({"name": "x".repeat(100 * 1024)});
    let r = app.post("/accounts", &ada.token, big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert_eq!(r.body["type"], "/problems/payload-too-large");
    let r = app
        .post_public(
            "/auth/register",
            json!({"email": "a@b.co", "password": "p".repeat(200 * 1024)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
}

async fn no_malformed_input_gets_a_5xx(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let account = app.funded_account(&ada, "100").await;
    let junk: Vec<&[u8]> = vec![
        b"",
        b"null",
        b"[]",
        b"\"str\"",
        b"{",
        b"{}",
        b"{\"a\":",
        b"\xff\xfe",
        b"{\"quantity\":1e999}",
        b"{\"name\":null}",
        b"{\"amount\":\"NaN\"}",
        b"{\"amount\":\"1e-99999\"}",
        b"{\"symbol\":{}}",
        b"{\"refresh_token\":[]}",
        b"{\"email\":\"a@b.co\",\"password\":123}",
        b"{\"credentials\":{\"k\":\"\"}}",
    ];
    let ids = [
        "00000000-0000-0000-0000-000000000000",
        "not-an-id",
        "%00",
        "..",
        &account,
    ];
    let mut calls = 0;
    for (method, template) in all_routes().table() {
        for id in ids {
            let path = template
                .replace("{account_id}", id)
                .replace("{order_id}", id)
                .replace("{connection_id}", id)
                .replace("{strategy_id}", id)
                .replace("{key_id}", id)
                .replace("{user_id}", id)
                .replace("{symbol}", id)
                .replace("{code}", id)
                .replace("{name}", id)
                .replace("{job_id}", id);
            let bodies: Vec<Option<&[u8]>> = if *method == Method::GET || *method == Method::DELETE
            {
                vec![None]
            } else {
                junk.iter().map(|b| Some(*b)).collect()
            };
            for body in bodies {
                let mut builder = axum::http::Request::builder()
                    .method(method.clone())
                    .uri(&path)
                    .header("authorization", format!("Bearer {}", ada.token));
                if body.is_some() {
                    builder = builder.header("content-type", "application/json");
                }
                let request = builder
                    .body(axum::body::Body::from(body.unwrap_or_default().to_vec()))
                    .unwrap();
                let r = app.send(request).await;
                assert!(
                    r.status.is_client_error() || r.status.is_success(),
                    "{method} {path} {body:?}: {} {}",
                    r.status,
                    r.text
                );
                calls += 1;
            }
        }
    }
    for query in [
        "?limit=-1",
        "?limit=99999999999999999999",
        "?cursor=%FF",
        "?from=2026-02-30",
        "?status[]=x",
        "?symbol=AAPL&symbol=MSFT",
    ] {
        for path in [
            format!("/accounts/{account}/orders"),
            format!("/accounts/{account}/reports/performance"),
            format!("/accounts/{account}/ledger"),
        ] {
            let r = app.get(&format!("{path}{query}"), &ada.token).await;
            assert!(
                r.status.is_client_error() || r.status.is_success(),
                "{path}{query}: {} {}",
                r.status,
                r.text
            );
            calls += 1;
        }
    }
    assert!(calls > 300, "{calls}");
    // Unknown routes and methods are JSON problems too.
    let r = app.get("/nowhere", &ada.token).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["type"], "/problems/not-found");
    let r = app
        .call(Method::PUT, "/auth/login", None, Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.body["type"], "/problems/method-not-allowed");
}

/// A token signed with the right key, for a user id no one has (deleted, or invented by
/// whoever holds the key): refused on every authenticated route, not just `/auth/me`.
async fn a_signed_token_of_a_user_that_does_not_exist_is_refused_everywhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let account = app.funded_account(&ada, "100").await;
    let now = app.now().nanos() / 1_000_000_000;
    let ghost = sign(
        &json!({
            "sub": "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab", "role": "admin", "iss": "stratus",
            "aud": "stratus-api", "iat": now, "nbf": now, "exp": now + 600, "jti": "g"
        }),
        JWT_SECRET.as_bytes(),
    );
    let mut checked = 0;
    for (method, template) in all_routes().table() {
        if template.starts_with("/auth/register")
            || template.starts_with("/auth/login")
            || template.starts_with("/auth/refresh")
            || template.starts_with("/auth/logout")
            || *template == "/instruments"
        {
            continue;
        }
        let path = template
            .replace("{account_id}", &account)
            .replace("{order_id}", &account)
            .replace("{connection_id}", "c")
            .replace("{strategy_id}", &account)
            .replace("{key_id}", "k")
            .replace("{user_id}", &ada.user_id)
            .replace("{symbol}", "ES")
            .replace("{code}", "XNYS")
            .replace("{name}", "sma_cross")
            .replace("{job_id}", &account);
        let body = (*method != Method::GET && *method != Method::DELETE).then(|| json!({}));
        let r = app.call(method.clone(), &path, Some(&ghost), body).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {}",
            r.text
        );
        checked += 1;
    }
    assert!(checked > 25, "{checked}");
}

/// serde reads a struct from an array of its fields too; a request body is an object.
async fn bodies_are_json_objects_never_arrays_of_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let account = app.funded_account(&ada, "1000").await;
    let order = app
        .post(
            &format!("/accounts/{account}/orders"),
            &ada.token,
            json!(["AAPL", "buy", "limit", "1", "1.00", null, null, "x"]),
        )
        .await;
    assert_eq!(
        order.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        order.text
    );
    assert_eq!(order.body["errors"][0]["field"], "body");
    assert!(!order.text.contains("PlaceBody"), "{}", order.text);
    let orders = app
        .get(&format!("/accounts/{account}/orders"), &ada.token)
        .await;
    assert_eq!(orders.body["orders"], json!([]), "nothing was placed");

    let limits = format!("/accounts/{account}/risk-limits");
    let set = app
        .put(&limits, &ada.token, json!({"max_order_notional": "500"}))
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    let cleared = app.put(&limits, &ada.token, json!([null, null])).await;
    assert_eq!(
        cleared.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        cleared.text
    );
    let now = app.get(&limits, &ada.token).await;
    assert_eq!(
        now.body["max_order_notional"], "500",
        "the limits are unchanged"
    );
    // Messages about a wrong value never name a Rust type either.
    let r = app
        .post(
            &format!("/accounts/{account}/orders"),
            &ada.token,
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": {"n": 1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        !r.text.contains("struct") && !r.text.contains("Input"),
        "{}",
        r.text
    );
}

/// A timeframe ending in a multi-byte character once panicked the handler (a 500).
async fn timeframes_of_any_text_are_422_not_500(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let account = app.funded_account(&ada, "1000").await;
    for timeframe in ["1É", "É", "5💥", "１m"] {
        let r = app
            .post(
                &format!("/accounts/{account}/strategies"),
                &ada.token,
                json!({"strategy": "sma_cross", "symbols": ["AAPL"], "timeframes": [timeframe]}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{timeframe}: {}",
            r.text
        );
        assert_eq!(r.body["errors"][0]["field"], "timeframes.0", "{timeframe}");
    }
}

api_tests!(
    a_signed_token_of_a_user_that_does_not_exist_is_refused_everywhere,
    bodies_are_json_objects_never_arrays_of_fields,
    timeframes_of_any_text_are_422_not_500,
    another_users_ids_are_not_found_on_every_route,
    forged_expired_and_misdirected_tokens_are_refused,
    fields_a_client_must_not_set_are_refused_and_never_applied,
    bodies_over_the_limit_are_413,
    no_malformed_input_gets_a_5xx,
);

//! Users' strategy modules: uploaded (checked whole, stored all or nothing, idempotent),
//! listed, read and deleted by their owner only; listed in the owner's catalog; deployed,
//! backtested and optimised like a built-in by their owner only; a module that faults in
//! the core stops its deployment with the reason. The modules are hand-written WAT
//! implementing the ABI (`crates/engine/src/wasm/ABI.md`).

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::api_tests;
use crate::helpers::{Backend, Reply, Session, TestApp};
use crate::research::{finished, import_orcl};

const WASM: &str = "application/wasm";

/// A module implementing the ABI: `on_candle` is its candle callback's body, `imports`
/// and `items` extra declarations. It declares one integer parameter, `period` (1..=100).
fn module(name: &str, imports: &str, on_candle: &str, items: &str) -> Vec<u8> {
    let text = format!(
        r#"(module
  {imports}
  (memory (export "memory") 1)
  (global $bought (mut i32) (i32.const 0))
  (func (export "stratus_alloc") (param i32) (result i32) (i32.const 4096))
  (func (export "stratus_init"))
  (func (export "stratus_on_candle") (param $symbol i32) (param i64 i64 f64 f64 f64 f64 f64) {on_candle})
  ;; The state: whether it has bought, one byte at 512.
  (func (export "stratus_snapshot") (result i64)
    (i32.store8 (i32.const 512) (global.get $bought))
    (i64.or (i64.shl (i64.const 1) (i64.const 32)) (i64.const 512)))
  (func (export "stratus_restore") (param $at i32) (param i32)
    (global.set $bought (i32.load8_u (local.get $at))))
  {items}
  (@custom "stratus.strategy" "{{\"abi\": 1, \"name\": \"{name}\", \"summary\": \"{name}, a test module\", \"params\": {{\"type\": \"object\", \"properties\": {{\"period\": {{\"type\": \"integer\", \"minimum\": 1, \"maximum\": 100, \"default\": 5, \"description\": \"unused\"}}}}}}}}")
)"#
    );
    wat::parse_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Buys one unit at market on its first candle, then holds.
pub(crate) fn buy_once() -> Vec<u8> {
    module(
        "Buy once",
        r#"(import "stratus" "submit" (func $submit (param i32)))"#,
        r#"
    (if (i32.eqz (global.get $bought))
      (then
        (global.set $bought (i32.const 1))
        ;; An order at 256: the candle's symbol, buy, market, GTC, quantity 1 (scale 0).
        (i32.store (i32.const 256) (local.get $symbol))
        (i32.store (i32.const 260) (i32.const 0))
        (i32.store (i32.const 264) (i32.const 0))
        (i32.store (i32.const 268) (i32.const 0))
        (i64.store (i32.const 272) (i64.const 1))
        (i32.store (i32.const 280) (i32.const 0))
        (i32.store (i32.const 284) (i32.const 0))
        (call $submit (i32.const 256))))"#,
        "",
    )
}

/// Traps on its first candle.
fn trapping() -> Vec<u8> {
    module("Trap", "", "unreachable", "")
}

async fn upload(app: &TestApp, who: &Session, bytes: Vec<u8>) -> Reply {
    app.post_bytes("/strategy-modules", &who.token, Some(WASM), bytes)
        .await
}

fn field_of(r: &Reply) -> &str {
    r.body["errors"][0]["field"].as_str().unwrap_or("")
}

async fn modules_are_uploaded_listed_read_and_deleted_by_their_owner_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let bytes = buy_once();
    let r = upload(&app, &ada, bytes.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let name = format!("wasm:{id}");
    assert_eq!(
        r.headers["location"].to_str().unwrap(),
        format!("/strategy-modules/{id}")
    );
    assert_eq!(r.body["strategy"], name.as_str());
    assert_eq!(r.body["name"], "Buy once");
    assert_eq!(r.body["abi_version"], 1);
    assert_eq!(r.body["size"], bytes.len());
    assert_eq!(r.body["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        r.body["params_schema"]["properties"]["period"]["maximum"],
        100
    );
    // The same bytes again: the module already stored.
    let again = upload(&app, &ada, bytes.clone()).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["id"], id.as_str());

    let list = app.get("/strategy-modules", &ada.token).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.body["modules"].as_array().unwrap().len(), 1);
    let one = app
        .get(&format!("/strategy-modules/{id}"), &ada.token)
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_eq!(one.body, r.body);

    // The owner's catalog lists it after the built-ins; nobody else's does.
    let catalog = app.get("/catalog/strategies", &ada.token).await;
    assert_eq!(catalog.status, StatusCode::OK, "{}", catalog.text);
    let strategies = catalog.body["strategies"].as_array().unwrap();
    assert_eq!(strategies.len(), engine::strategy::builtin::NAMES.len() + 1);
    let last = strategies.last().unwrap();
    assert_eq!(
        (&last["name"], &last["display_name"], &last["kind"]),
        (&json!(name), &json!("Buy once"), &json!("module"))
    );
    assert_eq!(last["params_schema"], r.body["params_schema"]);
    assert_eq!(strategies[0]["kind"], "builtin");
    let entry = app
        .get(&format!("/catalog/strategies/{name}"), &ada.token)
        .await;
    assert_eq!(entry.status, StatusCode::OK, "{}", entry.text);
    assert_eq!(entry.body["summary"], "Buy once, a test module");

    // Bob sees none of it: the module, its catalog entry, its deletion are all a 404.
    let theirs = app.get("/strategy-modules", &bob.token).await;
    assert_eq!(theirs.body["modules"], json!([]));
    for path in [
        format!("/strategy-modules/{id}"),
        format!("/catalog/strategies/{name}"),
        "/strategy-modules/not-a-uuid".to_owned(),
    ] {
        let r = app.get(&path, &bob.token).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.text);
    }
    let catalog = app.get("/catalog/strategies", &bob.token).await;
    assert_eq!(
        catalog.body["strategies"].as_array().unwrap().len(),
        engine::strategy::builtin::NAMES.len()
    );
    let r = app
        .delete(&format!("/strategy-modules/{id}"), &bob.token)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    // Bob's upload of the same bytes is his own module.
    let his = upload(&app, &bob, bytes.clone()).await;
    assert_eq!(his.status, StatusCode::CREATED, "{}", his.text);
    assert_ne!(his.body["id"], id.as_str());

    let r = app
        .delete(&format!("/strategy-modules/{id}"), &ada.token)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app
        .get(&format!("/strategy-modules/{id}"), &ada.token)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(app.state.modules.bytes(&id).await.is_err(), "its bytes too");
    let mine = app.get("/strategy-modules", &ada.token).await;
    assert_eq!(mine.body["modules"], json!([]));
    let r = app
        .get(
            &format!("/strategy-modules/{}", his.body["id"].as_str().unwrap()),
            &bob.token,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "bob's module is untouched");
}

async fn bad_uploads_are_refused_with_the_reason_and_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let limit = engine::wasm::Limits::default().max_module_bytes;
    let good = buy_once();

    // Not sent as a module.
    for content_type in [
        Some("application/json"),
        Some("application/octet-stream"),
        None,
    ] {
        let r = app
            .post_bytes("/strategy-modules", &ada.token, content_type, good.clone())
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}: {}",
            r.text
        );
        assert_eq!(r.body["type"], "/problems/unsupported-media-type");
    }
    // Over the cap: refused before it is read whole.
    let r = upload(&app, &ada, vec![0; limit + 1]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains(&limit.to_string()),
        "{}",
        r.text
    );
    // Not a module Stratus can run: a 422 naming the body, with the engine's reason.
    for (bytes, reason) in [
        (b"hello world".to_vec(), "not a WebAssembly module"),
        (Vec::new(), "not a WebAssembly module"),
        (
            module("Foo", r#"(import "env" "foo" (func))"#, "", ""),
            "imports env.foo, which is not part of the Stratus ABI",
        ),
        (
            wat::parse_str(r#"(module (memory (export "memory") 1))"#).unwrap(),
            "",
        ),
    ] {
        let r = upload(&app, &ada, bytes).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{reason}: {}",
            r.text
        );
        assert_eq!(field_of(&r), "body", "{}", r.text);
        assert!(
            r.body["detail"].as_str().unwrap().contains(reason),
            "{reason}: {}",
            r.text
        );
    }
    // Without credentials.
    let r = app
        .post_bytes("/strategy-modules", "not-a-token", Some(WASM), good)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let r = app.get("/strategy-modules", &ada.token).await;
    assert_eq!(r.body["modules"], json!([]), "nothing was stored");
}

async fn a_module_is_deployed_and_researched_like_a_builtin_by_its_owner_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    import_orcl(&app).await;
    let workers = research_fn::worker::spawn(app.state.clone(), 1, 2).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let r = upload(&app, &ada, buy_once()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let name = format!("wasm:{}", r.body["id"].as_str().unwrap());
    let module_path = format!("/strategy-modules/{}", r.body["id"].as_str().unwrap());

    // Deploying: its parameters are checked by the module's declaration.
    let account = app.funded_account(&ada, "100000").await;
    let path = format!("/accounts/{account}/strategies");
    let deploy = |strategy: &str, params: Value| json!({"strategy": strategy, "symbols": ["AAPL"], "timeframes": ["1m"], "params": params});
    let r = app
        .post(&path, &ada.token, deploy(&name, json!({"period": 1000})))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(field_of(&r), "params.period", "{}", r.text);
    for strategy in [
        "wasm:6f1c1f3e-8a52-4c1e-9a57-0c7c6b1f2d3e".to_owned(),
        "wasm:nope".to_owned(),
    ] {
        let r = app
            .post(&path, &ada.token, deploy(&strategy, json!({})))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{strategy}: {}",
            r.text
        );
        assert_eq!(field_of(&r), "strategy", "{}", r.text);
    }
    // Bob cannot deploy Ada's module on his own account.
    let his = app.funded_account(&bob, "100000").await;
    let r = app
        .post(
            &format!("/accounts/{his}/strategies"),
            &bob.token,
            deploy(&name, json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(field_of(&r), "strategy");

    let r = app
        .post(&path, &ada.token, deploy(&name, json!({"period": 3})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let sid = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["strategy"], name.as_str());
    assert_eq!(r.body["status"], "running");
    // It runs in the core: its market order fills on the feed.
    app.publish_ticks(
        "AAPL",
        &(0..300)
            .map(|i| format!("{}.00", 100 + i % 7))
            .collect::<Vec<_>>(),
    )
    .await;
    app.run_core().await;
    let got = app.get(&format!("/strategies/{sid}"), &ada.token).await;
    assert_eq!(got.body["status"], "running", "{}", got.text);
    assert_eq!(got.body["performance"]["fills"], 1, "{}", got.text);
    assert_eq!(got.body["performance"]["positions"][0]["quantity"], "1");

    // In use: not deleted until the deployment stops.
    let r = app.delete(&module_path, &ada.token).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["type"], "/problems/module-in-use");
    let r = app
        .post(&format!("/strategies/{sid}/stop"), &ada.token, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // A backtest and an optimisation of it, as of a built-in.
    let submitted = app
        .post(
            "/backtests",
            &ada.token,
            json!({"strategy": name, "params": {"period": 3}, "symbols": ["ORCL"], "timeframe": "1d"}),
        )
        .await;
    assert_eq!(submitted.status, StatusCode::ACCEPTED, "{}", submitted.text);
    let job = finished(
        &app,
        &ada,
        &format!("/backtests/{}", submitted.body["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let report = &job["result"]["runs"][0]["report"];
    assert_eq!(report["strategy"], name.as_str());
    assert_eq!(report["trades"].as_array().unwrap().len(), 1, "{report}");
    let submitted = app
        .post(
            "/optimizations",
            &ada.token,
            json!({"strategy": name, "symbol": "ORCL", "timeframe": "1d", "grid": {"period": [2, 3, 4]}}),
        )
        .await;
    assert_eq!(submitted.status, StatusCode::ACCEPTED, "{}", submitted.text);
    let job = finished(
        &app,
        &ada,
        &format!("/optimizations/{}", submitted.body["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["result"]["all"].as_array().unwrap().len(), 3, "{job}");
    // Its parameters are the module's: another name is refused before anything queues.
    let r = app
        .post(
            "/optimizations",
            &ada.token,
            json!({"strategy": name, "symbol": "ORCL", "timeframe": "1d", "grid": {"fast": [2, 3]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(field_of(&r), "grid.fast");
    // Bob cannot backtest it.
    let r = app
        .post(
            "/backtests",
            &bob.token,
            json!({"strategy": name, "symbols": ["ORCL"], "timeframe": "1d"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(field_of(&r), "strategy");

    let r = app.delete(&module_path, &ada.token).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    workers.stop().await;
}

async fn a_module_that_faults_in_the_core_stops_its_deployment_with_the_reason(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let account = app.funded_account(&ada, "100000").await;
    let trap = upload(&app, &ada, trapping()).await;
    let buyer = upload(&app, &ada, buy_once()).await;
    let deploy = |r: &Reply| {
        json!({"strategy": format!("wasm:{}", r.body["id"].as_str().unwrap()),
               "symbols": ["AAPL"], "timeframes": ["1m"]})
    };
    let path = format!("/accounts/{account}/strategies");
    let faulty = app.post(&path, &ada.token, deploy(&trap)).await;
    assert_eq!(faulty.status, StatusCode::CREATED, "{}", faulty.text);
    let healthy = app.post(&path, &ada.token, deploy(&buyer)).await;
    assert_eq!(healthy.status, StatusCode::CREATED, "{}", healthy.text);
    assert!(faulty.body.get("reason").is_none(), "{}", faulty.text);

    app.publish_ticks(
        "AAPL",
        &(0..300)
            .map(|i| format!("{}.00", 100 + i % 7))
            .collect::<Vec<_>>(),
    )
    .await;
    app.run_core().await;
    // A core's first step reconciles: it records what the engine reported (committed in
    // its snapshot with the batch that faulted).
    app.run_core().await;

    let got = app
        .get(
            &format!("/strategies/{}", faulty.body["id"].as_str().unwrap()),
            &ada.token,
        )
        .await;
    assert_eq!(got.body["status"], "stopped", "{}", got.text);
    let reason = got.body["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("unreachable"), "{}", got.text);
    // The other module in the same account runs on, untouched.
    let other = app
        .get(
            &format!("/strategies/{}", healthy.body["id"].as_str().unwrap()),
            &ada.token,
        )
        .await;
    assert_eq!(other.body["status"], "running", "{}", other.text);
    assert_eq!(other.body["performance"]["fills"], 1, "{}", other.text);
    assert!(other.body.get("reason").is_none());
}

api_tests!(
    modules_are_uploaded_listed_read_and_deleted_by_their_owner_only,
    bad_uploads_are_refused_with_the_reason_and_store_nothing,
    a_module_is_deployed_and_researched_like_a_builtin_by_its_owner_only,
    a_module_that_faults_in_the_core_stops_its_deployment_with_the_reason,
);

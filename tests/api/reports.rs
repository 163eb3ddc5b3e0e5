//! The reports function: performance and the equity chart over daily rows, the
//! executions handler (exactly-once running metrics, dead letters, partial batch
//! failures) and the daily job.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::event::kinesis::KinesisEvent;
use axum::http::StatusCode;
use base64::Engine;
use serde_json::{Value, json};
use store::kv::{Condition, KvItem, KvTable, KvWrite};
use store::{StoreError, StoreResult};

use crate::api_tests;
use crate::helpers::{Backend, TestApp};

/// A Kinesis event as Lambda delivers it, one record per payload.
pub fn kinesis_event(payloads: &[Vec<u8>]) -> KinesisEvent {
    let records: Vec<Value> = payloads
        .iter()
        .enumerate()
        .map(|(n, data)| {
            json!({
                "awsRegion": "us-east-1",
                "eventID": format!("shardId-000000000000:4959{n:04}"),
                "eventName": "aws:kinesis:record",
                "eventSource": "aws:kinesis",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/stratus-executions",
                "eventVersion": "1.0",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/reports",
                "kinesis": {
                    "approximateArrivalTimestamp": 1796126400.5,
                    "data": base64::engine::general_purpose::STANDARD.encode(data),
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "acct",
                    "sequenceNumber": format!("4959{n:04}")
                }
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

async fn fills_update_running_metrics_exactly_once_and_junk_is_set_aside(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let id = app.funded_account(&ada, "10000").await;
    let path = format!("/accounts/{id}/orders");
    let buy = app
        .post(&path, &ada.token, json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "10", "limit_price": "100"}))
        .await;
    let buy_fill = app
        .fill_order(&ada, buy.body["id"].as_str().unwrap(), "100")
        .await;
    app.advance(60);
    let sell = app
        .post(&path, &ada.token, json!({"symbol": "AAPL", "side": "sell", "type": "limit", "quantity": "10", "limit_price": "110"}))
        .await;
    assert_eq!(sell.status, StatusCode::CREATED, "{}", sell.text);
    let sell_fill = app
        .fill_order(&ada, sell.body["id"].as_str().unwrap(), "110")
        .await;
    let accepted = domain::events::Event::OrderAccepted(domain::events::OrderRef {
        order_id: domain::OrderId::parse(buy.body["id"].as_str().unwrap()).unwrap(),
        account_id: domain::AccountId::parse(&id).unwrap(),
        symbol: domain::Symbol::parse("AAPL").unwrap(),
    })
    .to_envelope(domain::EventId::random(), app.now())
    .to_vec();
    let unknown_version = {
        let mut v: Value = serde_json::from_slice(&buy_fill).unwrap();
        v["version"] = json!(99);
        v["id"] = json!(domain::EventId::random());
        v.to_string().into_bytes()
    };
    let batch = kinesis_event(&[
        buy_fill.clone(),
        b"{not json".to_vec(),
        accepted,
        sell_fill.clone(),
        buy_fill.clone(),
        unknown_version,
    ]);
    let (response, outcome) = reports_fn::executions::handle(&app.state, &batch).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(outcome.applied, 2);
    assert_eq!(outcome.duplicates, 1);
    assert_eq!(outcome.ignored, 1);
    assert_eq!(outcome.malformed, 2);
    // The whole batch again (Lambda retried it): nothing changes.
    let (_, again) = reports_fn::executions::handle(&app.state, &batch).await;
    assert_eq!(again.applied, 0);
    assert_eq!(again.duplicates, 3);

    let dead = app
        .state
        .dead_letters
        .list(reports_fn::executions::CONSUMER, 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(dead.iter().any(|d| d.data == "{not json"));
    assert!(
        dead.iter().any(|d| d.reason.contains("version 99")),
        "{dead:?}"
    );

    let report = app
        .get(&format!("/accounts/{id}/reports/performance"), &ada.token)
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text);
    let running = &report.body["running"];
    assert_eq!(running["fills"], 2);
    assert_eq!(running["round_trips"], 1);
    assert_eq!(running["wins"], 1);
    assert_eq!(running["realized_pnl"], "100");
    assert_eq!(running["notional"], "2100");
    assert_eq!(running["win_rate"], "1");
    assert_eq!(report.body["round_trips"], 1, "rebuilt from the fills");
}

/// A key-value table that is down: every call fails as unavailable.
struct DownTable;

#[async_trait]
impl KvTable for DownTable {
    async fn get(&self, _: &str, _: &str) -> StoreResult<Option<KvItem>> {
        Err(StoreError::new(
            store::ErrorKind::Unavailable,
            "connection refused",
        ))
    }
    async fn put(
        &self,
        _: &str,
        _: &str,
        _: Value,
        _: Option<i64>,
        _: Condition,
    ) -> StoreResult<KvItem> {
        Err(StoreError::new(
            store::ErrorKind::Unavailable,
            "connection refused",
        ))
    }
    async fn delete(&self, _: &str, _: &str, _: Condition) -> StoreResult<()> {
        Err(StoreError::new(
            store::ErrorKind::Unavailable,
            "connection refused",
        ))
    }
    async fn query(&self, _: &str, _: &str, _: usize) -> StoreResult<Vec<KvItem>> {
        Err(StoreError::new(
            store::ErrorKind::Unavailable,
            "connection refused",
        ))
    }
    async fn transact(&self, _: Vec<KvWrite>) -> StoreResult<()> {
        Err(StoreError::new(
            store::ErrorKind::Unavailable,
            "connection refused",
        ))
    }
}

#[tokio::test]
async fn a_store_outage_reports_the_first_unprocessed_record_for_retry() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let ada = app.user("ada@example.com").await;
    let id = app.funded_account(&ada, "10000").await;
    let buy = app
        .post(&format!("/accounts/{id}/orders"), &ada.token, json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "limit_price": "100"}))
        .await;
    let fill = app
        .fill_order(&ada, buy.body["id"].as_str().unwrap(), "100")
        .await;
    let mut state = app.state.clone();
    state.read_models = Arc::new(DownTable);
    let batch = kinesis_event(&[b"junk".to_vec(), fill.clone(), fill]);
    let (response, outcome) = reports_fn::executions::handle(&state, &batch).await;
    assert_eq!(
        outcome.malformed, 1,
        "junk before the outage is still set aside"
    );
    assert_eq!(outcome.retried, 2);
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect();
    assert_eq!(
        failed,
        ["49590001"],
        "Lambda retries from the first unprocessed record"
    );
}

async fn the_daily_job_writes_rows_that_make_the_equity_curve(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let id = app.funded_account(&ada, "10000").await;
    let path = format!("/accounts/{id}/orders");
    app.set_price("AAPL", "100").await;
    let buy = app
        .post(&path, &ada.token, json!({"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "10", "limit_price": "100"}))
        .await;
    app.fill_order(&ada, buy.body["id"].as_str().unwrap(), "100")
        .await;
    // Three days of closes: 100, 110, 95, each reported just after midnight.
    let start = app.now();
    let midnight = |days: i64| {
        let d = start.to_datetime().date_naive() + chrono::Duration::days(days);
        domain::Timestamp::from_nanos(
            d.and_hms_opt(0, 5, 0)
                .unwrap()
                .and_utc()
                .timestamp_nanos_opt()
                .unwrap(),
        )
    };
    let mut days = Vec::new();
    for (n, close) in [(1, "100"), (2, "110"), (3, "95")] {
        app.set_price("AAPL", close).await;
        let at = midnight(n);
        app.now
            .store(at.nanos(), std::sync::atomic::Ordering::SeqCst);
        let outcome = app::reports::daily::run(&app.state, at).await.unwrap();
        assert_eq!(outcome.accounts, 1);
        assert_eq!(outcome.failed, 0);
        days.push(outcome.day);
    }
    // Running the job again for a day rewrites its row.
    app::reports::daily::run(&app.state, midnight(3))
        .await
        .unwrap();
    let ada = app.login("ada@example.com").await;
    let url = format!(
        "/accounts/{id}/reports/performance?from={}&to={}",
        days[0], days[2]
    );
    let r = app.get(&url, &ada.token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let curve: Vec<&str> = r.body["equity_curve"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["equity"].as_str().unwrap())
        .collect();
    assert_eq!(curve, ["10000", "10100", "9950"], "{}", r.text);
    let metrics = &r.body["metrics"];
    assert_eq!(metrics["start_equity"], "10000");
    assert_eq!(metrics["end_equity"], "9950");
    assert!(
        (metrics["total_return"].as_f64().unwrap() + 0.005).abs() < 1e-12,
        "{metrics}"
    );
    assert!(
        metrics["max_drawdown"].as_f64().unwrap() > 0.0148,
        "{metrics}"
    );
    // Up to today, the account valued now is the last point.
    let today = app
        .get(&format!("/accounts/{id}/reports/performance"), &ada.token)
        .await;
    assert_eq!(
        today.body["equity_curve"].as_array().unwrap().len(),
        4,
        "{}",
        today.text
    );

    let svg = app
        .get(
            &format!("/accounts/{id}/reports/equity.svg?from={}", days[0]),
            &ada.token,
        )
        .await;
    assert_eq!(svg.status, StatusCode::OK);
    assert!(
        svg.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("image/svg+xml")
    );
    assert!(
        svg.text.starts_with("<svg") || svg.text.starts_with("<?xml"),
        "{}",
        &svg.text[..80.min(svg.text.len())]
    );

    // A window whose from is after its to is empty; one longer than ten years starts ten
    // years before its to.
    let empty = app
        .get(
            &format!(
                "/accounts/{id}/reports/performance?from={}&to={}",
                days[2], days[0]
            ),
            &ada.token,
        )
        .await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text);
    assert_eq!(empty.body["equity_curve"], json!([]));
    let long = app
        .get(
            &format!("/accounts/{id}/reports/performance?from=1900-01-01&to=2026-01-01"),
            &ada.token,
        )
        .await;
    assert_eq!(long.status, StatusCode::OK, "{}", long.text);
    assert_eq!(long.body["from"], "2015-12-25");
    for (query, field) in [
        ("from=yesterday".to_owned(), "from"),
        ("to=2026-13-01".to_owned(), "to"),
        ("to=2026-1-01".to_owned(), "to"),
        ("period=1y".to_owned(), "period"),
    ] {
        let r = app
            .get(
                &format!("/accounts/{id}/reports/performance?{query}"),
                &ada.token,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text);
        assert_eq!(r.body["errors"][0]["field"], field, "{query}: {}", r.text);
    }
}

api_tests!(
    fills_update_running_metrics_exactly_once_and_junk_is_set_aside,
    the_daily_job_writes_rows_that_make_the_equity_curve,
);

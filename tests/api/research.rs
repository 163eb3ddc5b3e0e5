//! The research function: the strategy catalog, backtests and optimisations as jobs of
//! their user — checked before they queue, run by the worker pool over the stored
//! history, equal to the CLI on the same data, failed (never left running) when their
//! process stops, and run by the cloud worker from a `research-jobs` record.

use std::time::Duration;

use axum::http::StatusCode;
use domain::Symbol;
use serde_json::{Value, json};

use crate::api_tests;
use crate::helpers::{Backend, Session, TestApp};

const ORCL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/orcl-1995-2014.txt");

/// Loads the ORCL daily bars as `stratus data import` does.
pub(crate) async fn import_orcl(app: &TestApp) {
    let symbol = Symbol::parse("ORCL").unwrap();
    let data = engine::market_data::read_file(std::path::Path::new(ORCL), symbol).unwrap();
    market_fn::imports::load(&*app.state.history, symbol, &data)
        .await
        .unwrap();
}

/// Polls a job until it is finished.
pub(crate) async fn finished(app: &TestApp, who: &Session, path: &str) -> Value {
    for _ in 0..600 {
        let r = app.get(path, &who.token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        if r.body["status"] == "succeeded" || r.body["status"] == "failed" {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} did not finish")
}

fn field_of(r: &crate::helpers::Reply) -> String {
    r.body["errors"][0]["field"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

async fn the_catalog_draws_every_strategy_from_its_schema(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    let r = app.get("/catalog/strategies", &ada.token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let names: Vec<&str> = r.body["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, engine::strategy::builtin::NAMES);
    let ema = app.get("/catalog/strategies/ema_cross", &ada.token).await;
    assert_eq!(ema.status, StatusCode::OK, "{}", ema.text);
    let fast = &ema.body["params_schema"]["properties"]["fast"];
    assert_eq!(
        (
            fast["type"].clone(),
            fast["minimum"].clone(),
            fast["maximum"].clone(),
            fast["default"].clone()
        ),
        (json!("integer"), json!(1), json!(10000), json!(12))
    );
    assert_eq!(ema.body["rules"], json!(["fast < slow"]));
    assert_eq!(ema.body["params_schema"]["additionalProperties"], false);
    let none = app.get("/catalog/strategies/nope", &ada.token).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
}

async fn a_backtest_job_equals_the_cli_on_the_same_data(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    import_orcl(&app).await;
    let workers = research_fn::worker::spawn(app.state.clone(), 1, 2).await;
    let ada = app.user("ada@example.com").await;
    let eve = app.user("eve@example.com").await;
    let submitted = app
        .post(
            "/backtests",
            &ada.token,
            json!({"strategy": "sma_cross", "params": {"period": 30, "size": 100},
                   "symbols": ["ORCL"], "timeframe": "1d", "cash": "10000"}),
        )
        .await;
    assert_eq!(submitted.status, StatusCode::ACCEPTED, "{}", submitted.text);
    let id = submitted.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        submitted.headers["location"].to_str().unwrap(),
        format!("/backtests/{id}")
    );
    assert_eq!(submitted.body["status"], "queued");
    let job = finished(&app, &ada, &format!("/backtests/{id}")).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["progress"], 1.0);
    let run = &job["result"]["runs"][0];
    assert_eq!(run["symbol"], "ORCL");
    assert_eq!(run["bars"], 5036);

    // The CLI on the file the history was loaded from: the same document.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args([
            "backtest",
            "--data",
            ORCL,
            "--symbol",
            "ORCL",
            "--strategy",
            "sma_cross",
            "--param",
            "period=30",
            "--param",
            "size=100",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cli: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(run["report"], cli, "field for field");
    assert!(run["series"].as_array().unwrap().len() <= research_fn::run::SERIES_POINTS + 1);
    assert!(!run["round_trips"].as_array().unwrap().is_empty());

    let chart = app
        .get(&format!("/backtests/{id}/chart.svg"), &ada.token)
        .await;
    assert_eq!(chart.status, StatusCode::OK);
    assert!(
        chart.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("image/svg+xml")
    );
    assert!(
        chart.text.starts_with("<svg"),
        "{}",
        &chart.text[..60.min(chart.text.len())]
    );

    // Lists are the user's own, newest first, without results.
    let list = app.get("/backtests", &ada.token).await;
    assert_eq!(list.body["jobs"][0]["id"], id.as_str());
    assert_eq!(list.body["jobs"][0]["result"], Value::Null);
    assert_eq!(
        app.get("/backtests", &eve.token).await.body["jobs"],
        json!([])
    );
    for path in [
        format!("/backtests/{id}"),
        format!("/backtests/{id}/chart.svg"),
        format!("/optimizations/{id}"),
    ] {
        let r = app.get(&path, &eve.token).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.text);
    }
    assert_eq!(
        app.delete(&format!("/backtests/{id}"), &eve.token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&format!("/backtests/{id}"), &ada.token)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/backtests/{id}"), &ada.token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    workers.stop().await;
}

async fn bad_research_requests_name_the_field_and_queue_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    import_orcl(&app).await;
    let ada = app.user("ada@example.com").await;
    let backtest = |patch: Value| {
        let mut body = json!({"strategy": "sma_cross", "symbols": ["ORCL"], "timeframe": "1d"});
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    for (body, field) in [
        (backtest(json!({"strategy": "nope"})), "strategy"),
        (backtest(json!({"params": {"period": 0}})), "params.period"),
        (backtest(json!({"params": {"colour": 1}})), "params.colour"),
        (backtest(json!({"symbols": ["NVDA"]})), "symbols[0]"),
        (backtest(json!({"symbols": []})), "symbols"),
        (backtest(json!({"symbols": ["ORCL", "orcl"]})), "symbols[1]"),
        (backtest(json!({"timeframe": "1h"})), "symbols[0]"),
        (
            backtest(json!({"from": "2010-01-01", "to": "2009-01-01"})),
            "from",
        ),
        (
            backtest(json!({"from": "1990-01-01", "to": "1990-12-31"})),
            "from",
        ),
        (backtest(json!({"from": "yesterday"})), "from"),
        (backtest(json!({"commission": "lots"})), "commission"),
        (backtest(json!({"slippage": "ticks:-1"})), "slippage"),
        (backtest(json!({"benchmark": "SPY"})), "benchmark"),
    ] {
        let r = app.post("/backtests", &ada.token, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text
        );
        assert_eq!(field_of(&r), field, "{body}");
    }
    let optimization = |patch: Value| {
        let mut body = json!({"strategy": "sma_cross", "symbol": "ORCL", "timeframe": "1d",
                              "grid": {"period": [10, 20]}});
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let too_big: Vec<u32> = (1..=2001).collect();
    for (body, field) in [
        (optimization(json!({"grid": {"period": too_big}})), "grid"),
        (
            optimization(json!({"grid": {"period": [0, -5]}})),
            "grid.period",
        ),
        (optimization(json!({"grid": {"speed": [1]}})), "grid.speed"),
        (optimization(json!({"grid": {}})), "grid"),
        (
            optimization(
                json!({"random": {"ranges": {"period": {"type": "integer", "min": 5, "max": 60}}, "samples": 5}}),
            ),
            "grid",
        ),
        (
            optimization(
                json!({"grid": null, "random": {"ranges": {"period": {"type": "integer", "min": 0, "max": 60}}, "samples": 5}}),
            ),
            "random.ranges.period",
        ),
        (
            optimization(
                json!({"grid": null, "random": {"ranges": {"period": {"type": "integer", "min": 5, "max": 60}}, "samples": 0}}),
            ),
            "random.samples",
        ),
        (optimization(json!({"walk_forward": 0.2})), "walk_forward"),
        (optimization(json!({"top": 0})), "top"),
        (optimization(json!({"symbol": "NVDA"})), "symbol"),
    ] {
        let r = app.post("/optimizations", &ada.token, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text
        );
        assert_eq!(field_of(&r), field, "{body}");
    }
    let r = app
        .post(
            "/optimizations",
            &ada.token,
            optimization(json!({"rank_by": "luck"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        app.get("/backtests", &ada.token).await.body["jobs"],
        json!([])
    );
    assert_eq!(
        app.get("/optimizations", &ada.token).await.body["jobs"],
        json!([])
    );
}

async fn optimisations_rank_a_grid_and_test_the_best_out_of_sample(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    import_orcl(&app).await;
    let workers = research_fn::worker::spawn(app.state.clone(), 1, 2).await;
    let ada = app.user("ada@example.com").await;
    let r = app
        .post(
            "/optimizations",
            &ada.token,
            json!({"strategy": "sma_cross", "symbol": "ORCL", "timeframe": "1d", "params": {"size": 100},
                   "grid": {"period": [10, 20, 30, 40]}, "rank_by": "total_return",
                   "walk_forward": 0.7, "top": 2}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap();
    let job = finished(&app, &ada, &format!("/optimizations/{id}")).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let result = &job["result"];
    assert_eq!(result["runs"], 4);
    assert_eq!(result["rank_by"], "total_return");
    assert_eq!(result["best"].as_array().unwrap().len(), 2);
    assert_eq!(result["best"][0]["rank"], 1);
    assert!(result["best"][0]["out_of_sample"]["metrics"]["total_return"].is_number());
    let returns: Vec<f64> = result["all"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["in_sample"]["metrics"]["total_return"].as_f64().unwrap())
        .collect();
    let best = result["best"][0]["in_sample"]["metrics"]["total_return"]
        .as_f64()
        .unwrap();
    assert_eq!(returns.iter().cloned().fold(f64::MIN, f64::max), best);

    // A grid whose every set pairs a fast average with a slower one is accepted whole; in
    // one with some pairs the other way round, those are skipped, with why.
    for (grid, skipped) in [
        (json!({"fast": [30, 40], "slow": [50, 60]}), 0),
        (json!({"fast": [10, 25], "slow": [15, 40]}), 1),
    ] {
        let r = app
            .post(
                "/optimizations",
                &ada.token,
                json!({"strategy": "ema_cross", "symbol": "ORCL", "timeframe": "1d", "grid": grid}),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
        let job = finished(
            &app,
            &ada,
            &format!("/optimizations/{}", r.body["id"].as_str().unwrap()),
        )
        .await;
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["result"]["runs"], 4 - skipped);
        assert_eq!(
            job["result"]["skipped"].as_array().unwrap().len(),
            skipped as usize
        );
    }
    let none = app
        .post(
            "/optimizations",
            &ada.token,
            json!({"strategy": "ema_cross", "symbol": "ORCL", "timeframe": "1d", "grid": {"fast": [50], "slow": [20]}}),
        )
        .await;
    assert_eq!(
        none.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        none.text
    );

    // Random search.
    let r = app
        .post(
            "/optimizations",
            &ada.token,
            json!({"strategy": "rsi_reversion", "symbol": "ORCL", "timeframe": "1w",
                   "random": {"ranges": {"period": {"type": "integer", "min": 5, "max": 30},
                                         "lower": {"type": "number", "min": 10, "max": 40}},
                              "samples": 6, "seed": 3}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let job = finished(
        &app,
        &ada,
        &format!("/optimizations/{}", r.body["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["result"]["runs"], 6);
    assert_eq!(job["result"]["source_timeframe"], "1d");
    workers.stop().await;
}

async fn jobs_of_a_stopped_process_fail_and_the_cloud_worker_runs_its_records(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    import_orcl(&app).await;
    let ada = app.user("ada@example.com").await;
    let body = json!({"strategy": "sma_cross", "symbols": ["ORCL"], "timeframe": "1d"});
    let first = app.post("/backtests", &ada.token, body.clone()).await;
    let first = first.body["id"].as_str().unwrap().to_owned();
    // A worker took it, and its process died.
    let taken = app
        .state
        .jobs
        .claim_job(None, app.now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.id.to_string(), first);
    // Past a Lambda's whole life: with the cloud backend, younger running jobs may be a
    // worker Lambda's and are left alone.
    app.advance(16 * 60);
    let ada = app.login("ada@example.com").await;
    let workers = research_fn::worker::spawn(app.state.clone(), 1, 1).await;
    let job = finished(&app, &ada, &format!("/backtests/{first}")).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["error"], research_fn::worker::STOPPED);
    workers.stop().await;

    // The cloud worker: a `research-jobs` record naming the job.
    let second = app.post("/backtests", &ada.token, body).await;
    let second = second.body["id"].as_str().unwrap().to_owned();
    let event =
        crate::reports::kinesis_event(&[second.clone().into_bytes(), b"not a job".to_vec()]);
    let event: aws_lambda_events::event::kinesis::KinesisEvent =
        serde_json::from_value(serde_json::to_value(&event).unwrap()).unwrap();
    let handled = research_fn::worker::handle_kinesis(&app.state, &event, 2, None)
        .await
        .unwrap();
    assert_eq!(
        handled,
        research_fn::worker::Handled {
            ran: 1,
            skipped: 0,
            malformed: 1
        }
    );
    let job = app.get(&format!("/backtests/{second}"), &ada.token).await;
    assert_eq!(job.body["status"], "succeeded", "{}", job.text);
    // The same record again (at-least-once delivery): nothing runs twice.
    let again = research_fn::worker::handle_kinesis(&app.state, &event, 2, None)
        .await
        .unwrap();
    assert_eq!(again.ran, 0);

    // A job that outlives its invocation's time is failed by the worker itself.
    let third = app
        .post(
            "/backtests",
            &ada.token,
            json!({"strategy": "sma_cross", "symbols": ["ORCL"], "timeframe": "1d"}),
        )
        .await;
    let third = third.body["id"].as_str().unwrap().to_owned();
    let event = crate::reports::kinesis_event(&[third.clone().into_bytes()]);
    let event: aws_lambda_events::event::kinesis::KinesisEvent =
        serde_json::from_value(serde_json::to_value(&event).unwrap()).unwrap();
    let out_of_time =
        research_fn::worker::handle_kinesis(&app.state, &event, 1, Some(Duration::ZERO))
            .await
            .unwrap();
    assert_eq!(out_of_time.ran, 1);
    let job = app.get(&format!("/backtests/{third}"), &ada.token).await;
    assert_eq!(job.body["status"], "failed", "{}", job.text);
    assert_eq!(job.body["error"], research_fn::worker::TIMED_OUT);
}

api_tests!(
    the_catalog_draws_every_strategy_from_its_schema,
    a_backtest_job_equals_the_cli_on_the_same_data,
    bad_research_requests_name_the_field_and_queue_nothing,
    optimisations_rank_a_grid_and_test_the_best_out_of_sample,
    jobs_of_a_stopped_process_fail_and_the_cloud_worker_runs_its_records,
);

//! The operations dashboard's API: administrators only, counts across every user, and
//! the core's status as the core published it.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use crate::api_tests;
use crate::helpers::{Backend, TestApp};

const ROUTES: [&str; 4] = [
    "/admin/overview",
    "/admin/traders",
    "/admin/strategies",
    "/admin/jobs",
];

async fn only_administrators_see_the_dashboard(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.user("ada@example.com").await;
    for route in ROUTES {
        let r = app.get(route, &ada.token).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{route}: {}", r.text);
        assert_eq!(
            r.headers["content-type"], "application/problem+json",
            "{route}"
        );
        let r = app.get(route, "").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{route}: {}", r.text);
    }
    let admin = app.user("admin@example.com").await;
    for route in ROUTES {
        let r = app.get(route, &admin.token).await;
        assert_eq!(r.status, StatusCode::OK, "{route}: {}", r.text);
    }
    for bad in [
        "/admin/traders?limit=0",
        "/admin/traders?limit=201",
        "/admin/strategies?offset=-1",
        "/admin/jobs?limit=x",
        "/admin/jobs?colour=red",
    ] {
        let r = app.get(bad, &admin.token).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
    }
}

async fn an_administrator_sees_what_every_user_did(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("admin@example.com").await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let a1 = app.funded_account(&ada, "10000").await;
    let _a2 = app.funded_account(&ada, "500").await;
    let b1 = app.funded_account(&bob, "2000").await;
    // Two orders of Ada's (one filled), one of Bob's.
    let order = |price: &str| json!({"symbol": "AAPL", "side": "buy", "type": "limit", "limit_price": price, "quantity": "2", "time_in_force": "gtc"});
    let first = app
        .post(&format!("/accounts/{a1}/orders"), &ada.token, order("100"))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    app.post(&format!("/accounts/{a1}/orders"), &ada.token, order("90"))
        .await;
    app.post(&format!("/accounts/{b1}/orders"), &bob.token, order("95"))
        .await;
    app.fill_order(&ada, first.body["id"].as_str().unwrap(), "100")
        .await;
    app.set_price("AAPL", "110").await;
    // Bob deploys a strategy; Ada one she pauses and one she stops.
    let deploy = json!({"strategy": "sma_cross", "symbols": ["AAPL"], "timeframes": ["1m"], "params": {"period": 3}});
    let bobs = app
        .post(
            &format!("/accounts/{b1}/strategies"),
            &bob.token,
            deploy.clone(),
        )
        .await;
    app.advance(1); // deployments list oldest first
    let paused = app
        .post(
            &format!("/accounts/{a1}/strategies"),
            &ada.token,
            deploy.clone(),
        )
        .await;
    app.post(
        &format!("/strategies/{}/pause", paused.body["id"].as_str().unwrap()),
        &ada.token,
        json!({}),
    )
    .await;
    let stopped = app
        .post(&format!("/accounts/{a1}/strategies"), &ada.token, deploy)
        .await;
    app.post(
        &format!("/strategies/{}/stop", stopped.body["id"].as_str().unwrap()),
        &ada.token,
        json!({}),
    )
    .await;
    // A queued backtest of Bob's.
    app.state
        .jobs
        .create_job(&domain::ResearchJob {
            id: domain::JobId::random(),
            user_id: domain::UserId::parse(&bob.user_id).unwrap(),
            kind: domain::JobKind::Backtest,
            status: domain::JobStatus::Queued,
            request: json!({}),
            progress: 0.0,
            created_at: app.now(),
            started_at: None,
            finished_at: None,
            error: None,
            result: None,
        })
        .await
        .unwrap();

    let o = app.get("/admin/overview", &admin.token).await;
    assert_eq!(o.status, StatusCode::OK, "{}", o.text);
    let o = o.body;
    assert_eq!(o["core"], serde_json::Value::Null, "no core has run");
    assert_eq!(o["users"], 3);
    assert_eq!(o["accounts"], 3);
    assert_eq!(o["orders_last_minute"], 3);
    assert_eq!(o["fills_last_minute"], 1);
    assert_eq!(o["orders_per_minute"].as_array().unwrap().len(), 60);
    assert_eq!(
        o["orders_per_minute"].as_array().unwrap().last(),
        Some(&json!(3))
    );
    assert_eq!(
        o["fills_per_minute"].as_array().unwrap().last(),
        Some(&json!(1))
    );
    assert_eq!(o["strategies_running"], 1);
    assert_eq!(o["strategies_paused"], 1);
    assert_eq!(o["jobs"], json!({"queued": 1, "running": 0}));
    // A minute later, the last minute is quiet; the hour still counts them.
    app.advance(61);
    let later = app.get("/admin/overview", &admin.token).await.body;
    assert_eq!(later["orders_last_minute"], 0);
    assert_eq!(
        later["orders_per_minute"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .sum::<u64>(),
        3
    );

    let t = app.get("/admin/traders", &admin.token).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    let rows = t.body["traders"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(t.body["next_offset"], serde_json::Value::Null);
    let row = |email: &str| {
        rows.iter()
            .find(|r| r["email"] == email)
            .unwrap_or_else(|| panic!("{email} listed: {rows:?}"))
            .clone()
    };
    let ada_row = row("ada@example.com");
    assert_eq!(ada_row["id"], ada.user_id.as_str());
    assert_eq!(ada_row["role"], "trader");
    assert_eq!(ada_row["accounts"], 2);
    assert_eq!(ada_row["orders"], 2);
    assert_eq!(ada_row["fills"], 1);
    assert_eq!(ada_row["strategies_running"], 0);
    // 10,500 deposited, 200 paid for 2 now worth 220.
    assert_eq!(ada_row["cash"], "10300");
    assert_eq!(ada_row["equity"], "10520");
    assert_eq!(ada_row["realized_pnl"], "0");
    let bob_row = row("bob@example.com");
    assert_eq!(
        (
            bob_row["accounts"].clone(),
            bob_row["orders"].clone(),
            bob_row["fills"].clone()
        ),
        (json!(1), json!(1), json!(0))
    );
    assert_eq!(bob_row["strategies_running"], 1);
    assert_eq!(bob_row["equity"], "2000");
    assert_eq!(row("admin@example.com")["role"], "admin");
    // Pages.
    let page = app.get("/admin/traders?limit=2", &admin.token).await.body;
    assert_eq!(page["traders"].as_array().unwrap().len(), 2);
    assert_eq!(page["next_offset"], 2);
    let rest = app
        .get("/admin/traders?limit=2&offset=2", &admin.token)
        .await
        .body;
    assert_eq!(rest["traders"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_offset"], serde_json::Value::Null);

    let s = app.get("/admin/strategies", &admin.token).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text);
    let list = s.body["strategies"].as_array().unwrap();
    assert_eq!(list.len(), 2, "running and paused, not stopped: {list:?}");
    assert_eq!(list[0]["id"], bobs.body["id"]);
    assert_eq!(list[0]["owner_email"], "bob@example.com");
    assert_eq!(list[0]["owner_id"], bob.user_id.as_str());
    assert_eq!(list[0]["status"], "running");
    assert_eq!(list[0]["performance"]["fills"], 0);
    assert_eq!(list[1]["owner_email"], "ada@example.com");
    assert_eq!(list[1]["status"], "paused");

    let j = app.get("/admin/jobs", &admin.token).await;
    assert_eq!(j.status, StatusCode::OK, "{}", j.text);
    let jobs = j.body["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["owner_email"], "bob@example.com");
    assert_eq!(jobs[0]["kind"], "backtest");
    assert_eq!(jobs[0]["status"], "queued");
}

async fn the_core_status_appears_once_a_core_has_run(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("admin@example.com").await;
    app.publish_ticks(
        "AAPL",
        &["100".to_owned(), "101".to_owned(), "102".to_owned()],
    )
    .await;
    let service = core_service::service::Service::spawn(
        app.state.clone(),
        core_service::service::ServiceConfig {
            core: core_service::runner::CoreConfig::default(),
            feed: core_service::feed::FeedConfig::None,
            executions_consumer: true,
            daily_reports: false,
        },
    );
    let mut core = serde_json::Value::Null;
    for _ in 0..100 {
        core = app.get("/admin/overview", &admin.token).await.body["core"].clone();
        if core["inputs"].as_u64().unwrap_or(0) >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    service.stop().await;
    assert_eq!(core["status"], "ok", "{core}");
    assert_eq!(core["inputs"], 3, "{core}");
    assert!(core["batches"].as_u64().unwrap() >= 1);
    assert!(core["last_commit_unix_ms"].as_u64().is_some());
    assert!(core["updated_at"].as_str().is_some());
    assert!(
        core["commit_latency_ms"]["p50"].as_f64().is_some(),
        "{core}"
    );
    assert!(
        core["commit_latency_ms"]["max"].as_f64().unwrap()
            >= core["commit_latency_ms"]["p99"].as_f64().unwrap()
    );
    let streams: Vec<&str> = core["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stream"].as_str().unwrap())
        .collect();
    assert!(
        streams.contains(&"commands") && streams.contains(&"ticks"),
        "{core}"
    );
    for s in core["streams"].as_array().unwrap() {
        // Caught up: whatever the stream can say, it says zero.
        assert!(s["records_behind"].as_u64().unwrap_or(0) == 0, "{core}");
        assert!(
            s["lag_ms"].as_u64().unwrap_or(0) == 0 || s["lag_ms"].is_u64(),
            "{core}"
        );
    }
    assert_eq!(core["dead_letters"], 0, "{core}");
    // After the stop, the last status says so.
    let last = app.get("/admin/overview", &admin.token).await.body["core"].clone();
    assert_eq!(last["status"], "stopped", "{last}");
}

api_tests!(
    only_administrators_see_the_dashboard,
    an_administrator_sees_what_every_user_did,
    the_core_status_appears_once_a_core_has_run,
);

//! register → log in → open an account → deposit → place a limit and a market order →
//! the fills arrive on the WebSocket (and nobody else's) → deploy sma_cross on a replayed
//! file of real 5-minute bars → the strategy fills → the performance report. In process,
//! over real TCP; against the embedded store, and (feature `cloud-tests`) against
//! Postgres, DynamoDB and Kinesis.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use app::settings::{Backend, Secret, Settings};
use core_service::feed::FeedConfig;
use domain::{InstrumentCatalog, Symbol};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use stratus::platform::{Platform, PlatformConfig};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TempDir, account, call, eventually, split_sample, user};

async fn platform(backend: Backend, dir: &TempDir) -> Platform {
    let mut settings = Settings {
        data_dir: dir.path().join("data"),
        jwt_secret: Some(Secret::new("an e2e secret of at least thirty-two bytes")),
        login_rate_per_minute: 1000,
        ..Settings::default()
    };
    if backend == Backend::Cloud {
        let admin = std::env::var("DATABASE_URL").expect("cloud-tests need DATABASE_URL");
        let name = format!("stratus_e2e_{}", std::process::id());
        let url = store::postgres::PgStore::create_database(&admin, &name)
            .await
            .unwrap();
        settings.backend = Backend::Cloud;
        settings.database_url = Some(Secret::new(url));
        settings.prefix = format!("stratus-e2e-{}", std::process::id());
    }
    Platform::start(PlatformConfig {
        settings,
        bind: "127.0.0.1:0".into(),
        feed: FeedConfig::None,
        instruments: InstrumentCatalog::builtin(),
        core: Default::default(),
    })
    .await
    .unwrap()
}

/// Replays `path` as SPY, as fast as possible, until the file ends.
async fn replay(p: &Platform, path: std::path::PathBuf) -> u64 {
    let (_stop, watch) = tokio::sync::watch::channel(false);
    core_service::feed::run(
        p.state.clone(),
        FeedConfig::Replay {
            path,
            symbol: Symbol::parse("SPY").unwrap(),
            speed: 0.0,
        },
        watch,
        Arc::new(AtomicU64::new(0)),
    )
    .await
    .unwrap()
}

async fn next_json(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(t.as_str()).ok(),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

async fn the_platform_end_to_end(backend: Backend) {
    let dir = TempDir::new("e2e");
    let p = platform(backend, &dir).await;
    let addr = p.addr.to_string();
    let (first, rest) = split_sample(dir.path(), 30);

    let ada = user(&addr, "ada@example.com").await;
    let eve = user(&addr, "eve@example.com").await;
    let acct = account(&addr, &ada, "1000000").await;
    account(&addr, &eve, "1000").await;

    // Market data first, so orders can be valued.
    assert_eq!(replay(&p, first).await, 120, "30 bars, four ticks each");
    eventually(30, "a last price for SPY", || {
        let addr = addr.clone();
        let ada = ada.clone();
        async move {
            let r = call(&addr, "GET", "/instruments", Some(&ada), None).await;
            r.body["instruments"]
                .as_array()?
                .iter()
                .find(|i| i["symbol"] == "SPY")?["last_price"]
                .as_str()
                .map(str::to_owned)
        }
    })
    .await;

    // The market function sees what the core recorded and what it has open.
    let tape = eventually(30, "recent SPY trades", || {
        let addr = addr.clone();
        let ada = ada.clone();
        async move {
            let r = call(
                &addr,
                "GET",
                "/instruments/SPY/trades?limit=5",
                Some(&ada),
                None,
            )
            .await;
            (r.body["trades"].as_array()?.len() == 5).then_some(r.body)
        }
    })
    .await;
    let candles = call(
        &addr,
        "GET",
        "/instruments/SPY/candles?timeframe=1m",
        Some(&ada),
        None,
    )
    .await;
    assert_eq!(candles.status, 200, "{}", candles.body);
    let bars = candles.body["candles"].as_array().unwrap();
    assert!(bars.len() >= 2, "{}", candles.body);
    let forming = bars.last().unwrap();
    assert_eq!(forming["closed"], false, "the newest is still forming");
    assert_eq!(
        forming["close"], tape["trades"][0]["price"],
        "it closes at the last trade"
    );
    let ticker = call(&addr, "GET", "/instruments/SPY/ticker", Some(&ada), None).await;
    assert_eq!(ticker.body["last"], tape["trades"][0], "{}", ticker.body);

    // A backtest job over the candles the core recorded, run by the platform's workers.
    let job = call(
        &addr,
        "POST",
        "/backtests",
        Some(&ada),
        Some(json!({"strategy": "sma_cross", "params": {"period": 3}, "symbols": ["SPY"], "timeframe": "1m"})),
    )
    .await;
    assert_eq!(job.status, 202, "{}", job.body);
    let path = format!("/backtests/{}", job.body["id"].as_str().unwrap());
    let done = eventually(60, "the backtest job", || {
        let (addr, ada, path) = (addr.clone(), ada.clone(), path.clone());
        async move {
            let r = call(&addr, "GET", &path, Some(&ada), None).await;
            (r.body["status"] == "succeeded" || r.body["status"] == "failed").then_some(r.body)
        }
    })
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert!(
        done["result"]["runs"][0]["bars"].as_u64().unwrap() >= 2,
        "{done}"
    );

    // Both users listen; only Ada trades.
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws?access_token={ada}"))
            .await
            .unwrap();
    let (mut spy, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws?access_token={eve}"))
            .await
            .unwrap();
    for channel in ["orders", "fills", "positions"] {
        for socket in [&mut ws, &mut spy] {
            socket
                .send(Message::Text(
                    json!({"op": "subscribe", "channel": channel})
                        .to_string()
                        .into(),
                ))
                .await
                .unwrap();
            let ack = next_json(socket).await.unwrap();
            assert_eq!(ack["type"], "subscribed", "{ack}");
        }
    }
    ws.send(Message::Text(
        json!({"op": "subscribe", "channel": "nonsense"})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut ws).await.unwrap()["type"], "error");
    let unauthenticated = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await;
    assert!(unauthenticated.is_err(), "no token, no WebSocket");

    let orders = format!("/accounts/{acct}/orders");
    let limit = call(&addr, "POST", &orders, Some(&ada), Some(json!({
        "symbol": "SPY", "side": "buy", "type": "limit", "quantity": "10", "limit_price": "9999", "client_order_id": "e2e-limit"
    }))).await;
    assert_eq!(limit.status, 201, "{}", limit.text);
    let market = call(
        &addr,
        "POST",
        &orders,
        Some(&ada),
        Some(json!({
            "symbol": "SPY", "side": "buy", "type": "market", "quantity": "5"
        })),
    )
    .await;
    assert_eq!(market.status, 201, "{}", market.text);
    let deploy = call(&addr, "POST", &format!("/accounts/{acct}/strategies"), Some(&ada), Some(json!({
        "strategy": "sma_cross", "symbols": ["SPY"], "timeframes": ["5m"], "params": {"period": 10, "size": 2}
    }))).await;
    assert_eq!(deploy.status, 201, "{}", deploy.text);
    // The core reconciles deployments twice a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let published = replay(&p, rest).await;
    assert_eq!(published, 4 * (2142 - 30));

    // The two user orders fill and their fills arrive on Ada's WebSocket.
    let mut filled = std::collections::BTreeSet::new();
    let mut positions = 0;
    while filled.len() < 2 {
        let m = next_json(&mut ws).await.expect("a websocket message");
        match m["channel"].as_str() {
            Some("fills") => {
                let order = m["data"]["order_id"].as_str().unwrap().to_owned();
                if order == limit.body["id"] || order == market.body["id"] {
                    filled.insert(order);
                }
            }
            Some("positions") => positions += 1,
            _ => {}
        }
    }
    assert!(positions > 0 || next_json(&mut ws).await.is_some());
    // Eve saw nothing of Ada's.
    let quiet = tokio::time::timeout(Duration::from_millis(500), spy.next()).await;
    assert!(
        !matches!(&quiet, Ok(Some(Ok(Message::Text(t)))) if t.contains(&acct)),
        "another user's execution leaked: {quiet:?}"
    );

    // The strategy traded on the replay, through the same engine and paper broker.
    let fills = eventually(60, "strategy fills", || {
        let addr = addr.clone();
        let ada = ada.clone();
        let acct = acct.clone();
        async move {
            let r = call(
                &addr,
                "GET",
                &format!("/accounts/{acct}/fills?limit=1000"),
                Some(&ada),
                None,
            )
            .await;
            let fills = r.body["fills"].as_array()?.clone();
            (fills.len() >= 4).then_some(fills)
        }
    })
    .await;
    let user_orders = [limit.body["id"].clone(), market.body["id"].clone()];
    let strategy_fills = fills
        .iter()
        .filter(|f| !user_orders.contains(&f["order_id"]))
        .count();
    assert!(strategy_fills >= 2, "{fills:?}");

    // The performance report, with the running metrics the executions consumer kept.
    let report = eventually(60, "running metrics of every fill", || {
        let addr = addr.clone();
        let ada = ada.clone();
        let acct = acct.clone();
        async move {
            let r = call(
                &addr,
                "GET",
                &format!("/accounts/{acct}/reports/performance"),
                Some(&ada),
                None,
            )
            .await;
            let all = call(
                &addr,
                "GET",
                &format!("/accounts/{acct}/fills?limit=1000"),
                Some(&ada),
                None,
            )
            .await;
            let n = all.body["fills"].as_array()?.len() as u64;
            (r.status == 200 && r.body["running"]["fills"].as_u64() == Some(n)).then_some(r.body)
        }
    })
    .await;
    assert!(
        report["running"]["round_trips"].as_u64().unwrap() >= 1,
        "{report}"
    );
    assert!(report["metrics"].is_object(), "{report}");
    let svg = call(
        &addr,
        "GET",
        &format!("/accounts/{acct}/reports/equity.svg"),
        Some(&ada),
        None,
    )
    .await;
    assert_eq!(svg.status, 200);
    assert!(svg.text.contains("<svg"));
    let health = call(&addr, "GET", "/health", None, None).await;
    assert_eq!(health.body["status"], "ok", "{}", health.text);
    assert_eq!(health.body["commit_failures"], 0);
    // The read models: order statuses and balances for Lambdas in the cloud shape (kept
    // after each commit, so the filled limit order's is final by now); none in the
    // embedded file, whose functions read the rows themselves.
    let status = p
        .state
        .read_models
        .get(
            &format!("order#{}", limit.body["id"].as_str().unwrap()),
            "status",
        )
        .await
        .unwrap();
    let balance = p
        .state
        .read_models
        .get(&format!("balance#{acct}"), "cash")
        .await
        .unwrap();
    if backend == Backend::Cloud {
        let status = status.expect("the order's status in the read models");
        assert_eq!(status.body["status"], "filled", "{:?}", status.body);
        assert!(
            balance.is_some(),
            "the account's balance in the read models"
        );
    } else {
        assert!(status.is_none() && balance.is_none());
    }
    drop(ws);
    drop(spy);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded() {
    the_platform_end_to_end(Backend::Embedded).await;
}

#[cfg(feature = "cloud-tests")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud() {
    the_platform_end_to_end(Backend::Cloud).await;
}

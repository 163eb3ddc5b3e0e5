//! Broker accounts end to end: `stratus up` in process, routing orders to the local
//! stand-ins of Alpaca and Binance (`broker-stubs`), over real TCP and a real WebSocket.
//! The broker's reports reach the account through the core like paper fills; faults
//! (refused credentials, 5xx, 429, timeouts, a dropped stream, duplicated and reordered
//! events, Stratus down while the broker fills) are each applied exactly once or refused
//! with nothing recorded; reconciliation halts what it cannot explain.

use std::time::Duration;

use app::settings::{Backend, Secret, Settings};
use broker_stubs::alpaca::{AlpacaStub, AlpacaStubConfig, Fault};
use core_service::feed::FeedConfig;
use domain::InstrumentCatalog;
use futures_util::{SinkExt, StreamExt};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use stratus::platform::{Platform, PlatformConfig};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TempDir, call, eventually, user};

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// The settings of one test's platform (restarted with the same ones): the embedded
/// store in `dir`, or a fresh Postgres database and table prefix.
async fn settings(
    backend: Backend,
    dir: &TempDir,
    alpaca: Option<&str>,
    binance: Option<&str>,
) -> Settings {
    let mut settings = Settings {
        data_dir: dir.path().join("data"),
        jwt_secret: Some(Secret::new("a brokers secret of at least thirty-two bytes")),
        login_rate_per_minute: 1000,
        alpaca_url: alpaca.map(str::to_owned),
        binance_url: binance.map(str::to_owned),
        broker_timeout_ms: 1_500,
        broker_reconcile_seconds: 1,
        ..Settings::default()
    };
    if backend == Backend::Cloud {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let admin = std::env::var("DATABASE_URL").expect("cloud-tests need DATABASE_URL");
        let name = format!("stratus_brokers_{}_{n}", std::process::id());
        let url = store::postgres::PgStore::create_database(&admin, &name)
            .await
            .unwrap();
        settings.backend = Backend::Cloud;
        settings.database_url = Some(Secret::new(url));
        settings.prefix = format!("stratus-brokers-{}-{n}", std::process::id());
    }
    settings
}

async fn platform(settings: &Settings) -> Platform {
    let settings = settings.clone();
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

async fn alpaca_stub() -> AlpacaStub {
    broker_stubs::alpaca::start(AlpacaStubConfig {
        stall: Duration::from_secs(4),
        ..AlpacaStubConfig::default()
    })
    .await
    .unwrap()
}

/// Opens a broker account on Alpaca with these credentials: the reply.
async fn alpaca_account(addr: &str, token: &str, key: &str, secret: &str) -> Value {
    let r = call(
        addr,
        "POST",
        "/accounts",
        Some(token),
        Some(json!({
            "name": "alpaca paper",
            "kind": "broker",
            "broker_connection": {
                "broker": "alpaca",
                "environment": "paper",
                "credentials": {"key_id": key, "secret_key": secret},
            },
        })),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

async fn orders(addr: &str, token: &str, account: &str) -> Vec<Value> {
    let r = call(
        addr,
        "GET",
        &format!("/accounts/{account}/orders"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["orders"].as_array().unwrap().clone()
}

async fn place(addr: &str, token: &str, account: &str, order: Value) -> crate::support::Reply {
    call(
        addr,
        "POST",
        &format!("/accounts/{account}/orders"),
        Some(token),
        Some(order),
    )
    .await
}

/// Waits until the order has `status`: the order.
async fn order_status(addr: &str, token: &str, id: &str, status: &str) -> Value {
    let (addr, token, id, status) = (
        addr.to_owned(),
        token.to_owned(),
        id.to_owned(),
        status.to_owned(),
    );
    eventually(20, &format!("order {id} {status}"), || {
        let (addr, token, id, status) = (addr.clone(), token.clone(), id.clone(), status.clone());
        async move {
            let r = call(&addr, "GET", &format!("/orders/{id}"), Some(&token), None).await;
            (r.body["status"] == status.as_str()).then_some(r.body)
        }
    })
    .await
}

async fn fills(addr: &str, token: &str, account: &str) -> Vec<Value> {
    let r = call(
        addr,
        "GET",
        &format!("/accounts/{account}/fills"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["fills"].as_array().unwrap().clone()
}

fn filled_total(fills: &[Value]) -> Decimal {
    fills
        .iter()
        .map(|f| dec(f["quantity"].as_str().unwrap()))
        .sum()
}

async fn position(addr: &str, token: &str, account: &str, symbol: &str) -> Decimal {
    let r = call(
        addr,
        "GET",
        &format!("/accounts/{account}/positions"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["positions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["symbol"] == symbol)
        .map_or(Decimal::ZERO, |p| dec(p["quantity"].as_str().unwrap()))
}

async fn next_json(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    pick: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if pick(&v) {
                    return v;
                }
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("no matching WebSocket message: {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_alpaca_account_routes_orders_and_its_fills_come_back_once_embedded() {
    an_alpaca_account_routes_orders_and_its_fills_come_back_once(Backend::Embedded).await;
}

#[cfg(feature = "cloud-tests")]
#[tokio::test]
async fn an_alpaca_account_routes_orders_and_its_fills_come_back_once_cloud() {
    an_alpaca_account_routes_orders_and_its_fills_come_back_once(Backend::Cloud).await;
}

async fn an_alpaca_account_routes_orders_and_its_fills_come_back_once(backend: Backend) {
    let stub = alpaca_stub().await;
    let dir = TempDir::new("alpaca");
    let settings = settings(backend, &dir, Some(&stub.base_url()), None).await;
    let p = platform(&settings).await;
    let addr = p.addr.to_string();
    let ada = user(&addr, "ada@example.com").await;

    // Credentials the broker refuses: the connection says so, with the broker's words,
    // and the account routes nothing.
    let refused = alpaca_account(&addr, &ada, "stub-key", "not-the-secret").await;
    assert_eq!(
        refused["broker_connection"]["status"], "invalid",
        "{refused}"
    );
    assert!(
        refused["broker_connection"]["status_reason"]
            .as_str()
            .unwrap()
            .contains("not authorized"),
        "{refused}"
    );
    let refused_id = refused["id"].as_str().unwrap();
    let r = place(
        &addr,
        &ada,
        refused_id,
        json!({"symbol": "AAPL", "side": "buy", "type": "limit", "limit_price": "100", "quantity": "1"}),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("broker-credentials-refused"), "{}", r.text);
    assert!(orders(&addr, &ada, refused_id).await.is_empty());
    assert_eq!(stub.order_count(), 0);

    // The right credentials: active, and the broker's cash is the opening balance.
    let opened = alpaca_account(&addr, &ada, "stub-key", "stub-secret").await;
    assert_eq!(opened["broker_connection"]["status"], "active", "{opened}");
    assert_eq!(opened["kind"], "broker");
    assert_eq!(dec(opened["cash"].as_str().unwrap()), dec("100000"));
    let acct = opened["id"].as_str().unwrap().to_owned();

    // Paper-only things are refused on a broker account.
    let r = call(
        &addr,
        "POST",
        &format!("/accounts/{acct}/deposits"),
        Some(&ada),
        Some(json!({"amount": "10"})),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);

    // An order the broker does not take for that instrument: 422 before anything is sent.
    let r = place(
        &addr,
        &ada,
        &acct,
        json!({"symbol": "BTC-USD", "side": "buy", "type": "stop", "stop_price": "70000", "quantity": "1", "time_in_force": "gtc"}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("order_type"), "{}", r.text);
    assert!(orders(&addr, &ada, &acct).await.is_empty());
    assert_eq!(stub.order_count(), 0);

    // The broker down or rate limiting: 503 with Retry-After, nothing recorded as sent.
    stub.fail_next(1, Fault::ServerError);
    let r = place(
        &addr,
        &ada,
        &acct,
        json!({"symbol": "AAPL", "side": "buy", "type": "limit", "limit_price": "100", "quantity": "1", "client_order_id": "retry-me"}),
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(r.text.contains("broker-unavailable"), "{}", r.text);
    stub.fail_next(
        1,
        Fault::RateLimited {
            retry_after_secs: 7,
        },
    );
    let limited = place(
        &addr,
        &ada,
        &acct,
        json!({"symbol": "AAPL", "side": "buy", "type": "limit", "limit_price": "100", "quantity": "1", "client_order_id": "retry-me"}),
    )
    .await;
    assert_eq!(limited.status, 503, "{}", limited.text);
    assert!(orders(&addr, &ada, &acct).await.is_empty());
    assert_eq!(stub.order_count(), 0);

    // Following the account's executions on the WebSocket.
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws?access_token={ada}"))
            .await
            .unwrap();
    for channel in ["orders", "fills"] {
        ws.send(Message::Text(
            json!({"op": "subscribe", "channel": channel})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
        next_json(&mut ws, |v| v["type"] == "subscribed").await;
    }

    // The retry goes through (the same client order id, nothing doubled).
    let r = place(
        &addr,
        &ada,
        &acct,
        json!({"symbol": "AAPL", "side": "buy", "type": "limit", "limit_price": "100", "quantity": "3", "client_order_id": "retry-me"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    order_status(&addr, &ada, &id, "accepted").await;
    assert_eq!(stub.order_count(), 1);

    // A partial fill, with the report delivered twice and reordered; then the rest.
    stub.duplicate_next_event();
    stub.trade("AAPL", dec("99.5"), dec("1"));
    let partial = order_status(&addr, &ada, &id, "partially_filled").await;
    assert_eq!(dec(partial["filled_quantity"].as_str().unwrap()), dec("1"));
    let fill = next_json(&mut ws, |v| v["channel"] == "fills").await;
    assert_eq!(fill["data"]["order_id"], id.as_str(), "{fill}");
    stub.reorder_next_events();
    stub.trade("AAPL", dec("99"), dec("1"));
    stub.trade("AAPL", dec("98"), dec("5"));
    order_status(&addr, &ada, &id, "filled").await;
    // The reordered reports: the later one (cumulative 3) is applied as what it adds,
    // priced at the broker's average; the earlier one then adds nothing.
    let all = fills(&addr, &ada, &acct).await;
    assert!(all.len() <= 3, "{all:?}");
    assert_eq!(filled_total(&all), dec("3"), "{all:?}");
    assert_eq!(position(&addr, &ada, &acct, "AAPL").await, dec("3"));
    let account = call(&addr, "GET", &format!("/accounts/{acct}"), Some(&ada), None).await;
    assert_eq!(
        dec(account.body["cash"].as_str().unwrap()),
        dec("100000") - dec("99.5") - dec("99") - dec("98"),
        "{}",
        account.text
    );

    // A partial fill then a cancel: what filled stays, the rest is cancelled.
    let r = place(
        &addr,
        &ada,
        &acct,
        json!({"symbol": "AAPL", "side": "sell", "type": "limit", "limit_price": "120", "quantity": "3"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sell = r.body["id"].as_str().unwrap().to_owned();
    order_status(&addr, &ada, &sell, "accepted").await;
    stub.trade("AAPL", dec("121"), dec("1"));
    order_status(&addr, &ada, &sell, "partially_filled").await;
    let r = call(
        &addr,
        "DELETE",
        &format!("/orders/{sell}"),
        Some(&ada),
        None,
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let cancelled = order_status(&addr, &ada, &sell, "cancelled").await;
    assert_eq!(
        dec(cancelled["filled_quantity"].as_str().unwrap()),
        dec("1")
    );
    assert_eq!(position(&addr, &ada, &acct, "AAPL").await, dec("2"));

    // A timeout with the outcome unknown: the adapter finds the order by its client id.
    stub.fail_next(1, Fault::Timeout);
    let r = place(
        &addr,
        &ada,
        &acct,
        json!({"symbol": "AAPL", "side": "buy", "type": "limit", "limit_price": "50", "quantity": "1"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let slow = r.body["id"].as_str().unwrap().to_owned();
    order_status(&addr, &ada, &slow, "accepted").await;
    assert_eq!(stub.order_count(), 3, "placed once");

    // An amend replaces the order at the broker; the order keeps its id.
    let r = call(
        &addr,
        "PATCH",
        &format!("/orders/{slow}"),
        Some(&ada),
        Some(json!({"limit_price": "60"})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let amended = eventually(20, "the amended limit", || {
        let (addr, ada, slow) = (addr.clone(), ada.clone(), slow.clone());
        async move {
            let r = call(&addr, "GET", &format!("/orders/{slow}"), Some(&ada), None).await;
            (r.body["limit_price"] == "60").then_some(r.body)
        }
    })
    .await;
    assert_eq!(amended["status"], "accepted", "{amended}");

    // The stream drops and the order fills meanwhile: caught up once, by reconciliation
    // and the reports of the new subscription together.
    stub.drop_streams();
    stub.trade("AAPL", dec("59"), dec("1"));
    order_status(&addr, &ada, &slow, "filled").await;
    assert_eq!(position(&addr, &ada, &acct, "AAPL").await, dec("3"));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let all = fills(&addr, &ada, &acct).await;
    let bought = filled_total(
        &all.iter()
            .filter(|f| f["side"] == "buy")
            .cloned()
            .collect::<Vec<_>>(),
    );
    assert_eq!(bought, dec("4"), "each fill once: {all:?}");

    // Health shows the link.
    let health = call(&addr, "GET", "/health", None, None).await;
    let link = health.body["brokers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["account_id"] == acct.as_str())
        .cloned()
        .unwrap();
    assert_eq!(link["broker"], "alpaca", "{link}");
    assert!(link["halted"].is_null(), "{link}");

    // A working order of Stratus's, to cancel once the account is halted.
    let r = place(
        &addr,
        &ada,
        &acct,
        json!({"symbol": "AAPL", "side": "buy", "type": "limit", "limit_price": "10", "quantity": "1"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let resting = r.body["id"].as_str().unwrap().to_owned();
    order_status(&addr, &ada, &resting, "accepted").await;

    // An order placed at the broker by other means: reconciliation cannot explain it,
    // halts new orders, tells the owner on the WebSocket, and /health says why.
    let outside = brokers::alpaca::AlpacaBroker::new(brokers::alpaca::AlpacaConfig::new(
        brokers::alpaca::Endpoints::at(&stub.base_url()).unwrap(),
        brokers::alpaca::Credentials::new("stub-key", "stub-secret"),
    ))
    .unwrap();
    use brokers::Broker as _;
    let stranger = domain::OrderId::random();
    outside
        .submit(&brokers::BrokerOrder {
            order_id: stranger,
            symbol: domain::Symbol::parse("AAPL").unwrap(),
            asset_class: domain::AssetClass::Equity,
            side: domain::Side::Buy,
            order_type: domain::OrderType::Limit {
                limit_price: domain::Price::parse("p", "10").unwrap(),
            },
            time_in_force: domain::TimeInForce::Gtc,
            quantity: domain::Quantity::parse("q", "1").unwrap(),
        })
        .await
        .unwrap();
    let halted = next_json(&mut ws, |v| v["data"]["type"] == "account.halted").await;
    assert!(
        halted["data"]["payload"]["reason"]
            .as_str()
            .unwrap()
            .contains("did not place"),
        "{halted}"
    );
    let r = place(
        &addr,
        &ada,
        &acct,
        json!({"symbol": "AAPL", "side": "buy", "type": "limit", "limit_price": "100", "quantity": "1"}),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("account-halted"), "{}", r.text);
    let health = call(&addr, "GET", "/health", None, None).await;
    assert!(health.text.contains("did not place"), "{}", health.text);

    // A halt stops new orders only: the owner can still cancel.
    let r = call(
        &addr,
        "DELETE",
        &format!("/orders/{resting}"),
        Some(&ada),
        None,
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    order_status(&addr, &ada, &resting, "cancelled").await;

    // Asking to reconcile while the stranger still works at the broker: still halted.
    let connection = call(
        &addr,
        "GET",
        &format!("/accounts/{acct}/broker-connections"),
        Some(&ada),
        None,
    )
    .await;
    let connection = connection.body["connections"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reconcile = format!("/accounts/{acct}/broker-connections/{connection}/reconcile");
    let r = call(&addr, "POST", &reconcile, Some(&ada), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("did not place"), "{}", r.text);
    assert!(!r.body["connection"]["halted"].is_null(), "{}", r.text);

    // Resolved at the broker, then reconciled: the halt is lifted and orders go again.
    outside.cancel(stranger).await.unwrap();
    let lifted = eventually(20, "the halt lifted", || {
        let (addr, ada, reconcile) = (addr.clone(), ada.clone(), reconcile.clone());
        async move {
            let r = call(&addr, "POST", &reconcile, Some(&ada), None).await;
            r.body["connection"]["halted"].is_null().then_some(r.body)
        }
    })
    .await;
    assert_eq!(lifted["discrepancies"], json!([]), "{lifted}");
    let r = place(
        &addr,
        &ada,
        &acct,
        json!({"symbol": "AAPL", "side": "buy", "type": "limit", "limit_price": "10", "quantity": "1"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);

    p.stop().await;
}

#[tokio::test]
async fn fills_while_stratus_is_down_are_applied_once_at_start_embedded() {
    fills_while_stratus_is_down_are_applied_once_at_start(Backend::Embedded).await;
}

#[cfg(feature = "cloud-tests")]
#[tokio::test]
async fn fills_while_stratus_is_down_are_applied_once_at_start_cloud() {
    fills_while_stratus_is_down_are_applied_once_at_start(Backend::Cloud).await;
}

async fn fills_while_stratus_is_down_are_applied_once_at_start(backend: Backend) {
    let stub = alpaca_stub().await;
    let dir = TempDir::new("alpaca-down");
    let settings = settings(backend, &dir, Some(&stub.base_url()), None).await;
    let p = platform(&settings).await;
    let addr = p.addr.to_string();
    let ada = user(&addr, "ada@example.com").await;
    let opened = alpaca_account(&addr, &ada, "stub-key", "stub-secret").await;
    let acct = opened["id"].as_str().unwrap().to_owned();
    let r = place(
        &addr,
        &ada,
        &acct,
        json!({"symbol": "AAPL", "side": "buy", "type": "limit", "limit_price": "100", "quantity": "4"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    order_status(&addr, &ada, &id, "accepted").await;
    p.stop().await;

    // While Stratus is down the broker fills it in two parts.
    stub.trade("AAPL", dec("99"), dec("1"));
    stub.trade("AAPL", dec("98"), dec("3"));

    let p = platform(&settings).await;
    let addr = p.addr.to_string();
    let login = call(
        &addr,
        "POST",
        "/auth/login",
        None,
        Some(json!({"email": "ada@example.com", "password": crate::support::PASSWORD})),
    )
    .await;
    let ada = login.body["access_token"].as_str().unwrap().to_owned();
    let filled = order_status(&addr, &ada, &id, "filled").await;
    assert_eq!(dec(filled["filled_quantity"].as_str().unwrap()), dec("4"));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        filled_total(&fills(&addr, &ada, &acct).await),
        dec("4"),
        "applied once"
    );
    assert_eq!(position(&addr, &ada, &acct, "AAPL").await, dec("4"));
    let account = call(&addr, "GET", &format!("/accounts/{acct}"), Some(&ada), None).await;
    assert_eq!(
        dec(account.body["cash"].as_str().unwrap()),
        dec("100000") - dec("99") - dec("98") * dec("3"),
        "the broker's average price, to the cent: {}",
        account.text
    );
    // Nothing unexplained: the account is not halted.
    let connections = call(
        &addr,
        "GET",
        &format!("/accounts/{acct}/broker-connections"),
        Some(&ada),
        None,
    )
    .await;
    assert!(
        connections.body["connections"][0]["halted"].is_null(),
        "{}",
        connections.text
    );
    p.stop().await;
}

#[tokio::test]
async fn a_binance_account_routes_orders_and_its_fills_come_back() {
    // 100,000 USDT and 10 BTC already held: the BTC is the account's starting point.
    let stub = broker_stubs::binance::start(broker_stubs::binance::StubConfig::default())
        .await
        .unwrap();
    let dir = TempDir::new("binance");
    let settings = settings(Backend::Embedded, &dir, None, Some(&stub.base_url())).await;
    let p = platform(&settings).await;
    let addr = p.addr.to_string();
    let ada = user(&addr, "ada@example.com").await;
    let r = call(
        &addr,
        "POST",
        "/accounts",
        Some(&ada),
        Some(json!({
            "name": "binance testnet",
            "kind": "broker",
            "broker_connection": {
                "broker": "binance",
                "credentials": {"api_key": stub.api_key(), "secret_key": stub.secret_key()},
            },
        })),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.body["broker_connection"]["status"], "active",
        "{}",
        r.text
    );
    assert_eq!(r.body["broker_connection"]["environment"], "testnet");
    assert_eq!(dec(r.body["cash"].as_str().unwrap()), dec("100000"));
    let acct = r.body["id"].as_str().unwrap().to_owned();

    // Binance has no day orders: refused before anything is sent.
    let day = place(
        &addr,
        &ada,
        &acct,
        json!({"symbol": "BTC-USD", "side": "buy", "type": "limit", "limit_price": "60000", "quantity": "0.5", "time_in_force": "day"}),
    )
    .await;
    assert_eq!(day.status, 422, "{}", day.text);
    assert!(orders(&addr, &ada, &acct).await.is_empty());

    let r = place(
        &addr,
        &ada,
        &acct,
        json!({"symbol": "BTC-USD", "side": "buy", "type": "limit", "limit_price": "60000", "quantity": "0.5"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    order_status(&addr, &ada, &id, "accepted").await;
    stub.trade("BTCUSDT", dec("59990"), dec("0.2")).unwrap();
    order_status(&addr, &ada, &id, "partially_filled").await;
    stub.trade("BTCUSDT", dec("59980"), dec("1")).unwrap();
    order_status(&addr, &ada, &id, "filled").await;
    assert_eq!(position(&addr, &ada, &acct, "BTC-USD").await, dec("0.5"));
    let account = call(&addr, "GET", &format!("/accounts/{acct}"), Some(&ada), None).await;
    assert_eq!(
        dec(account.body["cash"].as_str().unwrap()),
        dec("100000") - dec("59990") * dec("0.2") - dec("59980") * dec("0.3"),
        "{}",
        account.text
    );
    // Reconciliation agrees with the broker (10.5 BTC there: the 10 held at opening and
    // the 0.5 Stratus bought): nothing halts.
    assert_eq!(stub.balance("BTC").0 + stub.balance("BTC").1, dec("10.5"));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let connections = call(
        &addr,
        "GET",
        &format!("/accounts/{acct}/broker-connections"),
        Some(&ada),
        None,
    )
    .await;
    assert!(
        connections.body["connections"][0]["halted"].is_null(),
        "{}",
        connections.text
    );
    p.stop().await;
}

/// Racing orders on a broker account: buying power is reserved as each is recorded, so
/// no more reach the broker than the account's cash covers.
#[tokio::test]
async fn racing_orders_on_a_broker_account_never_overspend() {
    let stub = alpaca_stub().await;
    let dir = TempDir::new("alpaca-race");
    let settings = settings(Backend::Embedded, &dir, Some(&stub.base_url()), None).await;
    let p = platform(&settings).await;
    let addr = p.addr.to_string();
    let ada = user(&addr, "ada@example.com").await;
    let opened = alpaca_account(&addr, &ada, "stub-key", "stub-secret").await;
    let acct = opened["id"].as_str().unwrap().to_owned();
    // 100,000 of cash; each order needs 30,000: three fit.
    let racers = (0..10).map(|_| {
        let (addr, ada, acct) = (addr.clone(), ada.clone(), acct.clone());
        tokio::spawn(async move {
            place(
                &addr,
                &ada,
                &acct,
                json!({"symbol": "AAPL", "side": "buy", "type": "limit", "limit_price": "300", "quantity": "100"}),
            )
            .await
        })
    });
    let mut placed = 0;
    for racer in racers {
        let r = racer.await.unwrap();
        match r.status {
            201 => placed += 1,
            409 => assert!(r.text.contains("insufficient-buying-power"), "{}", r.text),
            other => panic!("{other}: {}", r.text),
        }
    }
    assert_eq!(placed, 3, "exactly what the cash covers");
    assert_eq!(orders(&addr, &ada, &acct).await.len(), 3);
    assert_eq!(stub.order_count(), 3, "and nothing more reached the broker");
    p.stop().await;
}

/// `stratus up --feed alpaca`: the broker's trades (with its latest quote) reach `ticks`
/// and the core, which makes them the market's last price.
#[tokio::test]
async fn a_brokers_market_data_feeds_the_market() {
    let stub = alpaca_stub().await;
    let dir = TempDir::new("alpaca-feed");
    let settings = settings(Backend::Embedded, &dir, Some(&stub.base_url()), None).await;
    let p = platform(&settings).await;
    let addr = p.addr.to_string();
    let ada = user(&addr, "ada@example.com").await;
    let (stop, watch) = tokio::sync::watch::channel(false);
    let credentials = [("key_id", "stub-key"), ("secret_key", "stub-secret")]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let feed = tokio::spawn(core_service::feed::run(
        p.state.clone(),
        FeedConfig::Broker {
            broker: "alpaca".into(),
            environment: "paper".into(),
            symbols: vec![domain::Symbol::parse("AAPL").unwrap()],
            credentials: core_service::feed::FeedCredentials(credentials),
        },
        watch,
        std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
    ));
    // Trades printed until the feed's subscription is up and one comes through.
    let ticker = eventually(20, "a trade from the broker's feed", || {
        let (addr, ada) = (addr.clone(), ada.clone());
        stub.quote("AAPL", dec("187.24"), dec("187.26"));
        stub.trade("AAPL", dec("187.25"), dec("10"));
        async move {
            let r = call(&addr, "GET", "/instruments/AAPL/ticker", Some(&ada), None).await;
            (r.body["last"]["price"] == "187.25").then_some(r.body)
        }
    })
    .await;
    assert_eq!(ticker["last"]["price"], "187.25", "{ticker}");
    stop.send(true).unwrap();
    let published = feed.await.unwrap().unwrap();
    assert!(published >= 1);
    p.stop().await;
}

/// A broker account routes through one connection: two racing attaches make one.
#[tokio::test]
async fn racing_attaches_leave_a_broker_account_one_connection() {
    let stub = alpaca_stub().await;
    let dir = TempDir::new("alpaca-attach");
    let settings = settings(Backend::Embedded, &dir, Some(&stub.base_url()), None).await;
    let p = platform(&settings).await;
    let addr = p.addr.to_string();
    let ada = user(&addr, "ada@example.com").await;
    let opened = alpaca_account(&addr, &ada, "stub-key", "stub-secret").await;
    let acct = opened["id"].as_str().unwrap().to_owned();
    let connections = format!("/accounts/{acct}/broker-connections");
    let id = opened["broker_connection"]["id"].as_str().unwrap();
    let r = call(
        &addr,
        "DELETE",
        &format!("{connections}/{id}"),
        Some(&ada),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let body = json!({"broker": "alpaca", "credentials": {"key_id": "stub-key", "secret_key": "stub-secret"}});
    let racers: Vec<_> = (0..2)
        .map(|_| {
            let (addr, ada, connections, body) =
                (addr.clone(), ada.clone(), connections.clone(), body.clone());
            tokio::spawn(
                async move { call(&addr, "POST", &connections, Some(&ada), Some(body)).await },
            )
        })
        .collect();
    let mut statuses = Vec::new();
    for racer in racers {
        statuses.push(racer.await.unwrap().status);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409]);
    let list = call(&addr, "GET", &connections, Some(&ada), None).await;
    assert_eq!(
        list.body["connections"].as_array().unwrap().len(),
        1,
        "{}",
        list.text
    );
    p.stop().await;
}

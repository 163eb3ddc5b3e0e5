//! The WebSocket's two promises that the end-to-end test cannot provoke on demand: a
//! client that falls behind is dropped (and publishing never waits for it), and
//! subscriptions are validated message by message without closing the connection.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::PathBuf;

use common::settings::{Secret, Settings};
use common::state::Ports;
use common::{AppState, Clock};
use core_service::hub::{Hub, HubMessage};
use domain::{InstrumentCatalog, Quantity, Symbol, Tick, Timestamp, UserId};
use futures_util::{SinkExt, StreamExt};
use store::auth::Role;
use tokio_tungstenite::tungstenite::Message;

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn serve(hub: Hub) -> (String, String, TempDir) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "stratus-ws-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    let clock = Clock::system();
    let ports = Ports::embedded(&dir, &clock).await.unwrap();
    let settings = Settings {
        jwt_secret: Some(Secret::new("ws-test-secret-of-at-least-thirty-two")),
        ..Settings::default()
    };
    let app = AppState::new(settings, ports, InstrumentCatalog::builtin(), clock.clone()).unwrap();
    let token = app
        .keys
        .issue(UserId::from_u128(1), Role::Trader, clock.unix_seconds())
        .unwrap();
    let router = core_service::ws::router(app, hub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (addr, token, TempDir(dir))
}

fn tick(n: i64) -> HubMessage {
    HubMessage::Tick(Tick {
        symbol: Symbol::parse("AAPL").unwrap(),
        time: Timestamp::from_secs(1_800_000_000 + n),
        price: "100".parse().unwrap(),
        size: Quantity::new(1.into()).unwrap(),
        bid: None,
        ask: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_falls_behind_is_closed_and_never_slows_the_publisher() {
    let hub = Hub::new(8);
    let (addr, token, _dir) = serve(hub.clone()).await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws?access_token={token}"))
            .await
            .unwrap();
    ws.send(Message::Text(
        r#"{"op":"subscribe","channel":"ticks","symbol":"AAPL"}"#.into(),
    ))
    .await
    .unwrap();
    let ack = ws.next().await.unwrap().unwrap();
    assert!(ack.to_text().unwrap().contains("subscribed"));
    // Far more than the buffer, at once: publishing returns immediately every time.
    let started = std::time::Instant::now();
    for n in 0..10_000 {
        hub.publish(tick(n));
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // The client gets what it could, then the close for falling behind.
    let mut close = None;
    while let Some(Ok(m)) = ws.next().await {
        if let Message::Close(frame) = m {
            close = frame;
            break;
        }
    }
    let frame = close.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1008, "{frame:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_subscriptions_are_answered_and_the_connection_stays() {
    let hub = Hub::new(64);
    let (addr, token, _dir) = serve(hub.clone()).await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws?access_token={token}"))
            .await
            .unwrap();
    for bad in [
        "not json",
        r#"{"op":"watch","channel":"ticks"}"#,
        r#"{"op":"subscribe","channel":"ticks"}"#,
        r#"{"op":"subscribe","channel":"candles","symbol":"AAPL","timeframe":"7x"}"#,
        r#"{"op":"subscribe","channel":"ticks","symbol":"AAPL","extra":1}"#,
    ] {
        ws.send(Message::Text(bad.into())).await.unwrap();
        let reply = ws.next().await.unwrap().unwrap();
        let v: serde_json::Value = serde_json::from_str(reply.to_text().unwrap()).unwrap();
        assert_eq!(v["type"], "error", "{bad}: {v}");
    }
    ws.send(Message::Text(
        r#"{"op":"subscribe","channel":"ticks","symbol":"AAPL"}"#.into(),
    ))
    .await
    .unwrap();
    ws.next().await.unwrap().unwrap();
    hub.publish(tick(1));
    let m = ws.next().await.unwrap().unwrap();
    let v: serde_json::Value = serde_json::from_str(m.to_text().unwrap()).unwrap();
    assert_eq!(v["channel"], "ticks");
    assert_eq!(v["data"]["price"], "100");
    // A wrong token never gets a WebSocket.
    assert!(
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws?access_token=forged"))
            .await
            .is_err()
    );
}

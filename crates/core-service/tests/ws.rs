//! The WebSocket's two promises that the end-to-end test cannot provoke on demand: a
//! client that falls behind is dropped (and publishing never waits for it), and
//! subscriptions are validated message by message without closing the connection.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::PathBuf;

use app::settings::{Secret, Settings};
use app::{AppState, Clock};
use core_service::hub::{Hub, HubMessage};
use domain::{InstrumentCatalog, Quantity, Symbol, Tick, Timestamp, UserId};
use futures_util::{SinkExt, StreamExt};
use store::users::{Role, UserRecord};
use tokio_tungstenite::tungstenite::Message;

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A served `/ws` over a fresh embedded store, with a registered user: the address, an
/// access token of that user (in a live login session), and the app.
struct Served {
    addr: String,
    token: String,
    app: AppState,
    session: String,
    _dir: TempDir,
}

async fn serve_with(hub: Hub, configure: impl FnOnce(&mut Settings)) -> Served {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "stratus-ws-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    let clock = Clock::system();
    let ports = store::connect::embedded(&dir, &clock).await.unwrap();
    let mut settings = Settings {
        jwt_secret: Some(Secret::new("ws-test-secret-of-at-least-thirty-two")),
        auth_recheck_seconds: 1,
        ..Settings::default()
    };
    configure(&mut settings);
    let app = AppState::new(settings, ports, InstrumentCatalog::builtin(), clock.clone()).unwrap();
    let user = UserId::from_u128(1);
    app.users
        .create(&UserRecord {
            id: user,
            email: "ada@example.com".into(),
            password_hash: "not used".into(),
            role: Role::Trader,
            created_at: clock.unix_seconds(),
        })
        .await
        .unwrap();
    let session = "session-1".to_owned();
    app.refresh_tokens
        .issue(
            user,
            &session,
            "refresh-digest",
            clock.unix_seconds() + 3600,
        )
        .await
        .unwrap();
    let token = app
        .keys
        .issue(user, Role::Trader, Some(&session), clock.unix_seconds())
        .unwrap();
    let router = core_service::ws::router(app.clone(), hub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Served {
        addr,
        token,
        app,
        session,
        _dir: TempDir(dir),
    }
}

async fn serve(hub: Hub) -> (String, String, Served) {
    let served = serve_with(hub, |_| {}).await;
    (served.addr.clone(), served.token.clone(), served)
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: &str, token: &str) -> Socket {
    tokio_tungstenite::connect_async(format!("ws://{addr}/ws?access_token={token}"))
        .await
        .unwrap()
        .0
}

/// Sends one message and returns the JSON answer.
async fn ask(ws: &mut Socket, text: &str) -> serde_json::Value {
    ws.send(Message::Text(text.into())).await.unwrap();
    let reply = ws.next().await.unwrap().unwrap();
    serde_json::from_str(reply.to_text().unwrap()).unwrap()
}

/// Reads until the close frame (within 10 s): its code and reason.
async fn closed(ws: &mut Socket) -> (u16, String) {
    let read = async {
        while let Some(m) = ws.next().await {
            match m {
                Ok(Message::Close(Some(frame))) => {
                    return (u16::from(frame.code), frame.reason.to_string());
                }
                Ok(Message::Close(None)) => return (0, String::new()),
                Ok(_) => continue,
                Err(e) => return (0, e.to_string()),
            }
        }
        (0, "ended without a close frame".to_owned())
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("closed within 10 s")
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
    let (addr, token, _served) = serve(hub.clone()).await;
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
    let (addr, token, _served) = serve(hub.clone()).await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws?access_token={token}"))
            .await
            .unwrap();
    for bad in [
        "not json",
        r#"{"op":"watch","channel":"ticks"}"#,
        r#"{"op":"subscribe","channel":"ticks"}"#,
        r#"{"op":"subscribe","channel":"candles","symbol":"AAPL","timeframe":"7x"}"#,
        // A timeframe ending in a multi-byte character once panicked the socket's task.
        r#"{"op":"subscribe","channel":"candles","symbol":"AAPL","timeframe":"1É"}"#,
        r#"{"op":"subscribe","channel":"candles","symbol":"AAPL","timeframe":"É"}"#,
        r#"{"op":"subscribe","channel":"ticks","symbol":"AAPL","extra":1}"#,
        r#"{"op":"subscribe","channel":"ticks","symbol":"NOSUCH"}"#,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_and_sockets_per_user_are_capped() {
    let served = serve_with(Hub::new(64), |s| {
        s.ws_max_subscriptions = 3;
        s.ws_max_per_user = 2;
    })
    .await;
    let mut ws = connect(&served.addr, &served.token).await;
    for channel in [
        r#"{"op":"subscribe","channel":"ticks","symbol":"AAPL"}"#,
        r#"{"op":"subscribe","channel":"ticks","symbol":"MSFT"}"#,
        r#"{"op":"subscribe","channel":"orders"}"#,
        // Again: already held, so never refused.
        r#"{"op":"subscribe","channel":"ticks","symbol":"AAPL"}"#,
    ] {
        assert_eq!(
            ask(&mut ws, channel).await["type"],
            "subscribed",
            "{channel}"
        );
    }
    let v = ask(&mut ws, r#"{"op":"subscribe","channel":"fills"}"#).await;
    assert_eq!(v["type"], "error", "{v}");
    assert!(v["message"].as_str().unwrap().contains("at most 3"), "{v}");
    assert_eq!(
        ask(&mut ws, r#"{"op":"unsubscribe","channel":"orders"}"#).await["type"],
        "unsubscribed"
    );
    assert_eq!(
        ask(&mut ws, r#"{"op":"subscribe","channel":"fills"}"#).await["type"],
        "subscribed"
    );
    // A second socket is fine, a third is refused before the upgrade.
    let second = connect(&served.addr, &served.token).await;
    let refused = tokio_tungstenite::connect_async(format!(
        "ws://{}/ws?access_token={}",
        served.addr, served.token
    ))
    .await
    .expect_err("a third socket");
    match refused {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status().as_u16(), 429);
        }
        other => panic!("expected an HTTP 429, got {other}"),
    }
    // Closing one frees its slot.
    drop(second);
    let mut freed = None;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if let Ok((ws, _)) = tokio_tungstenite::connect_async(format!(
            "ws://{}/ws?access_token={}",
            served.addr, served.token
        ))
        .await
        {
            freed = Some(ws);
            break;
        }
    }
    assert!(freed.is_some(), "a closed socket's slot is given back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_limit_closes_with_1009() {
    let served = serve_with(Hub::new(64), |_| {}).await;
    let mut ws = connect(&served.addr, &served.token).await;
    let huge = format!(
        r#"{{"op":"subscribe","channel":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let _ = ws.send(Message::Text(huge.into())).await;
    let (code, reason) = closed(&mut ws).await;
    assert_eq!(code, 1009, "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_closes_when_its_session_ends_or_its_key_is_revoked() {
    let served = serve_with(Hub::new(64), |_| {}).await;
    let mut ws = connect(&served.addr, &served.token).await;
    assert_eq!(
        ask(&mut ws, r#"{"op":"subscribe","channel":"orders"}"#).await["type"],
        "subscribed"
    );
    served
        .app
        .refresh_tokens
        .revoke_family(&served.session)
        .await
        .unwrap();
    let (code, reason) = closed(&mut ws).await;
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.contains("session has ended"), "{reason}");

    // An API key's socket closes once the key is revoked.
    let user = UserId::from_u128(1);
    let key = "stk_k1_0123456789abcdef0123456789abcdef";
    served
        .app
        .users
        .add_api_key(
            &app::crypto::sha256_hex(key),
            &store::users::ApiKeyRecord {
                key_id: "k1".into(),
                user_id: user,
                name: "bot".into(),
                prefix: "stk_k1".into(),
                created_at: 0,
                revoked: false,
            },
        )
        .await
        .unwrap();
    let request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("ws://{}/ws", served.addr),
    )
    .map(|mut r| {
        r.headers_mut().insert("x-api-key", key.parse().unwrap());
        r
    })
    .unwrap();
    let (mut bot, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        ask(&mut bot, r#"{"op":"subscribe","channel":"fills"}"#).await["type"],
        "subscribed"
    );
    served.app.users.revoke_api_key(user, "k1").await.unwrap();
    let (code, reason) = closed(&mut bot).await;
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.contains("revoked"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_a_user_that_does_not_exist_gets_no_socket() {
    let served = serve_with(Hub::new(64), |_| {}).await;
    let stranger = served
        .app
        .keys
        .issue(
            UserId::from_u128(99),
            Role::Trader,
            None,
            served.app.clock.unix_seconds(),
        )
        .unwrap();
    let refused = tokio_tungstenite::connect_async(format!(
        "ws://{}/ws?access_token={stranger}",
        served.addr
    ))
    .await
    .expect_err("no such user");
    match refused {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status().as_u16(), 401);
        }
        other => panic!("expected an HTTP 401, got {other}"),
    }
}

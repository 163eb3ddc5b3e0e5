//! The stub's two WebSocket streams, as Alpaca runs them.
//!
//! - `trade_updates` (`/stream`): the client authenticates (`{"action":"auth","key",
//!   "secret"}`, or alpaca-py's older `{"action":"authenticate","data":{"key_id",
//!   "secret_key"}}`), is answered on the `authorization` stream, asks to `listen` to
//!   `["trade_updates"]`, is answered on `listening`, then gets each event as
//!   `{"stream":"trade_updates","data":{…}}` — in **binary** frames, as the paper and live
//!   streams send them.
//! - market data (`/v2/{feed}`): `[{"T":"success","msg":"connected"}]` on connect, `auth`
//!   → `authenticated` (or `[{"T":"error","code":402,"msg":"auth failed"}]` and a close),
//!   `subscribe`/`unsubscribe` with `trades` and `quotes` → the `subscription` in force,
//!   then arrays of `t` and `q` messages, in text frames.
//!
//! Either stream speaks MessagePack to a client that connects with
//! `Content-Type: application/msgpack` ([`super::codec`]). Every connection closes when a
//! test calls `drop_streams`.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use super::codec::{self, Codec};
use super::{Channel, MarketEvent, Shared};

pub(crate) async fn trade_updates(
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    State(shared): State<Arc<Shared>>,
) -> Response {
    let codec = Codec::negotiate(&headers, Codec::JsonBinary, false);
    ws.on_upgrade(move |socket| trade_session(socket, shared, codec))
}

pub(crate) async fn market_data(
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    State(shared): State<Arc<Shared>>,
) -> Response {
    let codec = Codec::negotiate(&headers, Codec::JsonText, true);
    ws.on_upgrade(move |socket| data_session(socket, shared, codec))
}

/// The next item of a subscription, or never when there is none yet.
async fn next<T: Clone>(receiver: &mut Option<broadcast::Receiver<T>>) -> Result<T, RecvError> {
    match receiver {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The credentials of an auth message, in either of the two forms Alpaca accepts.
fn credentials(request: &Value) -> (Option<&str>, Option<&str>) {
    let data = &request["data"];
    (
        request["key"].as_str().or_else(|| data["key_id"].as_str()),
        request["secret"]
            .as_str()
            .or_else(|| data["secret_key"].as_str()),
    )
}

async fn trade_session(mut socket: WebSocket, shared: Arc<Shared>, codec: Codec) {
    let mut drops = shared.drops.subscribe();
    let mut authorized = false;
    let mut updates: Option<broadcast::Receiver<Value>> = None;
    loop {
        let reply = tokio::select! {
            _ = drops.changed() => break,
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return };
                if matches!(message, Message::Close(_)) {
                    return;
                }
                let Some(request) = codec::decode(&message) else { continue };
                match request["action"].as_str() {
                    Some("auth" | "authenticate") => {
                        let (key, secret) = credentials(&request);
                        authorized = shared.config.accepts(key, secret);
                        let status = if authorized { "authorized" } else { "unauthorized" };
                        let reply = json!({"stream": "authorization",
                            "data": {"action": "authenticate", "status": status}});
                        if !authorized {
                            let _ = socket.send(codec.encode(&reply)).await;
                            break;
                        }
                        reply
                    }
                    Some("listen") if authorized => {
                        let listening: Vec<String> = strings(&request["data"]["streams"])
                            .into_iter()
                            .filter(|s| s == "trade_updates")
                            .collect();
                        // Subscribed before the answer, so no event after it is missed.
                        updates = if listening.is_empty() {
                            None
                        } else {
                            updates.take().or_else(|| Some(shared.trade_updates.subscribe()))
                        };
                        json!({"stream": "listening", "data": {"streams": listening}})
                    }
                    Some("listen") => json!({"stream": "authorization",
                        "data": {"action": "listen", "status": "unauthorized"}}),
                    _ => json!({"stream": "listening",
                        "data": {"error": "unrecognized request"}}),
                }
            }
            event = next(&mut updates) => match event {
                Ok(data) => json!({"stream": "trade_updates", "data": data}),
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            },
        };
        if socket.send(codec.encode(&reply)).await.is_err() {
            return;
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

/// What a market-data connection is subscribed to.
#[derive(Debug, Default)]
struct Subscription {
    trades: BTreeSet<String>,
    quotes: BTreeSet<String>,
}

impl Subscription {
    fn wants(&self, event: &MarketEvent) -> bool {
        let set = match event.channel {
            Channel::Trades => &self.trades,
            Channel::Quotes => &self.quotes,
        };
        set.contains(&event.symbol) || set.contains("*")
    }

    fn change(&mut self, request: &Value, add: bool) {
        for (field, set) in [("trades", &mut self.trades), ("quotes", &mut self.quotes)] {
            for symbol in strings(&request[field]) {
                if add {
                    set.insert(symbol);
                } else {
                    set.remove(&symbol);
                }
            }
        }
    }

    fn describe(&self) -> Value {
        let trades: Vec<&String> = self.trades.iter().collect();
        let quotes: Vec<&String> = self.quotes.iter().collect();
        // Alpaca adds corrections and cancel errors for every symbol whose trades it sends.
        json!([{"T": "subscription", "trades": trades, "quotes": quotes, "bars": [],
            "updatedBars": [], "dailyBars": [], "statuses": [], "lulds": [],
            "corrections": trades, "cancelErrors": trades}])
    }
}

async fn data_session(mut socket: WebSocket, shared: Arc<Shared>, codec: Codec) {
    let mut drops = shared.drops.subscribe();
    let connected = json!([{"T": "success", "msg": "connected"}]);
    if socket.send(codec.encode(&connected)).await.is_err() {
        return;
    }
    let mut authenticated = false;
    let mut subscription = Subscription::default();
    let mut market: Option<broadcast::Receiver<MarketEvent>> = None;
    loop {
        let reply = tokio::select! {
            _ = drops.changed() => break,
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return };
                if matches!(message, Message::Close(_)) {
                    return;
                }
                let Some(request) = codec::decode(&message) else {
                    let reply = json!([{"T": "error", "code": 400, "msg": "invalid syntax"}]);
                    if socket.send(codec.encode(&reply)).await.is_err() {
                        return;
                    }
                    continue;
                };
                match request["action"].as_str() {
                    Some("auth") => {
                        let (key, secret) = credentials(&request);
                        authenticated = shared.config.accepts(key, secret);
                        if !authenticated {
                            let reply = json!([{"T": "error", "code": 402, "msg": "auth failed"}]);
                            let _ = socket.send(codec.encode(&reply)).await;
                            break;
                        }
                        json!([{"T": "success", "msg": "authenticated"}])
                    }
                    Some(action @ ("subscribe" | "unsubscribe")) if authenticated => {
                        subscription.change(&request, action == "subscribe");
                        // Subscribed before the answer, so no print after it is missed.
                        if market.is_none() {
                            market = Some(shared.market.subscribe());
                        }
                        subscription.describe()
                    }
                    Some("subscribe" | "unsubscribe") => {
                        json!([{"T": "error", "code": 401, "msg": "not authenticated"}])
                    }
                    _ => json!([{"T": "error", "code": 400, "msg": "invalid syntax"}]),
                }
            }
            event = next(&mut market) => match event {
                Ok(event) if subscription.wants(&event) => json!([event.message]),
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            },
        };
        if socket.send(codec.encode(&reply)).await.is_err() {
            return;
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

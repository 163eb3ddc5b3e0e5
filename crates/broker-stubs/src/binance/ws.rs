//! The stub's WebSockets:
//!
//! - the WebSocket API at `/ws-api/v3` (Binance: `wss://ws-api.binance.com:443/ws-api/v3`),
//!   with what the user data stream needs — `userDataStream.subscribe.signature` (the
//!   current way for an HMAC key: the listenKey endpoints were retired on 2026-02-20, and
//!   `session.logon` with `userDataStream.subscribe` takes Ed25519 keys only),
//!   `userDataStream.unsubscribe`, `session.subscriptions`, `session.status` — plus `ping`
//!   and `time`. Events arrive as `{"subscriptionId": n, "event": {...}}`.
//! - market streams (Binance: `wss://stream.binance.com:9443`): raw at `/ws/<stream>` (or
//!   `/ws` and `SUBSCRIBE`), combined at `/stream?streams=a/b` (or `/stream` and
//!   `SUBSCRIBE`, which is what the SDK does) as `{"stream": name, "data": payload}`;
//!   `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`/`GET_PROPERTY
//!   combined`. Only `<symbol>@trade` and `<symbol>@bookTicker` ever carry data.
//!
//! `BinanceStub::drop_streams` closes every one of them.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::exchange::Refusal;
use super::rest::check_time;
use super::{Shared, signature};

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/ws-api/v3", get(api))
        .route("/ws", get(raw))
        .route("/ws/{*streams}", get(raw_with))
        .route("/stream", get(combined))
}

async fn api(State(shared): State<Arc<Shared>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| api_session(socket, shared))
}

async fn raw(State(shared): State<Arc<Shared>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| market_session(socket, shared, Vec::new(), false))
}

async fn raw_with(
    State(shared): State<Arc<Shared>>,
    Path(streams): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let streams = split_streams(&streams);
    upgrade.on_upgrade(move |socket| market_session(socket, shared, streams, false))
}

async fn combined(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let streams = query
        .get("streams")
        .map(|s| split_streams(s))
        .unwrap_or_default();
    upgrade.on_upgrade(move |socket| market_session(socket, shared, streams, true))
}

fn split_streams(text: &str) -> Vec<String> {
    text.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn text(value: Value) -> Message {
    Message::Text(value.to_string().into())
}

/// One WebSocket API connection: requests in, responses and user-data events out.
async fn api_session(mut socket: WebSocket, shared: Arc<Shared>) {
    let (sender, mut events) = mpsc::unbounded_channel();
    let mut session = ApiSession {
        connection: shared.next_connection(),
        connected_since: shared.now_ms(),
        next_subscription: 0,
        events: sender,
    };
    let mut drops = shared.drops.subscribe();
    let mut shutdown = shared.shutdown.clone();
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(request))) => {
                    let reply = session.answer(&shared, &request);
                    if socket.send(text(reply)).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            Some((subscription, event)) = events.recv() => {
                let frame = json!({"subscriptionId": subscription, "event": event});
                if socket.send(text(frame)).await.is_err() {
                    break;
                }
            }
            _ = drops.changed() => {
                let _ = socket.send(Message::Close(None)).await;
                break;
            }
            _ = shutdown.changed() => break,
        }
    }
    shared.exchange().remove_connection(session.connection);
}

#[derive(Debug)]
struct ApiSession {
    connection: u64,
    connected_since: i64,
    next_subscription: u64,
    /// Where this connection's user-data events are sent (by subscription id).
    events: mpsc::UnboundedSender<(u64, Value)>,
}

impl ApiSession {
    /// The response to one request frame.
    fn answer(&mut self, shared: &Shared, request: &str) -> Value {
        let Ok(request) = serde_json::from_str::<Value>(request) else {
            return json!({
                "id": null,
                "status": 400,
                "error": {"code": -1102, "msg": "Malformed request."},
            });
        };
        let id = request["id"].clone();
        let method = request["method"].as_str().unwrap_or_default();
        let method = method.strip_prefix("v3/").unwrap_or(method);
        let params = request["params"].as_object().cloned().unwrap_or_default();
        let rate_limits = !matches!(params.get("returnRateLimits"), Some(Value::Bool(false)))
            && params.get("returnRateLimits").and_then(Value::as_str) != Some("false");
        let outcome = match method {
            "ping" => Ok(json!({})),
            "time" => Ok(json!({"serverTime": shared.now_ms()})),
            "session.status" => Ok(self.status(shared)),
            "session.subscriptions" => Ok(Value::Array(
                shared
                    .exchange()
                    .user_subscriptions(self.connection)
                    .into_iter()
                    .map(|s| json!({"subscriptionId": s}))
                    .collect(),
            )),
            "userDataStream.subscribe.signature" => self.subscribe(shared, &params),
            "userDataStream.unsubscribe" => {
                let which = params.get("subscriptionId").and_then(|v| match v {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.parse().ok(),
                    _ => None,
                });
                shared.exchange().unsubscribe_user(self.connection, which);
                Ok(json!({}))
            }
            // Both need an Ed25519 key; the stub's keys are HMAC keys.
            "session.logon" | "userDataStream.subscribe" => {
                Err((400, Refusal::new(-1020, "This operation is not supported.")))
            }
            _ => Err((400, Refusal::new(-1020, "This operation is not supported."))),
        };
        let mut reply = match outcome {
            Ok(result) => json!({"id": id, "status": 200, "result": result}),
            Err((status, refusal)) => json!({
                "id": id,
                "status": status,
                "error": {"code": refusal.code, "msg": refusal.msg},
            }),
        };
        if rate_limits {
            if let Some(map) = reply.as_object_mut() {
                map.insert(
                    "rateLimits".into(),
                    json!([{
                        "rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE",
                        "intervalNum": 1, "limit": 6000, "count": shared.add_weight(),
                    }]),
                );
            }
        }
        reply
    }

    fn status(&self, shared: &Shared) -> Value {
        let subscribed = !shared
            .exchange()
            .user_subscriptions(self.connection)
            .is_empty();
        json!({
            "apiKey": null,
            "authorizedSince": null,
            "connectedSince": self.connected_since,
            "returnRateLimits": false,
            "serverTime": shared.now_ms(),
            "userDataStream": subscribed,
        })
    }

    /// `userDataStream.subscribe.signature`: the key, the signature over the sorted
    /// params, the timestamp; then events flow to this connection.
    fn subscribe(
        &mut self,
        shared: &Shared,
        params: &Map<String, Value>,
    ) -> Result<Value, (u16, Refusal)> {
        let param = |name: &str| match params.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let key = param("apiKey").ok_or((400, Refusal::mandatory("apiKey")))?;
        if key != shared.api_key {
            return Err((
                401,
                Refusal::new(-2015, "Invalid API-key, IP, or permissions for action."),
            ));
        }
        let signature = param("signature").ok_or((400, Refusal::mandatory("signature")))?;
        let verified = signature::ws_payloads(params)
            .iter()
            .any(|payload| signature::verify(&shared.secret_key, payload, &signature));
        if !verified {
            return Err((
                400,
                Refusal::new(-1022, "Signature for this request is not valid."),
            ));
        }
        check_time(
            shared,
            param("timestamp").as_deref(),
            param("recvWindow").as_deref(),
        )
        .map_err(|r| (400, r))?;
        let subscription = self.next_subscription;
        let added =
            shared
                .exchange()
                .subscribe_user(self.connection, subscription, self.events.clone());
        if !added {
            return Err((
                400,
                Refusal::new(-2035, "User Data Stream subscription already active."),
            ));
        }
        self.next_subscription += 1;
        Ok(json!({"subscriptionId": subscription}))
    }
}

/// One market-stream connection: payloads of the streams it listens to, and its
/// subscription requests.
async fn market_session(
    mut socket: WebSocket,
    shared: Arc<Shared>,
    streams: Vec<String>,
    combined: bool,
) {
    let connection = shared.next_connection();
    let (sender, mut payloads) = mpsc::unbounded_channel();
    {
        let mut exchange = shared.exchange();
        exchange.add_market(connection, combined, sender);
        exchange.listen(connection, &streams, true);
    }
    let mut drops = shared.drops.subscribe();
    let mut shutdown = shared.shutdown.clone();
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(request))) => {
                    let reply = market_request(&shared, connection, &request);
                    if socket.send(text(reply)).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            Some(payload) = payloads.recv() => {
                if socket.send(Message::Text(payload.into())).await.is_err() {
                    break;
                }
            }
            _ = drops.changed() => {
                let _ = socket.send(Message::Close(None)).await;
                break;
            }
            _ = shutdown.changed() => break,
        }
    }
    shared.exchange().remove_connection(connection);
}

fn market_request(shared: &Shared, connection: u64, request: &str) -> Value {
    let Ok(request) = serde_json::from_str::<Value>(request) else {
        return json!({"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"});
    };
    let id = request["id"].clone();
    let params = request["params"].as_array().cloned().unwrap_or_default();
    let names: Vec<String> = params
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let mut exchange = shared.exchange();
    match request["method"].as_str().unwrap_or_default() {
        "SUBSCRIBE" => {
            exchange.listen(connection, &names, true);
            json!({"result": null, "id": id})
        }
        "UNSUBSCRIBE" => {
            exchange.listen(connection, &names, false);
            json!({"result": null, "id": id})
        }
        "LIST_SUBSCRIPTIONS" => json!({"result": exchange.streams_of(connection), "id": id}),
        "SET_PROPERTY" => match (params.first().and_then(Value::as_str), params.get(1)) {
            (Some("combined"), Some(Value::Bool(on))) => {
                exchange.set_combined(connection, *on);
                json!({"result": null, "id": id})
            }
            (Some("combined"), _) => {
                json!({"code": 1, "msg": "Invalid value type: expected Boolean", "id": id})
            }
            _ => json!({"code": 0, "msg": "Unknown property", "id": id}),
        },
        "GET_PROPERTY" => match params.first().and_then(Value::as_str) {
            Some("combined") => json!({"result": exchange.combined(connection), "id": id}),
            _ => json!({"code": 0, "msg": "Unknown property", "id": id}),
        },
        _ => json!({"code": 2, "msg": "Invalid request: unknown variant", "id": id}),
    }
}

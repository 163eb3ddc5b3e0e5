//! `GET /ws`: a WebSocket for market data and the caller's own executions.
//!
//! Authenticate as for the API — `Authorization: Bearer <access token>`, an API key
//! (`X-Api-Key`), or `?access_token=` for browsers, which cannot set headers on a
//! WebSocket. Then send JSON messages:
//!
//! ```json
//! {"op":"subscribe","channel":"ticks","symbol":"AAPL"}
//! {"op":"subscribe","channel":"candles","symbol":"AAPL","timeframe":"1m"}
//! {"op":"subscribe","channel":"orders"}      // the caller's accounts' order events
//! {"op":"subscribe","channel":"fills"}
//! {"op":"subscribe","channel":"positions"}
//! {"op":"unsubscribe","channel":"ticks","symbol":"AAPL"}
//! ```
//!
//! and receive `{"channel": …, "data": …}`. Executions and positions go only to the owner
//! of their account — never to anyone else, whatever they subscribe to. A bad message
//! gets `{"type":"error",…}` and the connection stays; a client that falls more than the
//! hub's buffer behind is closed (code 1008), so a slow client never slows the core.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::AppState;
use common::auth::Principal;
use domain::{AccountId, Symbol, Timeframe};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::hub::{Hub, HubMessage};

#[derive(Clone)]
struct WsState {
    app: AppState,
    hub: Hub,
}

/// The `/ws` route.
pub fn router(app: AppState, hub: Hub) -> Router {
    Router::new()
        .route("/ws", get(upgrade))
        .with_state(WsState { app, hub })
}

#[derive(Debug, Deserialize)]
struct WsQuery {
    #[serde(default)]
    access_token: Option<String>,
}

async fn upgrade(
    State(ctx): State<WsState>,
    Query(query): Query<WsQuery>,
    ws: WebSocketUpgrade,
    parts: Parts,
) -> Response {
    let mut parts = parts;
    if let Some(token) = &query.access_token {
        if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
            parts
                .headers
                .insert(axum::http::header::AUTHORIZATION, value);
        }
    }
    let principal = match common::auth::authenticate(&ctx.app, &parts, &ctx.app.clock).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    ws.max_message_size(16 * 1024)
        .on_upgrade(move |socket| client(socket, ctx, principal))
}

#[derive(Debug, Default)]
struct Subscriptions {
    ticks: BTreeSet<Symbol>,
    candles: BTreeSet<(Symbol, Option<Timeframe>)>,
    orders: bool,
    fills: bool,
    positions: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientMessage {
    op: String,
    channel: String,
    #[serde(default)]
    symbol: Option<String>,
    #[serde(default)]
    timeframe: Option<String>,
}

impl Subscriptions {
    fn change(&mut self, text: &str) -> Result<serde_json::Value, String> {
        let m: ClientMessage =
            serde_json::from_str(text).map_err(|e| format!("not a subscription message: {e}"))?;
        let on = match m.op.as_str() {
            "subscribe" => true,
            "unsubscribe" => false,
            other => {
                return Err(format!(
                    "op must be subscribe or unsubscribe, not {other:?}"
                ));
            }
        };
        let symbol = || -> Result<Symbol, String> {
            let s = m
                .symbol
                .as_deref()
                .ok_or("symbol is required for this channel")?;
            Symbol::parse(s).map_err(|e| e.to_string())
        };
        match m.channel.as_str() {
            "ticks" => {
                let s = symbol()?;
                if on {
                    self.ticks.insert(s);
                } else {
                    self.ticks.remove(&s);
                }
            }
            "candles" => {
                let s = symbol()?;
                let tf = match m.timeframe.as_deref() {
                    None => None,
                    Some(t) => Some(Timeframe::parse(t).map_err(|e| e.to_string())?),
                };
                if on {
                    self.candles.insert((s, tf));
                } else {
                    self.candles.remove(&(s, tf));
                }
            }
            "orders" => self.orders = on,
            "fills" => self.fills = on,
            "positions" => self.positions = on,
            other => {
                return Err(format!(
                    "channel must be ticks, candles, orders, fills or positions, not {other:?}"
                ));
            }
        }
        Ok(serde_json::json!({
            "type": if on { "subscribed" } else { "unsubscribed" },
            "channel": m.channel,
            "symbol": m.symbol,
            "timeframe": m.timeframe,
        }))
    }
}

/// Which accounts are the connection's user's: asked of the system of record once per
/// account seen (an account never changes owner, so the answer is kept).
#[derive(Default)]
struct Owned {
    accounts: HashMap<AccountId, bool>,
}

impl Owned {
    async fn owns(&mut self, app: &AppState, principal: &Principal, account: AccountId) -> bool {
        if let Some(known) = self.accounts.get(&account) {
            return *known;
        }
        match app.records.account(principal.user_id, account).await {
            Ok(found) => {
                let mine = found.is_some();
                self.accounts.insert(account, mine);
                mine
            }
            // Not known now: withheld, and asked again next time.
            Err(_) => false,
        }
    }
}

async fn render(
    message: &HubMessage,
    subs: &Subscriptions,
    owned: &mut Owned,
    app: &AppState,
    principal: &Principal,
) -> Vec<serde_json::Value> {
    match message {
        HubMessage::Tick(t) if subs.ticks.contains(&t.symbol) => vec![serde_json::json!({
            "channel": "ticks",
            "data": {"symbol": t.symbol, "time": t.time, "price": t.price, "size": t.size},
        })],
        HubMessage::Candle(c)
            if subs.candles.contains(&(c.symbol, Some(c.timeframe)))
                || subs.candles.contains(&(c.symbol, None)) =>
        {
            vec![serde_json::json!({ "channel": "candles", "data": c })]
        }
        HubMessage::Execution { account, event } if subs.orders || subs.fills => {
            if !owned.owns(app, principal, *account).await {
                return Vec::new();
            }
            let mut out = Vec::new();
            if subs.orders {
                out.push(serde_json::json!({
                    "channel": "orders",
                    "data": {"type": event.event_type, "time": event.time, "payload": event.payload},
                }));
            }
            if subs.fills && event.event_type == "order.filled" {
                out.push(serde_json::json!({ "channel": "fills", "data": event.payload }));
            }
            out
        }
        HubMessage::Position { account, position } if subs.positions => {
            if owned.owns(app, principal, *account).await {
                vec![serde_json::json!({ "channel": "positions", "data": position })]
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}

async fn client(mut socket: WebSocket, ctx: WsState, principal: Principal) {
    let mut rx = ctx.hub.subscribe();
    let mut subs = Subscriptions::default();
    let mut owned = Owned::default();
    let mut ping = tokio::time::interval(Duration::from_secs(30));
    ping.tick().await;
    tracing::debug!(user_id = %principal.user_id, "websocket open");
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { break };
                let reply = match message {
                    Message::Text(text) => match subs.change(text.as_str()) {
                        Ok(ack) => ack,
                        Err(e) => serde_json::json!({"type": "error", "message": e}),
                    },
                    Message::Binary(_) => serde_json::json!({"type": "error", "message": "send JSON text messages"}),
                    Message::Close(_) => break,
                    _ => continue,
                };
                if socket.send(Message::Text(reply.to_string().into())).await.is_err() {
                    break;
                }
            }
            received = rx.recv() => {
                match received {
                    Ok(message) => {
                        for out in render(&message, &subs, &mut owned, &ctx.app, &principal).await {
                            if socket.send(Message::Text(out.to_string().into())).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::info!(user_id = %principal.user_id, missed, "slow websocket client dropped");
                        let _ = socket
                            .send(Message::Close(Some(CloseFrame {
                                code: 1008,
                                reason: "too slow: messages were dropped; reconnect".into(),
                            })))
                            .await;
                        return;
                    }
                    Err(RecvError::Closed) => break,
                }
            }
            _ = ping.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
        }
    }
}

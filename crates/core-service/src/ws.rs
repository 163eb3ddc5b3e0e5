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
//! (an unknown channel or symbol, a subscription past `ws_max_subscriptions`) gets
//! `{"type":"error",…}` and the connection stays; a client that falls more than the
//! hub's buffer behind is closed (code 1008), so a slow client never slows the core.
//!
//! Limits and revocation: a user holds at most `ws_max_per_user` sockets (one more is a
//! 429 before the upgrade); a message over 16 KiB closes the socket with 1009; the
//! socket's credential is checked again every `auth_recheck_seconds` (at least every
//! second), and a socket whose access token expired, whose login session ended, whose
//! API key was revoked or whose user is gone is closed with 1008 and the reason.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use api::ApiError;
use api::principal::Principal;
use app::AppState;
use axum::Router;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::{AccountId, Symbol, Timeframe, UserId};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::hub::{Hub, HubMessage};

/// The largest message a client may send.
const MAX_MESSAGE_BYTES: usize = 16 * 1024;

#[derive(Clone)]
struct WsState {
    app: AppState,
    hub: Hub,
    open: OpenSockets,
}

/// The `/ws` route.
pub fn router(app: AppState, hub: Hub) -> Router {
    Router::new()
        .route("/ws", get(upgrade))
        .with_state(WsState {
            app,
            hub,
            open: OpenSockets::default(),
        })
}

/// How many sockets each user has open.
#[derive(Clone, Default)]
struct OpenSockets(Arc<Mutex<HashMap<UserId, u32>>>);

/// One open socket, counted until it is dropped.
struct SocketSlot {
    open: OpenSockets,
    user: UserId,
}

impl OpenSockets {
    /// A slot for one more of `user`'s sockets, unless they hold `max` already.
    fn claim(&self, user: UserId, max: u32) -> Option<SocketSlot> {
        let mut open = self.0.lock().ok()?;
        let count = open.entry(user).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(SocketSlot {
            open: self.clone(),
            user,
        })
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.open.0.lock() {
            if let Some(count) = open.get_mut(&self.user) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    open.remove(&self.user);
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct WsQuery {
    #[serde(default)]
    access_token: Option<String>,
}

#[utoipa::path(get, path = "/ws", tag = "meta", operation_id = "websocket",
    summary = "WebSocket: ticks and candles by symbol; the caller's orders, fills and positions",
    description = "Upgrade to a WebSocket (authenticate with a bearer token, an API key, or ?access_token=). Send {\"op\":\"subscribe\",\"channel\":\"ticks|candles|orders|fills|positions\",\"symbol\":…,\"timeframe\":…}; receive {\"channel\":…,\"data\":…}. See README for limits and close codes.",
    params(
        ("access_token" = Option<String>, Query, description = "For browsers, which cannot set headers on a WebSocket"),
        ("Connection" = String, Header, description = "`Upgrade`", pattern = "^[Uu]pgrade$"),
        ("Upgrade" = String, Header, description = "`websocket`", pattern = "^websocket$"),
        ("Sec-WebSocket-Version" = String, Header, pattern = "^13$"),
        ("Sec-WebSocket-Key" = String, Header, description = "16 random bytes in base64", pattern = "^[A-Za-z0-9+/]{22}==$"),
    ),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 429, description = "The user has the most WebSockets open at once (Retry-After)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
async fn upgrade(
    State(ctx): State<WsState>,
    Query(query): Query<WsQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    parts: Parts,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            return ApiError::bad_request(format!(
                "GET /ws is a WebSocket: connect with Upgrade: websocket ({rejection})"
            ))
            .into_response();
        }
    };
    let mut parts = parts;
    if let Some(token) = &query.access_token {
        if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
            parts
                .headers
                .insert(axum::http::header::AUTHORIZATION, value);
        }
    }
    let principal = match api::principal::authenticate(&ctx.app, &parts, &ctx.app.clock).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let max = ctx.app.settings.ws_max_per_user;
    let Some(slot) = ctx.open.claim(principal.user_id, max) else {
        let mut e = ApiError::too_many_requests(5);
        e.detail = format!("at most {max} WebSockets per user are open at once; close one first");
        return e.into_response();
    };
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| client(socket, ctx, principal, slot))
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
    fn count(&self) -> usize {
        self.ticks.len()
            + self.candles.len()
            + usize::from(self.orders)
            + usize::from(self.fills)
            + usize::from(self.positions)
    }

    /// Applies one client message: the acknowledgement, or why it was refused (nothing
    /// changes then). Symbols must be instruments; at most `max` subscriptions are held
    /// (subscribing again to what is already held is never refused).
    fn change(
        &mut self,
        text: &str,
        instruments: &domain::InstrumentCatalog,
        max: usize,
    ) -> Result<serde_json::Value, String> {
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
            let symbol = Symbol::parse(s).map_err(|e| e.to_string())?;
            if instruments.get(symbol).is_none() {
                return Err(format!(
                    "{symbol} is not an instrument (see GET /instruments)"
                ));
            }
            Ok(symbol)
        };
        let room = self.count() < max;
        let full =
            || format!("at most {max} subscriptions per connection; unsubscribe from one first");
        match m.channel.as_str() {
            "ticks" => {
                let s = symbol()?;
                if !on {
                    self.ticks.remove(&s);
                } else if room || self.ticks.contains(&s) {
                    self.ticks.insert(s);
                } else {
                    return Err(full());
                }
            }
            "candles" => {
                let s = symbol()?;
                let tf = match m.timeframe.as_deref() {
                    None => None,
                    Some(t) => Some(Timeframe::parse(t).map_err(|e| e.to_string())?),
                };
                let key = (s, tf);
                if !on {
                    self.candles.remove(&key);
                } else if room || self.candles.contains(&key) {
                    self.candles.insert(key);
                } else {
                    return Err(full());
                }
            }
            channel @ ("orders" | "fills" | "positions") => {
                let flag = match channel {
                    "orders" => &mut self.orders,
                    "fills" => &mut self.fills,
                    _ => &mut self.positions,
                };
                if on && !*flag && !room {
                    return Err(full());
                }
                *flag = on;
            }
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
        match app.accounts.account(principal.user_id, account).await {
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

/// A close frame with `reason` cut to what a close frame carries (123 bytes).
fn close(code: u16, reason: &str) -> Message {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: reason[..end].into(),
    }))
}

async fn client(mut socket: WebSocket, ctx: WsState, principal: Principal, _slot: SocketSlot) {
    let mut rx = ctx.hub.subscribe();
    let mut subs = Subscriptions::default();
    let mut owned = Owned::default();
    let mut ping = tokio::time::interval(Duration::from_secs(30));
    ping.tick().await;
    let recheck_every =
        Duration::from_secs(u64::from(ctx.app.settings.auth_recheck_seconds).max(1));
    let mut recheck = tokio::time::interval(recheck_every);
    recheck.tick().await;
    let max_subscriptions =
        usize::try_from(ctx.app.settings.ws_max_subscriptions).unwrap_or(usize::MAX);
    tracing::debug!(user_id = %principal.user_id, "websocket open");
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let message = match incoming {
                    None => break,
                    Some(Ok(message)) => message,
                    Some(Err(e)) => {
                        // Reading failed: a message over the limit, or a protocol error.
                        // Say which before closing, when the socket can still say it.
                        let text = e.to_string();
                        let frame = if text.contains("too long") || text.contains("too big") {
                            close(1009, &format!("messages are at most {MAX_MESSAGE_BYTES} bytes"))
                        } else {
                            close(1002, "protocol error")
                        };
                        let _ = socket.send(frame).await;
                        break;
                    }
                };
                let reply = match message {
                    Message::Text(text) => match subs.change(text.as_str(), &ctx.app.instruments, max_subscriptions) {
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
                            .send(close(1008, "too slow: messages were dropped; reconnect"))
                            .await;
                        return;
                    }
                    Err(RecvError::Closed) => break,
                }
            }
            _ = recheck.tick() => {
                if let Err(e) = api::principal::recheck(&ctx.app, &principal).await {
                    if e.status.is_server_error() {
                        // The stores did not answer: keep the socket, ask again later.
                        continue;
                    }
                    tracing::info!(user_id = %principal.user_id, reason = %e.detail, "websocket credential no longer valid");
                    let _ = socket.send(close(1008, &e.detail)).await;
                    return;
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

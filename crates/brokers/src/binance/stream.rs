//! The user data stream as execution reports.
//!
//! Subscribing: Binance retired the listenKey (`POST /api/v3/userDataStream` and
//! `wss://stream…/ws/<listenKey>`) on 2026-02-20; the user data stream is now on the
//! WebSocket API. With an HMAC key the way in is `userDataStream.subscribe.signature`
//! (`session.logon` + `userDataStream.subscribe` takes Ed25519 keys only), which the
//! official SDK (`binance-sdk-spot`'s `user_data_stream_subscribe_signature`) uses too:
//! `apiKey`, `recvWindow` and `timestamp` signed sorted by name. Events then arrive as
//! `{"subscriptionId": n, "event": {...}}`; the feed is returned once Binance has
//! confirmed the subscription, so nothing after it is missed.
//!
//! Mapping `executionReport` (`x`, the execution type): `NEW` → `Accepted` (revision 0)
//! or `Replaced` (a replacement's first report); `TRADE` → `PartialFill` or `Fill` by `X`;
//! `CANCELED` → `Cancelled`, except the cancel half of a replace (its `c` is the
//! adapter's replace marker), which is not the Stratus order's end and is not reported;
//! `REJECTED` → `Rejected`; `EXPIRED` (IOC/FOK remainders) and `TRADE_PREVENTION` →
//! `Expired`; `REPLACED` (an amend) → `Replaced`. The order is as after the event:
//! filled `z` plus what replaced revisions filled, average `Z / z` likewise. A fill is
//! `l` at `L`, id `<symbol>-<t>`, with fee `n` when its asset `N` is the pair's quote
//! asset and that is USDT (the account's dollars); a fee in the base asset or BNB is
//! reported as zero (the balances show it). `event_id` is
//! `binance:<symbol>:<orderId>:<x>:<I>` (`I`, the execution id, is Binance's per event):
//! the same for an event delivered twice. Events for orders Stratus did not place are
//! skipped.
//!
//! The feed ends with an error when the connection closes, fails or Binance terminates
//! the subscription.

use std::sync::Arc;
use std::time::Duration;

use domain::Money;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::http::sign;
use super::orders::{Session, decode_replace_marker};
use super::wire::{
    Carried, ExecutionReportJson, Pair, USD_STAND_IN, decimal, millis, optional_decimal, price,
    quantity, unreadable,
};
use crate::client_id;
use crate::{BrokerError, BrokerFill, BrokerResult, ExecutionFeed, ExecutionKind, ExecutionReport};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const SUBSCRIBE_ID: &str = "stratus-user-data";

/// Connects to the WebSocket API and subscribes to the user data stream.
pub(crate) async fn subscribe(
    session: Arc<Session>,
    ws_api: &str,
    timeout: Duration,
    recv_window_ms: u32,
) -> BrokerResult<ExecutionFeed> {
    let connect = tokio_tungstenite::connect_async(ws_api);
    let (mut socket, _) = tokio::time::timeout(timeout, connect)
        .await
        .map_err(|_| BrokerError::Unavailable("the WebSocket API did not answer".into()))?
        .map_err(|e| BrokerError::Unavailable(format!("the WebSocket API: {e}")))?;
    let credentials = session.rest.credentials();
    let timestamp = session.rest.now_ms();
    let payload = format!(
        "apiKey={}&recvWindow={recv_window_ms}&timestamp={timestamp}",
        credentials.api_key
    );
    let request = json!({
        "id": SUBSCRIBE_ID,
        "method": "userDataStream.subscribe.signature",
        "params": {
            "apiKey": credentials.api_key,
            "recvWindow": recv_window_ms,
            "timestamp": timestamp,
            "signature": sign(&credentials.secret_key, &payload),
        },
    });
    socket
        .send(Message::text(request.to_string()))
        .await
        .map_err(|e| BrokerError::Unavailable(format!("the WebSocket API: {e}")))?;
    tokio::time::timeout(timeout, confirmed(&mut socket))
        .await
        .map_err(|_| {
            BrokerError::Unavailable("no answer to the user data subscription".into())
        })??;
    let (sender, feed) = ExecutionFeed::channel(1024);
    session.add_feed(&sender);
    tokio::spawn(read(socket, session, sender));
    Ok(feed)
}

/// Waits for the answer to the subscription.
async fn confirmed(socket: &mut Socket) -> BrokerResult<()> {
    while let Some(message) = socket.next().await {
        let message =
            message.map_err(|e| BrokerError::Unavailable(format!("the WebSocket API: {e}")))?;
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(answer) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if answer["id"] != SUBSCRIBE_ID {
            continue;
        }
        if answer["status"] == 200 {
            return Ok(());
        }
        let status = answer["status"].as_u64().unwrap_or_default();
        let code = answer["error"]["code"].as_i64().unwrap_or_default();
        let msg = answer["error"]["msg"]
            .as_str()
            .unwrap_or("the user data subscription was refused")
            .to_string();
        return Err(match (status, code) {
            (429 | 418, _) => BrokerError::RateLimited {
                retry_after: answer["error"]["data"]["retryAfter"]
                    .as_u64()
                    .map_or(1, |ms| ms.div_ceil(1000)),
            },
            (401, _) | (_, -2015 | -2014 | -1022 | -1002) => BrokerError::Unauthorized(msg),
            (500.., _) => BrokerError::Unavailable(msg),
            _ => BrokerError::Rejected(msg),
        });
    }
    Err(BrokerError::Unavailable(
        "the WebSocket API closed before answering".into(),
    ))
}

async fn read(
    mut socket: Socket,
    session: Arc<Session>,
    sender: tokio::sync::mpsc::Sender<BrokerResult<ExecutionReport>>,
) {
    let end = loop {
        let message = tokio::select! {
            _ = sender.closed() => {
                let _ = socket.close(None).await;
                return;
            }
            message = socket.next() => message,
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            // Pings are answered by tungstenite as it reads.
            Some(Ok(Message::Close(_))) | None => {
                break BrokerError::Unavailable("the user data stream closed".into());
            }
            Some(Err(e)) => {
                break BrokerError::Unavailable(format!("the user data stream failed: {e}"));
            }
            Some(Ok(_)) => continue,
        };
        let Ok(frame) = serde_json::from_str::<Value>(&text) else {
            tracing::warn!("an unreadable frame on the user data stream");
            continue;
        };
        let event = &frame["event"];
        match event["e"].as_str() {
            Some("executionReport") => {
                let report = match serde_json::from_value::<ExecutionReportJson>(event.clone()) {
                    Ok(event) => report(&session, event).await,
                    Err(e) => Err(unreadable(format!("executionReport: {e}"))),
                };
                match report {
                    Ok(Some(report)) => {
                        if sender.send(Ok(report)).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => {}
                    // A report that cannot be made would be a fill lost: end the feed, so
                    // the consumer catches up from the orders.
                    Err(e) => break e,
                }
            }
            Some("eventStreamTerminated") => {
                break BrokerError::Unavailable("binance ended the user data stream".into());
            }
            _ => {}
        }
    };
    tracing::info!(reason = %end, "binance user data stream ended");
    let _ = sender.send(Err(end)).await;
}

/// An `executionReport` as Stratus's report (module docs); `None` for events that are
/// not one.
async fn report(
    session: &Session,
    event: ExecutionReportJson,
) -> BrokerResult<Option<ExecutionReport>> {
    let Some((order_id, revision)) = client_id::decode(event.order_client_id()) else {
        return Ok(None);
    };
    let pair = match session.tracked(order_id) {
        Some(tracked) => tracked.pair,
        None => session.pair_of_venue(&event.symbol)?,
    };
    let kind = match event.execution_type.as_str() {
        "NEW" if revision == 0 => ExecutionKind::Accepted,
        "NEW" | "REPLACED" => ExecutionKind::Replaced,
        "TRADE" if event.status == "FILLED" => ExecutionKind::Fill,
        "TRADE" => ExecutionKind::PartialFill,
        "CANCELED" => {
            let replaced = decode_replace_marker(&event.client_order_id)
                .is_some_and(|(id, to)| id == order_id && to == revision + 1);
            if replaced {
                let filled = Carried {
                    quantity: decimal("z", &event.cumulative_quantity)?,
                    quote: decimal("Z", &event.cumulative_quote)?,
                };
                session.ended(order_id, &pair, revision, filled);
                return Ok(None);
            }
            ExecutionKind::Cancelled
        }
        "REJECTED" => ExecutionKind::Rejected,
        "EXPIRED" | "TRADE_PREVENTION" => ExecutionKind::Expired,
        other => {
            tracing::debug!(
                execution_type = other,
                "an execution type Stratus does not report"
            );
            return Ok(None);
        }
    };
    session.seen(order_id, &pair, revision);
    let carried = session.carried(order_id, &pair, revision).await?;
    let order = event.facts(order_id, &pair).state(carried)?;
    let fill = match kind {
        ExecutionKind::PartialFill | ExecutionKind::Fill => Some(fill(&event, &pair)?),
        _ => None,
    };
    let sequence = event.execution_id.unwrap_or(event.event_time);
    Ok(Some(ExecutionReport {
        event_id: format!(
            "binance:{}:{}:{}:{sequence}",
            event.symbol, event.order_id, event.execution_type
        ),
        kind,
        order,
        fill,
        time: millis(event.transaction_time),
    }))
}

fn fill(event: &ExecutionReportJson, pair: &Pair) -> BrokerResult<BrokerFill> {
    let fee_asset = event.commission_asset.as_deref();
    let in_dollars = fee_asset.is_some()
        && fee_asset == pair.quote.as_deref()
        && fee_asset == Some(USD_STAND_IN);
    let fee = if in_dollars {
        Money::new(optional_decimal("n", event.commission.as_deref())?)
    } else {
        Money::ZERO
    };
    Ok(BrokerFill {
        execution_id: format!("{}-{}", event.symbol, event.trade_id.unwrap_or_default()),
        quantity: quantity("l", decimal("l", &event.last_quantity)?)?,
        price: price("L", &event.last_price)?
            .ok_or_else(|| unreadable("a trade without a price"))?,
        fee,
        time: millis(event.transaction_time),
    })
}

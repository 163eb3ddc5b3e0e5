//! The `trade_updates` stream → [`ExecutionReport`]s: connect, authenticate, listen, then
//! a reader task per subscription that maps each event (see the parent module for the
//! mapping) and ends the feed with `Unavailable` when the connection does.

use std::sync::Arc;

use domain::{Money, Price, Quantity, Timestamp};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::execution::Inner;
use super::socket::{self, Read, Socket};
use super::wire::{self, StreamFrame, TradeUpdate};
use crate::{BrokerError, BrokerFill, BrokerResult, ExecutionFeed, ExecutionKind, ExecutionReport};

/// How many reports may wait for a slow consumer before the reader waits too.
const CAPACITY: usize = 1024;

/// Connects, authenticates and listens; the feed, once Alpaca says it is listening.
pub(crate) async fn subscribe(inner: Arc<Inner>) -> BrokerResult<ExecutionFeed> {
    let config = &inner.config;
    let deadline = Instant::now() + config.timeout;
    let mut socket = socket::connect(&config.endpoints.stream, config.timeout).await?;
    let auth = json!({
        "action": "auth",
        "key": config.credentials.key_id(),
        "secret": config.credentials.secret_key(),
    });
    socket::send(&mut socket, &auth).await?;
    let answer = socket::next_before(&mut socket, deadline).await?;
    let frame: StreamFrame = serde_json::from_slice(&answer).map_err(|e| {
        BrokerError::Unavailable(format!("the trade_updates stream's answer to auth: {e}"))
    })?;
    let status = serde_json::from_str::<serde_json::Value>(frame.data.get())
        .ok()
        .and_then(|data| {
            data.get("status")
                .and_then(|s| s.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    if frame.stream == "authorization" && status == "unauthorized" {
        return Err(BrokerError::Unauthorized(format!(
            "the trade_updates stream answered {} {status}",
            frame.stream
        )));
    }
    if frame.stream != "authorization" || status != "authorized" {
        // Not a refusal of the key: something else went wrong; subscribe again later.
        return Err(BrokerError::Unavailable(format!(
            "the trade_updates stream answered {} {status}",
            frame.stream
        )));
    }
    let listen = json!({"action": "listen", "data": {"streams": ["trade_updates"]}});
    socket::send(&mut socket, &listen).await?;
    loop {
        let answer = socket::next_before(&mut socket, deadline).await?;
        let Ok(frame) = serde_json::from_slice::<StreamFrame>(&answer) else {
            continue;
        };
        if frame.stream == "listening" {
            if frame.data.get().contains("\"trade_updates\"") {
                break;
            }
            return Err(BrokerError::Unavailable(format!(
                "alpaca would not listen to trade_updates: {}",
                frame.data.get()
            )));
        }
    }
    let (sender, feed) = ExecutionFeed::channel(CAPACITY);
    tokio::spawn(read(socket, sender, inner));
    Ok(feed)
}

/// What one event becomes.
#[derive(Debug)]
enum Mapped {
    Report(ExecutionKind),
    /// `replaced`: reported with the replacement's terms, fetched by `replaced_by`.
    Replaced,
    Skip,
}

fn map_event(update: &TradeUpdate) -> Mapped {
    match update.event.as_str() {
        // A replacement's own acceptance: its `replaced` event reports the new terms.
        "new" | "accepted" if update.order.replaces.is_some() => Mapped::Skip,
        "new" | "accepted" => Mapped::Report(ExecutionKind::Accepted),
        "partial_fill" => Mapped::Report(ExecutionKind::PartialFill),
        "fill" => Mapped::Report(ExecutionKind::Fill),
        "canceled" => Mapped::Report(ExecutionKind::Cancelled),
        "rejected" => Mapped::Report(ExecutionKind::Rejected),
        "expired" => Mapped::Report(ExecutionKind::Expired),
        "replaced" => Mapped::Replaced,
        // pending_new, pending_cancel, pending_replace, done_for_day, calculated,
        // restated, order_cancel_rejected, order_replace_rejected, and anything new.
        _ => Mapped::Skip,
    }
}

/// Alpaca's `execution_id` when it sends one, else the order, event and time — the same
/// for the same event sent twice.
fn event_id(update: &TradeUpdate) -> String {
    match update.execution_id.as_deref().filter(|id| !id.is_empty()) {
        Some(id) => id.to_owned(),
        None => format!(
            "{}:{}:{}",
            update.order.id,
            update.event,
            update.timestamp.as_deref().unwrap_or_default()
        ),
    }
}

/// The fill an execution event carries (its own price and quantity, not the order's).
fn fill(update: &TradeUpdate, event_id: &str, time: Timestamp) -> Option<BrokerFill> {
    let quantity = update.qty.0.and_then(|q| Quantity::new(q).ok())?;
    let price = update.price.0.and_then(|p| Price::new(p).ok())?;
    Some(BrokerFill {
        execution_id: event_id.to_owned(),
        quantity,
        price,
        fee: Money::ZERO,
        time,
    })
}

/// One event as the report to send, if any. `Err` ends the feed.
async fn report(inner: &Inner, update: TradeUpdate) -> BrokerResult<Option<ExecutionReport>> {
    if update.order.stratus_id().is_none() {
        return Ok(None);
    }
    let kind = match map_event(&update) {
        Mapped::Skip => return Ok(None),
        Mapped::Report(kind) => kind,
        Mapped::Replaced => ExecutionKind::Replaced,
    };
    let event_id = event_id(&update);
    let order = if kind == ExecutionKind::Replaced {
        inner.follow(update.order.clone()).await.map_err(|e| {
            BrokerError::Unavailable(format!(
                "cannot read the order that replaced {}: {e}",
                update.order.id
            ))
        })?
    } else {
        inner.remember(&update.order);
        update.order.clone()
    };
    let state = match wire::order_state(&order) {
        Ok(state) => state,
        Err(e) => {
            tracing::warn!(alpaca_id = %order.id, error = %e, "trade update skipped");
            return Ok(None);
        }
    };
    let time = update
        .timestamp
        .as_deref()
        .and_then(|t| Timestamp::parse(t).ok())
        .unwrap_or(state.updated_at);
    let fill = match kind {
        ExecutionKind::Fill | ExecutionKind::PartialFill => {
            let fill = fill(&update, &event_id, time);
            if fill.is_none() {
                tracing::warn!(event_id, "a fill event without its price or quantity");
            }
            fill
        }
        _ => None,
    };
    Ok(Some(ExecutionReport {
        event_id,
        kind,
        order: state,
        fill,
        time,
    }))
}

async fn read(
    mut socket: Socket,
    sender: mpsc::Sender<BrokerResult<ExecutionReport>>,
    inner: Arc<Inner>,
) {
    let ended = loop {
        let payload = tokio::select! {
            // The consumer dropped the feed: nothing more to read for.
            _ = sender.closed() => return,
            read = socket::next(&mut socket) => match read {
                Read::Payload(payload) => payload,
                Read::Ended(why) => break format!("the trade_updates stream ended: {why}"),
            },
        };
        let frame = match serde_json::from_slice::<StreamFrame>(&payload) {
            Ok(frame) if frame.stream == "trade_updates" => frame,
            // Acknowledgements and other streams.
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable trade_updates frame skipped");
                continue;
            }
        };
        let update = match serde_json::from_str::<TradeUpdate>(frame.data.get()) {
            Ok(update) => update,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable trade update skipped");
                continue;
            }
        };
        match report(&inner, update).await {
            Ok(Some(report)) => {
                if sender.send(Ok(report)).await.is_err() {
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => {
                let _ = sender.send(Err(e)).await;
                return;
            }
        }
    };
    tracing::info!(reason = %ended, "alpaca execution feed ended");
    let _ = sender.send(Err(BrokerError::Unavailable(ended))).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(event: &str, execution_id: Option<&str>, replaces: Option<&str>) -> TradeUpdate {
        let text = serde_json::json!({
            "event": event, "execution_id": execution_id,
            "timestamp": "2024-03-01T15:00:00.5Z", "price": "10.5", "qty": "2",
            "order": {"id": "o-1", "client_order_id": "x", "status": "new",
                "replaces": replaces},
        })
        .to_string();
        serde_json::from_str(&text).expect("update")
    }

    #[test]
    fn events_map_onto_report_kinds() {
        let kind = |event: &str| match map_event(&update(event, None, None)) {
            Mapped::Report(kind) => Some(kind),
            Mapped::Replaced => Some(ExecutionKind::Replaced),
            Mapped::Skip => None,
        };
        assert_eq!(kind("new"), Some(ExecutionKind::Accepted));
        assert_eq!(kind("accepted"), Some(ExecutionKind::Accepted));
        assert_eq!(kind("partial_fill"), Some(ExecutionKind::PartialFill));
        assert_eq!(kind("fill"), Some(ExecutionKind::Fill));
        assert_eq!(kind("canceled"), Some(ExecutionKind::Cancelled));
        assert_eq!(kind("rejected"), Some(ExecutionKind::Rejected));
        assert_eq!(kind("expired"), Some(ExecutionKind::Expired));
        assert_eq!(kind("replaced"), Some(ExecutionKind::Replaced));
        for skipped in [
            "pending_new",
            "pending_cancel",
            "done_for_day",
            "restated",
            "calculated",
        ] {
            assert_eq!(kind(skipped), None, "{skipped}");
        }
        assert!(matches!(
            map_event(&update("new", None, Some("o-0"))),
            Mapped::Skip
        ));
    }

    #[test]
    fn event_ids_are_stable() {
        assert_eq!(event_id(&update("fill", Some("exec-1"), None)), "exec-1");
        let without = update("canceled", None, None);
        assert_eq!(event_id(&without), "o-1:canceled:2024-03-01T15:00:00.5Z");
        assert_eq!(
            event_id(&without),
            event_id(&update("canceled", Some(""), None))
        );
        let time = Timestamp::from_secs(1);
        let f = fill(&update("fill", Some("e"), None), "e", time).expect("fill");
        assert_eq!(
            (f.quantity.value(), f.price.value()),
            ("2".parse().expect("d"), "10.5".parse().expect("d"))
        );
    }
}

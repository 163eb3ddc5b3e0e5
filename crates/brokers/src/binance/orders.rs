//! Orders at Binance in Stratus's terms: submit, cancel, replace (by `cancelReplace`),
//! an order by Stratus's id, the open orders — and what the adapter remembers to do
//! that: which symbol and revision each order is at, and what replaced revisions filled.
//!
//! Identity. Binance finds an order by client id only within a symbol, and a replacement
//! is a new order with a new client id (`client_id::encode(order, revision + 1)`), so
//! `order(id)` needs the symbol and the current revision. This process remembers both for
//! the orders it has seen; for one it has not (after a restart) it looks in the open
//! orders of every symbol (the working revision is the open one), then in each symbol of
//! `BinanceConfig::symbols`, revision 0 and upward until Binance has no such order.
//!
//! Quantities across revisions. A replacement starts from nothing filled: its quantity is
//! the Stratus order's new quantity less what earlier revisions filled, and the Stratus
//! order's filled quantity (and average price) adds those revisions' fills back (kept
//! from the cancel half of each replace; read again by client id when not known).
//! Binance cannot make the two halves atomic with a fill: one landing between the status
//! read and the cancel-replace leaves the replacement larger by it (logged).
//!
//! Retries. Binance refuses a client id only while an order with it is open, so a submit
//! repeated after the first one filled would be placed again: a submit of an order this
//! process has already sent looks it up first and refuses if Binance has it (a process
//! that restarted must do the same with `order` before sending again, as
//! `BrokerError::UnknownOutcome` asks). A submit, cancel or replace that times out is
//! looked up by client id; if that settles nothing the outcome is unknown.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use domain::{OrderId, OrderType, Symbol};
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::Value;
use tokio::sync::mpsc;

use super::http::{CallError, Rest};
use super::wire::{
    CancelReplaceJson, Carried, OrderJson, Pair, decimal, side_name, tif_name, type_name,
};
use crate::client_id::{self, MAX_REVISION};
use crate::{
    BrokerError, BrokerOrder, BrokerOrderState, BrokerResult, ExecutionKind, ExecutionReport,
    Replace,
};

/// What the adapter remembers of an order.
#[derive(Debug, Clone)]
pub(crate) struct Tracked {
    pub pair: Pair,
    /// The revision working at Binance (0 until replaced).
    pub revision: u32,
    /// What each replaced revision filled.
    pub replaced: BTreeMap<u32, Carried>,
}

impl Tracked {
    fn new(pair: Pair, revision: u32) -> Self {
        Tracked {
            pair,
            revision,
            replaced: BTreeMap::new(),
        }
    }
}

/// The client id of the cancel half of a replace to `revision`: `<order>_<revision>`.
/// On the user data stream the cancel's `c` is this, which is how the adapter tells a
/// replace's cancel (not the Stratus order's end) from a cancel.
pub(crate) fn replace_marker(order: OrderId, revision: u32) -> String {
    format!("{}_{revision}", order.as_uuid().simple())
}

/// The order and revision a replace's cancel id names.
pub(crate) fn decode_replace_marker(text: &str) -> Option<(OrderId, u32)> {
    let (order, revision) = text.split_once('_')?;
    let revision: u32 = revision.parse().ok()?;
    let (id, _) = client_id::decode(order)?;
    (revision > 0).then_some((id, revision))
}

fn unknown_order(id: OrderId) -> BrokerError {
    BrokerError::NotFound(format!("binance has no order {id}"))
}

/// The adapter's session with Binance: REST and the order memory (module docs).
#[derive(Debug)]
pub(crate) struct Session {
    pub rest: Rest,
    symbols: Vec<Symbol>,
    orders: Mutex<HashMap<OrderId, Tracked>>,
    /// The live execution feeds, for the one report the stream cannot give (a replace
    /// whose new half Binance refused after cancelling the order). Weak: a feed ends when
    /// its reader task drops its sender, not when this forgets it.
    feeds: Mutex<Vec<mpsc::WeakSender<BrokerResult<ExecutionReport>>>>,
}

impl Session {
    pub fn new(rest: Rest, symbols: Vec<Symbol>) -> Self {
        Session {
            rest,
            symbols,
            orders: Mutex::new(HashMap::new()),
            feeds: Mutex::new(Vec::new()),
        }
    }

    fn orders(&self) -> MutexGuard<'_, HashMap<OrderId, Tracked>> {
        // A panic while holding the lock leaves plain data, still consistent per entry.
        self.orders.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn tracked(&self, id: OrderId) -> Option<Tracked> {
        self.orders().get(&id).cloned()
    }

    fn track(&self, id: OrderId, tracked: Tracked) {
        self.orders().insert(id, tracked);
    }

    fn forget(&self, id: OrderId) {
        self.orders().remove(&id);
    }

    /// Notes that `revision` is working (seen on the stream or in an answer).
    pub fn seen(&self, id: OrderId, pair: &Pair, revision: u32) {
        let mut orders = self.orders();
        let entry = orders
            .entry(id)
            .or_insert_with(|| Tracked::new(pair.clone(), revision));
        entry.revision = entry.revision.max(revision);
    }

    /// Notes what `revision` filled when a replace ended it.
    pub fn ended(&self, id: OrderId, pair: &Pair, revision: u32, filled: Carried) {
        let mut orders = self.orders();
        let entry = orders
            .entry(id)
            .or_insert_with(|| Tracked::new(pair.clone(), revision + 1));
        entry.replaced.insert(revision, filled);
        entry.revision = entry.revision.max(revision + 1);
    }

    pub fn add_feed(&self, sender: &mpsc::Sender<BrokerResult<ExecutionReport>>) {
        let mut feeds = self.feeds.lock().unwrap_or_else(|p| p.into_inner());
        feeds.retain(|f| f.strong_count() > 0);
        feeds.push(sender.downgrade());
    }

    fn publish(&self, report: ExecutionReport) {
        let mut feeds = self.feeds.lock().unwrap_or_else(|p| p.into_inner());
        feeds.retain(|f| match f.upgrade() {
            Some(sender) => {
                let _ = sender.try_send(Ok(report.clone()));
                true
            }
            None => false,
        });
    }

    /// The pair of a Binance symbol: the one this process mapped, else the reverse map.
    pub fn pair_of_venue(&self, venue: &str) -> BrokerResult<Pair> {
        let known = self
            .orders()
            .values()
            .find(|t| t.pair.venue == venue)
            .map(|t| t.pair.clone())
            .or_else(|| {
                self.symbols
                    .iter()
                    .map(|s| Pair::of(*s))
                    .find(|p| p.venue == venue)
            });
        known.map_or_else(|| Pair::from_venue(venue), Ok)
    }

    /// An order by client id within a symbol; `None` if Binance has none (-2013).
    async fn lookup(&self, venue: &str, client_id: &str) -> Result<Option<OrderJson>, CallError> {
        let params = [
            ("symbol", venue.to_string()),
            ("origClientOrderId", client_id.to_string()),
        ];
        match self
            .rest
            .signed(Method::GET, "/api/v3/order", &params)
            .await
        {
            Ok(order) => Ok(Some(order)),
            Err(e) if e.code() == Some(-2013) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Where order `id` is: its symbol and working revision (module docs).
    async fn resolve(&self, id: OrderId) -> BrokerResult<Tracked> {
        if let Some(tracked) = self.tracked(id) {
            return Ok(tracked);
        }
        let open: Vec<OrderJson> = self
            .rest
            .signed(Method::GET, "/api/v3/openOrders", &[])
            .await
            .map_err(CallError::into_broker)?;
        for order in &open {
            if let Some((found, revision)) = client_id::decode(&order.client_order_id) {
                if found == id {
                    let tracked = Tracked::new(self.pair_of_venue(&order.symbol)?, revision);
                    self.track(id, tracked.clone());
                    return Ok(tracked);
                }
            }
        }
        let mut pairs: Vec<Pair> = self.symbols.iter().map(|s| Pair::of(*s)).collect();
        for tracked in self.orders().values() {
            if !pairs.iter().any(|p| p.venue == tracked.pair.venue) {
                pairs.push(tracked.pair.clone());
            }
        }
        for pair in pairs {
            let first = self
                .lookup(&pair.venue, &client_id::encode(id, 0))
                .await
                .map_err(CallError::into_broker)?;
            if first.is_none() {
                continue;
            }
            let mut revision = 0;
            while revision < MAX_REVISION {
                let next = self
                    .lookup(&pair.venue, &client_id::encode(id, revision + 1))
                    .await
                    .map_err(CallError::into_broker)?;
                if next.is_none() {
                    break;
                }
                revision += 1;
            }
            let tracked = Tracked::new(pair, revision);
            self.track(id, tracked.clone());
            return Ok(tracked);
        }
        Err(unknown_order(id))
    }

    /// What the revisions before `revision` filled (remembered, else read by client id).
    pub async fn carried(&self, id: OrderId, pair: &Pair, revision: u32) -> BrokerResult<Carried> {
        let mut total = Carried::default();
        for earlier in 0..revision {
            let known = self
                .tracked(id)
                .and_then(|t| t.replaced.get(&earlier).copied());
            let filled = match known {
                Some(filled) => filled,
                None => {
                    let order = self
                        .lookup(&pair.venue, &client_id::encode(id, earlier))
                        .await
                        .map_err(CallError::into_broker)?
                        .ok_or_else(|| unknown_order(id))?;
                    let filled = filled_of(&order)?;
                    self.ended(id, pair, earlier, filled);
                    filled
                }
            };
            total.quantity += filled.quantity;
            total.quote += filled.quote;
        }
        Ok(total)
    }

    /// The Stratus order an order object of Binance's describes.
    async fn state_of(
        &self,
        id: OrderId,
        pair: &Pair,
        order: &OrderJson,
    ) -> BrokerResult<BrokerOrderState> {
        let revision = client_id::decode(order.order_client_id())
            .map(|(_, r)| r)
            .unwrap_or_default();
        let carried = self.carried(id, pair, revision).await?;
        order.facts(id, pair).state(carried)
    }

    pub async fn submit(&self, order: &BrokerOrder) -> BrokerResult<BrokerOrderState> {
        let id = order.order_id;
        let pair = Pair::of(order.symbol);
        let client = client_id::encode(id, 0);
        if let Some(sent) = self.tracked(id) {
            let current = client_id::encode(id, sent.revision);
            let found = self
                .lookup(&sent.pair.venue, &current)
                .await
                .map_err(CallError::into_broker)?;
            if let Some(found) = found {
                return Err(BrokerError::Rejected(format!(
                    "client order id {client} is already in use (the order is {})",
                    found.status
                )));
            }
        }
        self.track(id, Tracked::new(pair.clone(), 0));
        let mut params = order_params(
            &pair,
            order.side,
            order.order_type,
            order.time_in_force,
            order.quantity.value(),
        );
        params.push(("newClientOrderId", client.clone()));
        params.push(("newOrderRespType", "RESULT".to_string()));
        match self
            .rest
            .signed::<OrderJson>(Method::POST, "/api/v3/order", &params)
            .await
        {
            Ok(placed) => self.state_of(id, &pair, &placed).await,
            Err(e @ CallError::Refused { .. }) => {
                let error = e.into_broker();
                if error != BrokerError::Rejected("Duplicate order sent.".into()) {
                    self.forget(id);
                }
                Err(error)
            }
            Err(CallError::NotSent(m)) => {
                self.forget(id);
                Err(BrokerError::Unavailable(m))
            }
            Err(e @ (CallError::NoAnswer(_) | CallError::ServerError(_))) => {
                match self.lookup(&pair.venue, &client).await {
                    Ok(Some(placed)) => self.state_of(id, &pair, &placed).await,
                    Ok(None) => Err(unsettled(e, "submit")),
                    Err(_) => Err(BrokerError::UnknownOutcome(format!(
                        "the submit of {id} got no answer and the order could not be looked up"
                    ))),
                }
            }
        }
    }

    pub async fn cancel(&self, id: OrderId) -> BrokerResult<()> {
        let tracked = self.resolve(id).await?;
        let client = client_id::encode(id, tracked.revision);
        let params = [
            ("symbol", tracked.pair.venue.clone()),
            ("origClientOrderId", client.clone()),
        ];
        match self
            .rest
            .signed::<Value>(Method::DELETE, "/api/v3/order", &params)
            .await
        {
            Ok(_) => Ok(()),
            Err(e @ CallError::Refused { .. }) => match e.into_broker() {
                // Binance says "Unknown order sent." for an order that is no longer open.
                BrokerError::NotFound(_) => match self.lookup(&tracked.pair.venue, &client).await {
                    Ok(Some(order)) => Err(BrokerError::Rejected(format!(
                        "order {id} is {} at binance",
                        order.status
                    ))),
                    _ => Err(unknown_order(id)),
                },
                other => Err(other),
            },
            Err(CallError::NotSent(m)) => Err(BrokerError::Unavailable(m)),
            Err(e @ (CallError::NoAnswer(_) | CallError::ServerError(_))) => {
                match self.lookup(&tracked.pair.venue, &client).await {
                    Ok(Some(order)) if order.status == "CANCELED" => Ok(()),
                    Ok(_) => Err(unsettled(e, "cancel")),
                    Err(_) => Err(BrokerError::UnknownOutcome(format!(
                        "the cancel of {id} got no answer and the order could not be looked up"
                    ))),
                }
            }
        }
    }

    pub async fn replace(&self, replace: &Replace) -> BrokerResult<BrokerOrderState> {
        let id = replace.order_id;
        let tracked = self.resolve(id).await?;
        let pair = tracked.pair.clone();
        let client = client_id::encode(id, tracked.revision);
        let current = self
            .lookup(&pair.venue, &client)
            .await
            .map_err(CallError::into_broker)?
            .ok_or_else(|| unknown_order(id))?;
        let state = self.state_of(id, &pair, &current).await?;
        if !state.status.is_open() {
            return Err(BrokerError::Rejected(format!(
                "order {id} is {} at binance",
                current.status
            )));
        }
        let order_type = replace.order_type(state.order_type)?;
        let total = replace.quantity.unwrap_or(state.quantity);
        if total <= state.filled_quantity {
            return Err(BrokerError::Rejected(
                "the new quantity must exceed what has filled".into(),
            ));
        }
        let revision = tracked.revision + 1;
        if revision > MAX_REVISION {
            return Err(BrokerError::Rejected(format!(
                "order {id} has been replaced {MAX_REVISION} times, the most a client id can say"
            )));
        }
        let rest_quantity = total.value() - state.filled_quantity.value();
        let mut params = order_params(
            &pair,
            state.side,
            order_type,
            state.time_in_force,
            rest_quantity,
        );
        params.extend([
            ("cancelReplaceMode", "STOP_ON_FAILURE".to_string()),
            ("cancelOrigClientOrderId", client.clone()),
            ("cancelNewClientOrderId", replace_marker(id, revision)),
            ("newClientOrderId", client_id::encode(id, revision)),
            ("newOrderRespType", "RESULT".to_string()),
        ]);
        let answer = self
            .rest
            .signed::<CancelReplaceJson>(Method::POST, "/api/v3/order/cancelReplace", &params)
            .await;
        match answer {
            Ok(both) => {
                let ended = filled_of(&both.cancel_response)?;
                let read = decimal("executedQty", &current.executed_qty)?;
                if ended.quantity != read {
                    tracing::warn!(
                        order_id = %id,
                        filled_before = %read,
                        filled_at_cancel = %ended.quantity,
                        "fills between the status read and the cancel-replace: the replacement is larger by them"
                    );
                }
                self.ended(id, &pair, tracked.revision, ended);
                self.state_of(id, &pair, &both.new_order_response).await
            }
            Err(CallError::Refused {
                code: -2021, data, ..
            }) => Err(self.cancelled_not_replaced(id, &pair, data.as_ref()).await),
            Err(CallError::Refused {
                code: -2022, data, ..
            }) => {
                let why = data
                    .as_ref()
                    .and_then(|d| d["cancelResponse"]["msg"].as_str())
                    .unwrap_or("the cancel failed");
                Err(BrokerError::Rejected(format!(
                    "binance did not replace order {id}: {why}"
                )))
            }
            Err(e @ CallError::Refused { .. }) => Err(e.into_broker()),
            Err(CallError::NotSent(m)) => Err(BrokerError::Unavailable(m)),
            Err(e @ (CallError::NoAnswer(_) | CallError::ServerError(_))) => {
                let replacement = self
                    .lookup(&pair.venue, &client_id::encode(id, revision))
                    .await;
                match replacement {
                    Ok(Some(new)) => {
                        // Ended by the replace: what it filled is read with the carried.
                        self.seen(id, &pair, revision);
                        self.state_of(id, &pair, &new).await
                    }
                    Ok(None) => {
                        // Which revision is working is now unknown: find it again next time.
                        self.forget(id);
                        Err(unsettled(e, "replace"))
                    }
                    Err(_) => {
                        self.forget(id);
                        Err(BrokerError::UnknownOutcome(format!(
                            "the replace of {id} got no answer and the order could not be looked up"
                        )))
                    }
                }
            }
        }
    }

    /// Binance cancelled the order but refused the replacement (-2021): the order has
    /// ended, which the stream will not say (its cancel carries the replace's id), so the
    /// feeds hear it here.
    async fn cancelled_not_replaced(
        &self,
        id: OrderId,
        pair: &Pair,
        data: Option<&Value>,
    ) -> BrokerError {
        let why = data
            .and_then(|d| d["newOrderResponse"]["msg"].as_str())
            .unwrap_or("the new order failed")
            .to_string();
        let cancelled = data
            .and_then(|d| serde_json::from_value::<OrderJson>(d["cancelResponse"].clone()).ok());
        if let Some(cancelled) = cancelled {
            if let Ok(order) = self.state_of(id, pair, &cancelled).await {
                self.publish(ExecutionReport {
                    event_id: format!(
                        "binance:{}:{}:CANCELED",
                        cancelled.symbol, cancelled.order_id
                    ),
                    kind: ExecutionKind::Cancelled,
                    time: order.updated_at,
                    order,
                    fill: None,
                });
            }
        }
        BrokerError::Rejected(format!(
            "binance cancelled order {id} but refused its replacement: {why}"
        ))
    }

    pub async fn order(&self, id: OrderId) -> BrokerResult<BrokerOrderState> {
        let tracked = self.resolve(id).await?;
        let order = self
            .lookup(
                &tracked.pair.venue,
                &client_id::encode(id, tracked.revision),
            )
            .await
            .map_err(CallError::into_broker)?
            .ok_or_else(|| unknown_order(id))?;
        self.state_of(id, &tracked.pair, &order).await
    }

    pub async fn open_orders(&self) -> BrokerResult<Vec<BrokerOrderState>> {
        let open: Vec<OrderJson> = self
            .rest
            .signed(Method::GET, "/api/v3/openOrders", &[])
            .await
            .map_err(CallError::into_broker)?;
        let mut states = Vec::with_capacity(open.len());
        // Orders placed at Binance by other means have no Stratus id: not Stratus's to list.
        for order in &open {
            let Some((id, revision)) = client_id::decode(&order.client_order_id) else {
                continue;
            };
            let pair = self.pair_of_venue(&order.symbol)?;
            self.seen(id, &pair, revision);
            states.push(self.state_of(id, &pair, order).await?);
        }
        Ok(states)
    }
}

/// What a revision filled, from its order object.
fn filled_of(order: &OrderJson) -> BrokerResult<Carried> {
    Ok(Carried {
        quantity: decimal("executedQty", &order.executed_qty)?,
        quote: decimal("cummulativeQuoteQty", &order.cummulative_quote_qty)?.max(Decimal::ZERO),
    })
}

/// The error for a mutating request whose lookup did not find its effect: after no
/// answer the outcome is unknown; after a 5xx Binance is unavailable (nothing found).
fn unsettled(error: CallError, what: &str) -> BrokerError {
    match error {
        CallError::ServerError(m) => BrokerError::Unavailable(m),
        CallError::NoAnswer(m) | CallError::NotSent(m) => BrokerError::UnknownOutcome(format!(
            "the {what} got no answer ({m}); look the order up before sending it again"
        )),
        refused => refused.into_broker(),
    }
}

/// A new order's parameters (without its client id).
fn order_params(
    pair: &Pair,
    side: domain::Side,
    order_type: OrderType,
    time_in_force: domain::TimeInForce,
    quantity: Decimal,
) -> Vec<(&'static str, String)> {
    let (kind, timed) = type_name(order_type);
    let mut params = vec![
        ("symbol", pair.venue.clone()),
        ("side", side_name(side).to_string()),
        ("type", kind.to_string()),
    ];
    if timed {
        params.push(("timeInForce", tif_name(time_in_force).to_string()));
    }
    params.push(("quantity", quantity.normalize().to_string()));
    if let Some(limit) = order_type.limit_price() {
        params.push(("price", limit.value().normalize().to_string()));
    }
    if let OrderType::Stop { stop_price } | OrderType::StopLimit { stop_price, .. } = order_type {
        params.push(("stopPrice", stop_price.value().normalize().to_string()));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_markers_name_the_order_and_the_new_revision() {
        let id = OrderId::random();
        let marker = replace_marker(id, 7);
        assert!(marker.len() <= 36, "a Binance client id: {marker}");
        assert_eq!(decode_replace_marker(&marker), Some((id, 7)));
        assert_eq!(decode_replace_marker(&client_id::encode(id, 7)), None);
        assert_eq!(decode_replace_marker("web_abc"), None);
        assert_eq!(
            decode_replace_marker(&replace_marker(id, 999)).map(|m| m.1),
            Some(999)
        );
    }
}

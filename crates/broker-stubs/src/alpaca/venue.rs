//! The account behind the Alpaca stub: Alpaca's order objects and their lifecycle, the
//! fills a printed trade makes, positions and cash, and the `trade_updates` events each
//! change publishes (with the duplicate and reorder faults applied on the way out).
//!
//! Fills follow the paper venue's rules (`brokers::paper`), the conformance suite's
//! reference: a market order fills at the trade's price; a limit order when the trade is
//! at or better than its limit; a stop (stop-limit) order triggers when a trade reaches its
//! stop and then works as a market (limit) order; each order fills at most the trade's
//! quantity; IOC and FOK orders get one trade. No fees (Alpaca charges no commission).

use std::collections::{BTreeMap, HashMap};

use domain::{Clock, Timestamp};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::rest::ApiError;

/// What `trade_updates` events are sent as: the `data` of a `trade_updates` frame.
pub(crate) type TradeUpdate = Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AssetClass {
    Equity,
    Crypto,
}

impl AssetClass {
    /// Alpaca writes crypto pairs with a slash (`BTC/USD`); everything else is a US equity.
    fn of(symbol: &str) -> Self {
        if symbol.contains('/') {
            AssetClass::Crypto
        } else {
            AssetClass::Equity
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            AssetClass::Equity => "us_equity",
            AssetClass::Crypto => "crypto",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Buy,
    Sell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Market,
    Limit,
    Stop,
    StopLimit,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Market => "market",
            Kind::Limit => "limit",
            Kind::Stop => "stop",
            Kind::StopLimit => "stop_limit",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tif {
    Day,
    Gtc,
    Ioc,
    Fok,
}

impl Tif {
    fn as_str(self) -> &'static str {
        match self {
            Tif::Day => "day",
            Tif::Gtc => "gtc",
            Tif::Ioc => "ioc",
            Tif::Fok => "fok",
        }
    }
}

/// The statuses the stub moves an order through (a subset of Alpaca's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    New,
    PartiallyFilled,
    Filled,
    Canceled,
    Expired,
    Replaced,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::PartiallyFilled => "partially_filled",
            Status::Filled => "filled",
            Status::Canceled => "canceled",
            Status::Expired => "expired",
            Status::Replaced => "replaced",
        }
    }

    /// What `GET /v2/orders?status=open` lists, and what can be cancelled or replaced.
    pub(crate) fn is_open(self) -> bool {
        matches!(self, Status::New | Status::PartiallyFilled)
    }
}

/// A new order as `POST /v2/orders` asks for it, validated.
#[derive(Debug, Clone)]
pub(crate) struct NewOrder {
    pub symbol: String,
    pub qty: Decimal,
    pub side: Side,
    pub kind: Kind,
    pub tif: Tif,
    pub limit_price: Option<Decimal>,
    pub stop_price: Option<Decimal>,
    pub client_order_id: Option<String>,
    pub extended_hours: bool,
}

/// New terms from `PATCH /v2/orders/{id}` (`None` keeps a term).
#[derive(Debug, Clone, Default)]
pub(crate) struct NewTerms {
    pub qty: Option<Decimal>,
    pub tif: Option<Tif>,
    pub limit_price: Option<Decimal>,
    pub stop_price: Option<Decimal>,
    pub client_order_id: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct StubOrder {
    pub id: Uuid,
    pub client_order_id: String,
    created_at: Timestamp,
    updated_at: Timestamp,
    submitted_at: Timestamp,
    filled_at: Option<Timestamp>,
    expired_at: Option<Timestamp>,
    canceled_at: Option<Timestamp>,
    replaced_at: Option<Timestamp>,
    replaced_by: Option<Uuid>,
    replaces: Option<Uuid>,
    pub symbol: String,
    asset_class: AssetClass,
    qty: Decimal,
    filled_qty: Decimal,
    /// Sum of price × quantity filled, for the average price.
    filled_notional: Decimal,
    kind: Kind,
    side: Side,
    tif: Tif,
    limit_price: Option<Decimal>,
    stop_price: Option<Decimal>,
    pub status: Status,
    extended_hours: bool,
    position_intent: &'static str,
    triggered: bool,
}

fn text(d: Decimal) -> Value {
    Value::String(d.normalize().to_string())
}

fn opt_text(d: Option<Decimal>) -> Value {
    d.map(text).unwrap_or(Value::Null)
}

fn opt_time(t: Option<Timestamp>) -> Value {
    t.map(|t| Value::String(t.to_string()))
        .unwrap_or(Value::Null)
}

fn opt_id(id: Option<Uuid>) -> Value {
    id.map(|id| Value::String(id.to_string()))
        .unwrap_or(Value::Null)
}

/// A stable asset id per symbol (Alpaca's assets have UUIDs).
fn asset_id(symbol: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, symbol.as_bytes())
}

impl StubOrder {
    pub(crate) fn is_buy(&self) -> bool {
        self.side == Side::Buy
    }

    pub(crate) fn submitted_at(&self) -> Timestamp {
        self.submitted_at
    }

    /// The order object exactly as Alpaca's REST API and `trade_updates` render it.
    pub(crate) fn to_json(&self) -> Value {
        let filled_avg_price = if self.filled_qty.is_zero() {
            None
        } else {
            Some(self.filled_notional / self.filled_qty)
        };
        json!({
            "id": self.id.to_string(),
            "client_order_id": self.client_order_id,
            "created_at": self.created_at.to_string(),
            "updated_at": self.updated_at.to_string(),
            "submitted_at": self.submitted_at.to_string(),
            "filled_at": opt_time(self.filled_at),
            "expired_at": opt_time(self.expired_at),
            "expires_at": Value::Null,
            "canceled_at": opt_time(self.canceled_at),
            "failed_at": Value::Null,
            "replaced_at": opt_time(self.replaced_at),
            "replaced_by": opt_id(self.replaced_by),
            "replaces": opt_id(self.replaces),
            "asset_id": asset_id(&self.symbol).to_string(),
            "symbol": self.symbol,
            "asset_class": self.asset_class.as_str(),
            "notional": Value::Null,
            "qty": text(self.qty),
            "filled_qty": text(self.filled_qty),
            "filled_avg_price": opt_text(filled_avg_price),
            "order_class": "simple",
            "order_type": self.kind.as_str(),
            "type": self.kind.as_str(),
            "side": if self.is_buy() { "buy" } else { "sell" },
            "position_intent": self.position_intent,
            "time_in_force": self.tif.as_str(),
            "limit_price": opt_text(self.limit_price),
            "stop_price": opt_text(self.stop_price),
            "status": self.status.as_str(),
            "extended_hours": self.extended_hours,
            "legs": Value::Null,
            "trail_percent": Value::Null,
            "trail_price": Value::Null,
            "hwm": Value::Null,
            "subtag": Value::Null,
            "source": Value::Null,
        })
    }

    /// Whether a trade at `price` reaches the order (a stop, once reached, stays triggered).
    fn reaches(&mut self, price: Decimal) -> bool {
        let buy = self.is_buy();
        let at_or_better = |limit: Decimal| if buy { price <= limit } else { price >= limit };
        let stop_reached = |stop: Decimal| if buy { price >= stop } else { price <= stop };
        match (self.kind, self.limit_price, self.stop_price) {
            (Kind::Market, _, _) => true,
            (Kind::Limit, Some(limit), _) => at_or_better(limit),
            (Kind::Stop, _, Some(stop)) => {
                self.triggered = self.triggered || stop_reached(stop);
                self.triggered
            }
            (Kind::StopLimit, Some(limit), Some(stop)) => {
                self.triggered = self.triggered || stop_reached(stop);
                self.triggered && at_or_better(limit)
            }
            // Validation gives every kind its prices; an order without them never fills.
            _ => false,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Holding {
    qty: Decimal,
    /// Signed cost of what is held (quantity × entry price, negative when short).
    cost: Decimal,
}

/// How the next `trade_updates` events leave: the faults a test asks for.
#[derive(Debug, Default)]
struct Delivery {
    /// Send the next event twice.
    duplicate_next: bool,
    /// Hold the next event back and send it after the one that follows it.
    reorder_next: bool,
    held: Option<TradeUpdate>,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Venue {
    clock: Clock,
    /// The last time handed out, so every event's time is later than the one before.
    last_time: i64,
    account_id: Uuid,
    created_at: Timestamp,
    orders: Vec<StubOrder>,
    by_id: HashMap<Uuid, usize>,
    by_client_id: HashMap<String, usize>,
    cash: Decimal,
    positions: BTreeMap<String, Holding>,
    last_price: HashMap<String, Decimal>,
    trade_ids: u64,
    delivery: Delivery,
    trade_updates: broadcast::Sender<TradeUpdate>,
}

/// The largest quantity or price the stub takes: products of two stay far from the
/// decimal type's range, so the account's arithmetic cannot overflow.
pub(crate) const LARGEST: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// What Alpaca answers about a missing order.
fn order_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("order not found for {id}"))
}

impl Venue {
    pub(crate) fn new(cash: Decimal, trade_updates: broadcast::Sender<TradeUpdate>) -> Self {
        let clock = Clock::system();
        let created_at = clock.now();
        Venue {
            clock,
            last_time: created_at.nanos(),
            account_id: Uuid::new_v4(),
            created_at,
            orders: Vec::new(),
            by_id: HashMap::new(),
            by_client_id: HashMap::new(),
            cash,
            positions: BTreeMap::new(),
            last_price: HashMap::new(),
            trade_ids: 0,
            delivery: Delivery::default(),
            trade_updates,
        }
    }

    /// Now, strictly after every time handed out before.
    pub(crate) fn now(&mut self) -> Timestamp {
        self.last_time = self.clock.now().nanos().max(self.last_time + 1);
        Timestamp::from_nanos(self.last_time)
    }

    pub(crate) fn order_count(&self) -> usize {
        self.orders.len()
    }

    pub(crate) fn duplicate_next_event(&mut self) {
        self.delivery.duplicate_next = true;
    }

    pub(crate) fn reorder_next_events(&mut self) {
        self.delivery.reorder_next = true;
    }

    /// Sends one `trade_updates` event to every listening connection, through the faults.
    fn publish(&mut self, event: &str, index: usize, fill: Option<(Decimal, Decimal)>) {
        let time = self.now();
        let Some(order) = self.orders.get(index) else {
            return;
        };
        let mut data = json!({
            "event": event,
            "execution_id": Uuid::new_v4().to_string(),
            "timestamp": time.to_string(),
            "order": order.to_json(),
        });
        if let Some((price, qty)) = fill {
            let position = self
                .positions
                .get(&order.symbol)
                .map(|h| h.qty)
                .unwrap_or_default();
            data["price"] = text(price);
            data["qty"] = text(qty);
            data["position_qty"] = text(position);
        }
        let delivery = &mut self.delivery;
        if delivery.reorder_next {
            delivery.reorder_next = false;
            delivery.held = Some(data);
            return;
        }
        let copies = if delivery.duplicate_next { 2 } else { 1 };
        delivery.duplicate_next = false;
        let held = delivery.held.take();
        for _ in 0..copies {
            // No listener is not an error: events are not queued for later connections.
            let _ = self.trade_updates.send(data.clone());
        }
        if let Some(held) = held {
            let _ = self.trade_updates.send(held);
        }
    }

    fn index_of(&self, id: &str) -> Result<usize, ApiError> {
        Uuid::parse_str(id)
            .ok()
            .and_then(|uuid| self.by_id.get(&uuid).copied())
            .ok_or_else(|| order_not_found(id))
    }

    pub(crate) fn order(&self, id: &str) -> Result<&StubOrder, ApiError> {
        let index = self.index_of(id)?;
        self.orders.get(index).ok_or_else(|| order_not_found(id))
    }

    pub(crate) fn order_by_client_id(&self, client_order_id: &str) -> Result<&StubOrder, ApiError> {
        self.by_client_id
            .get(client_order_id)
            .and_then(|&i| self.orders.get(i))
            .ok_or_else(|| order_not_found(client_order_id))
    }

    pub(crate) fn orders(&self) -> impl Iterator<Item = &StubOrder> {
        self.orders.iter()
    }

    fn position_intent(&self, symbol: &str, side: Side) -> &'static str {
        let held = self
            .positions
            .get(symbol)
            .map(|h| h.qty)
            .unwrap_or_default();
        match side {
            Side::Buy if held < Decimal::ZERO => "buy_to_close",
            Side::Buy => "buy_to_open",
            Side::Sell if held > Decimal::ZERO => "sell_to_close",
            Side::Sell => "sell_to_open",
        }
    }

    fn check_client_id(&self, client_order_id: &str) -> Result<(), ApiError> {
        if client_order_id.len() > 128 {
            return Err(ApiError::unprocessable(
                "client_order_id must be no more than 128 characters",
            ));
        }
        if self.by_client_id.contains_key(client_order_id) {
            return Err(ApiError::duplicate_client_order_id());
        }
        Ok(())
    }

    /// Alpaca's checks of an order's terms, its asset class's rules included.
    fn check_terms(
        symbol: &str,
        qty: Decimal,
        kind: Kind,
        tif: Tif,
        limit: Option<Decimal>,
        stop: Option<Decimal>,
    ) -> Result<(), ApiError> {
        if qty <= Decimal::ZERO {
            return Err(ApiError::unprocessable("qty must be > 0"));
        }
        if [Some(qty), limit, stop]
            .into_iter()
            .flatten()
            .any(|d| d > LARGEST)
        {
            return Err(ApiError::unprocessable("qty and prices must be below 1e9"));
        }
        let needs_limit = matches!(kind, Kind::Limit | Kind::StopLimit);
        let needs_stop = matches!(kind, Kind::Stop | Kind::StopLimit);
        if needs_limit != limit.is_some() {
            return Err(ApiError::unprocessable(if needs_limit {
                "limit_price is required"
            } else {
                "limit_price must not be given for this order type"
            }));
        }
        if needs_stop != stop.is_some() {
            return Err(ApiError::unprocessable(if needs_stop {
                "stop_price is required"
            } else {
                "stop_price must not be given for this order type"
            }));
        }
        if [limit, stop]
            .into_iter()
            .flatten()
            .any(|p| p <= Decimal::ZERO)
        {
            return Err(ApiError::unprocessable("prices must be > 0"));
        }
        match AssetClass::of(symbol) {
            AssetClass::Crypto => {
                if kind == Kind::Stop {
                    return Err(ApiError::unprocessable(
                        "invalid order type for crypto order",
                    ));
                }
                if !matches!(tif, Tif::Gtc | Tif::Ioc) {
                    return Err(ApiError::unprocessable("invalid crypto time_in_force"));
                }
            }
            AssetClass::Equity => {
                let fractional = qty.fract() != Decimal::ZERO;
                if fractional && !(matches!(kind, Kind::Market | Kind::Limit) && tif == Tif::Day) {
                    return Err(ApiError::unprocessable(
                        "fractional orders must be market or limit orders with time_in_force day",
                    ));
                }
            }
        }
        Ok(())
    }

    /// `POST /v2/orders`.
    pub(crate) fn submit(&mut self, new: NewOrder) -> Result<Value, ApiError> {
        let client_order_id = new
            .client_order_id
            .clone()
            .unwrap_or_else(|| Uuid::new_v4().to_string());
        self.check_client_id(&client_order_id)?;
        Self::check_terms(
            &new.symbol,
            new.qty,
            new.kind,
            new.tif,
            new.limit_price,
            new.stop_price,
        )?;
        if new.side == Side::Buy {
            // Priced by its limit, else its stop, else the last trade; unpriced passes.
            let price = new
                .limit_price
                .or(new.stop_price)
                .or_else(|| self.last_price.get(&new.symbol).copied());
            if price.is_some_and(|price| new.qty * price > self.cash) {
                return Err(ApiError::forbidden("insufficient buying power"));
            }
        }
        let now = self.now();
        let order = StubOrder {
            id: Uuid::new_v4(),
            client_order_id: client_order_id.clone(),
            created_at: now,
            updated_at: now,
            submitted_at: now,
            filled_at: None,
            expired_at: None,
            canceled_at: None,
            replaced_at: None,
            replaced_by: None,
            replaces: None,
            asset_class: AssetClass::of(&new.symbol),
            position_intent: self.position_intent(&new.symbol, new.side),
            symbol: new.symbol,
            qty: new.qty,
            filled_qty: Decimal::ZERO,
            filled_notional: Decimal::ZERO,
            kind: new.kind,
            side: new.side,
            tif: new.tif,
            limit_price: new.limit_price,
            stop_price: new.stop_price,
            status: Status::New,
            extended_hours: new.extended_hours,
            triggered: false,
        };
        Ok(self.insert(order, "new"))
    }

    fn insert(&mut self, order: StubOrder, event: &str) -> Value {
        let index = self.orders.len();
        self.by_id.insert(order.id, index);
        self.by_client_id
            .insert(order.client_order_id.clone(), index);
        let body = order.to_json();
        self.orders.push(order);
        self.publish(event, index, None);
        body
    }

    /// `DELETE /v2/orders/{id}`.
    pub(crate) fn cancel(&mut self, id: &str) -> Result<(), ApiError> {
        let index = self.index_of(id)?;
        let now = self.now();
        let order = self
            .orders
            .get_mut(index)
            .ok_or_else(|| order_not_found(id))?;
        if !order.status.is_open() {
            return Err(ApiError::unprocessable(format!(
                "order is already in \"{}\" state",
                order.status.as_str()
            )));
        }
        order.status = Status::Canceled;
        order.canceled_at = Some(now);
        order.updated_at = now;
        self.publish("canceled", index, None);
        Ok(())
    }

    /// `DELETE /v2/orders`: every open order cancelled, each with its own status.
    pub(crate) fn cancel_all(&mut self) -> Vec<Value> {
        let open: Vec<Uuid> = self
            .orders
            .iter()
            .filter(|o| o.status.is_open())
            .map(|o| o.id)
            .collect();
        open.into_iter()
            .map(|id| {
                let text_id = id.to_string();
                let status = match self.cancel(&text_id) {
                    Ok(()) => 200,
                    Err(e) => e.status.as_u16(),
                };
                let body = self
                    .order(&text_id)
                    .map(StubOrder::to_json)
                    .unwrap_or(Value::Null);
                json!({ "id": text_id, "status": status, "body": body })
            })
            .collect()
    }

    /// `PATCH /v2/orders/{id}`: as Alpaca does it, a new order (new id, `replaces` the
    /// old) takes the old one's place; the old one becomes `replaced` with `replaced_by`.
    pub(crate) fn replace(&mut self, id: &str, terms: NewTerms) -> Result<Value, ApiError> {
        let index = self.index_of(id)?;
        let old = self
            .orders
            .get(index)
            .cloned()
            .ok_or_else(|| order_not_found(id))?;
        if !old.status.is_open() {
            return Err(ApiError::unprocessable(format!(
                "order is already in \"{}\" state",
                old.status.as_str()
            )));
        }
        if terms.limit_price.is_some() && old.limit_price.is_none() {
            return Err(ApiError::unprocessable(
                "limit_price can only be changed on limit and stop_limit orders",
            ));
        }
        if terms.stop_price.is_some() && old.stop_price.is_none() {
            return Err(ApiError::unprocessable(
                "stop_price can only be changed on stop and stop_limit orders",
            ));
        }
        let qty = terms.qty.unwrap_or(old.qty);
        let tif = terms.tif.unwrap_or(old.tif);
        let limit_price = terms.limit_price.or(old.limit_price);
        let stop_price = terms.stop_price.or(old.stop_price);
        if (qty, tif, limit_price, stop_price)
            == (old.qty, old.tif, old.limit_price, old.stop_price)
        {
            return Err(ApiError::forbidden("order parameters are not changed"));
        }
        Self::check_terms(&old.symbol, qty, old.kind, tif, limit_price, stop_price)?;
        let client_order_id = terms
            .client_order_id
            .unwrap_or_else(|| Uuid::new_v4().to_string());
        self.check_client_id(&client_order_id)?;
        let now = self.now();
        let new_id = Uuid::new_v4();
        if let Some(old) = self.orders.get_mut(index) {
            old.status = Status::Replaced;
            old.replaced_at = Some(now);
            old.replaced_by = Some(new_id);
            old.updated_at = now;
        }
        self.publish("replaced", index, None);
        let replacement = StubOrder {
            id: new_id,
            client_order_id,
            created_at: now,
            updated_at: now,
            submitted_at: now,
            filled_at: None,
            expired_at: None,
            canceled_at: None,
            replaced_at: None,
            replaced_by: None,
            replaces: Some(old.id),
            qty,
            filled_qty: Decimal::ZERO,
            filled_notional: Decimal::ZERO,
            tif,
            limit_price,
            stop_price,
            status: Status::New,
            triggered: false,
            ..old
        };
        Ok(self.insert(replacement, "new"))
    }

    /// Expires every open day order, as the market's close does.
    pub(crate) fn close_the_day(&mut self) {
        let now = self.now();
        let day_orders: Vec<usize> = (0..self.orders.len())
            .filter(|&i| {
                self.orders
                    .get(i)
                    .is_some_and(|o| o.tif == Tif::Day && o.status.is_open())
            })
            .collect();
        for index in day_orders {
            if let Some(order) = self.orders.get_mut(index) {
                order.status = Status::Expired;
                order.expired_at = Some(now);
                order.updated_at = now;
            }
            self.publish("expired", index, None);
        }
    }

    /// A trade prints: working orders on `symbol` that it reaches fill, in placement order.
    pub(crate) fn trade(&mut self, symbol: &str, price: Decimal, qty: Decimal) {
        self.last_price.insert(symbol.to_owned(), price);
        let working: Vec<usize> = self
            .orders
            .iter()
            .enumerate()
            .filter(|(_, o)| o.symbol == symbol && o.status.is_open())
            .map(|(i, _)| i)
            .collect();
        for index in working {
            self.run(index, price, qty);
        }
    }

    pub(crate) fn next_trade_id(&mut self) -> u64 {
        self.trade_ids += 1;
        self.trade_ids
    }

    fn run(&mut self, index: usize, price: Decimal, available: Decimal) {
        let now = self.now();
        let Some(order) = self.orders.get_mut(index) else {
            return;
        };
        let remaining = order.qty - order.filled_qty;
        let one_chance = matches!(order.tif, Tif::Ioc | Tif::Fok);
        let reached = order.reaches(price);
        let fills = if !reached || (order.tif == Tif::Fok && available < remaining) {
            Decimal::ZERO
        } else {
            remaining.min(available)
        };
        if fills > Decimal::ZERO {
            order.filled_qty += fills;
            order.filled_notional += fills * price;
            order.updated_at = now;
            let done = order.filled_qty >= order.qty;
            order.status = if done {
                order.filled_at = Some(now);
                Status::Filled
            } else {
                Status::PartiallyFilled
            };
            let signed = if order.is_buy() { fills } else { -fills };
            let symbol = order.symbol.clone();
            self.cash -= signed * price;
            let holding = self.positions.entry(symbol.clone()).or_default();
            holding.qty += signed;
            holding.cost += signed * price;
            if holding.qty.is_zero() {
                self.positions.remove(&symbol);
            }
            let event = if done { "fill" } else { "partial_fill" };
            self.publish(event, index, Some((price, fills)));
        }
        if one_chance && reached {
            let Some(order) = self.orders.get_mut(index) else {
                return;
            };
            if order.status.is_open() {
                order.status = Status::Canceled;
                order.canceled_at = Some(now);
                order.updated_at = now;
                self.publish("canceled", index, None);
            }
        }
    }

    fn position_json(&self, symbol: &str, holding: Holding) -> Value {
        let asset_class = AssetClass::of(symbol);
        let avg = holding.cost / holding.qty;
        let current = self.last_price.get(symbol).copied().unwrap_or(avg);
        let market_value = holding.qty * current;
        let pl = market_value - holding.cost;
        let plpc = if holding.cost.is_zero() {
            Decimal::ZERO
        } else {
            (pl / holding.cost.abs()).round_dp(10)
        };
        // Alpaca names crypto positions without the slash (`BTCUSD`), unlike its orders.
        let position_symbol = symbol.replace('/', "");
        json!({
            "asset_id": asset_id(symbol).to_string(),
            "symbol": position_symbol,
            "exchange": if asset_class == AssetClass::Crypto { "CRYPTO" } else { "NASDAQ" },
            "asset_class": asset_class.as_str(),
            "asset_marginable": asset_class == AssetClass::Equity,
            "qty": text(holding.qty),
            "qty_available": text(holding.qty),
            "avg_entry_price": text(avg.round_dp(12)),
            "side": if holding.qty < Decimal::ZERO { "short" } else { "long" },
            "market_value": text(market_value),
            "cost_basis": text(holding.cost),
            "unrealized_pl": text(pl),
            "unrealized_plpc": text(plpc),
            "unrealized_intraday_pl": text(pl),
            "unrealized_intraday_plpc": text(plpc),
            "current_price": text(current),
            "lastday_price": text(current),
            "change_today": "0",
        })
    }

    /// `GET /v2/positions`.
    pub(crate) fn positions(&self) -> Vec<Value> {
        self.positions
            .iter()
            .map(|(symbol, holding)| self.position_json(symbol, *holding))
            .collect()
    }

    /// `GET /v2/positions/{symbol}`: by `AAPL`, `BTC/USD` or `BTCUSD`.
    pub(crate) fn position(&self, symbol: &str) -> Result<Value, ApiError> {
        self.positions
            .iter()
            .find(|(held, _)| held.as_str() == symbol || held.replace('/', "") == symbol)
            .map(|(held, holding)| self.position_json(held, *holding))
            .ok_or_else(|| ApiError::not_found("position does not exist"))
    }

    /// `GET /v2/account`: a cash account (multiplier 1), so buying power is the cash.
    pub(crate) fn account(&self) -> Value {
        let (mut long, mut short) = (Decimal::ZERO, Decimal::ZERO);
        for (symbol, holding) in &self.positions {
            let price = self
                .last_price
                .get(symbol)
                .copied()
                .unwrap_or(holding.cost / holding.qty);
            let value = holding.qty * price;
            if value < Decimal::ZERO {
                short += value;
            } else {
                long += value;
            }
        }
        let equity = self.cash + long + short;
        let buying_power = self.cash.max(Decimal::ZERO);
        json!({
            "id": self.account_id.to_string(),
            "account_number": "PA3STUB00001",
            "status": "ACTIVE",
            "crypto_status": "ACTIVE",
            "currency": "USD",
            "buying_power": text(buying_power),
            "regt_buying_power": text(buying_power),
            "non_marginable_buying_power": text(buying_power),
            "options_buying_power": text(buying_power),
            "cash": text(self.cash),
            "accrued_fees": "0",
            "pending_transfer_out": "0",
            "pending_transfer_in": "0",
            "portfolio_value": text(equity),
            "trading_blocked": false,
            "transfers_blocked": false,
            "account_blocked": false,
            "created_at": self.created_at.to_string(),
            "trade_suspended_by_user": false,
            "multiplier": "1",
            "shorting_enabled": true,
            "equity": text(equity),
            "last_equity": text(equity),
            "long_market_value": text(long),
            "short_market_value": text(short),
            "initial_margin": "0",
            "maintenance_margin": "0",
            "last_maintenance_margin": "0",
            "sma": "0",
            "options_approved_level": 0,
            "options_trading_level": 0,
        })
    }
}

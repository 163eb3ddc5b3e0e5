//! `PaperVenue`: a venue in the process — orders, cash and positions in memory, filled
//! against the trades it is shown ([`PaperVenue::trade`]). It is the conformance suite's
//! reference adapter (what every real adapter is held to) and a venue for trying the
//! routing path with no broker at all.
//!
//! Fills: a market order fills at the trade's price; a limit order when the trade is at
//! or better than its limit, at the trade's price; a stop (or stop-limit) order is
//! triggered when a trade reaches its stop and then works as a market (or limit) order.
//! Each order fills at most the trade's quantity; what is left keeps working (a partial
//! fill). IOC and FOK orders get one trade: FOK fills entirely or is cancelled, IOC
//! cancels what that trade did not fill. No fees.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use domain::{
    Currency, Money, OrderId, OrderStatus, OrderType, Price, Quantity, Side, Symbol, TimeInForce,
    Timestamp,
};
use rust_decimal::Decimal;
use tokio::sync::mpsc;

use crate::{
    Broker, BrokerAccount, BrokerError, BrokerFill, BrokerOrder, BrokerOrderState, BrokerPosition,
    BrokerResult, ExecutionFeed, ExecutionKind, ExecutionReport, Replace,
};

#[derive(Debug)]
struct PaperOrder {
    order: BrokerOrder,
    state: BrokerOrderState,
    triggered: bool,
    /// Sum of price × quantity filled, for the average price.
    notional: Decimal,
}

#[derive(Debug, Default)]
struct Book {
    orders: BTreeMap<OrderId, PaperOrder>,
    cash: Decimal,
    positions: BTreeMap<Symbol, (Decimal, Decimal)>,
    subscribers: Vec<mpsc::Sender<BrokerResult<ExecutionReport>>>,
    events: u64,
    /// The venue's clock: the latest trade's time, moved forward by every event.
    now: i64,
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct PaperVenue {
    book: Arc<Mutex<Book>>,
    currency: Currency,
}

impl PaperVenue {
    /// A venue account holding `cash`.
    pub fn new(currency: Currency, cash: Money) -> Self {
        let book = Book {
            cash: cash.value(),
            now: Timestamp::from_secs(1_700_000_000).nanos(),
            ..Book::default()
        };
        PaperVenue {
            book: Arc::new(Mutex::new(book)),
            currency,
        }
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        // A panic while holding the lock leaves plain data, still consistent per field.
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A trade of `quantity` at `price` prints: working orders on `symbol` that it reaches
    /// fill (see the module docs), in the order they were placed.
    pub fn trade(&self, symbol: Symbol, price: Price, quantity: Quantity) {
        let mut book = self.book();
        book.now += 1_000_000;
        let ids: Vec<OrderId> = book
            .orders
            .iter()
            .filter(|(_, o)| o.order.symbol == symbol && o.state.status.is_open())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            book.run(id, price, quantity);
        }
    }
}

impl Book {
    fn stamp(&mut self) -> Timestamp {
        self.now += 1;
        Timestamp::from_nanos(self.now)
    }

    fn publish(&mut self, kind: ExecutionKind, id: OrderId, fill: Option<BrokerFill>) {
        let Some(order) = self.orders.get(&id) else {
            return;
        };
        self.events += 1;
        let report = ExecutionReport {
            event_id: format!("paper-{}", self.events),
            kind,
            order: order.state.clone(),
            fill,
            time: order.state.updated_at,
        };
        // A subscriber that stopped reading is dropped; the channel's room (1,024) is
        // what a slow one may fall behind by.
        self.subscribers.retain(|s| {
            let _ = s.try_send(Ok(report.clone()));
            !s.is_closed()
        });
    }

    /// Whether a trade at `price` reaches the order, and the price it fills at.
    fn reaches(order: &mut PaperOrder, price: Price) -> bool {
        let buy = order.order.side == Side::Buy;
        let at_or_better = |limit: Price| if buy { price <= limit } else { price >= limit };
        let stop_reached = |stop: Price| if buy { price >= stop } else { price <= stop };
        match order.order.order_type {
            OrderType::Market => true,
            OrderType::Limit { limit_price } => at_or_better(limit_price),
            OrderType::Stop { stop_price } => {
                order.triggered = order.triggered || stop_reached(stop_price);
                order.triggered
            }
            OrderType::StopLimit {
                stop_price,
                limit_price,
            } => {
                order.triggered = order.triggered || stop_reached(stop_price);
                order.triggered && at_or_better(limit_price)
            }
        }
    }

    fn run(&mut self, id: OrderId, price: Price, available: Quantity) {
        let time = self.stamp();
        let Some(order) = self.orders.get_mut(&id) else {
            return;
        };
        let tif = order.order.time_in_force;
        let remaining = order.order.quantity.value() - order.state.filled_quantity.value();
        let one_chance = matches!(tif, TimeInForce::Ioc | TimeInForce::Fok);
        let reached = Self::reaches(order, price);
        let fills = if !reached || (tif == TimeInForce::Fok && available.value() < remaining) {
            Decimal::ZERO
        } else {
            remaining.min(available.value())
        };
        if fills > Decimal::ZERO {
            let Ok(quantity) = Quantity::new(fills) else {
                return;
            };
            let signed = match order.order.side {
                Side::Buy => fills,
                Side::Sell => -fills,
            };
            let filled = order.state.filled_quantity.value() + fills;
            order.notional += fills * price.value();
            order.state.filled_quantity = Quantity::new(filled).unwrap_or(Quantity::ZERO);
            order.state.average_price = Price::new(order.notional / filled).ok();
            let done = filled >= order.order.quantity.value();
            order.state.status = if done {
                OrderStatus::Filled
            } else {
                OrderStatus::PartiallyFilled
            };
            order.state.updated_at = time;
            let symbol = order.order.symbol;
            self.cash -= signed * price.value();
            let (qty, cost) = self.positions.entry(symbol).or_default();
            *qty += signed;
            *cost += signed * price.value();
            if qty.is_zero() {
                self.positions.remove(&symbol);
            }
            self.events += 1;
            let fill = BrokerFill {
                execution_id: format!("paper-fill-{}", self.events),
                quantity,
                price,
                fee: Money::ZERO,
                time,
            };
            let kind = if done {
                ExecutionKind::Fill
            } else {
                ExecutionKind::PartialFill
            };
            self.publish(kind, id, Some(fill));
        }
        if one_chance && reached {
            let Some(order) = self.orders.get_mut(&id) else {
                return;
            };
            if order.state.status.is_open() {
                order.state.status = OrderStatus::Cancelled;
                order.state.reason = Some(format!("{} order not filled at once", tif.as_str()));
                order.state.updated_at = time;
                self.publish(ExecutionKind::Cancelled, id, None);
            }
        }
    }
}

#[async_trait]
impl Broker for PaperVenue {
    fn name(&self) -> &'static str {
        "paper"
    }

    fn supports(&self, order: &BrokerOrder) -> BrokerResult<()> {
        // Everything the domain can express but day orders, which need a calendar the
        // in-process venue does not keep.
        if order.time_in_force == TimeInForce::Day {
            return Err(BrokerError::Unsupported(format!(
                "{}: the paper venue has no trading day",
                crate::describe(order)
            )));
        }
        Ok(())
    }

    async fn submit(&self, order: &BrokerOrder) -> BrokerResult<BrokerOrderState> {
        self.supports(order)?;
        let mut book = self.book();
        if book.orders.contains_key(&order.order_id) {
            return Err(BrokerError::Rejected(format!(
                "client order id {} is already in use",
                crate::client_id::encode(order.order_id, 0)
            )));
        }
        let time = book.stamp();
        let state = BrokerOrderState {
            order_id: order.order_id,
            broker_order_id: format!("paper-{}", order.order_id),
            symbol: order.symbol,
            side: order.side,
            order_type: order.order_type,
            time_in_force: order.time_in_force,
            quantity: order.quantity,
            status: OrderStatus::Accepted,
            filled_quantity: Quantity::ZERO,
            average_price: None,
            reason: None,
            updated_at: time,
        };
        book.orders.insert(
            order.order_id,
            PaperOrder {
                order: order.clone(),
                state: state.clone(),
                triggered: false,
                notional: Decimal::ZERO,
            },
        );
        book.publish(ExecutionKind::Accepted, order.order_id, None);
        Ok(state)
    }

    async fn cancel(&self, order_id: OrderId) -> BrokerResult<()> {
        let mut book = self.book();
        let time = book.stamp();
        let Some(order) = book.orders.get_mut(&order_id) else {
            return Err(BrokerError::NotFound(order_id.to_string()));
        };
        if !order.state.status.is_open() {
            return Err(BrokerError::Rejected(format!(
                "order {order_id} is {:?}",
                order.state.status
            )));
        }
        order.state.status = OrderStatus::Cancelled;
        order.state.updated_at = time;
        book.publish(ExecutionKind::Cancelled, order_id, None);
        Ok(())
    }

    async fn replace(&self, replace: &Replace) -> BrokerResult<BrokerOrderState> {
        let mut book = self.book();
        let time = book.stamp();
        let Some(order) = book.orders.get_mut(&replace.order_id) else {
            return Err(BrokerError::NotFound(replace.order_id.to_string()));
        };
        if !order.state.status.is_open() {
            return Err(BrokerError::Rejected(format!(
                "order {} is {:?}",
                replace.order_id, order.state.status
            )));
        }
        let order_type = replace.order_type(order.order.order_type)?;
        let quantity = replace.quantity.unwrap_or(order.order.quantity);
        if quantity <= order.state.filled_quantity {
            return Err(BrokerError::Rejected(
                "the new quantity must exceed what has filled".into(),
            ));
        }
        order.order.order_type = order_type;
        order.order.quantity = quantity;
        order.state.order_type = order_type;
        order.state.quantity = quantity;
        order.state.updated_at = time;
        let state = order.state.clone();
        book.publish(ExecutionKind::Replaced, replace.order_id, None);
        Ok(state)
    }

    async fn order(&self, order_id: OrderId) -> BrokerResult<BrokerOrderState> {
        self.book()
            .orders
            .get(&order_id)
            .map(|o| o.state.clone())
            .ok_or_else(|| BrokerError::NotFound(order_id.to_string()))
    }

    async fn open_orders(&self) -> BrokerResult<Vec<BrokerOrderState>> {
        Ok(self
            .book()
            .orders
            .values()
            .filter(|o| o.state.status.is_open())
            .map(|o| o.state.clone())
            .collect())
    }

    async fn positions(&self) -> BrokerResult<Vec<BrokerPosition>> {
        Ok(self
            .book()
            .positions
            .iter()
            .map(|(symbol, (quantity, cost))| BrokerPosition {
                symbol: *symbol,
                quantity: *quantity,
                average_price: Price::new(*cost / *quantity).ok(),
            })
            .collect())
    }

    async fn account(&self) -> BrokerResult<BrokerAccount> {
        let cash = Money::new(self.book().cash);
        Ok(BrokerAccount {
            currency: self.currency,
            cash,
            buying_power: cash,
        })
    }

    async fn executions(&self) -> BrokerResult<ExecutionFeed> {
        let (sender, feed) = ExecutionFeed::channel(1024);
        self.book().subscribers.push(sender);
        Ok(feed)
    }
}

//! The one conformance suite every [`Broker`] adapter passes (feature `conformance`, on in
//! the adapters' tests only). A [`Venue`] harness gives the suite a broker and a way to
//! make trades print at the venue; `broker_conformance!(make)` expands every case into a
//! `#[tokio::test]` over the harness that `make().await` returns.
//!
//! What it holds: an order is known by Stratus's id everywhere (status, open orders,
//! reports); a submit repeated with the same id is refused and places nothing; fills
//! are reported with the order's cumulative quantity and move the position and cash;
//! a partial fill then a cancel leaves exactly the filled part; a replace keeps the
//! order's id and its new terms fill; unknown ids are `NotFound`; an unsupported order is
//! refused before anything is sent.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::{AssetClass, Money, OrderId, OrderStatus, OrderType, Price, Quantity, Side, Symbol};
use domain::{TimeInForce, Timestamp};
use rust_decimal::Decimal;

use crate::{Broker, BrokerError, BrokerOrder, ExecutionFeed, ExecutionKind, ExecutionReport};
use crate::{BrokerOrderState, Replace};

/// A venue under test.
#[async_trait]
pub trait Venue: Send + Sync {
    /// The adapter under test, talking to this venue.
    fn broker(&self) -> Arc<dyn Broker>;
    /// A symbol the venue trades and its asset class.
    fn instrument(&self) -> (Symbol, AssetClass);
    /// A trade prints at the venue: its working orders on `symbol` that it reaches fill
    /// (each up to `quantity`, at the trade's price or better for a limit).
    async fn trade(&self, symbol: Symbol, price: Price, quantity: Quantity);
    /// An order this venue does not take (refused by `supports`).
    fn unsupported(&self, order_id: OrderId) -> BrokerOrder;
}

/// How long a report may take to arrive.
const WAIT: Duration = Duration::from_secs(10);

fn price(text: &str) -> Price {
    Price::parse("price", text).expect("a test price")
}

fn quantity(text: &str) -> Quantity {
    Quantity::parse("quantity", text).expect("a test quantity")
}

/// A GTC limit order of the venue's instrument.
pub fn limit(venue: &dyn Venue, side: Side, qty: &str, at: &str) -> BrokerOrder {
    let (symbol, asset_class) = venue.instrument();
    BrokerOrder {
        order_id: OrderId::random(),
        symbol,
        asset_class,
        side,
        order_type: OrderType::Limit {
            limit_price: price(at),
        },
        time_in_force: TimeInForce::Gtc,
        quantity: quantity(qty),
    }
}

/// A market order (GTC: every venue of the suite takes it).
pub fn market(venue: &dyn Venue, side: Side, qty: &str) -> BrokerOrder {
    BrokerOrder {
        order_type: OrderType::Market,
        ..limit(venue, side, qty, "1")
    }
}

/// Waits for the first report about `order` that `pick` accepts.
pub async fn report(
    feed: &mut ExecutionFeed,
    order: OrderId,
    pick: impl Fn(&ExecutionReport) -> bool,
) -> ExecutionReport {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let next = tokio::time::timeout_at(deadline, feed.next())
            .await
            .unwrap_or_else(|_| panic!("no matching report for {order} within {WAIT:?}"));
        match next {
            Some(Ok(r)) if r.order.order_id == order && pick(&r) => return r,
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("the execution feed failed: {e}"),
            None => panic!("the execution feed ended"),
        }
    }
}

fn position(positions: &[crate::BrokerPosition], symbol: Symbol) -> Decimal {
    positions
        .iter()
        .filter(|p| p.symbol == symbol)
        .map(|p| p.quantity)
        .sum()
}

async fn settled(broker: &dyn Broker, id: OrderId, status: OrderStatus) -> BrokerOrderState {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let state = broker.order(id).await.expect("the order by id");
        if state.status == status {
            return state;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "order {id} is {:?}, not {status:?}",
            state.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn account_has_cash(venue: &dyn Venue) {
    let account = venue.broker().account().await.expect("the account");
    assert!(account.cash > Money::ZERO, "{account:?}");
    assert!(account.buying_power > Money::ZERO, "{account:?}");
}

pub async fn submit_is_known_by_stratus_id(venue: &dyn Venue) {
    let broker = venue.broker();
    let mut feed = broker.executions().await.expect("subscribed");
    let order = limit(venue, Side::Buy, "1", "10");
    let state = broker.submit(&order).await.expect("submitted");
    assert_eq!(state.order_id, order.order_id);
    assert_eq!(state.symbol, order.symbol);
    assert_eq!(state.quantity, order.quantity);
    assert_eq!(state.filled_quantity, Quantity::ZERO);
    assert!(
        matches!(state.status, OrderStatus::New | OrderStatus::Accepted),
        "{state:?}"
    );
    report(&mut feed, order.order_id, |r| {
        r.kind == ExecutionKind::Accepted
    })
    .await;
    let by_id = settled(&*broker, order.order_id, OrderStatus::Accepted).await;
    assert_eq!(by_id.order_type, order.order_type);
    let open = broker.open_orders().await.expect("open orders");
    assert!(
        open.iter().any(|o| o.order_id == order.order_id),
        "{open:?}"
    );
}

pub async fn a_repeated_submit_places_nothing(venue: &dyn Venue) {
    let broker = venue.broker();
    let order = limit(venue, Side::Buy, "1", "10");
    broker.submit(&order).await.expect("submitted");
    match broker.submit(&order).await {
        Err(BrokerError::Rejected(_)) => {}
        other => panic!("a second submit of one order id: {other:?}"),
    }
    let open = broker.open_orders().await.expect("open orders");
    let same = open.iter().filter(|o| o.order_id == order.order_id).count();
    assert_eq!(same, 1, "{open:?}");
}

pub async fn fills_move_position_and_cash(venue: &dyn Venue) {
    let broker = venue.broker();
    let (symbol, _) = venue.instrument();
    let before_cash = broker.account().await.expect("account").cash;
    let before = position(&broker.positions().await.expect("positions"), symbol);
    let mut feed = broker.executions().await.expect("subscribed");
    let order = market(venue, Side::Buy, "2");
    broker.submit(&order).await.expect("submitted");
    report(&mut feed, order.order_id, |r| {
        r.kind == ExecutionKind::Accepted
    })
    .await;
    venue.trade(symbol, price("100"), quantity("5")).await;
    let fill = report(&mut feed, order.order_id, |r| r.kind == ExecutionKind::Fill).await;
    assert_eq!(fill.order.status, OrderStatus::Filled);
    assert_eq!(fill.order.filled_quantity, quantity("2"));
    assert_eq!(fill.order.average_price, Some(price("100")));
    let detail = fill.fill.expect("a fill report carries the fill");
    assert_eq!(
        (detail.quantity, detail.price),
        (quantity("2"), price("100"))
    );
    let after = position(&broker.positions().await.expect("positions"), symbol);
    assert_eq!(after - before, Decimal::from(2));
    let cash = broker.account().await.expect("account").cash;
    let paid = before_cash.checked_sub(cash).expect("cash");
    assert_eq!(
        paid.value(),
        Decimal::from(200) + detail.fee.value(),
        "cash paid for 2 @ 100"
    );
    let open = broker.open_orders().await.expect("open orders");
    assert!(!open.iter().any(|o| o.order_id == order.order_id));

    // Selling it back: the position returns to where it was.
    let sell = market(venue, Side::Sell, "2");
    broker.submit(&sell).await.expect("submitted");
    venue.trade(symbol, price("101"), quantity("5")).await;
    report(&mut feed, sell.order_id, |r| r.kind == ExecutionKind::Fill).await;
    let back = position(&broker.positions().await.expect("positions"), symbol);
    assert_eq!(back, before);
}

pub async fn partial_fill_then_cancel(venue: &dyn Venue) {
    let broker = venue.broker();
    let (symbol, _) = venue.instrument();
    let mut feed = broker.executions().await.expect("subscribed");
    let order = limit(venue, Side::Buy, "3", "50");
    broker.submit(&order).await.expect("submitted");
    report(&mut feed, order.order_id, |r| {
        r.kind == ExecutionKind::Accepted
    })
    .await;
    // Above the limit: nothing fills.
    venue.trade(symbol, price("51"), quantity("10")).await;
    venue.trade(symbol, price("49.5"), quantity("1")).await;
    let partial = report(&mut feed, order.order_id, |r| {
        r.kind == ExecutionKind::PartialFill
    })
    .await;
    assert_eq!(partial.order.filled_quantity, quantity("1"));
    assert_eq!(partial.order.status, OrderStatus::PartiallyFilled);
    let detail = partial.fill.expect("the fill");
    assert_eq!(detail.quantity, quantity("1"));
    assert!(
        detail.price <= price("50"),
        "a buy limit fills at or below its limit"
    );
    broker.cancel(order.order_id).await.expect("cancel");
    let cancelled = report(&mut feed, order.order_id, |r| {
        r.kind == ExecutionKind::Cancelled
    })
    .await;
    assert_eq!(cancelled.order.filled_quantity, quantity("1"));
    let state = settled(&*broker, order.order_id, OrderStatus::Cancelled).await;
    assert_eq!(state.filled_quantity, quantity("1"));
    // A cancelled order does not fill again.
    venue.trade(symbol, price("40"), quantity("10")).await;
    let state = broker.order(order.order_id).await.expect("by id");
    assert_eq!(state.filled_quantity, quantity("1"));
}

pub async fn replace_keeps_the_order_id(venue: &dyn Venue) {
    let broker = venue.broker();
    let (symbol, _) = venue.instrument();
    let mut feed = broker.executions().await.expect("subscribed");
    let order = limit(venue, Side::Buy, "1", "20");
    broker.submit(&order).await.expect("submitted");
    report(&mut feed, order.order_id, |r| {
        r.kind == ExecutionKind::Accepted
    })
    .await;
    let replaced = broker
        .replace(&Replace {
            order_id: order.order_id,
            quantity: Some(quantity("2")),
            limit_price: Some(price("30")),
            stop_price: None,
        })
        .await
        .expect("replaced");
    assert_eq!(replaced.order_id, order.order_id);
    assert_eq!(replaced.quantity, quantity("2"));
    report(&mut feed, order.order_id, |r| {
        r.kind == ExecutionKind::Replaced
    })
    .await;
    let state = broker.order(order.order_id).await.expect("by id");
    assert_eq!(
        state.order_type,
        OrderType::Limit {
            limit_price: price("30")
        }
    );
    let open = broker.open_orders().await.expect("open orders");
    assert_eq!(
        open.iter().filter(|o| o.order_id == order.order_id).count(),
        1,
        "one working order after a replace: {open:?}"
    );
    venue.trade(symbol, price("29"), quantity("5")).await;
    let fill = report(&mut feed, order.order_id, |r| r.kind == ExecutionKind::Fill).await;
    assert_eq!(fill.order.filled_quantity, quantity("2"));
}

pub async fn unknown_orders_are_not_found(venue: &dyn Venue) {
    let broker = venue.broker();
    let unknown = OrderId::random();
    assert!(matches!(
        broker.order(unknown).await,
        Err(BrokerError::NotFound(_))
    ));
    assert!(matches!(
        broker.cancel(unknown).await,
        Err(BrokerError::NotFound(_))
    ));
}

pub async fn unsupported_orders_are_refused_before_sending(venue: &dyn Venue) {
    let broker = venue.broker();
    let order = venue.unsupported(OrderId::random());
    assert!(matches!(
        broker.supports(&order),
        Err(BrokerError::Unsupported(_))
    ));
    let supported = limit(venue, Side::Buy, "1", "10");
    broker
        .supports(&supported)
        .expect("a GTC limit order is supported");
    assert!(matches!(
        broker.order(order.order_id).await,
        Err(BrokerError::NotFound(_))
    ));
}

/// Reports arrive stamped with the venue's time, not before the epoch.
pub async fn reports_are_stamped(venue: &dyn Venue) {
    let broker = venue.broker();
    let mut feed = broker.executions().await.expect("subscribed");
    let order = limit(venue, Side::Sell, "1", "100000");
    broker.submit(&order).await.expect("submitted");
    let accepted = report(&mut feed, order.order_id, |r| {
        r.kind == ExecutionKind::Accepted
    })
    .await;
    assert!(accepted.time > Timestamp::EPOCH);
    assert!(!accepted.event_id.is_empty());
    assert!(!accepted.order.broker_order_id.is_empty());
}

/// Expands the suite over a harness: `broker_conformance!(make)` where `make()` is an
/// `async fn() -> H` and `H: Venue`.
#[macro_export]
macro_rules! broker_conformance {
    ($make:path) => {
        $crate::broker_conformance!(@cases $make;
            account_has_cash,
            submit_is_known_by_stratus_id,
            a_repeated_submit_places_nothing,
            fills_move_position_and_cash,
            partial_fill_then_cancel,
            replace_keeps_the_order_id,
            unknown_orders_are_not_found,
            unsupported_orders_are_refused_before_sending,
            reports_are_stamped,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let venue = $make().await;
                $crate::conformance::$case(&venue).await;
            }
        )*
    };
}

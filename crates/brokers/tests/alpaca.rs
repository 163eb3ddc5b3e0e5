//! The Alpaca adapter against the Alpaca stub: the conformance suite, then what only a
//! real venue's API does — rate limits, failures, lost answers, refused keys, dropped,
//! duplicated and reordered stream events, replaced orders found again after a restart,
//! market data, and the orders Alpaca does not take.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use broker_stubs::alpaca::{AlpacaStub, AlpacaStubConfig, Fault};
use brokers::alpaca::{AlpacaBroker, AlpacaConfig, AlpacaMarketData, Credentials, Endpoints};
use brokers::conformance::{Venue, limit, market, report};
use brokers::{
    Broker, BrokerError, BrokerOrder, ExecutionFeed, ExecutionKind, MarketData, Replace, TickFeed,
};
use domain::{
    AssetClass, OrderId, OrderStatus, OrderType, Price, Quantity, Side, Symbol, Tick, TimeInForce,
};
use rust_decimal::Decimal;

struct Alpaca {
    stub: Arc<AlpacaStub>,
    broker: AlpacaBroker,
}

fn aapl() -> Symbol {
    Symbol::parse("AAPL").expect("symbol")
}

fn dec(text: &str) -> Decimal {
    text.parse().expect("a test decimal")
}

fn price(text: &str) -> Price {
    Price::parse("price", text).expect("a test price")
}

fn quantity(text: &str) -> Quantity {
    Quantity::parse("quantity", text).expect("a test quantity")
}

/// The adapter's timeout in these tests: short, so a withheld answer times out quickly.
const TIMEOUT: Duration = Duration::from_millis(500);

fn config(stub: &AlpacaStub, secret: &str) -> AlpacaConfig {
    let endpoints = Endpoints::at(&stub.base_url()).expect("the stub's endpoints");
    AlpacaConfig::new(endpoints, Credentials::new("stub-key", secret)).with_timeout(TIMEOUT)
}

impl Alpaca {
    /// Another adapter for the same account (a restarted process: nothing remembered).
    fn fresh_broker(&self) -> AlpacaBroker {
        AlpacaBroker::new(config(&self.stub, "stub-secret")).expect("the adapter")
    }
}

#[async_trait]
impl Venue for Alpaca {
    fn broker(&self) -> Arc<dyn Broker> {
        Arc::new(self.broker.clone())
    }

    fn instrument(&self) -> (Symbol, AssetClass) {
        (aapl(), AssetClass::Equity)
    }

    async fn trade(&self, symbol: Symbol, price: Price, quantity: Quantity) {
        // Equity symbols are Alpaca's as they are.
        self.stub
            .trade(symbol.as_str(), price.value(), quantity.value());
    }

    fn unsupported(&self, order_id: OrderId) -> BrokerOrder {
        // Alpaca has no plain stop orders for crypto.
        BrokerOrder {
            order_id,
            symbol: Symbol::parse("BTC-USD").expect("symbol"),
            asset_class: AssetClass::Crypto,
            order_type: OrderType::Stop {
                stop_price: price("50000"),
            },
            ..limit(self, Side::Buy, "1", "10")
        }
    }
}

async fn alpaca() -> Alpaca {
    let stub = broker_stubs::alpaca::start(AlpacaStubConfig {
        // Longer than the adapter's timeout, short enough not to hold a test's runtime.
        stall: Duration::from_secs(5),
        ..AlpacaStubConfig::default()
    })
    .await
    .expect("the stub");
    let broker = AlpacaBroker::new(config(&stub, "stub-secret")).expect("the adapter");
    Alpaca {
        stub: Arc::new(stub),
        broker,
    }
}

brokers::broker_conformance!(alpaca);

/// The next item of a feed, within a few seconds.
async fn next_report(
    feed: &mut ExecutionFeed,
) -> Option<Result<brokers::ExecutionReport, BrokerError>> {
    tokio::time::timeout(Duration::from_secs(10), feed.next())
        .await
        .expect("the feed said something in time")
}

async fn accepted(venue: &Alpaca, feed: &mut ExecutionFeed, order: &BrokerOrder) {
    venue.broker.submit(order).await.expect("submitted");
    report(feed, order.order_id, |r| r.kind == ExecutionKind::Accepted).await;
}

#[tokio::test]
async fn a_rate_limit_says_when_to_retry_and_places_nothing() {
    let venue = alpaca().await;
    venue.stub.fail_next(
        1,
        Fault::RateLimited {
            retry_after_secs: 7,
        },
    );
    let order = limit(&venue, Side::Buy, "1", "10");
    assert_eq!(
        venue.broker.submit(&order).await,
        Err(BrokerError::RateLimited { retry_after: 7 })
    );
    assert_eq!(venue.stub.order_count(), 0);
    // Retried when told, it goes through once.
    venue.broker.submit(&order).await.expect("the retry");
    assert_eq!(venue.stub.order_count(), 1);
}

#[tokio::test]
async fn a_server_error_is_unavailable_and_places_nothing() {
    let venue = alpaca().await;
    venue.stub.fail_next(1, Fault::ServerError);
    let order = limit(&venue, Side::Buy, "1", "10");
    assert!(matches!(
        venue.broker.submit(&order).await,
        Err(BrokerError::Unavailable(_))
    ));
    assert_eq!(venue.stub.order_count(), 0);
    venue.stub.fail_next(1, Fault::ServerError);
    assert!(matches!(
        venue.broker.account().await,
        Err(BrokerError::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_lost_answer_to_a_submit_is_resolved_by_the_client_order_id() {
    let venue = alpaca().await;
    venue.stub.fail_next(1, Fault::Timeout);
    let order = limit(&venue, Side::Buy, "2", "10");
    let state = venue
        .broker
        .submit(&order)
        .await
        .expect("found by its client order id");
    assert_eq!(state.order_id, order.order_id);
    assert_eq!(state.quantity, quantity("2"));
    assert_eq!(venue.stub.order_count(), 1, "placed exactly once");
    // Sent again, Alpaca refuses the reused client order id: still one order.
    assert!(matches!(
        venue.broker.submit(&order).await,
        Err(BrokerError::Rejected(_))
    ));
    let open = venue.broker.open_orders().await.expect("open orders");
    assert_eq!(
        open.iter().filter(|o| o.order_id == order.order_id).count(),
        1
    );
}

#[tokio::test]
async fn a_submit_lost_before_alpaca_is_an_unknown_outcome() {
    let venue = alpaca().await;
    venue.stub.fail_next(1, Fault::Lost);
    let order = limit(&venue, Side::Buy, "1", "10");
    assert!(matches!(
        venue.broker.submit(&order).await,
        Err(BrokerError::UnknownOutcome(_))
    ));
    assert_eq!(venue.stub.order_count(), 0);
    // The caller looks again, finds nothing, and sends it again.
    assert!(matches!(
        venue.broker.order(order.order_id).await,
        Err(BrokerError::NotFound(_))
    ));
    venue.broker.submit(&order).await.expect("sent again");
    assert_eq!(venue.stub.order_count(), 1);
}

#[tokio::test]
async fn a_lost_answer_to_a_replace_is_resolved_and_a_lost_cancel_is_unknown() {
    let venue = alpaca().await;
    let order = limit(&venue, Side::Buy, "1", "10");
    venue.broker.submit(&order).await.expect("submitted");
    venue.stub.fail_next_order_request(1, Fault::Timeout);
    let replaced = venue
        .broker
        .replace(&Replace {
            order_id: order.order_id,
            quantity: None,
            limit_price: Some(price("11")),
            stop_price: None,
        })
        .await
        .expect("found by the replacement's client order id");
    assert_eq!(
        replaced.order_type,
        OrderType::Limit {
            limit_price: price("11")
        }
    );
    assert_eq!(venue.stub.order_count(), 2, "one replacement");
    venue.stub.fail_next_order_request(1, Fault::Timeout);
    assert!(matches!(
        venue.broker.cancel(order.order_id).await,
        Err(BrokerError::UnknownOutcome(_))
    ));
    // It did take effect; the order says so.
    let state = venue.broker.order(order.order_id).await.expect("by id");
    assert_eq!(state.status, OrderStatus::Cancelled);
}

#[tokio::test]
async fn refused_credentials_are_unauthorized_with_alpacas_message() {
    let venue = alpaca().await;
    let wrong = AlpacaBroker::new(config(&venue.stub, "wrong")).expect("the adapter");
    assert_eq!(
        wrong.account().await,
        Err(BrokerError::Unauthorized(
            "request is not authorized".into()
        ))
    );
    let order = limit(&venue, Side::Buy, "1", "10");
    assert!(matches!(
        wrong.submit(&order).await,
        Err(BrokerError::Unauthorized(_))
    ));
    assert!(matches!(
        wrong.executions().await,
        Err(BrokerError::Unauthorized(_))
    ));
    let data = AlpacaMarketData::new(config(&venue.stub, "wrong"));
    assert_eq!(
        data.subscribe(&[aapl()]).await.map(|_| ()),
        Err(BrokerError::Unauthorized("auth failed".into()))
    );
    assert_eq!(venue.stub.order_count(), 0);
    // A key Alpaca stops accepting (revoked) is refused the same way.
    venue.stub.fail_next(1, Fault::Unauthorized);
    assert!(matches!(
        venue.broker.account().await,
        Err(BrokerError::Unauthorized(_))
    ));
}

#[tokio::test]
async fn a_dropped_stream_ends_the_feed_and_a_new_one_catches_up() {
    let venue = alpaca().await;
    let mut feed = venue.broker.executions().await.expect("subscribed");
    let first = market(&venue, Side::Buy, "2");
    accepted(&venue, &mut feed, &first).await;
    venue.stub.drop_streams();
    assert!(matches!(
        next_report(&mut feed).await,
        Some(Err(BrokerError::Unavailable(_)))
    ));
    assert!(
        next_report(&mut feed).await.is_none(),
        "the feed ends after its error"
    );

    // Filled while nobody listened: the fill is not replayed, the order says it.
    venue.stub.trade("AAPL", dec("100"), dec("5"));
    let mut again = venue.broker.executions().await.expect("subscribed again");
    let state = venue.broker.order(first.order_id).await.expect("caught up");
    assert_eq!(state.status, OrderStatus::Filled);
    assert_eq!(state.filled_quantity, quantity("2"));
    assert!(
        !venue
            .broker
            .open_orders()
            .await
            .expect("open orders")
            .iter()
            .any(|o| o.order_id == first.order_id)
    );
    // Later events reach the new feed.
    let second = limit(&venue, Side::Buy, "1", "90");
    accepted(&venue, &mut again, &second).await;
    venue.stub.trade("AAPL", dec("89"), dec("1"));
    let fill = report(&mut again, second.order_id, |r| {
        r.kind == ExecutionKind::Fill
    })
    .await;
    assert_eq!(fill.order.filled_quantity, quantity("1"));
}

#[tokio::test]
async fn a_duplicated_event_reaches_the_feed_twice_with_one_id() {
    let venue = alpaca().await;
    let mut feed = venue.broker.executions().await.expect("subscribed");
    venue.stub.duplicate_next_event();
    let order = limit(&venue, Side::Buy, "1", "10");
    venue.broker.submit(&order).await.expect("submitted");
    let first = report(&mut feed, order.order_id, |_| true).await;
    let second = report(&mut feed, order.order_id, |_| true).await;
    assert_eq!(first.kind, ExecutionKind::Accepted);
    assert_eq!(first, second, "the same report, the same event id");
}

#[tokio::test]
async fn reordered_events_reach_the_feed_as_sent_with_their_own_ids() {
    let venue = alpaca().await;
    let mut feed = venue.broker.executions().await.expect("subscribed");
    let order = limit(&venue, Side::Buy, "3", "50");
    accepted(&venue, &mut feed, &order).await;
    venue.stub.reorder_next_events();
    venue.stub.trade("AAPL", dec("49"), dec("1"));
    venue.stub.trade("AAPL", dec("48"), dec("5"));
    let early = report(&mut feed, order.order_id, |_| true).await;
    let late = report(&mut feed, order.order_id, |_| true).await;
    // The fill overtook the partial fill; each carries the order as it was then.
    assert_eq!(early.kind, ExecutionKind::Fill);
    assert_eq!(early.order.filled_quantity, quantity("3"));
    assert_eq!(late.kind, ExecutionKind::PartialFill);
    assert_eq!(late.order.filled_quantity, quantity("1"));
    assert_ne!(early.event_id, late.event_id);
    let fills: Vec<_> = [&early, &late]
        .iter()
        .map(|r| r.fill.clone().expect("a fill").quantity)
        .collect();
    assert_eq!(fills, vec![quantity("2"), quantity("1")]);
}

#[tokio::test]
async fn a_day_order_expires_at_the_close() {
    let venue = alpaca().await;
    let mut feed = venue.broker.executions().await.expect("subscribed");
    let order = BrokerOrder {
        time_in_force: TimeInForce::Day,
        ..limit(&venue, Side::Buy, "0.5", "10")
    };
    accepted(&venue, &mut feed, &order).await;
    venue.stub.close_the_day();
    let expired = report(&mut feed, order.order_id, |r| {
        r.kind == ExecutionKind::Expired
    })
    .await;
    assert_eq!(expired.order.status, OrderStatus::Expired);
    assert_eq!(expired.order.quantity, quantity("0.5"));
}

#[tokio::test]
async fn a_replaced_order_is_found_after_a_restart() {
    let venue = alpaca().await;
    let order = limit(&venue, Side::Buy, "1", "10");
    venue.broker.submit(&order).await.expect("submitted");
    for (qty, at) in [("2", "11"), ("3", "12")] {
        venue
            .broker
            .replace(&Replace {
                order_id: order.order_id,
                quantity: Some(quantity(qty)),
                limit_price: Some(price(at)),
                stop_price: None,
            })
            .await
            .expect("replaced");
    }
    let restarted = venue.fresh_broker();
    let state = restarted.order(order.order_id).await.expect("by id");
    assert_eq!(state.quantity, quantity("3"));
    assert_eq!(
        state.order_type,
        OrderType::Limit {
            limit_price: price("12")
        }
    );
    assert_eq!(
        state,
        venue.broker.order(order.order_id).await.expect("by id")
    );
    restarted
        .cancel(order.order_id)
        .await
        .expect("the newest revision cancelled");
    let open = venue.broker.open_orders().await.expect("open orders");
    assert!(open.is_empty(), "{open:?}");
}

#[tokio::test]
async fn a_partially_filled_order_is_not_replaced() {
    let venue = alpaca().await;
    let mut feed = venue.broker.executions().await.expect("subscribed");
    let order = limit(&venue, Side::Buy, "3", "50");
    accepted(&venue, &mut feed, &order).await;
    venue.stub.trade("AAPL", dec("49"), dec("1"));
    report(&mut feed, order.order_id, |r| {
        r.kind == ExecutionKind::PartialFill
    })
    .await;
    let replace = Replace {
        order_id: order.order_id,
        quantity: None,
        limit_price: Some(price("51")),
        stop_price: None,
    };
    assert!(matches!(
        venue.broker.replace(&replace).await,
        Err(BrokerError::Unsupported(_))
    ));
    assert_eq!(venue.stub.order_count(), 1);
}

#[tokio::test]
async fn alpaca_refusals_are_rejections() {
    let venue = alpaca().await;
    // Beyond the account's buying power (100,000).
    let big = limit(&venue, Side::Buy, "1000", "1000");
    assert_eq!(
        venue.broker.submit(&big).await,
        Err(BrokerError::Rejected("insufficient buying power".into()))
    );
    let order = limit(&venue, Side::Buy, "1", "10");
    venue.broker.submit(&order).await.expect("submitted");
    let unchanged = Replace {
        order_id: order.order_id,
        quantity: None,
        limit_price: None,
        stop_price: None,
    };
    assert!(matches!(
        venue.broker.replace(&unchanged).await,
        Err(BrokerError::Rejected(_))
    ));
    venue
        .broker
        .cancel(order.order_id)
        .await
        .expect("cancelled");
    assert!(matches!(
        venue.broker.cancel(order.order_id).await,
        Err(BrokerError::Rejected(_))
    ));
}

#[tokio::test]
async fn orders_alpaca_does_not_take_are_refused_before_sending() {
    let venue = alpaca().await;
    let btc = Symbol::parse("BTC-USD").expect("symbol");
    let crypto = |order_type, time_in_force| BrokerOrder {
        symbol: btc,
        asset_class: AssetClass::Crypto,
        order_type,
        time_in_force,
        ..limit(&venue, Side::Buy, "0.1", "10")
    };
    let fractional = |order_type, time_in_force| BrokerOrder {
        order_type,
        time_in_force,
        ..limit(&venue, Side::Buy, "0.5", "10")
    };
    let refused = [
        crypto(
            OrderType::Stop {
                stop_price: price("10"),
            },
            TimeInForce::Gtc,
        ),
        crypto(
            OrderType::Limit {
                limit_price: price("10"),
            },
            TimeInForce::Day,
        ),
        fractional(
            OrderType::Stop {
                stop_price: price("10"),
            },
            TimeInForce::Day,
        ),
        fractional(
            OrderType::Limit {
                limit_price: price("10"),
            },
            TimeInForce::Gtc,
        ),
        BrokerOrder {
            asset_class: AssetClass::Future,
            ..limit(&venue, Side::Buy, "1", "10")
        },
    ];
    for order in &refused {
        assert!(
            matches!(
                venue.broker.submit(order).await,
                Err(BrokerError::Unsupported(_))
            ),
            "{order:?}"
        );
    }
    assert_eq!(venue.stub.order_count(), 0, "nothing was sent");
}

#[tokio::test]
async fn crypto_pairs_are_written_with_a_slash_at_alpaca() {
    let venue = alpaca().await;
    let mut feed = venue.broker.executions().await.expect("subscribed");
    let btc = Symbol::parse("BTC-USD").expect("symbol");
    let order = BrokerOrder {
        symbol: btc,
        asset_class: AssetClass::Crypto,
        order_type: OrderType::Market,
        ..limit(&venue, Side::Buy, "0.25", "1")
    };
    accepted(&venue, &mut feed, &order).await;
    venue.stub.trade("BTC/USD", dec("60000.5"), dec("1"));
    let fill = report(&mut feed, order.order_id, |r| r.kind == ExecutionKind::Fill).await;
    assert_eq!(fill.order.symbol, btc);
    assert_eq!(fill.order.average_price, Some(price("60000.5")));
    let positions = venue.broker.positions().await.expect("positions");
    let held = positions
        .iter()
        .find(|p| p.symbol == btc)
        .expect("the BTC position");
    assert_eq!(held.quantity, dec("0.25"));
    assert_eq!(held.average_price, Some(price("60000.5")));
}

#[tokio::test]
async fn market_data_ticks_carry_the_latest_quote() {
    let venue = alpaca().await;
    let data = AlpacaMarketData::new(config(&venue.stub, "stub-secret"));
    let btc = Symbol::parse("BTC-USD").expect("symbol");
    let mut feed = data.subscribe(&[aapl(), btc]).await.expect("subscribed");
    venue.stub.quote("AAPL", dec("189.4"), dec("189.6"));
    venue.stub.trade("MSFT", dec("400"), dec("10"));
    venue.stub.trade("AAPL", dec("189.5"), dec("100"));
    venue.stub.trade("BTC/USD", dec("60000.01"), dec("0.0001"));
    let tick = next_tick(&mut feed)
        .await
        .expect("a tick")
        .expect("not an error");
    assert_eq!(tick.symbol, aapl(), "MSFT was not subscribed");
    assert_eq!((tick.price, tick.size), (price("189.5"), quantity("100")));
    assert_eq!(
        (tick.bid, tick.ask),
        (Some(price("189.4")), Some(price("189.6")))
    );
    let tick = next_tick(&mut feed)
        .await
        .expect("a tick")
        .expect("not an error");
    assert_eq!(tick.symbol, btc);
    assert_eq!(tick.price, price("60000.01"), "exact, not through f64");
    assert_eq!(tick.size, quantity("0.0001"));
    assert_eq!((tick.bid, tick.ask), (None, None));
    venue.stub.drop_streams();
    assert!(matches!(
        next_tick(&mut feed).await,
        Some(Err(BrokerError::Unavailable(_)))
    ));
}

async fn next_tick(feed: &mut TickFeed) -> Option<Result<Tick, BrokerError>> {
    tokio::time::timeout(Duration::from_secs(10), feed.next())
        .await
        .expect("a tick in time")
}

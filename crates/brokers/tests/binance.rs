//! The Binance Spot adapter against the `broker-stubs` Binance stub: the conformance
//! suite, then what only a real venue does — rate limits, server errors, requests whose
//! answer never comes, refused credentials, streams that drop or deliver twice or out of
//! order, replaces of partly filled orders, fees, market data.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use broker_stubs::binance::{self as stub, BinanceStub, Fault, StubConfig};
use brokers::binance::{BinanceBroker, BinanceConfig, BinanceMarketData, Credentials, Endpoints};
use brokers::conformance::{Venue, limit, market, report};
use brokers::{
    Broker, BrokerError, BrokerOrder, ExecutionKind, MarketData, Replace, TickFeed, client_id,
};
use domain::{
    AssetClass, Clock, Money, OrderId, OrderStatus, OrderType, Price, Quantity, Side, Symbol, Tick,
    TimeInForce, Timestamp,
};
use rust_decimal::Decimal;

struct Binance {
    stub: BinanceStub,
    broker: BinanceBroker,
}

fn btc() -> Symbol {
    Symbol::parse("BTC-USD").expect("symbol")
}

fn dec(text: &str) -> Decimal {
    text.parse().expect("a decimal")
}

fn price(text: &str) -> Price {
    Price::parse("price", text).expect("price")
}

fn qty(text: &str) -> Quantity {
    Quantity::parse("quantity", text).expect("quantity")
}

/// Binance's name for a Stratus symbol of the suite (`BTC-USD` → `BTCUSDT`).
fn venue_symbol(symbol: Symbol) -> String {
    symbol.as_str().replace("-USD", "USDT")
}

#[async_trait]
impl Venue for Binance {
    fn broker(&self) -> Arc<dyn Broker> {
        Arc::new(self.broker.clone())
    }

    fn instrument(&self) -> (Symbol, AssetClass) {
        (btc(), AssetClass::Crypto)
    }

    async fn trade(&self, symbol: Symbol, price: Price, quantity: Quantity) {
        self.stub
            .trade(&venue_symbol(symbol), price.value(), quantity.value())
            .expect("a trade prints");
    }

    fn unsupported(&self, order_id: OrderId) -> BrokerOrder {
        BrokerOrder {
            order_id,
            time_in_force: TimeInForce::Day,
            ..limit(self, Side::Buy, "1", "10")
        }
    }
}

fn config_for(stub: &BinanceStub) -> BinanceConfig {
    BinanceConfig::new(
        Endpoints::at(&stub.base_url()),
        Credentials {
            api_key: stub.api_key().to_string(),
            secret_key: stub.secret_key().to_string(),
        },
    )
    .with_symbols(vec![btc()])
}

async fn start_with(config: StubConfig) -> BinanceStub {
    stub::start(config).await.expect("the stub starts")
}

/// The stub with 100,000 USDT and 10 BTC, and an adapter for it.
async fn binance() -> Binance {
    let stub = start_with(StubConfig::default()).await;
    let broker = BinanceBroker::new(config_for(&stub)).expect("an adapter");
    Binance { stub, broker }
}

/// An adapter whose requests give up after `timeout`.
fn impatient(venue: &Binance, timeout: Duration) -> BinanceBroker {
    BinanceBroker::new(config_for(&venue.stub).with_timeout(timeout)).expect("an adapter")
}

brokers::broker_conformance!(binance);

#[tokio::test]
async fn rate_limits_say_when_to_retry() {
    let venue = binance().await;
    venue
        .stub
        .fail_next(1, Fault::RateLimited { retry_after: 7 });
    assert_eq!(
        venue.broker.account().await,
        Err(BrokerError::RateLimited { retry_after: 7 })
    );
    venue.stub.fail_next(1, Fault::Banned { retry_after: 120 });
    assert_eq!(
        venue.broker.positions().await,
        Err(BrokerError::RateLimited { retry_after: 120 })
    );
    // Nothing was sent on: the next request goes through.
    venue.broker.account().await.expect("the account");
    let order = limit(&venue, Side::Buy, "1", "10");
    venue
        .stub
        .fail_next(1, Fault::RateLimited { retry_after: 3 });
    assert_eq!(
        venue.broker.submit(&order).await,
        Err(BrokerError::RateLimited { retry_after: 3 })
    );
    let client = client_id::encode(order.order_id, 0);
    assert_eq!(venue.stub.orders_with_client_id(&client), 0);
    venue.broker.submit(&order).await.expect("placed on retry");
    assert_eq!(venue.stub.orders_with_client_id(&client), 1);
}

#[tokio::test]
async fn server_errors_are_unavailable() {
    let venue = binance().await;
    venue.stub.fail_next(1, Fault::ServerError);
    assert!(matches!(
        venue.broker.open_orders().await,
        Err(BrokerError::Unavailable(_))
    ));
    // A submit that met a 5xx is looked up; Binance has nothing, so nothing happened.
    let order = limit(&venue, Side::Buy, "1", "10");
    venue.stub.fail_next(1, Fault::ServerError);
    assert!(matches!(
        venue.broker.submit(&order).await,
        Err(BrokerError::Unavailable(_))
    ));
    let client = client_id::encode(order.order_id, 0);
    assert_eq!(venue.stub.orders_with_client_id(&client), 0);
    venue.broker.submit(&order).await.expect("placed on retry");
    assert_eq!(venue.stub.orders_with_client_id(&client), 1);
}

#[tokio::test]
async fn a_submit_without_an_answer_is_found_by_its_client_id() {
    let venue = binance().await;
    let broker = impatient(&venue, Duration::from_millis(500));
    let order = limit(&venue, Side::Buy, "1", "10");
    // Binance places it, but the answer never comes.
    venue.stub.fail_next(1, Fault::Timeout);
    let state = broker.submit(&order).await.expect("found by client id");
    assert_eq!(state.order_id, order.order_id);
    assert_eq!(state.status, OrderStatus::Accepted);
    let client = client_id::encode(order.order_id, 0);
    assert_eq!(venue.stub.orders_with_client_id(&client), 1);
    // Sending it again places nothing.
    assert!(matches!(
        broker.submit(&order).await,
        Err(BrokerError::Rejected(_))
    ));
    assert_eq!(venue.stub.orders_with_client_id(&client), 1);
}

#[tokio::test]
async fn a_submit_lost_on_the_way_is_unknown_then_safe_to_send_again() {
    let venue = binance().await;
    let broker = impatient(&venue, Duration::from_millis(500));
    let order = limit(&venue, Side::Buy, "1", "10");
    venue.stub.fail_next(1, Fault::Lost);
    assert!(matches!(
        broker.submit(&order).await,
        Err(BrokerError::UnknownOutcome(_))
    ));
    let client = client_id::encode(order.order_id, 0);
    assert_eq!(venue.stub.orders_with_client_id(&client), 0);
    assert!(matches!(
        broker.order(order.order_id).await,
        Err(BrokerError::NotFound(_))
    ));
    broker.submit(&order).await.expect("placed");
    assert_eq!(venue.stub.orders_with_client_id(&client), 1);

    // Placed, and then the lookup gets no answer either: unknown.
    let second = limit(&venue, Side::Buy, "1", "10");
    venue.stub.fail_next(2, Fault::Timeout);
    assert!(matches!(
        broker.submit(&second).await,
        Err(BrokerError::UnknownOutcome(_))
    ));
    // Looking it up settles it; sending it again does not place it twice.
    let state = broker.order(second.order_id).await.expect("by id");
    assert_eq!(state.status, OrderStatus::Accepted);
    assert!(matches!(
        broker.submit(&second).await,
        Err(BrokerError::Rejected(_))
    ));
    let client = client_id::encode(second.order_id, 0);
    assert_eq!(venue.stub.orders_with_client_id(&client), 1);
}

#[tokio::test]
async fn a_cancel_without_an_answer_is_settled_by_looking() {
    let venue = binance().await;
    let broker = impatient(&venue, Duration::from_millis(500));
    let order = limit(&venue, Side::Buy, "1", "10");
    broker.submit(&order).await.expect("placed");
    venue.stub.fail_next(1, Fault::Timeout);
    broker.cancel(order.order_id).await.expect("cancelled");
    let state = broker.order(order.order_id).await.expect("by id");
    assert_eq!(state.status, OrderStatus::Cancelled);
    // A second cancel: the order is there, and not working.
    assert!(matches!(
        broker.cancel(order.order_id).await,
        Err(BrokerError::Rejected(_))
    ));
    let lost = limit(&venue, Side::Buy, "1", "10");
    broker.submit(&lost).await.expect("placed");
    venue.stub.fail_next(1, Fault::Lost);
    assert!(matches!(
        broker.cancel(lost.order_id).await,
        Err(BrokerError::UnknownOutcome(_))
    ));
    assert_eq!(
        broker.order(lost.order_id).await.expect("by id").status,
        OrderStatus::Accepted
    );
}

#[tokio::test]
async fn refused_credentials_are_unauthorized_with_binances_message() {
    let venue = binance().await;
    let wrong_secret = BinanceBroker::new(BinanceConfig {
        credentials: Credentials {
            api_key: venue.stub.api_key().to_string(),
            secret_key: "not the secret".to_string(),
        },
        ..config_for(&venue.stub)
    })
    .expect("an adapter");
    assert_eq!(
        wrong_secret.account().await,
        Err(BrokerError::Unauthorized(
            "Signature for this request is not valid.".into()
        ))
    );
    assert_eq!(
        wrong_secret.executions().await.map(|_| ()),
        Err(BrokerError::Unauthorized(
            "Signature for this request is not valid.".into()
        ))
    );
    let unknown_key = BinanceBroker::new(BinanceConfig {
        credentials: Credentials {
            api_key: "nobody".to_string(),
            secret_key: venue.stub.secret_key().to_string(),
        },
        ..config_for(&venue.stub)
    })
    .expect("an adapter");
    let refused = Err(BrokerError::Unauthorized(
        "Invalid API-key, IP, or permissions for action.".into(),
    ));
    assert_eq!(unknown_key.account().await.map(|_| ()), refused);
    let order = limit(&venue, Side::Buy, "1", "10");
    assert_eq!(unknown_key.submit(&order).await.map(|_| ()), refused);
    assert_eq!(unknown_key.executions().await.map(|_| ()), refused);
}

#[tokio::test]
async fn a_clock_outside_the_receive_window_is_refused() {
    let venue = binance().await;
    let behind = Clock::from_fn(|| Timestamp::from_secs(1_600_000_000));
    let broker =
        BinanceBroker::new(config_for(&venue.stub).with_clock(behind)).expect("an adapter");
    match broker.account().await {
        Err(BrokerError::Rejected(msg)) => assert!(msg.contains("recvWindow"), "{msg}"),
        other => panic!("a stale timestamp: {other:?}"),
    }
}

#[tokio::test]
async fn a_dropped_stream_ends_the_feed_and_a_new_one_gets_later_events() {
    let venue = binance().await;
    let mut feed = venue.broker.executions().await.expect("subscribed");
    venue.stub.drop_streams();
    let end = tokio::time::timeout(Duration::from_secs(5), feed.next())
        .await
        .expect("the feed ends");
    assert!(
        matches!(end, Some(Err(BrokerError::Unavailable(_)))),
        "{end:?}"
    );
    assert!(feed.next().await.is_none(), "nothing after the error");

    let mut again = venue.broker.executions().await.expect("subscribed again");
    let order = limit(&venue, Side::Buy, "1", "10");
    venue.broker.submit(&order).await.expect("placed");
    report(&mut again, order.order_id, |r| {
        r.kind == ExecutionKind::Accepted
    })
    .await;
}

#[tokio::test]
async fn duplicated_and_reordered_events_pass_through_with_their_event_ids() {
    let venue = binance().await;
    let mut feed = venue.broker.executions().await.expect("subscribed");
    let order = limit(&venue, Side::Buy, "3", "100");
    venue.stub.duplicate_next_events(1);
    venue.broker.submit(&order).await.expect("placed");
    let first = report(&mut feed, order.order_id, |_| true).await;
    let second = report(&mut feed, order.order_id, |_| true).await;
    assert_eq!(first.kind, ExecutionKind::Accepted);
    assert_eq!(first, second, "the same event, twice, with one id");

    // The first fill is held back and arrives after the second.
    venue.stub.reorder_next_events();
    venue.trade(btc(), price("100"), qty("1")).await;
    venue.trade(btc(), price("100"), qty("1")).await;
    let later = report(&mut feed, order.order_id, |_| true).await;
    let earlier = report(&mut feed, order.order_id, |_| true).await;
    assert_eq!(later.order.filled_quantity, qty("2"));
    assert_eq!(earlier.order.filled_quantity, qty("1"));
    assert_eq!(
        (later.kind, earlier.kind),
        (ExecutionKind::PartialFill, ExecutionKind::PartialFill)
    );
    assert_ne!(later.event_id, earlier.event_id);
    let fills = [later.fill.expect("a fill"), earlier.fill.expect("a fill")];
    assert_ne!(fills[0].execution_id, fills[1].execution_id);
}

#[tokio::test]
async fn a_replace_after_a_partial_fill_keeps_the_orders_totals() {
    let venue = binance().await;
    let mut feed = venue.broker.executions().await.expect("subscribed");
    let order = limit(&venue, Side::Buy, "3", "50");
    venue.broker.submit(&order).await.expect("placed");
    venue.trade(btc(), price("49"), qty("1")).await;
    report(&mut feed, order.order_id, |r| {
        r.kind == ExecutionKind::PartialFill
    })
    .await;
    let replaced = venue
        .broker
        .replace(&Replace {
            order_id: order.order_id,
            quantity: Some(qty("5")),
            limit_price: Some(price("48")),
            stop_price: None,
        })
        .await
        .expect("replaced");
    assert_eq!(replaced.quantity, qty("5"));
    assert_eq!(replaced.filled_quantity, qty("1"));
    assert_eq!(replaced.status, OrderStatus::Accepted);
    let news = report(&mut feed, order.order_id, |r| {
        r.kind == ExecutionKind::Replaced
    })
    .await;
    assert_eq!(
        (news.order.quantity, news.order.filled_quantity),
        (qty("5"), qty("1"))
    );
    // Binance's replacement is a new order for what is left: 4.
    assert_eq!(
        venue
            .stub
            .orders_with_client_id(&client_id::encode(order.order_id, 1)),
        1
    );
    venue.trade(btc(), price("48"), qty("10")).await;
    let fill = report(&mut feed, order.order_id, |r| r.kind == ExecutionKind::Fill).await;
    assert_eq!(fill.order.filled_quantity, qty("5"));
    assert_eq!(fill.fill.expect("the fill").quantity, qty("4"));
    let average = price("48.2"); // (1 × 49 + 4 × 48) / 5
    assert_eq!(fill.order.average_price, Some(average));

    // Another process (after a restart) finds the order at its last revision.
    let fresh = BinanceBroker::new(config_for(&venue.stub)).expect("an adapter");
    let state = fresh
        .order(order.order_id)
        .await
        .expect("found after a restart");
    assert_eq!(state.status, OrderStatus::Filled);
    assert_eq!(
        (state.quantity, state.filled_quantity),
        (qty("5"), qty("5"))
    );
    assert_eq!(state.average_price, Some(average));
}

#[tokio::test]
async fn a_replace_refused_after_its_cancel_reports_the_cancel() {
    let venue = binance().await;
    let mut feed = venue.broker.executions().await.expect("subscribed");
    let order = limit(&venue, Side::Buy, "1", "10");
    venue.broker.submit(&order).await.expect("placed");
    // 9,000 BTC at 20 USDT is more than the account holds: Binance cancels the order,
    // then refuses the new one.
    let refused = venue
        .broker
        .replace(&Replace {
            order_id: order.order_id,
            quantity: Some(qty("9000")),
            limit_price: Some(price("20")),
            stop_price: None,
        })
        .await;
    match refused {
        Err(BrokerError::Rejected(msg)) => {
            assert!(msg.contains("insufficient balance"), "{msg}");
        }
        other => panic!("a refused replacement: {other:?}"),
    }
    let cancelled = report(&mut feed, order.order_id, |r| {
        r.kind == ExecutionKind::Cancelled
    })
    .await;
    assert_eq!(cancelled.order.status, OrderStatus::Cancelled);
    let state = venue.broker.order(order.order_id).await.expect("by id");
    assert_eq!(state.status, OrderStatus::Cancelled);
}

#[tokio::test]
async fn fees_count_only_in_the_quote_asset() {
    let stub = start_with(StubConfig {
        commission_rate: dec("0.001"),
        ..StubConfig::default()
    })
    .await;
    let venue = Binance {
        broker: BinanceBroker::new(config_for(&stub)).expect("an adapter"),
        stub,
    };
    let mut feed = venue.broker.executions().await.expect("subscribed");
    // A buy pays its fee in BTC: not the account's dollars, reported as zero.
    let buy = market(&venue, Side::Buy, "2");
    venue.broker.submit(&buy).await.expect("placed");
    venue.trade(btc(), price("100"), qty("5")).await;
    let bought = report(&mut feed, buy.order_id, |r| r.kind == ExecutionKind::Fill).await;
    assert_eq!(bought.fill.expect("a fill").fee, Money::ZERO);
    assert_eq!(venue.stub.balance("BTC").0, dec("11.998"));
    // A sell pays it in USDT: reported.
    let sell = market(&venue, Side::Sell, "1");
    venue.broker.submit(&sell).await.expect("placed");
    venue.trade(btc(), price("100"), qty("5")).await;
    let sold = report(&mut feed, sell.order_id, |r| r.kind == ExecutionKind::Fill).await;
    assert_eq!(sold.fill.expect("a fill").fee, Money::new(dec("0.1")));
}

#[tokio::test]
async fn positions_and_cash_come_from_the_balances() {
    let venue = binance().await;
    let positions = venue.broker.positions().await.expect("positions");
    assert_eq!(
        positions.len(),
        1,
        "ETH is zero, USDT is cash: {positions:?}"
    );
    assert_eq!(positions[0].symbol, btc());
    assert_eq!(positions[0].quantity, dec("10"));
    // A resting buy locks its cost: still cash, no longer buying power.
    venue
        .broker
        .submit(&limit(&venue, Side::Buy, "2", "100"))
        .await
        .expect("placed");
    let account = venue.broker.account().await.expect("the account");
    assert_eq!(account.cash, Money::new(dec("100000")));
    assert_eq!(account.buying_power, Money::new(dec("99800")));
}

#[tokio::test]
async fn unsupported_orders_name_binances_rules() {
    let venue = binance().await;
    let refused = |order: BrokerOrder| {
        assert!(
            matches!(
                venue.broker.supports(&order),
                Err(BrokerError::Unsupported(_))
            ),
            "{order:?}"
        );
    };
    let day = BrokerOrder {
        time_in_force: TimeInForce::Day,
        ..limit(&venue, Side::Buy, "1", "10")
    };
    refused(day);
    let stop_ioc = BrokerOrder {
        order_type: OrderType::Stop {
            stop_price: price("120"),
        },
        time_in_force: TimeInForce::Ioc,
        ..limit(&venue, Side::Buy, "1", "10")
    };
    refused(stop_ioc.clone());
    refused(BrokerOrder {
        time_in_force: TimeInForce::Fok,
        ..market(&venue, Side::Buy, "1")
    });
    refused(BrokerOrder {
        asset_class: AssetClass::Equity,
        ..limit(&venue, Side::Buy, "1", "10")
    });
    for accepted in [
        BrokerOrder {
            time_in_force: TimeInForce::Gtc,
            ..stop_ioc.clone()
        },
        BrokerOrder {
            order_type: OrderType::StopLimit {
                stop_price: price("120"),
                limit_price: price("121"),
            },
            time_in_force: TimeInForce::Ioc,
            ..stop_ioc
        },
        BrokerOrder {
            time_in_force: TimeInForce::Fok,
            ..limit(&venue, Side::Buy, "1", "10")
        },
    ] {
        venue.broker.supports(&accepted).expect("supported");
    }
    // A refused order is never sent.
    let day = BrokerOrder {
        time_in_force: TimeInForce::Day,
        ..limit(&venue, Side::Buy, "1", "10")
    };
    assert!(matches!(
        venue.broker.submit(&day).await,
        Err(BrokerError::Unsupported(_))
    ));
    let client = client_id::encode(day.order_id, 0);
    assert_eq!(venue.stub.orders_with_client_id(&client), 0);
}

#[tokio::test]
async fn stop_orders_trigger_and_fill() {
    let venue = binance().await;
    let mut feed = venue.broker.executions().await.expect("subscribed");
    venue.trade(btc(), price("100"), qty("1")).await;
    let stop = BrokerOrder {
        order_type: OrderType::Stop {
            stop_price: price("110"),
        },
        ..market(&venue, Side::Buy, "1")
    };
    venue.broker.submit(&stop).await.expect("placed");
    venue.trade(btc(), price("105"), qty("1")).await;
    assert_eq!(
        venue
            .broker
            .order(stop.order_id)
            .await
            .expect("by id")
            .status,
        OrderStatus::Accepted
    );
    venue.trade(btc(), price("111"), qty("1")).await;
    let fill = report(&mut feed, stop.order_id, |r| r.kind == ExecutionKind::Fill).await;
    assert_eq!(fill.fill.expect("a fill").price, price("111"));
    assert_eq!(
        fill.order.order_type,
        OrderType::Stop {
            stop_price: price("110")
        }
    );
    // A stop the last trade already reached is refused, as Binance refuses it.
    let late = BrokerOrder {
        order_type: OrderType::Stop {
            stop_price: price("105"),
        },
        ..market(&venue, Side::Buy, "1")
    };
    match venue.broker.submit(&late).await {
        Err(BrokerError::Rejected(msg)) => assert_eq!(msg, "Order would trigger immediately."),
        other => panic!("{other:?}"),
    }
}

async fn next_tick(ticks: &mut TickFeed) -> Tick {
    tokio::time::timeout(Duration::from_secs(5), ticks.next())
        .await
        .expect("a tick in time")
        .expect("the feed is open")
        .expect("a tick")
}

#[tokio::test]
async fn market_data_ticks_carry_the_latest_bid_and_ask() {
    let venue = binance().await;
    let data = BinanceMarketData::new(&Endpoints::at(&venue.stub.base_url()));
    let mut ticks = data.subscribe(&[btc()]).await.expect("subscribed");
    venue
        .stub
        .trade("BTCUSDT", dec("100"), dec("0.5"))
        .expect("trade");
    let first = next_tick(&mut ticks).await;
    assert_eq!(first.symbol, btc());
    assert_eq!((first.price, first.size), (price("100"), qty("0.5")));
    assert_eq!((first.bid, first.ask), (None, None));
    venue
        .stub
        .quote("BTCUSDT", dec("99.5"), dec("1"), dec("100.5"), dec("2"))
        .expect("quote");
    // Another symbol's trades are not this feed's.
    venue
        .stub
        .trade("ETHUSDT", dec("10"), dec("1"))
        .expect("trade");
    venue
        .stub
        .trade("BTCUSDT", dec("100.25"), dec("0.1"))
        .expect("trade");
    let second = next_tick(&mut ticks).await;
    assert_eq!(second.price, price("100.25"));
    assert_eq!(
        (second.bid, second.ask),
        (Some(price("99.5")), Some(price("100.5")))
    );
    venue.stub.drop_streams();
    let end = tokio::time::timeout(Duration::from_secs(5), ticks.next())
        .await
        .expect("the feed ends");
    assert!(
        matches!(end, Some(Err(BrokerError::Unavailable(_)))),
        "{end:?}"
    );
}

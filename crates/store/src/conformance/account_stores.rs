//! The account-side typed stores over [`KvTable`] (risk, broker connections, last prices,
//! exactly-once application, dead letters), run against every key-value adapter as part
//! of `kv_conformance!`.

use std::future::Future;
use std::sync::Arc;

use domain::{AccountId, Decimal, EventId, Money, Symbol, Timestamp};
use serde_json::json;

use crate::brokers::{BrokerConnection, BrokerConnections, ConnectionHalt, ConnectionStatus};
use crate::core_status::{CommitLatency, CoreStatus, CoreStatusStore, StreamLag};
use crate::dead_letters::{DeadLetter, DeadLetters};
use crate::error::ErrorKind;
use crate::kv::{Clock, KvTable};
use crate::market_prices::{LastPrice, MarketPrices};
use crate::market_tape::{MarketTape, RECENT_TRADES, TradePrint};
use crate::once::{Applied, apply_once};
use crate::risk::{Halt, RiskLimits, RiskStore};

fn money(text: &str) -> Money {
    Money::new(text.parse().expect("decimal"))
}

pub async fn risk_limits_halts_and_day_baselines<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let risk = RiskStore::new(factory(Clock::system()).await);
    let account = AccountId::from_u128(1);
    assert_eq!(
        risk.limits(account).await.expect("limits"),
        RiskLimits::default()
    );
    let es = Symbol::parse("ES").expect("symbol");
    let limits = RiskLimits {
        max_order_notional: Some(money("50000")),
        max_position: Some(Decimal::from(100)),
        max_position_by_symbol: [(es, Decimal::from(5))].into(),
        max_daily_loss: Some(money("1000.50")),
    };
    risk.set_limits(account, &limits).await.expect("set");
    let stored = risk.limits(account).await.expect("limits");
    assert_eq!(stored, limits);
    assert_eq!(stored.max_position_for(es), Some(Decimal::from(5)));
    assert_eq!(
        stored.max_position_for(Symbol::parse("NQ").expect("symbol")),
        Some(Decimal::from(100))
    );
    assert_eq!(
        risk.limits(AccountId::from_u128(2)).await.expect("other"),
        RiskLimits::default(),
        "limits are per account"
    );

    assert_eq!(
        risk.halted(account, "2026-12-01").await.expect("halted"),
        None
    );
    let halt = |day: &str, reason: &str| Halt {
        day: day.into(),
        reason: reason.into(),
        at: 1_700_000_000,
    };
    risk.halt(account, &halt("2026-12-01", "first"))
        .await
        .expect("halt");
    let kept = risk
        .halt(account, &halt("2026-12-01", "second"))
        .await
        .expect("again");
    assert_eq!(kept.reason, "first", "the day's first halt is kept");
    assert_eq!(
        risk.halted(account, "2026-12-01")
            .await
            .expect("halted")
            .map(|h| h.reason),
        Some("first".into())
    );
    assert_eq!(
        risk.halted(account, "2026-12-02").await.expect("next day"),
        None,
        "a halt lasts its day"
    );

    let now = Clock::system().unix_seconds();
    let first = risk
        .day_baseline(account, "2026-12-01", money("-12.5"), now)
        .await
        .expect("baseline");
    assert_eq!(first, money("-12.5"));
    let again = risk
        .day_baseline(account, "2026-12-01", money("40"), now + 60)
        .await
        .expect("baseline");
    assert_eq!(again, money("-12.5"), "the first baseline of a day wins");
    assert_eq!(
        risk.day_baseline(account, "2026-12-02", money("40"), now + 86_400)
            .await
            .expect("next day"),
        money("40")
    );
}

pub async fn broker_connections_are_listed_and_removed<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let brokers = BrokerConnections::new(factory(Clock::system()).await);
    let account = AccountId::from_u128(1);
    let connection = |id: &str| BrokerConnection {
        id: id.into(),
        account_id: account,
        broker: "alpaca".into(),
        label: "main".into(),
        fields: vec!["api_key_id".into(), "api_secret".into()],
        sealed_credentials: "v1.bm9uY2U.Y2lwaGVy".into(),
        created_at: 1_700_000_000,
        environment: "paper".into(),
        status: ConnectionStatus::Unverified,
        status_reason: None,
        checked_at: None,
        halt: None,
        opening_positions: None,
    };
    brokers.add(&connection("c1")).await.expect("add");
    brokers.add(&connection("c2")).await.expect("add");
    let e = brokers.add(&connection("c1")).await.expect_err("same id");
    assert_eq!(e.kind(), ErrorKind::ConditionFailed);
    let ids: Vec<String> = brokers
        .list(account)
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["c1", "c2"]);
    assert!(
        brokers
            .list(AccountId::from_u128(2))
            .await
            .expect("other")
            .is_empty()
    );
    brokers.remove(account, "c1").await.expect("remove");
    let e = brokers.remove(account, "c1").await.expect_err("gone");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = brokers
        .remove(AccountId::from_u128(2), "c2")
        .await
        .expect_err("not that account's");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(brokers.list(account).await.expect("list").len(), 1);

    // What Stratus learns of a connection is kept with it.
    let updated = brokers
        .update(account, "c2", |c| {
            c.status = ConnectionStatus::Invalid;
            c.status_reason = Some("request is not authorized".into());
            c.halt = Some(ConnectionHalt {
                reason: "positions differ".into(),
                at: 1_700_000_100,
            });
        })
        .await
        .expect("update");
    let read = brokers
        .get(account, "c2")
        .await
        .expect("get")
        .expect("there");
    assert_eq!(read, updated);
    assert_eq!(read.status, ConnectionStatus::Invalid);
    assert_eq!(read.sealed_credentials, connection("c2").sealed_credentials);
    assert_eq!(brokers.get(account, "c1").await.expect("get"), None);
    let e = brokers
        .update(account, "c1", |_| {})
        .await
        .expect_err("gone");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    // A connection stored before statuses existed reads as unverified, paper.
    let mut old = serde_json::to_value(connection("c3")).expect("json");
    for field in [
        "environment",
        "status",
        "status_reason",
        "checked_at",
        "halt",
    ] {
        old.as_object_mut().expect("object").remove(field);
    }
    let read: BrokerConnection = serde_json::from_value(old).expect("an old connection");
    assert_eq!(
        (read.environment.as_str(), read.status),
        ("paper", ConnectionStatus::Unverified)
    );
}

pub async fn last_prices_only_move_forward<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let prices = MarketPrices::new(factory(Clock::system()).await);
    let es = Symbol::parse("ES").expect("symbol");
    assert_eq!(prices.last(es).await.expect("none"), None);
    let at = |secs: i64, price: &str| LastPrice {
        price: price.parse().expect("price"),
        time: Timestamp::from_secs(secs),
    };
    assert!(prices.record(es, at(10, "100.25")).await.expect("first"));
    assert!(prices.record(es, at(20, "101")).await.expect("newer"));
    assert!(
        !prices.record(es, at(15, "99")).await.expect("older"),
        "a late update is ignored"
    );
    assert_eq!(prices.last(es).await.expect("last"), Some(at(20, "101")));
}

pub async fn tapes_keep_the_newest_trades_and_open_candles<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let tape = MarketTape::new(factory(Clock::system()).await);
    let es = Symbol::parse("ES").expect("symbol");
    assert_eq!(tape.tape(es).await.expect("empty"), Default::default());
    let print = |secs: i64| TradePrint {
        time: Timestamp::from_secs(secs),
        price: format!("{}.25", 100 + secs).parse().expect("price"),
        size: domain::Quantity::new(Decimal::from(secs)).expect("size"),
    };
    let candle = |tf: &str, start: i64, close: &str| {
        let timeframe = domain::Timeframe::parse(tf).expect("tf");
        let start = Timestamp::from_secs(start);
        let price: domain::Price = close.parse().expect("price");
        domain::Candle {
            symbol: es,
            timeframe,
            start,
            end: timeframe.period_end(start),
            open: price,
            high: price,
            low: price,
            close: price,
            volume: domain::Quantity::ZERO,
            trades: 1,
        }
    };
    let first: Vec<TradePrint> = (1..=60).map(print).collect();
    tape.record(es, &first, &[candle("1m", 0, "1"), candle("1h", 0, "1")])
        .await
        .expect("record");
    // A batch replayed and one arriving out of order add nothing; newer trades push the
    // oldest out.
    tape.record(es, &first[50..], &[]).await.expect("replay");
    let second: Vec<TradePrint> = (61..=150).map(print).collect();
    tape.record(es, &second, &[candle("1m", 60, "2"), candle("1h", 0, "2")])
        .await
        .expect("newer");
    tape.record(es, &[print(70)], &[candle("1m", 0, "9")])
        .await
        .expect("older");
    let stored = tape.tape(es).await.expect("tape");
    assert_eq!(stored.trades.len(), RECENT_TRADES);
    assert_eq!(stored.trades.first(), Some(&print(51)));
    assert_eq!(stored.trades.last(), Some(&print(150)));
    let m1 = domain::Timeframe::M1;
    assert_eq!(stored.open_candle(m1), Some(&candle("1m", 60, "2")));
    assert_eq!(
        stored.open_candle(domain::Timeframe::H1),
        Some(&candle("1h", 0, "2"))
    );
    assert_eq!(stored.open_candles.len(), 2);
    let other = Symbol::parse("NQ").expect("symbol");
    assert!(tape.tape(other).await.expect("other").trades.is_empty());
}

pub async fn events_apply_exactly_once_even_when_racing<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let kv = factory(Clock::system()).await;
    let add = |current: Option<&serde_json::Value>| {
        let n = current.and_then(|c| c["n"].as_i64()).unwrap_or(0);
        Ok(json!({ "n": n + 1 }))
    };
    let expires = 4_000_000_000;
    let first = apply_once(&kv, EventId::from_u128(1), "m#1", "running", expires, add)
        .await
        .expect("apply");
    assert_eq!(first, Applied::Now(json!({"n": 1})));
    let again = apply_once(&kv, EventId::from_u128(1), "m#1", "running", expires, add)
        .await
        .expect("redelivered");
    assert_eq!(again, Applied::Already);
    // Eight events, each delivered twice, all at once: every event counts exactly once.
    let mut tasks = Vec::new();
    for n in 2..10u128 {
        for _ in 0..2 {
            let kv = kv.clone();
            tasks.push(tokio::spawn(async move {
                apply_once(&kv, EventId::from_u128(n), "m#1", "running", expires, add).await
            }));
        }
    }
    let mut applied = 0;
    for task in tasks {
        if let Applied::Now(_) = task.await.expect("join").expect("apply") {
            applied += 1;
        }
    }
    assert_eq!(applied, 8);
    let item = kv.get("m#1", "running").await.expect("get").expect("item");
    assert_eq!(item.body, json!({"n": 9}));
}

pub async fn dead_letters_are_kept_per_consumer<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let letters = DeadLetters::new(factory(Clock::system()).await);
    let now = Clock::system().unix_seconds();
    let letter = |consumer: &str, origin: &str| DeadLetter {
        consumer: consumer.into(),
        origin: origin.into(),
        data: "{not json".into(),
        reason: "expected value at line 1 column 2".into(),
        at: now,
    };
    letters
        .put(&letter("reports.executions", "executions/shard-0/1"))
        .await
        .expect("put");
    letters
        .put(&letter("reports.executions", "executions/shard-0/1"))
        .await
        .expect("redelivered: one kept");
    letters
        .put(&letter("reports.executions", "executions/shard-1/7"))
        .await
        .expect("put");
    letters
        .put(&letter("core.commands", "commands/shard-0/3"))
        .await
        .expect("put");
    let kept = letters.list("reports.executions", 10).await.expect("list");
    assert_eq!(
        kept.iter().map(|l| l.origin.as_str()).collect::<Vec<_>>(),
        ["executions/shard-0/1", "executions/shard-1/7"]
    );
    assert_eq!(
        kept[0],
        letter("reports.executions", "executions/shard-0/1")
    );
    assert_eq!(
        letters
            .count(&["reports.executions", "core.commands", "core.ticks"], 100)
            .await
            .expect("count"),
        3
    );
    assert_eq!(
        letters
            .count(&["reports.executions"], 1)
            .await
            .expect("count"),
        1,
        "counted up to the cap"
    );
}

pub async fn the_core_status_only_moves_forward<F, Fut>(factory: F)
where
    F: Fn(Clock) -> Fut,
    Fut: Future<Output = Arc<dyn KvTable>>,
{
    let store = CoreStatusStore::new(factory(Clock::system()).await);
    assert_eq!(store.latest().await.expect("latest"), None);
    let status = |at: u64, batches: u64| CoreStatus {
        status: "ok".into(),
        batches,
        inputs: 10,
        fills: 2,
        commit_failures: 0,
        malformed_records: 0,
        working_orders: 1,
        feed_published: 0,
        last_commit_unix_ms: at,
        updated_unix_ms: at,
        commit_latency_ms: CommitLatency {
            p50: Some(1.5),
            p99: Some(4.0),
            max: Some(4.25),
        },
        feed_ticks_per_second: None,
        streams: vec![StreamLag {
            stream: "ticks".into(),
            lag_ms: None,
            records_behind: Some(7),
        }],
        dead_letters: Some(0),
    };
    assert!(store.publish(&status(2_000, 5)).await.expect("publish"));
    assert!(!store.publish(&status(1_000, 4)).await.expect("older"));
    assert_eq!(
        store.latest().await.expect("latest"),
        Some(status(2_000, 5))
    );
    assert!(store.publish(&status(3_000, 6)).await.expect("newer"));
    assert_eq!(
        store.latest().await.expect("latest").map(|s| s.batches),
        Some(6)
    );
}

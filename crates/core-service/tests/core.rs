//! The streaming core over the real embedded store (SQLite files): orders from the
//! orders function's broker fill against ticks and commit with their checkpoints; a core
//! restarted from the system of record continues exactly; strategies deployed through
//! the records run; malformed records are set aside; a store outage pauses the core and
//! loses nothing; the WebSocket serves each user their own executions only.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};

use app::routing::{OrderRouter, PaperRouter};
use app::settings::{Secret, Settings};
use app::{AppState, Clock};
use async_trait::async_trait;
use core_service::hub::{Hub, HubMessage};
use core_service::runner::{Core, CoreConfig, CoreHealth};
use domain::{
    Account, AccountId, AccountKind, ClientOrderId, Currency, EventId, InstrumentCatalog,
    LedgerEntry, Money, Order, OrderId, OrderStatus, OrderType, Quantity, Side, StrategyId,
    StrategyRecord, StrategyStatus, Symbol, Tick, TimeInForce, Timeframe, Timestamp, UserId,
    events::Event, order::OrderRequest,
};
use store::connect::streams;
use store::records::{CommitBatch, CoreCommit};
use store::stream::OutgoingRecord;
use store::{ErrorKind, StoreError, StoreResult};

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unique() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

const START: i64 = 1_796_000_000;

struct World {
    app: AppState,
    _dir: TempDir,
    now: Arc<AtomicI64>,
}

fn settings() -> Settings {
    Settings {
        jwt_secret: Some(Secret::new("core-test-secret-of-thirty-two-bytes!")),
        ..Settings::default()
    }
}

async fn world_with(wrap: impl FnOnce(&mut AppState)) -> World {
    let dir = std::env::temp_dir().join(format!("stratus-core-{}", unique()));
    let now = Arc::new(AtomicI64::new(START * 1_000_000_000));
    let clock = Clock::manual(now.clone());
    let ports = store::connect::embedded(&dir, &clock).await.unwrap();
    let mut app = AppState::new(settings(), ports, InstrumentCatalog::builtin(), clock).unwrap();
    wrap(&mut app);
    World {
        app,
        _dir: TempDir(dir),
        now,
    }
}

async fn world() -> World {
    world_with(|_| ()).await
}

fn aapl() -> Symbol {
    Symbol::parse("AAPL").unwrap()
}

impl World {
    async fn account(&self, n: u128, cash: i64) -> AccountId {
        let id = AccountId::from_u128(n);
        self.app
            .accounts
            .create_account(&Account {
                id,
                user_id: UserId::from_u128(n),
                name: "t".into(),
                kind: AccountKind::Paper,
                base_currency: Currency::USD,
                cash: Money::ZERO,
                created_at: Timestamp::from_secs(START),
            })
            .await
            .unwrap();
        self.app
            .accounts
            .post(&LedgerEntry {
                id: EventId::derived(&format!("deposit-{n}")),
                account_id: id,
                kind: domain::LedgerKind::Deposit,
                amount: Money::new(cash.into()),
                reference: String::new(),
                time: Timestamp::from_secs(START),
            })
            .await
            .unwrap();
        id
    }

    async fn place(
        &self,
        account: AccountId,
        n: u128,
        side: Side,
        order_type: OrderType,
        qty: i64,
    ) -> Order {
        let request = OrderRequest {
            id: OrderId::from_u128(n),
            client_order_id: Some(ClientOrderId::parse(&format!("c{n}")).unwrap()),
            account_id: account,
            symbol: aapl(),
            side,
            order_type,
            time_in_force: TimeInForce::Gtc,
            quantity: Quantity::new(qty.into()).unwrap(),
        };
        let instrument = self.app.instruments.get(aapl()).unwrap().clone();
        let order = Order::new(request.clone(), &instrument, self.app.clock.now()).unwrap();
        let submitted = PaperRouter::new(self.app.clone())
            .submit(&order, &request, None, Default::default())
            .await
            .unwrap();
        assert_eq!(submitted, app::routing::Submitted::Accepted);
        order
    }

    async fn ticks(&self, from_secs: i64, prices: &[&str]) {
        let records: Vec<OutgoingRecord> = prices
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let tick = Tick {
                    symbol: aapl(),
                    time: Timestamp::from_secs(START + from_secs + i as i64),
                    price: p.parse().unwrap(),
                    size: Quantity::new(1.into()).unwrap(),
                    bid: None,
                    ask: None,
                };
                let env = Event::TickReceived(tick).to_envelope(EventId::random(), tick.time);
                OutgoingRecord::new("AAPL", env.to_vec())
            })
            .collect();
        for chunk in records.chunks(500) {
            self.app
                .streams
                .publish(streams::TICKS, chunk.to_vec())
                .await
                .unwrap();
        }
    }

    fn core(&self) -> (Core, Arc<CoreHealth>, Hub) {
        let hub = Hub::default();
        let health = Arc::new(CoreHealth::default());
        let core = Core::new(
            self.app.clone(),
            hub.clone(),
            health.clone(),
            CoreConfig {
                batch: 7,
                ..CoreConfig::default()
            },
        );
        (core, health, hub)
    }

    async fn order(&self, account: u128, id: u128) -> Order {
        self.app
            .orders
            .order(UserId::from_u128(account), OrderId::from_u128(id))
            .await
            .unwrap()
            .unwrap()
    }

    async fn cash(&self, account: AccountId) -> Money {
        self.app
            .accounts
            .account_by_id(account)
            .await
            .unwrap()
            .unwrap()
            .cash
    }
}

async fn drain(core: &mut Core) {
    for _ in 0..200 {
        if !core.step().await.unwrap() {
            return;
        }
    }
    panic!("the core never went idle");
}

fn limit(p: &str) -> OrderType {
    OrderType::Limit {
        limit_price: p.parse().unwrap(),
    }
}

#[tokio::test]
async fn orders_fill_against_ticks_and_commit_with_their_checkpoints() {
    let w = world().await;
    let account = w.account(1, 10_000).await;
    w.place(account, 10, Side::Buy, OrderType::Market, 5).await;
    w.place(account, 11, Side::Buy, limit("98"), 10).await;
    w.place(account, 12, Side::Buy, limit("50"), 1).await;
    w.ticks(1, &["100", "99.5", "97.25", "101"]).await;
    let (mut core, health, hub) = w.core();
    let mut rx = hub.subscribe();
    drain(&mut core).await;

    let market = w.order(1, 10).await;
    assert_eq!(market.status(), OrderStatus::Filled);
    assert_eq!(market.average_fill_price().unwrap().to_string(), "100");
    let limit_order = w.order(1, 11).await;
    assert_eq!(
        limit_order.status(),
        OrderStatus::Filled,
        "filled when the price reached 98"
    );
    assert_eq!(
        limit_order.average_fill_price().unwrap().to_string(),
        "97.25"
    );
    assert_eq!(
        w.order(1, 12).await.status(),
        OrderStatus::Accepted,
        "still working"
    );
    // Cash moved by exactly the fills; the position is their sum.
    assert_eq!(
        w.cash(account).await,
        Money::new("8527.50".parse().unwrap())
    );
    let positions = w.app.orders.positions(account).await.unwrap();
    assert_eq!(positions[0].quantity().to_string(), "15");
    assert_eq!(w.app.orders.fills(account, 10).await.unwrap().len(), 2);
    // The executions went out on their stream, the last price to the read model.
    let events = {
        let mut out = Vec::new();
        for shard in w.app.streams.shards(streams::EXECUTIONS).await.unwrap() {
            let batch = w
                .app
                .streams
                .read(
                    streams::EXECUTIONS,
                    &shard.id,
                    &store::stream::StartAt::TrimHorizon,
                    100,
                )
                .await
                .unwrap();
            out.extend(batch.records.into_iter().map(|r| {
                domain::events::EventEnvelope::from_slice(&r.data)
                    .unwrap()
                    .event_type
            }));
        }
        out
    };
    assert_eq!(events.iter().filter(|e| *e == "order.accepted").count(), 3);
    assert_eq!(events.iter().filter(|e| *e == "order.filled").count(), 2);
    let last = w.app.prices.last(aapl()).await.unwrap().unwrap();
    assert_eq!(last.price.to_string(), "101");
    assert!(health.view().batches > 0);
    assert!(matches!(
        rx.try_recv().unwrap().as_ref(),
        HubMessage::Tick(_) | HubMessage::Execution { .. }
    ));
    // Checkpoints: nothing is read again.
    let (mut again, _, _) = w.core();
    assert!(
        !again.step().await.unwrap(),
        "a new core finds nothing new to do"
    );
    assert_eq!(w.app.orders.fills(account, 10).await.unwrap().len(), 2);

    // Cancels and amends through the broker.
    let broker = PaperRouter::new(w.app.clone());
    broker.cancel(&w.order(1, 12).await).await.unwrap();
    drain(&mut core).await;
    let cancelled = w.order(1, 12).await;
    assert_eq!(cancelled.status(), OrderStatus::Cancelled);
    assert_eq!(cancelled.reason(), Some("cancelled by its owner"));
}

#[tokio::test]
async fn a_restarted_core_continues_exactly_as_an_uninterrupted_one() {
    async fn run(split: Option<usize>) -> (String, Money, Vec<String>) {
        let w = world().await;
        let account = w.account(1, 1_000_000).await;
        w.app
            .strategies
            .save_strategy(&StrategyRecord {
                id: StrategyId::from_u128(9),
                account_id: account,
                strategy: "sma_cross".into(),
                symbols: vec![aapl()],
                timeframes: vec![Timeframe::M1],
                params: serde_json::json!({"period": 3, "size": 2}),
                status: StrategyStatus::Running,
                created_at: Timestamp::from_secs(START),
                reason: None,
            })
            .await
            .unwrap();
        // An hour of ticks a second: three slow waves, several crosses of the SMA.
        let prices: Vec<String> = (0..3600)
            .map(|i| format!("{:.2}", 100.0 + 6.0 * (f64::from(i) / 200.0).sin()))
            .collect();
        let refs: Vec<&str> = prices.iter().map(String::as_str).collect();
        for (n, chunk) in refs.chunks(100).enumerate() {
            w.ticks(n as i64 * 100, chunk).await;
        }
        w.place(account, 50, Side::Buy, limit("95"), 3).await;
        let (mut core, _, _) = w.core();
        let mut steps = 0;
        loop {
            if Some(steps) == split {
                // The process dies after a commit: a new core takes over from the store.
                let (fresh, _, _) = w.core();
                core = fresh;
            }
            steps += 1;
            if !core.step().await.unwrap() || steps > 5000 {
                break;
            }
        }
        let positions = w.app.orders.positions(account).await.unwrap();
        let fills: Vec<String> = w
            .app
            .orders
            .fills(account, 1000)
            .await
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{} {} {} {}",
                    f.order_id,
                    f.side.as_str(),
                    f.quantity,
                    f.price
                )
            })
            .collect();
        (format!("{positions:?}"), w.cash(account).await, fills)
    }
    let whole = run(None).await;
    assert!(whole.2.len() >= 4, "the strategy trades: {:?}", whole.2);
    for split in [1, 2, 17, 200, 511] {
        assert_eq!(
            run(Some(split)).await,
            whole,
            "restarted after step {split}"
        );
    }
}

#[tokio::test]
async fn a_strategy_recorded_by_the_api_runs_and_stops() {
    let w = world().await;
    let account = w.account(1, 1_000_000).await;
    let mut record = StrategyRecord {
        id: StrategyId::from_u128(3),
        account_id: account,
        strategy: "sma_cross".into(),
        symbols: vec![aapl()],
        timeframes: vec![Timeframe::M1],
        params: serde_json::json!({"period": 2, "size": 1}),
        status: StrategyStatus::Running,
        created_at: Timestamp::from_secs(START),
        reason: None,
    };
    w.app.strategies.save_strategy(&record).await.unwrap();
    let (mut core, _, _) = w.core();
    let prices: Vec<String> = (0..600)
        .map(|i| format!("{:.2}", 100.0 + 5.0 * (f64::from(i) / 40.0).sin()))
        .collect();
    let refs: Vec<&str> = prices.iter().map(String::as_str).collect();
    w.ticks(0, &refs).await;
    drain(&mut core).await;
    let fills = w.app.orders.fills(account, 100).await.unwrap();
    assert!(fills.len() >= 2, "{fills:?}");
    // Its orders are recorded like any other, with the strategy's deterministic ids.
    let page = w
        .app
        .orders
        .orders(
            account,
            &store::records::OrderQuery {
                status: None,
                symbol: None,
                after: None,
                limit: 100,
            },
        )
        .await
        .unwrap();
    assert!(page.orders.len() >= fills.len());
    // Stopped: no more orders.
    record.status = StrategyStatus::Stopped;
    w.app.strategies.save_strategy(&record).await.unwrap();
    w.now.fetch_add(5_000_000_000, Ordering::SeqCst);
    std::thread::sleep(std::time::Duration::from_millis(600));
    core.step().await.unwrap();
    let before = w.app.orders.fills(account, 100).await.unwrap().len();
    w.ticks(10_000, &refs).await;
    drain(&mut core).await;
    assert_eq!(
        w.app.orders.fills(account, 100).await.unwrap().len(),
        before
    );
}

#[tokio::test]
async fn malformed_records_are_set_aside_and_the_core_goes_on() {
    let w = world().await;
    let account = w.account(1, 10_000).await;
    w.app
        .streams
        .publish(
            streams::COMMANDS,
            vec![
                OutgoingRecord::new("AAPL", b"{not json".to_vec()),
                OutgoingRecord::new("AAPL", br#"{"id":"x","type":"order.place"}"#.to_vec()),
            ],
        )
        .await
        .unwrap();
    w.place(account, 10, Side::Buy, OrderType::Market, 1).await;
    w.ticks(1, &["100"]).await;
    let (mut core, health, _) = w.core();
    drain(&mut core).await;
    assert_eq!(w.order(1, 10).await.status(), OrderStatus::Filled);
    let dead = w.app.dead_letters.list("core.commands", 10).await.unwrap();
    assert_eq!(dead.len(), 2);
    assert!(dead.iter().any(|d| d.data == "{not json"));
    assert_eq!(health.view().malformed_records, 2);
}

/// The core's commit failing while `down` is set (the connection refused); the other
/// ports stay up.
struct Flaky {
    inner: Arc<dyn CoreCommit>,
    down: Arc<AtomicBool>,
}

#[async_trait]
impl CoreCommit for Flaky {
    async fn commit(&self, batch: &CommitBatch) -> StoreResult<()> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::new(
                ErrorKind::Unavailable,
                "connection refused",
            ));
        }
        self.inner.commit(batch).await
    }

    async fn checkpoint(
        &self,
        consumer: &str,
        stream: &str,
        shard: &str,
    ) -> StoreResult<Option<store::stream::SequenceNumber>> {
        self.inner.checkpoint(consumer, stream, shard).await
    }

    async fn snapshot(&self, name: &str) -> StoreResult<Option<store::records::Snapshot>> {
        self.inner.snapshot(name).await
    }

    async fn recent_commands(&self, limit: usize) -> StoreResult<Vec<domain::EventId>> {
        self.inner.recent_commands(limit).await
    }
}

#[tokio::test]
async fn a_store_outage_pauses_the_core_and_loses_nothing() {
    let down = Arc::new(AtomicBool::new(false));
    let flag = down.clone();
    let w = world_with(move |app| {
        app.commits = Arc::new(Flaky {
            inner: app.commits.clone(),
            down: flag,
        });
    })
    .await;
    let account = w.account(1, 10_000).await;
    w.place(account, 10, Side::Buy, OrderType::Market, 2).await;
    down.store(true, Ordering::SeqCst);
    w.ticks(1, &["100", "101", "102"]).await;
    let (core, health, _) = w.core();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(core.run(stopped));
    for _ in 0..100 {
        if health.view().commit_failures >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(health.view().commit_failures >= 2, "{:?}", health.view());
    assert_eq!(health.view().status, "degraded");
    assert_eq!(
        w.order(1, 10).await.status(),
        OrderStatus::New,
        "nothing half-applied"
    );
    down.store(false, Ordering::SeqCst);
    for _ in 0..300 {
        if w.order(1, 10).await.status() == OrderStatus::Filled {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    task.await.unwrap();
    let order = w.order(1, 10).await;
    assert_eq!(order.status(), OrderStatus::Filled);
    assert_eq!(
        order.average_fill_price().unwrap().to_string(),
        "100",
        "the first tick, as without the outage"
    );
    assert_eq!(
        w.app.orders.fills(account, 10).await.unwrap().len(),
        1,
        "applied once"
    );
    assert_eq!(w.cash(account).await, Money::new(9_800.into()));
    assert_eq!(health.view().status, "stopped");
}

//! [`Core`]: the loop around [`CoreState`]. Each step reads a batch of `commands` and
//! `ticks` from the checkpoints, applies it (commands first, then ticks, each shard in
//! order), and commits everything it produced **with the new checkpoints and the core
//! snapshot in one transaction**. Only then are the outbox relayed, the read models
//! written and WebSocket clients told. If the commit fails (a store outage), nothing of
//! the batch is visible: the core waits, rebuilds its state from the last commit and
//! reads the batch again — consumption pauses and resumes without loss or repetition.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api::views::{CommitLatencyView, Plain, StreamLagView};
use app::AppState;
use domain::events::{Event, EventEnvelope};
use domain::{
    AccountId, Candle, Money, OrderStatus, StrategyId, StrategyRecord, StrategyStatus, Symbol,
    Timestamp, UserId,
};
use engine::paper::CostModel;
use engine::strategy::StrategyConfig;
use engine::wasm::{Limits, WasmModules};
use serde::Serialize;
use store::StoreResult;
use store::connect::streams;
use store::core_status::{CommitLatency, CoreStatus, StreamLag};
use store::dead_letters::DeadLetter;
use store::records::{CommitBatch, OrderQuery, OutboxEvent, Snapshot};
use store::stream::Behind;
use tokio::sync::watch;

use crate::hub::{Hub, HubMessage};
use crate::inputs::{Input, StreamCursor};
use crate::read_models::ReadModels;
use crate::state::{CoreState, Deployment, Output, SNAPSHOT_NAME, SNAPSHOT_VERSION};

/// The consumer name of the core's checkpoints.
pub const CONSUMER: &str = "core";

/// Tuning of the loop.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Records read per shard per step.
    pub batch: usize,
    /// The pause when there was nothing to read.
    pub idle: Duration,
    /// How often deployments are reconciled and cash synced from the ledger.
    pub reconcile_every: Duration,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            batch: 500,
            idle: Duration::from_millis(20),
            reconcile_every: Duration::from_millis(500),
        }
    }
}

/// What `/health` shows (and what the core publishes to `store::core_status`).
#[derive(Debug, Default)]
pub struct CoreHealth {
    pub batches: AtomicU64,
    pub inputs: AtomicU64,
    pub fills: AtomicU64,
    pub commit_failures: AtomicU64,
    pub malformed: AtomicU64,
    pub last_commit_unix_ms: AtomicU64,
    pub working_orders: AtomicU64,
    pub repeated_ticks: AtomicU64,
    /// Ticks the built-in feed published (stratus up).
    pub feed_published: AtomicU64,
    pub feed_finished: AtomicBool,
    pub healthy: AtomicBool,
    pub stopped: AtomicBool,
    /// Commit times, tick counts and stream lags (see [`Recent`]).
    pub recent: Mutex<Recent>,
    /// Records set aside by the consumers, as last counted.
    pub dead_letters: Mutex<Option<u64>>,
    /// Broker accounts' links (kept by `crate::gateway`).
    pub brokers: Mutex<BTreeMap<AccountId, crate::gateway::BrokerLinkView>>,
}

/// Commits kept for the latency percentiles.
const LATENCY_WINDOW: usize = 512;
/// The window of the feed rate.
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// The core's recent history: the latest commits' durations, the ticks each second, and
/// the lag each stream reader last saw.
#[derive(Debug, Default)]
pub struct Recent {
    commit_ms: VecDeque<f64>,
    /// (when, ticks applied) per batch in the last [`RATE_WINDOW`].
    ticks: VecDeque<(Instant, u64)>,
    /// The first batch seen: the rate's window is shorter until a minute has passed.
    since: Option<Instant>,
    streams: BTreeMap<String, Behind>,
}

impl Recent {
    /// A batch committed in `took`, with `ticks` ticks among its inputs.
    pub fn committed(&mut self, took: Duration, ticks: u64, now: Instant) {
        if self.commit_ms.len() == LATENCY_WINDOW {
            self.commit_ms.pop_front();
        }
        self.commit_ms.push_back(took.as_secs_f64() * 1000.0);
        self.ticks.push_back((now, ticks));
        self.since.get_or_insert(now);
        while self
            .ticks
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW)
        {
            self.ticks.pop_front();
        }
    }

    /// What the reader of `stream` last saw.
    pub fn lag(&mut self, stream: &str, behind: Behind) {
        self.streams.insert(stream.to_owned(), behind);
    }

    /// p50, p99 and max of the recent commits (nearest rank).
    pub fn latency(&self) -> CommitLatency {
        let mut sorted: Vec<f64> = self.commit_ms.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let rank = |q: f64| -> Option<f64> {
            let n = sorted.len();
            if n == 0 {
                return None;
            }
            let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            sorted.get(i).copied()
        };
        CommitLatency {
            p50: rank(0.50),
            p99: rank(0.99),
            max: sorted.last().copied(),
        }
    }

    /// Ticks applied per second over the last minute (over the time since the first
    /// batch when that is shorter); `None` before a second has passed.
    pub fn ticks_per_second(&self, now: Instant) -> Option<f64> {
        let since = self.since?;
        let window = now.duration_since(since).min(RATE_WINDOW).as_secs_f64();
        if window < 1.0 {
            return None;
        }
        let ticks: u64 = self
            .ticks
            .iter()
            .filter(|(t, _)| now.duration_since(*t) <= RATE_WINDOW)
            .map(|(_, n)| n)
            .sum();
        Some(ticks as f64 / window)
    }

    pub fn streams(&self) -> Vec<StreamLag> {
        self.streams
            .iter()
            .map(|(stream, behind)| StreamLag {
                stream: stream.clone(),
                lag_ms: behind.millis,
                records_behind: behind.records,
            })
            .collect()
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Health)]
pub struct HealthView {
    /// `ok`, `degraded` (commits are failing) or `stopped`.
    pub status: &'static str,
    pub batches: u64,
    pub inputs: u64,
    pub fills: u64,
    pub commit_failures: u64,
    pub malformed_records: u64,
    pub working_orders: u64,
    pub repeated_ticks: u64,
    pub feed_published: u64,
    pub feed_finished: bool,
    pub last_commit_unix_ms: u64,
    /// Over the latest 512 commits.
    pub commit_latency_ms: CommitLatencyView,
    /// Ticks applied per second over the last minute; null in the first second.
    pub feed_ticks_per_second: Option<f64>,
    /// How far behind each stream the core reads.
    pub streams: Vec<StreamLagView>,
    /// Records the consumers set aside (null until first counted).
    pub dead_letters: Option<u64>,
    /// Broker accounts: their execution streams, reconciliation, halts.
    pub brokers: Vec<crate::gateway::BrokerLinkView>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl CoreHealth {
    fn status(&self) -> &'static str {
        if self.stopped.load(Ordering::Relaxed) {
            "stopped"
        } else if self.healthy.load(Ordering::Relaxed) {
            "ok"
        } else {
            "degraded"
        }
    }

    /// The status to publish, taken at `now_unix_ms`.
    pub fn status_record(&self, now_unix_ms: u64) -> CoreStatus {
        let recent = lock(&self.recent);
        CoreStatus {
            status: self.status().to_owned(),
            batches: self.batches.load(Ordering::Relaxed),
            inputs: self.inputs.load(Ordering::Relaxed),
            fills: self.fills.load(Ordering::Relaxed),
            commit_failures: self.commit_failures.load(Ordering::Relaxed),
            malformed_records: self.malformed.load(Ordering::Relaxed),
            working_orders: self.working_orders.load(Ordering::Relaxed),
            feed_published: self.feed_published.load(Ordering::Relaxed),
            last_commit_unix_ms: self.last_commit_unix_ms.load(Ordering::Relaxed),
            updated_unix_ms: now_unix_ms,
            commit_latency_ms: recent.latency(),
            feed_ticks_per_second: recent.ticks_per_second(Instant::now()),
            streams: recent.streams(),
            dead_letters: *lock(&self.dead_letters),
        }
    }

    pub fn view(&self) -> HealthView {
        let record = self.status_record(0);
        HealthView {
            status: self.status(),
            batches: record.batches,
            inputs: record.inputs,
            fills: record.fills,
            commit_failures: record.commit_failures,
            malformed_records: record.malformed_records,
            working_orders: record.working_orders,
            repeated_ticks: self.repeated_ticks.load(Ordering::Relaxed),
            feed_published: record.feed_published,
            feed_finished: self.feed_finished.load(Ordering::Relaxed),
            last_commit_unix_ms: record.last_commit_unix_ms,
            commit_latency_ms: record.commit_latency_ms.into(),
            feed_ticks_per_second: record.feed_ticks_per_second,
            streams: record.streams.iter().map(StreamLagView::from).collect(),
            dead_letters: record.dead_letters,
            brokers: lock(&self.brokers).values().cloned().collect(),
        }
    }
}

/// See the module docs.
pub struct Core {
    app: AppState,
    state: Option<CoreState>,
    commands: StreamCursor,
    ticks: StreamCursor,
    hub: Hub,
    read_models: ReadModels,
    health: Arc<CoreHealth>,
    config: CoreConfig,
    last_reconcile: Option<Instant>,
    /// The newest tick time seen, to tell a live feed (heartbeats close quiet candles)
    /// from a replay (candles close by the replay's own ticks).
    newest_tick: Option<Timestamp>,
    cash: BTreeMap<AccountId, Money>,
    /// The users' modules that deployments run, loaded from the store by id; the
    /// engine creates strategies from it (kept across reloads of the state).
    modules: WasmModules,
    /// The owner of each module loaded.
    module_owners: BTreeMap<String, UserId>,
    /// Modules that cannot be run (deleted, or refused by the engine), with why: not
    /// tried again (an id never names other bytes).
    module_failures: BTreeMap<String, String>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

fn stream_of(event: &EventEnvelope) -> &'static str {
    if event.event_type == "candle.closed" {
        streams::CANDLES
    } else {
        streams::EXECUTIONS
    }
}

/// Records `record` stopped by the core, with why (shown with the deployment).
fn stop_with(record: &mut StrategyRecord, reason: String) {
    record.status = StrategyStatus::Stopped;
    record.reason = Some(reason);
}

/// A feed that published within this long of the wall clock is live.
const LIVE_WITHIN: Duration = Duration::from_secs(120);

impl Core {
    pub fn new(app: AppState, hub: Hub, health: Arc<CoreHealth>, config: CoreConfig) -> Self {
        Core {
            read_models: ReadModels::new(
                app.read_models.clone(),
                app.settings.backend == app::settings::Backend::Cloud,
                app.instruments.clone(),
            ),
            commands: StreamCursor::new(CONSUMER, streams::COMMANDS),
            ticks: StreamCursor::new(CONSUMER, streams::TICKS),
            app,
            state: None,
            hub,
            health,
            config,
            last_reconcile: None,
            newest_tick: None,
            cash: BTreeMap::new(),
            modules: WasmModules::new(Limits::default()),
            module_owners: BTreeMap::new(),
            module_failures: BTreeMap::new(),
        }
    }

    /// Module `id` in the core's factory, loaded from the store the first time: its
    /// owner, or why it cannot run (remembered). A store outage is the error: the step
    /// fails and is tried again.
    async fn module(&mut self, id: &str) -> anyhow::Result<Result<UserId, String>> {
        if let Some(owner) = self.module_owners.get(id) {
            return Ok(Ok(*owner));
        }
        if let Some(reason) = self.module_failures.get(id) {
            return Ok(Err(reason.clone()));
        }
        let stored = match self.app.modules.bytes(id).await {
            Ok(stored) => stored,
            Err(e) if e.kind().is_retryable() => return Err(e.into()),
            Err(e) => {
                let reason = if e.kind() == store::ErrorKind::NotFound {
                    format!("strategy module {id} was deleted")
                } else {
                    format!("strategy module {id} cannot be read: {e}")
                };
                self.module_failures.insert(id.to_owned(), reason.clone());
                return Ok(Err(reason));
            }
        };
        let (modules, key, owner) = (self.modules.clone(), id.to_owned(), stored.owner);
        // Compiling is CPU work: off the runtime's threads.
        let inserted =
            tokio::task::spawn_blocking(move || modules.insert(&key, &stored.bytes)).await?;
        match inserted {
            Ok(_) => {
                tracing::info!(module_id = id, "strategy module loaded");
                self.module_owners.insert(id.to_owned(), owner);
                Ok(Ok(owner))
            }
            Err(e) => {
                let reason = format!("strategy module {id} cannot be loaded: {e}");
                self.module_failures.insert(id.to_owned(), reason.clone());
                Ok(Err(reason))
            }
        }
    }

    /// The state as of the last commit: the snapshot and the open orders of the system of
    /// record (a fresh core if there is no snapshot yet).
    async fn load(&mut self) -> anyhow::Result<()> {
        let instruments = self.app.instruments.clone();
        let (working, routed) = self.open_orders().await?;
        let mut state = match self.app.commits.snapshot(SNAPSHOT_NAME).await? {
            Some(snapshot) => {
                // The modules the snapshot's strategies run, first: one that cannot be
                // loaded fails its deployment (`CoreState::faults`), never the core.
                for name in CoreState::strategy_names(&snapshot.state)? {
                    if let Some(id) = engine::wasm::module_id(&name) {
                        if let Err(reason) = self.module(id).await? {
                            tracing::warn!(module_id = id, %reason, "a restored deployment's module cannot run");
                        }
                    }
                }
                CoreState::restore(&snapshot.state, working, instruments, self.modules.clone())?
            }
            None => CoreState::new(instruments, CostModel::default(), self.modules.clone()),
        };
        // Broker accounts' open orders live at their brokers: held as routed.
        for order in routed {
            state.adopt(order);
        }
        state.recall_commands(
            self.app
                .commits
                .recent_commands(crate::state::SEEN_COMMANDS)
                .await?,
        );
        tracing::info!(working_orders = state.working_orders(), "core state loaded");
        self.commands.rollback();
        self.ticks.rollback();
        self.state = Some(state);
        self.last_reconcile = None;
        Ok(())
    }

    /// The open orders of the system of record: paper accounts' (for the paper broker)
    /// and broker accounts' (routed), each in the order the store lists them.
    async fn open_orders(&self) -> StoreResult<(Vec<domain::Order>, Vec<domain::Order>)> {
        let (mut out, mut routed) = (Vec::new(), Vec::new());
        let mut after = None;
        loop {
            let page = self.app.accounts.all_accounts(after, 200).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for account in &page {
                let broker = account.kind == domain::AccountKind::Broker;
                // A broker account's `new` orders were sent (or are being sent): their
                // reports must find them.
                let statuses: &[OrderStatus] = if broker {
                    &[
                        OrderStatus::New,
                        OrderStatus::Accepted,
                        OrderStatus::PartiallyFilled,
                    ]
                } else {
                    &[OrderStatus::Accepted, OrderStatus::PartiallyFilled]
                };
                for status in statuses.iter().copied() {
                    let mut cursor = None;
                    loop {
                        let orders = self
                            .app
                            .orders
                            .orders(
                                account.id,
                                &OrderQuery {
                                    status: Some(status),
                                    symbol: None,
                                    after: cursor,
                                    limit: 500,
                                },
                            )
                            .await?;
                        if broker {
                            routed.extend(orders.orders);
                        } else {
                            out.extend(orders.orders);
                        }
                        match orders.next {
                            Some(next) => cursor = Some(next),
                            None => break,
                        }
                    }
                }
            }
        }
        Ok((out, routed))
    }

    /// Runs until `shutdown` turns true, then finishes the batch at hand (its commit
    /// included) and returns.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            if *shutdown.borrow() {
                break;
            }
            if self.state.is_none() {
                if let Err(e) = self.load().await {
                    tracing::warn!(error = %e, "core cannot load its state; retrying");
                    self.health.healthy.store(false, Ordering::Relaxed);
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            }
            match self.step().await {
                Ok(true) => {
                    backoff = Duration::from_millis(100);
                }
                Ok(false) => {
                    backoff = Duration::from_millis(100);
                    tokio::select! {
                        _ = tokio::time::sleep(self.config.idle) => {}
                        _ = shutdown.changed() => {}
                    }
                }
                Err(e) => {
                    self.health.commit_failures.fetch_add(1, Ordering::Relaxed);
                    self.health.healthy.store(false, Ordering::Relaxed);
                    tracing::warn!(error = %e, "core batch failed; it will be read again");
                    // Nothing of the batch is visible; start over from the last commit.
                    self.state = None;
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        self.health.stopped.store(true, Ordering::Relaxed);
        tracing::info!("core stopped");
    }

    /// One batch; whether there was anything to do.
    pub async fn step(&mut self) -> anyhow::Result<bool> {
        if self.state.is_none() {
            self.load().await?;
        }
        let commits = self.app.commits.clone();
        let streams = self.app.streams.clone();
        let mut out = Output::default();
        let mut dead = Vec::new();
        let due = self
            .last_reconcile
            .is_none_or(|t| t.elapsed() >= self.config.reconcile_every);
        if due {
            self.reconcile(&mut out).await?;
        }
        // Commands the functions committed but left to us to publish.
        while app::outbox::relay(&*self.app.outbox, &*streams, 500).await? > 0 {}
        let commands = self
            .commands
            .read(&*commits, &*streams, self.config.batch)
            .await?;
        let ticks = self
            .ticks
            .read(&*commits, &*streams, self.config.batch)
            .await?;
        {
            let mut recent = lock(&self.health.recent);
            recent.lag(self.commands.stream(), self.commands.behind());
            recent.lag(self.ticks.stream(), self.ticks.behind());
        }
        let tick_count = ticks.len() as u64;
        let inputs = commands.len() + ticks.len();
        let now = self.app.clock.now();
        let mut decoded = Vec::with_capacity(inputs);
        for input in commands.iter().chain(ticks.iter()) {
            match decode(input) {
                Ok(pair) => decoded.push(pair),
                Err(reason) => dead.push(DeadLetter {
                    consumer: format!("core.{}", input.stream),
                    origin: input.origin(),
                    data: String::from_utf8_lossy(&input.data)
                        .chars()
                        .take(16_384)
                        .collect(),
                    reason,
                    at: self.app.clock.unix_seconds(),
                }),
            }
        }
        // The ledger's cash of every account placing orders, before the orders can fill
        // (a deposit just before an order must count).
        let mut ordering: Vec<AccountId> = decoded
            .iter()
            .filter_map(|(_, e)| match e {
                Event::PlaceOrder(r) => Some(r.account_id),
                _ => None,
            })
            .collect();
        ordering.sort();
        ordering.dedup();
        for id in ordering {
            if let Some(account) = self.app.accounts.account_by_id(id).await? {
                self.cash.insert(account.id, account.cash);
                if let Some(state) = self.state.as_mut() {
                    state.sync_cash(account.id, account.cash);
                }
            }
        }
        // Broker reports for orders the core does not hold yet (placed since the last
        // load): taken from the system of record first.
        let mut unknown: Vec<(AccountId, domain::OrderId)> = decoded
            .iter()
            .filter_map(|(_, e)| match e {
                Event::BrokerExecution(b) => Some((b.order.account_id, b.order.order_id)),
                _ => None,
            })
            .filter(|(_, id)| self.state.as_ref().is_some_and(|s| !s.is_working(*id)))
            .collect();
        unknown.sort();
        unknown.dedup();
        for (account, id) in unknown {
            let Some(owner) = self.app.accounts.account_by_id(account).await? else {
                continue;
            };
            if owner.kind != domain::AccountKind::Broker {
                continue;
            }
            if let Some(order) = self.app.orders.order(owner.user_id, id).await? {
                if order.account_id == account {
                    if let Some(state) = self.state.as_mut() {
                        state.adopt(order);
                    }
                }
            }
        }
        {
            let Some(state) = self.state.as_mut() else {
                return Ok(false);
            };
            for (envelope, event) in decoded {
                if let Event::TickReceived(t) = &event {
                    self.newest_tick = Some(self.newest_tick.map_or(t.time, |n| n.max(t.time)));
                }
                state.apply(&envelope, event, &mut out);
            }
            let live = self.newest_tick.is_some_and(|t| {
                now.nanos().saturating_sub(t.nanos()) < LIVE_WITHIN.as_nanos() as i64
            });
            if live {
                state.heartbeat(now, &mut out);
            }
        }
        // Nothing read and nothing produced (a reconcile that changed nothing, or a
        // deployment the records will reproduce after a restart): no commit.
        if inputs == 0 && out.is_empty() {
            return Ok(false);
        }
        for letter in &dead {
            tracing::warn!(origin = %letter.origin, reason = %letter.reason, "malformed record set aside");
            self.app.dead_letters.put(letter).await?;
        }
        self.health
            .malformed
            .fetch_add(dead.len() as u64, Ordering::Relaxed);
        self.commit(out, inputs, tick_count).await?;
        Ok(inputs > 0)
    }

    async fn reconcile(&mut self, out: &mut Output) -> anyhow::Result<()> {
        self.last_reconcile = Some(Instant::now());
        let mut records = self.app.strategies.strategies(None).await?;
        let Some(state) = self.state.as_ref() else {
            return Ok(());
        };
        let faults: Vec<(StrategyId, String)> = state
            .faults()
            .iter()
            .map(|(id, reason)| (*id, reason.clone()))
            .collect();
        // The ledger's cash (and owner) of every account the engine trades for or a
        // deployment names.
        let mut accounts = state.accounts();
        accounts.extend(
            records
                .iter()
                .filter(|r| r.status != StrategyStatus::Stopped)
                .map(|r| r.account_id),
        );
        accounts.sort();
        accounts.dedup();
        let mut cash = BTreeMap::new();
        let mut owners: BTreeMap<AccountId, UserId> = BTreeMap::new();
        for id in accounts {
            if let Some(a) = self.app.accounts.account_by_id(id).await? {
                cash.insert(a.id, a.cash);
                owners.insert(a.id, a.user_id);
            }
        }
        self.cash = cash;
        // Deployments to record stopped, with why: faults the engine reported, and
        // deployments of modules that cannot run.
        let mut stopping: BTreeMap<StrategyId, String> = faults.into_iter().collect();
        for r in &records {
            if r.status == StrategyStatus::Stopped {
                continue;
            }
            let Some(id) = engine::wasm::module_id(&r.strategy) else {
                continue;
            };
            match self.module(id).await? {
                Ok(owner) if owners.get(&r.account_id) == Some(&owner) => {}
                Ok(_) => {
                    stopping.insert(r.id, format!("strategy module {id} is not its owner's"));
                }
                // A module that cannot be loaded says so better than the engine's
                // "no strategy module" from a restore.
                Err(reason) => {
                    stopping.insert(r.id, reason);
                }
            }
        }
        for (id, reason) in stopping {
            if let Some(record) = records.iter_mut().find(|r| r.id == id) {
                if record.status != StrategyStatus::Stopped {
                    tracing::warn!(strategy_id = %id, %reason, "deployment stopped");
                    stop_with(record, reason);
                    self.app.strategies.save_strategy(record).await?;
                }
            }
            if let Some(state) = self.state.as_mut() {
                state.forget_fault(id);
            }
        }
        let wanted: Vec<Deployment> = records
            .iter()
            .filter(|r| r.status != StrategyStatus::Stopped)
            .map(|r| Deployment {
                id: r.id,
                account: r.account_id,
                strategy: r.strategy.clone(),
                config: StrategyConfig::new(
                    r.symbols.clone(),
                    r.timeframes.clone(),
                    r.params.clone(),
                ),
                paused: r.status == StrategyStatus::Paused,
            })
            .collect();
        let Some(state) = self.state.as_mut() else {
            return Ok(());
        };
        for (account, cash) in &self.cash {
            state.sync_cash(*account, *cash);
        }
        let failed: Vec<(StrategyId, String)> =
            state.reconcile(&wanted, &self.cash, self.app.clock.now(), out);
        // Modules neither running nor wanted are dropped (a restore loads them again).
        let mut keep: BTreeSet<String> = state.modules_running();
        keep.extend(
            wanted
                .iter()
                .filter_map(|d| engine::wasm::module_id(&d.strategy).map(str::to_owned)),
        );
        let unused: Vec<String> = self
            .module_owners
            .keys()
            .filter(|id| !keep.contains(*id))
            .cloned()
            .collect();
        for id in unused {
            self.modules.remove(&id);
            self.module_owners.remove(&id);
        }
        for (id, reason) in failed {
            tracing::warn!(strategy_id = %id, reason = %reason, "deployment refused by the engine");
            if let Some(record) = records.iter_mut().find(|r| r.id == id) {
                stop_with(record, reason);
                self.app.strategies.save_strategy(record).await?;
            }
        }
        Ok(())
    }

    async fn commit(&mut self, out: Output, inputs: usize, ticks: u64) -> anyhow::Result<()> {
        let (positions, snapshot, working, repeated, tapes) = match self.state.as_ref() {
            Some(state) => (
                out.positions
                    .iter()
                    .map(|(account, symbol)| (*account, state.position(*account, *symbol)))
                    .collect::<Vec<(AccountId, domain::Position)>>(),
                state.snapshot(),
                state.working_orders(),
                state.repeated_ticks(),
                out.last_ticks
                    .keys()
                    .map(|symbol| (*symbol, state.open_candles(*symbol)))
                    .collect::<Vec<_>>(),
            ),
            None => return Ok(()),
        };
        let outbox: Vec<OutboxEvent> = out
            .events
            .iter()
            .map(|e| OutboxEvent {
                event_id: e.id,
                stream: stream_of(e).into(),
                partition_key: e.partition_key.clone(),
                payload: e.to_vec(),
            })
            .collect();
        let mut checkpoints = self.commands.checkpoints();
        checkpoints.extend(self.ticks.checkpoints());
        let mut batch = CommitBatch {
            orders: out.orders.values().cloned().collect(),
            fills: out.fills.clone(),
            positions: positions.clone(),
            candles: out.candles.clone(),
            ledger: out.ledger.clone(),
            outbox,
            checkpoints,
            snapshot: Some(Snapshot {
                name: SNAPSHOT_NAME.into(),
                version: SNAPSHOT_VERSION,
                taken_at: self.app.clock.now(),
                state: snapshot,
            }),
            applied_commands: out.applied.clone(),
        };
        if let Some(state) = self.state.as_mut() {
            let mut applied = state.take_unsaved_commands();
            applied.extend(batch.applied_commands);
            batch.applied_commands = applied;
        }
        let started = Instant::now();
        self.app.commits.commit(&batch).await?;
        lock(&self.health.recent).committed(started.elapsed(), ticks, Instant::now());
        self.commands.committed();
        self.ticks.committed();
        let h = &self.health;
        h.batches.fetch_add(1, Ordering::Relaxed);
        h.inputs.fetch_add(inputs as u64, Ordering::Relaxed);
        h.fills.fetch_add(out.fills.len() as u64, Ordering::Relaxed);
        h.working_orders.store(working as u64, Ordering::Relaxed);
        h.repeated_ticks.store(repeated, Ordering::Relaxed);
        h.last_commit_unix_ms.store(
            u64::try_from(self.app.clock.now().nanos() / 1_000_000).unwrap_or(0),
            Ordering::Relaxed,
        );
        h.healthy.store(true, Ordering::Relaxed);
        self.after_commit(&out, &positions, &tapes).await;
        Ok(())
    }

    /// Relay, read models, WebSocket: all after the commit, all retried later if they
    /// fail (the outbox keeps unpublished events; read-model writes are idempotent).
    async fn after_commit(
        &mut self,
        out: &Output,
        positions: &[(AccountId, domain::Position)],
        open_candles: &[(Symbol, Vec<Candle>)],
    ) {
        let mut balances = BTreeMap::new();
        let mut touched: Vec<AccountId> = out.ledger.iter().map(|l| l.account_id).collect();
        touched.sort();
        touched.dedup();
        for account in touched {
            if let Some(cash) = self.cash_after(account, out) {
                balances.insert(account, cash);
            }
        }
        loop {
            match app::outbox::relay(&*self.app.outbox, &*self.app.streams, 500).await {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay failed; retrying with the next batch");
                    break;
                }
            }
        }
        let models = async {
            self.read_models.prices(out.last_ticks.iter()).await?;
            self.read_models.tapes(&out.ticks, open_candles).await?;
            self.read_models.orders(out.orders.values()).await?;
            let mut touched: Vec<AccountId> = out.ledger.iter().map(|l| l.account_id).collect();
            touched.sort();
            touched.dedup();
            for account in touched {
                if let Some(cash) = balances.get(&account) {
                    self.read_models
                        .balance(account, *cash, self.app.clock.now())
                        .await?;
                }
            }
            StoreResult::Ok(())
        };
        if let Err(e) = models.await {
            tracing::warn!(error = %e, "read models not updated; the next batch rewrites them");
        }
        for tick in &out.ticks {
            self.hub.publish(HubMessage::Tick(*tick));
        }
        for candle in &out.candles {
            self.hub.publish(HubMessage::Candle(*candle));
        }
        for event in &out.events {
            if event.event_type == "candle.closed" {
                continue;
            }
            if let Ok(account) = domain::AccountId::parse(&event.partition_key) {
                self.hub.publish(HubMessage::Execution {
                    account,
                    event: event.clone(),
                });
            }
        }
        for (account, position) in positions {
            let mark = out.last_ticks.get(&position.symbol).map(|t| t.price);
            let mut view = serde_json::json!({
                "symbol": position.symbol,
                "quantity": position.quantity().plain(),
                "average_price": position.average_price().plain(),
                "realized_pnl": position.realized_pnl().plain(),
                "fees": position.fees().plain(),
            });
            if let Some(mark) = mark {
                view["mark"] = serde_json::json!(mark.plain());
                if let Ok(u) = position.unrealized_pnl(mark) {
                    view["unrealized_pnl"] = serde_json::json!(u.plain());
                }
            }
            self.hub.publish(HubMessage::Position {
                account: *account,
                position: serde_json::json!({
                    "account_id": account,
                    "position": view,
                    "cash": balances.get(account).map(|c| c.plain()),
                }),
            });
        }
    }

    /// An account's cash after the batch's trades, from the last ledger balance known.
    fn cash_after(&mut self, account: AccountId, out: &Output) -> Option<Money> {
        let mut cash = *self.cash.get(&account)?;
        for entry in out.ledger.iter().filter(|l| l.account_id == account) {
            cash = cash.checked_add(entry.amount).ok()?;
        }
        self.cash.insert(account, cash);
        Some(cash)
    }
}

fn decode(input: &Input) -> Result<(EventEnvelope, Event), String> {
    let envelope = EventEnvelope::from_slice(&input.data).map_err(|e| e.to_string())?;
    let event = envelope.decode().map_err(|e| e.to_string())?;
    Ok((envelope, event))
}

//! [`CoreState`]: everything the core keeps between batches, and [`CoreState::apply`],
//! which turns one input (a command or a tick) into its effects. No I/O: the runner
//! reads inputs, and commits and publishes what comes out.
//!
//! Orders: a `order.place` command becomes a working order at the paper broker (or a
//! rejection); cancels and amends change it there; strategy orders appear when the
//! engine reports them; fills, cancels and expiries end them. Every change is an event
//! with a deterministic id (`accepted:<order>`, `fill:<order>:<trade>`, …), so
//! re-processing an input after a crash produces the same ids and consumers apply them
//! once.
//!
//! Orders of broker accounts are **routed**: they live at an external broker, never at
//! the paper broker. The runner [`CoreState::adopt`]s them from the system of record, and
//! `broker.execution` commands (the broker's execution reports, published by the
//! `brokers` gateway) move them through the same path as paper fills — the order, the
//! fill, the engine's portfolio (positions), the ledger entry and the `executions`
//! events. A report applies the difference between the broker's cumulative filled
//! quantity and the order's, so one delivered twice, late or out of order changes
//! nothing twice.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::sync::Arc;

use domain::events::{
    AmendOrder, BrokerExecution, CancelOrder, Event, EventEnvelope, ExecutionKind, OrderOutcome,
    OrderRef, ReasonCode,
};
use domain::{
    AccountId, Candle, EventId, Fill, InstrumentCatalog, LedgerEntry, Money, Order, OrderId,
    OrderStatus, Position, Side, StrategyId, Symbol, Tick, Timestamp, order::OrderRequest,
};
use engine::candles::{AggregatorConfig, CandleAggregator};
use engine::engine::{Engine, EngineEvent, EngineSnapshot};
use engine::paper::{CostModel, PaperOrder};
use engine::strategy::StrategyConfig;
use engine::wasm::WasmModules;
use serde::{Deserialize, Serialize};

/// The timeframes the core keeps candle history of (and publishes on `candles`).
pub use engine::candles::HISTORY_TIMEFRAMES;

/// Command ids remembered to drop a command delivered twice (two relays of one outbox
/// row publish it twice, seconds apart). They are committed with the batch that applied
/// them (`CommitBatch::applied_commands`) and read back at start-up, not kept in the
/// snapshot: a snapshot is written with every batch, and 20,000 ids in it were 800 kB a
/// commit.
pub const SEEN_COMMANDS: usize = 20_000;

/// The snapshot format version; a reader refuses others.
pub const SNAPSHOT_VERSION: u32 = 1;

/// The snapshot name in the system of record.
pub const SNAPSHOT_NAME: &str = "core";

/// What one batch produced, for the runner to commit and publish.
#[derive(Debug, Default)]
pub struct Output {
    /// Orders as they now are (each once, latest state).
    pub orders: BTreeMap<OrderId, Order>,
    pub fills: Vec<Fill>,
    /// Positions that changed.
    pub positions: BTreeSet<(AccountId, Symbol)>,
    pub ledger: Vec<LedgerEntry>,
    pub candles: Vec<Candle>,
    /// Events for the outbox (`executions` by account, `candles` by symbol).
    pub events: Vec<EventEnvelope>,
    /// The last tick of each symbol in the batch.
    pub last_ticks: BTreeMap<Symbol, Tick>,
    /// Every tick (for WebSocket subscribers).
    pub ticks: Vec<Tick>,
    /// Ids of the commands applied (see [`SEEN_COMMANDS`]).
    pub applied: Vec<EventId>,
}

impl Output {
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
            && self.fills.is_empty()
            && self.candles.is_empty()
            && self.events.is_empty()
            && self.ticks.is_empty()
    }
}

/// A strategy deployment as the core runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    pub id: StrategyId,
    pub account: AccountId,
    pub strategy: String,
    pub config: StrategyConfig,
    pub paused: bool,
}

/// See the module docs.
pub struct CoreState {
    engine: Engine,
    working: BTreeMap<OrderId, Order>,
    history: BTreeMap<Symbol, CandleAggregator>,
    seen: VecDeque<EventId>,
    seen_set: HashSet<EventId>,
    instruments: Arc<InstrumentCatalog>,
    /// Deployments that failed to start, with why (not retried until they change).
    failed: BTreeMap<StrategyId, String>,
    /// Where the engine creates strategies: the built-ins and the users' modules the
    /// runner loaded (`wasm:<id>`).
    modules: WasmModules,
    /// Deployments the engine stopped, with why (a module that trapped, ran out of its
    /// budget or could not be restored), until the runner has recorded them stopped.
    /// In the snapshot: a fault is committed with the batch that caused it.
    faulted: BTreeMap<StrategyId, String>,
    /// The newest tick time per symbol: a tick not newer is a repeat (a feed restarted
    /// from its beginning, a record delivered twice) and is dropped.
    last_tick: BTreeMap<Symbol, Timestamp>,
    /// Ticks dropped as repeats.
    repeated_ticks: u64,
    /// Command ids restored from a snapshot of an earlier build, which kept them there:
    /// committed with the next batch so they are not forgotten at the next restart.
    unsaved_commands: Vec<EventId>,
    /// Working orders that live at an external broker (see the module docs).
    routed: BTreeSet<OrderId>,
}

impl std::fmt::Debug for CoreState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreState")
            .field("working", &self.working.len())
            .field("symbols", &self.history.len())
            .finish_non_exhaustive()
    }
}

/// The serialized state (without working orders: those are the open orders of the
/// system of record, committed in the same transactions, and are resubmitted from
/// there — a snapshot stays small however many orders rest).
#[derive(Debug, Serialize, Deserialize)]
struct CoreSnapshot {
    version: u32,
    engine: EngineSnapshot,
    history: BTreeMap<Symbol, CandleAggregator>,
    /// Written by earlier builds only (the ids are in the system of record now); read so
    /// that their snapshots still restore.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    seen: Vec<EventId>,
    /// Stop-limit orders whose stop has triggered (not visible in the order's state).
    triggered: Vec<OrderId>,
    #[serde(default)]
    last_tick: BTreeMap<Symbol, Timestamp>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    faulted: BTreeMap<StrategyId, String>,
}

/// The part of a snapshot that names its strategies (read before restoring, so that the
/// modules they run can be loaded first).
#[derive(Debug, Deserialize)]
struct SnapshotStrategies {
    engine: EngineSnapshot,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("the core snapshot is unreadable: {0}")]
    Snapshot(String),
    #[error("the core snapshot has version {0}; this build reads version {SNAPSHOT_VERSION}")]
    Version(u32),
}

fn paper_order(order: &Order, triggered: bool) -> PaperOrder {
    PaperOrder {
        id: order.id,
        account_id: order.account_id,
        symbol: order.symbol,
        side: order.side,
        order_type: order.order_type(),
        time_in_force: order.time_in_force(),
        quantity: order.remaining_quantity(),
        placed_at: order.updated_at(),
        triggered,
    }
}

fn order_ref(order: &Order) -> OrderRef {
    OrderRef {
        order_id: order.id,
        account_id: order.account_id,
        symbol: order.symbol,
    }
}

/// The fill a broker report adds to `order`: the difference between the broker's
/// cumulative filled quantity and the order's. When the report's own fill is exactly that
/// difference, it is that fill (its price, fee and execution id); otherwise reports were
/// missed or came out of order, and the difference is priced so that the order's
/// average price becomes the broker's (fee unknown: zero).
fn venue_fill(
    order: &Order,
    report: &BrokerExecution,
    time: Timestamp,
) -> Result<Fill, domain::DomainError> {
    let quantity = report
        .filled_quantity
        .checked_sub(order.filled_quantity())?;
    let (price, fee, execution) = match &report.fill {
        Some(f) if f.quantity == quantity => (f.price, f.fee, f.execution_id.clone()),
        _ => {
            let average = report.average_price.ok_or(domain::DomainError::Invalid {
                field: "average_price",
                reason:
                    "a report that moves the filled quantity needs its fill or an average price"
                        .into(),
            })?;
            let total = average.checked_notional(report.filled_quantity)?.value();
            let before = order
                .average_fill_price()
                .map(|p| p.checked_notional(order.filled_quantity()))
                .transpose()?
                .map_or(domain::Decimal::ZERO, Money::value);
            let price = (total - before)
                .checked_div(quantity.value())
                .ok_or(domain::DomainError::Overflow {
                    operation: "catch-up fill price",
                })?
                .round_dp(8);
            (
                domain::Price::named("price", price)?,
                Money::ZERO,
                format!("{}:{}", report.broker_event_id, report.filled_quantity),
            )
        }
    };
    Ok(Fill {
        trade_id: domain::TradeId(fnv1a(execution.as_bytes())),
        order_id: order.id,
        account_id: order.account_id,
        symbol: order.symbol,
        side: order.side,
        price,
        quantity,
        fee,
        liquidity: domain::Liquidity::Taker,
        time,
    })
}

/// A stable hash (FNV-1a, 63 bits: the system of record keeps trade ids as signed
/// 64-bit integers) of a broker's execution id: the fill's trade id, the same whenever
/// the same execution is applied.
fn fnv1a(bytes: &[u8]) -> u64 {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    hash & (i64::MAX as u64)
}

impl CoreState {
    /// A fresh core over `instruments`, creating strategies with `modules` (which the
    /// runner fills with the modules deployments name).
    pub fn new(
        instruments: Arc<InstrumentCatalog>,
        costs: CostModel,
        modules: WasmModules,
    ) -> Self {
        let mut engine = Engine::new(costs);
        engine.refuse_overdraft(true);
        engine.set_strategies(Arc::new(modules.clone()));
        let mut state = CoreState {
            engine,
            working: BTreeMap::new(),
            history: BTreeMap::new(),
            seen: VecDeque::new(),
            seen_set: HashSet::new(),
            instruments,
            failed: BTreeMap::new(),
            modules,
            faulted: BTreeMap::new(),
            last_tick: BTreeMap::new(),
            repeated_ticks: 0,
            unsaved_commands: Vec::new(),
            routed: BTreeSet::new(),
        };
        state.add_instruments();
        state
    }

    fn add_instruments(&mut self) {
        for instrument in self.instruments.iter() {
            self.engine.add_instrument(instrument.clone());
            self.history.entry(instrument.symbol()).or_insert_with(|| {
                #[allow(clippy::expect_used)]
                CandleAggregator::new(
                    instrument.symbol(),
                    &HISTORY_TIMEFRAMES,
                    AggregatorConfig::default(),
                )
                .expect("six distinct timeframes always make an aggregator")
            });
        }
    }

    /// The state serialized (see [`CoreSnapshot`]).
    pub fn snapshot(&self) -> Vec<u8> {
        let engine = self.engine.snapshot_without_pending();
        let triggered = self.engine.broker().triggered_ids();
        let snapshot = CoreSnapshot {
            version: SNAPSHOT_VERSION,
            engine,
            history: self.history.clone(),
            seen: Vec::new(),
            triggered,
            last_tick: self.last_tick.clone(),
            faulted: self.faulted.clone(),
        };
        // Plain data (maps keyed by strings and ids): serializing cannot fail.
        serde_json::to_vec(&snapshot).unwrap_or_default()
    }

    /// The names of the strategies `snapshot` holds (`sma_cross`, `wasm:<id>`): the
    /// modules among them must be in the `modules` given to [`CoreState::restore`].
    pub fn strategy_names(snapshot: &[u8]) -> Result<BTreeSet<String>, StateError> {
        let snapshot: SnapshotStrategies =
            serde_json::from_slice(snapshot).map_err(|e| StateError::Snapshot(e.to_string()))?;
        Ok(snapshot
            .engine
            .strategy_names()
            .map(str::to_owned)
            .collect())
    }

    /// A core continuing from `snapshot`, with `working` — the open orders of the system
    /// of record — back at the paper broker in the order they were placed. A strategy
    /// whose module `modules` does not hold (or that cannot be restored) is not run: it
    /// is among [`CoreState::faults`], with why.
    pub fn restore(
        snapshot: &[u8],
        mut working: Vec<Order>,
        instruments: Arc<InstrumentCatalog>,
        modules: WasmModules,
    ) -> Result<Self, StateError> {
        let snapshot: CoreSnapshot =
            serde_json::from_slice(snapshot).map_err(|e| StateError::Snapshot(e.to_string()))?;
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(StateError::Version(snapshot.version));
        }
        let mut engine = Engine::restore_with(snapshot.engine, Arc::new(modules.clone()))
            .map_err(|e| StateError::Snapshot(e.to_string()))?;
        let mut faulted = snapshot.faulted;
        for (id, _, reason) in engine.take_restore_failures() {
            faulted.entry(id).or_insert(reason);
        }
        let mut state = CoreState {
            engine,
            working: BTreeMap::new(),
            history: snapshot.history,
            seen_set: snapshot.seen.iter().copied().collect(),
            unsaved_commands: snapshot.seen.clone(),
            seen: snapshot.seen.into_iter().collect(),
            instruments,
            failed: BTreeMap::new(),
            modules,
            faulted,
            last_tick: snapshot.last_tick,
            repeated_ticks: 0,
            routed: BTreeSet::new(),
        };
        state.add_instruments();
        let triggered: BTreeSet<OrderId> = snapshot.triggered.into_iter().collect();
        working.sort_by(|a, b| a.updated_at().cmp(&b.updated_at()).then(a.id.cmp(&b.id)));
        for order in working {
            if !order.status().is_open() {
                continue;
            }
            let paper = paper_order(&order, triggered.contains(&order.id));
            if state.engine.submit(paper).is_ok() {
                state.working.insert(order.id, order);
            }
        }
        Ok(state)
    }

    /// The accounts the engine holds (their cash is synced from the ledger).
    pub fn accounts(&self) -> Vec<AccountId> {
        let mut accounts: BTreeSet<AccountId> =
            self.working.values().map(|o| o.account_id).collect();
        accounts.extend(self.engine.strategies().map(|(_, a, _, _, _)| a));
        accounts.into_iter().collect()
    }

    pub fn sync_cash(&mut self, account: AccountId, cash: Money) {
        self.engine.sync_cash(account, cash);
    }

    /// The candles still open of `symbol`, finest first (none before its first tick).
    pub fn open_candles(&self, symbol: Symbol) -> Vec<Candle> {
        self.history
            .get(&symbol)
            .map(CandleAggregator::open_candles)
            .unwrap_or_default()
    }

    /// Ticks dropped as repeats since start.
    pub fn repeated_ticks(&self) -> u64 {
        self.repeated_ticks
    }

    pub fn working_orders(&self) -> usize {
        self.working.len()
    }

    /// An account's position in `symbol` as the engine has it.
    pub fn position(&self, account: AccountId, symbol: Symbol) -> Position {
        self.engine
            .portfolio(account)
            .and_then(|p| p.position(symbol).cloned())
            .unwrap_or_else(|| Position::flat(symbol))
    }

    /// Command ids known only from an old snapshot (see `unsaved_commands`), for the
    /// next commit (a failed commit reloads the state, and so them, from the store).
    pub fn take_unsaved_commands(&mut self) -> Vec<EventId> {
        std::mem::take(&mut self.unsaved_commands)
    }

    /// Takes `ids` — the newest applied commands of the system of record, oldest first
    /// — as seen.
    pub fn recall_commands(&mut self, ids: impl IntoIterator<Item = EventId>) {
        for id in ids {
            self.remember(id);
        }
    }

    fn remember(&mut self, id: EventId) -> bool {
        if !self.seen_set.insert(id) {
            return false;
        }
        self.seen.push_back(id);
        while self.seen.len() > SEEN_COMMANDS {
            if let Some(old) = self.seen.pop_front() {
                self.seen_set.remove(&old);
            }
        }
        true
    }

    fn emit(out: &mut Output, event: Event, id: EventId, time: Timestamp) {
        out.events.push(event.to_envelope(id, time));
    }

    fn changed(out: &mut Output, order: &Order) {
        out.orders.insert(order.id, order.clone());
    }

    /// Applies one input record (see the module docs).
    pub fn apply(&mut self, envelope: &EventEnvelope, event: Event, out: &mut Output) {
        match event {
            Event::PlaceOrder(request) => {
                if self.remember(envelope.id) {
                    out.applied.push(envelope.id);
                    self.place(request, envelope.time, out);
                }
            }
            Event::CancelOrder(cancel) => {
                if self.remember(envelope.id) {
                    out.applied.push(envelope.id);
                    self.cancel(cancel, envelope.time, out);
                }
            }
            Event::AmendOrder(amend) => {
                if self.remember(envelope.id) {
                    out.applied.push(envelope.id);
                    self.amend(amend, envelope.time, out);
                }
            }
            Event::BrokerExecution(report) => {
                if self.remember(envelope.id) {
                    out.applied.push(envelope.id);
                    self.broker_execution(report, envelope.time, out);
                }
            }
            Event::TickReceived(tick) => self.tick(&tick, out),
            other => {
                tracing::debug!(
                    event = other.event_type(),
                    "not an input of the core; skipped"
                );
            }
        }
    }

    /// Takes an open order of a broker account from the system of record as a routed
    /// working order (it never goes to the paper broker). Whether it was taken: a
    /// terminal order is not, nor one the core already holds.
    pub fn adopt(&mut self, order: Order) -> bool {
        if order.status().is_terminal() || self.working.contains_key(&order.id) {
            return false;
        }
        self.routed.insert(order.id);
        self.working.insert(order.id, order);
        true
    }

    /// Whether the core holds `order` as working.
    pub fn is_working(&self, order: OrderId) -> bool {
        self.working.contains_key(&order)
    }

    /// The routed working orders of `account` (for reconciliation with its broker).
    pub fn routed_orders(&self, account: AccountId) -> Vec<Order> {
        self.routed
            .iter()
            .filter_map(|id| self.working.get(id))
            .filter(|o| o.account_id == account)
            .cloned()
            .collect()
    }

    /// Applies a broker's execution report to a routed order (see the module docs).
    fn broker_execution(&mut self, report: BrokerExecution, now: Timestamp, out: &mut Output) {
        let id = report.order.order_id;
        if !self.routed.contains(&id) {
            tracing::debug!(order_id = %id, kind = ?report.kind, "a broker report for an order not working here; skipped");
            return;
        }
        let Some(mut order) = self.working.get(&id).cloned() else {
            self.routed.remove(&id);
            return;
        };
        if order.account_id != report.order.account_id {
            // A broker stream of another account naming this order: not its to move.
            tracing::warn!(order_id = %id, "a broker report from another account's connection; skipped");
            return;
        }
        let time = report.fill.as_ref().map_or(now, |f| f.time);
        if order.status() == OrderStatus::New
            && report.kind != ExecutionKind::Rejected
            && order.accept(now).is_ok()
        {
            Self::emit(
                out,
                Event::OrderAccepted(order_ref(&order)),
                EventId::derived(&format!("accepted:{id}")),
                now,
            );
        }
        // New terms (a replace): the broker's quantity and prices are the order's.
        let limit = order.order_type().limit_price();
        let stop = order.order_type().stop_price();
        let (quantity, limit_price, stop_price) = (
            (report.quantity != order.quantity()).then_some(report.quantity),
            report.limit_price.filter(|p| Some(*p) != limit),
            report.stop_price.filter(|p| Some(*p) != stop),
        );
        if quantity.is_some() || limit_price.is_some() || stop_price.is_some() {
            match order.amend(quantity, limit_price, stop_price, now) {
                Ok(()) => {
                    let amend = AmendOrder {
                        order: order_ref(&order),
                        quantity,
                        limit_price,
                        stop_price,
                    };
                    Self::emit(
                        out,
                        Event::OrderAmended(amend),
                        EventId::derived(&format!("amended:{id}:{}", report.broker_event_id)),
                        now,
                    );
                }
                Err(e) => {
                    tracing::warn!(order_id = %id, error = %e, "the broker's new terms do not fit the order");
                }
            }
        }
        Self::changed(out, &order);
        self.working.insert(id, order.clone());
        // What filled that the order does not count yet.
        if report.filled_quantity > order.filled_quantity() {
            // The order must take the fill before the portfolio moves: a fill it refuses
            // (more than its quantity) moves nothing.
            let fits = |fill: &Fill| {
                let mut probe = order.clone();
                probe.fill(fill.quantity, fill.price, fill.time)
            };
            match venue_fill(&order, &report, time).and_then(|fill| fits(&fill).map(|()| fill)) {
                Ok(fill) => {
                    if let Err(e) = self.engine.record_fill(&fill) {
                        tracing::error!(order_id = %id, error = %e, "a broker fill the portfolio refuses");
                        return;
                    }
                    self.filled(fill, out);
                }
                Err(e) => {
                    tracing::error!(order_id = %id, error = %e, "a broker fill that cannot be applied");
                    return;
                }
            }
        }
        let Some(mut order) = self.working.get(&id).cloned() else {
            // Filled: `filled` took it out of the working orders.
            self.routed.remove(&id);
            return;
        };
        let reason = report.reason.clone();
        let ended = match report.kind {
            ExecutionKind::Cancelled => order
                .cancel(
                    reason
                        .clone()
                        .unwrap_or_else(|| "cancelled at the broker".into()),
                    now,
                )
                .is_ok()
                .then(|| {
                    Event::OrderCancelled(OrderOutcome {
                        order: order_ref(&order),
                        code: ReasonCode::Requested,
                        message: reason.unwrap_or_else(|| "cancelled at the broker".into()),
                    })
                }),
            ExecutionKind::Rejected => {
                let message = reason.unwrap_or_else(|| "rejected by the broker".into());
                let done = if order.status() == OrderStatus::New {
                    order.reject(message.clone(), now).is_ok()
                } else {
                    // Accepted earlier, refused later (a broker's own risk check):
                    // it stops working all the same.
                    order.cancel(message.clone(), now).is_ok()
                };
                done.then(|| {
                    Event::OrderRejected(OrderOutcome {
                        order: order_ref(&order),
                        code: ReasonCode::RiskRejected,
                        message,
                    })
                })
            }
            ExecutionKind::Expired => order
                .expire(now)
                .is_ok()
                .then(|| Event::OrderExpired(order_ref(&order))),
            _ => None,
        };
        if let Some(event) = ended {
            let name = event.event_type();
            Self::emit(out, event, EventId::derived(&format!("{name}:{id}")), now);
            Self::changed(out, &order);
            self.working.remove(&id);
            self.routed.remove(&id);
        }
    }

    fn place(&mut self, request: OrderRequest, now: Timestamp, out: &mut Output) {
        if self.working.contains_key(&request.id) {
            return;
        }
        let Some(instrument) = self.instruments.get(request.symbol).cloned() else {
            tracing::warn!(order_id = %request.id, symbol = %request.symbol, "order for an unknown symbol");
            return;
        };
        let mut order = match Order::new(request.clone(), &instrument, now) {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(order_id = %request.id, error = %e, "an order command that is not a valid order");
                return;
            }
        };
        let paper = paper_order(&order, false);
        match self.engine.submit(paper) {
            Ok(()) => {
                if order.accept(now).is_ok() {
                    Self::emit(
                        out,
                        Event::OrderAccepted(order_ref(&order)),
                        EventId::derived(&format!("accepted:{}", order.id)),
                        now,
                    );
                    Self::changed(out, &order);
                    self.working.insert(order.id, order);
                }
            }
            Err(e) => {
                let message = e.to_string();
                if order.reject(message.clone(), now).is_ok() {
                    Self::emit(
                        out,
                        Event::OrderRejected(OrderOutcome {
                            order: order_ref(&order),
                            code: ReasonCode::InvalidOrder,
                            message,
                        }),
                        EventId::derived(&format!("rejected:{}", order.id)),
                        now,
                    );
                    Self::changed(out, &order);
                }
            }
        }
    }

    fn cancel(&mut self, cancel: CancelOrder, now: Timestamp, out: &mut Output) {
        let id = cancel.order.order_id;
        if self.routed.contains(&id) {
            // Only its broker cancels a routed order; its report says so.
            tracing::debug!(order_id = %id, "a cancel command for a routed order; the broker's report decides");
            return;
        }
        let Some(mut order) = self.working.remove(&id) else {
            tracing::debug!(order_id = %id, "cancel of an order that no longer works");
            return;
        };
        self.engine.cancel(id);
        if order.cancel("cancelled by its owner", now).is_ok() {
            Self::emit(
                out,
                Event::OrderCancelled(OrderOutcome {
                    order: order_ref(&order),
                    code: ReasonCode::Requested,
                    message: "cancelled by its owner".into(),
                }),
                EventId::derived(&format!("cancelled:{id}")),
                now,
            );
            Self::changed(out, &order);
        }
    }

    fn amend(&mut self, amend: AmendOrder, now: Timestamp, out: &mut Output) {
        let id = amend.order.order_id;
        let Some(order) = self.working.get(&id) else {
            tracing::debug!(order_id = %id, "amend of an order that no longer works");
            return;
        };
        let mut changed = order.clone();
        if let Err(e) = changed.amend(amend.quantity, amend.limit_price, amend.stop_price, now) {
            tracing::warn!(order_id = %id, error = %e, "amend refused");
            return;
        }
        if self.routed.contains(&id) {
            // The broker already took the new terms (the orders function replaced the
            // order there before committing this command with its hold).
            Self::emit(
                out,
                Event::OrderAmended(amend),
                EventId::derived(&format!("amended:{id}:{}", now.nanos())),
                now,
            );
            Self::changed(out, &changed);
            self.working.insert(id, changed);
            return;
        }
        // The paper broker has no queue to keep a place in: the order is resubmitted
        // with its new terms.
        let triggered = self
            .engine
            .cancel(id)
            .is_some_and(|p| p.triggered && changed.order_type() == order.order_type());
        match self.engine.submit(paper_order(&changed, triggered)) {
            Ok(()) => {
                Self::emit(
                    out,
                    Event::OrderAmended(amend),
                    EventId::derived(&format!("amended:{id}:{}", now.nanos())),
                    now,
                );
                Self::changed(out, &changed);
                self.working.insert(id, changed);
            }
            Err(e) => {
                // The old terms stay in force.
                tracing::warn!(order_id = %id, error = %e, "amended terms refused");
                let _ = self.engine.submit(paper_order(order, triggered));
            }
        }
    }

    fn tick(&mut self, tick: &Tick, out: &mut Output) {
        if self.instruments.get(tick.symbol).is_none() {
            return;
        }
        if self
            .last_tick
            .get(&tick.symbol)
            .is_some_and(|t| *t >= tick.time)
        {
            self.repeated_ticks += 1;
            return;
        }
        self.last_tick.insert(tick.symbol, tick.time);
        let mut events = Vec::new();
        self.engine.on_tick(tick, &mut events);
        for event in events {
            self.engine_event(event, tick.time, out);
        }
        if let Some(history) = self.history.get_mut(&tick.symbol) {
            let mut closed = Vec::new();
            history.on_tick(tick, &mut closed);
            self.candles(closed, out);
        }
        out.last_ticks.insert(tick.symbol, *tick);
        out.ticks.push(*tick);
    }

    /// Closes quiet candles at `now` (live feeds only: a replay's candles close by its
    /// own later ticks).
    pub fn heartbeat(&mut self, now: Timestamp, out: &mut Output) {
        let mut events = Vec::new();
        self.engine.on_timer(now, &mut events);
        for event in events {
            self.engine_event(event, now, out);
        }
        let mut closed = Vec::new();
        for history in self.history.values_mut() {
            history.on_heartbeat(now, &mut closed);
        }
        self.candles(closed, out);
    }

    fn candles(&mut self, closed: Vec<Candle>, out: &mut Output) {
        for candle in closed {
            Self::emit(
                out,
                Event::CandleClosed(candle),
                EventId::derived(&format!(
                    "candle:{}:{}:{}",
                    candle.symbol,
                    candle.timeframe,
                    candle.start.nanos()
                )),
                candle.end,
            );
            out.candles.push(candle);
        }
    }

    fn engine_event(&mut self, event: EngineEvent, now: Timestamp, out: &mut Output) {
        match event {
            EngineEvent::OrderSubmitted { strategy, order } => {
                let Some(mut o) = self.strategy_order(strategy, &order, order.placed_at) else {
                    return;
                };
                if o.accept(now).is_ok() {
                    Self::emit(
                        out,
                        Event::OrderAccepted(order_ref(&o)),
                        EventId::derived(&format!("accepted:{}", o.id)),
                        now,
                    );
                    Self::changed(out, &o);
                    self.working.insert(o.id, o);
                }
            }
            EngineEvent::OrderRejected {
                strategy,
                order,
                reason,
            } => {
                let (mut o, code) = match self.working.remove(&order.id) {
                    Some(o) => (o, ReasonCode::RiskRejected),
                    None => {
                        // A strategy order refused at submission: record it as rejected.
                        match self.strategy_order(strategy, &order, now) {
                            Some(o) => (o, ReasonCode::InvalidOrder),
                            None => return,
                        }
                    }
                };
                let ended = if o.status() == OrderStatus::New {
                    o.reject(reason.clone(), now)
                } else {
                    o.cancel(reason.clone(), now)
                };
                if ended.is_ok() {
                    let outcome = OrderOutcome {
                        order: order_ref(&o),
                        code,
                        message: reason,
                    };
                    let event = if o.status() == OrderStatus::Rejected {
                        Event::OrderRejected(outcome)
                    } else {
                        Event::OrderCancelled(outcome)
                    };
                    Self::emit(
                        out,
                        event,
                        EventId::derived(&format!("ended:{}", o.id)),
                        now,
                    );
                    Self::changed(out, &o);
                }
            }
            EngineEvent::OrderCancelled { order } => {
                if let Some(mut o) = self.working.remove(&order.id) {
                    let (code, message) = match o.time_in_force() {
                        domain::TimeInForce::Ioc => {
                            (ReasonCode::ImmediateOrCancel, "not filled at once (IOC)")
                        }
                        domain::TimeInForce::Fok => (
                            ReasonCode::FillOrKill,
                            "not filled completely at once (FOK)",
                        ),
                        _ => (ReasonCode::Requested, "cancelled by its strategy"),
                    };
                    if o.cancel(message, now).is_ok() {
                        Self::emit(
                            out,
                            Event::OrderCancelled(OrderOutcome {
                                order: order_ref(&o),
                                code,
                                message: message.into(),
                            }),
                            EventId::derived(&format!("cancelled:{}", o.id)),
                            now,
                        );
                        Self::changed(out, &o);
                    }
                }
            }
            EngineEvent::OrderExpired { order } => {
                if let Some(mut o) = self.working.remove(&order.id) {
                    if o.expire(now).is_ok() {
                        Self::emit(
                            out,
                            Event::OrderExpired(order_ref(&o)),
                            EventId::derived(&format!("expired:{}", o.id)),
                            now,
                        );
                        Self::changed(out, &o);
                    }
                }
            }
            EngineEvent::Filled(fill) => self.filled(fill, out),
            EngineEvent::Candle(_) => {}
            EngineEvent::StrategyFaulted {
                strategy,
                account,
                reason,
            } => {
                tracing::warn!(strategy_id = %strategy, account_id = %account, %reason, "strategy stopped by a fault");
                self.faulted.insert(strategy, reason);
            }
        }
    }

    /// A strategy's order (the engine made it) as a domain order in state `new`, marked
    /// with the deployment that placed it (what the deployment's performance is read from).
    fn strategy_order(
        &self,
        strategy: StrategyId,
        order: &PaperOrder,
        at: Timestamp,
    ) -> Option<Order> {
        let request = OrderRequest {
            id: order.id,
            client_order_id: None,
            account_id: order.account_id,
            symbol: order.symbol,
            side: order.side,
            order_type: order.order_type,
            time_in_force: order.time_in_force,
            quantity: order.quantity,
        };
        let instrument = self.instruments.get(order.symbol)?;
        let mut order = Order::new(request, instrument, at).ok()?;
        order.strategy_id = Some(strategy);
        Some(order)
    }

    fn filled(&mut self, fill: Fill, out: &mut Output) {
        let Some(order) = self.working.get_mut(&fill.order_id) else {
            tracing::error!(order_id = %fill.order_id, "a fill for an order the core does not hold");
            return;
        };
        if let Err(e) = order.fill(fill.quantity, fill.price, fill.time) {
            tracing::error!(order_id = %fill.order_id, error = %e, "a fill the order refuses");
            return;
        }
        let order = order.clone();
        if !order.status().is_open() {
            self.working.remove(&order.id);
        }
        let notional = match fill.price.checked_notional(fill.quantity) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "fill notional overflows");
                return;
            }
        };
        let amount = match fill.side {
            Side::Buy => notional.checked_add(fill.fee).map(Money::checked_neg),
            Side::Sell => notional.checked_sub(fill.fee),
        };
        let Ok(amount) = amount else {
            tracing::error!("fill amount overflows");
            return;
        };
        let id = EventId::derived(&format!("fill:{}:{}", fill.order_id, fill.trade_id.0));
        out.ledger.push(LedgerEntry {
            id,
            account_id: fill.account_id,
            kind: domain::LedgerKind::Trade,
            amount,
            reference: format!(
                "{} {} {} @ {} (order {})",
                fill.side.as_str(),
                fill.quantity,
                fill.symbol,
                fill.price,
                fill.order_id
            ),
            time: fill.time,
        });
        Self::emit(out, Event::OrderFilled(fill.clone()), id, fill.time);
        out.positions.insert((fill.account_id, fill.symbol));
        Self::changed(out, &order);
        out.fills.push(fill);
    }

    /// Deployments the engine stopped (a fault, or a module that could not be restored)
    /// and why, for the runner to record stopped.
    pub fn faults(&self) -> &BTreeMap<StrategyId, String> {
        &self.faulted
    }

    /// Forgets the fault of `id` once the deployment is recorded stopped.
    pub fn forget_fault(&mut self, id: StrategyId) {
        self.faulted.remove(&id);
    }

    /// The modules the engine's strategies run (their ids), so that the runner can drop
    /// the others it loaded.
    pub fn modules_running(&self) -> BTreeSet<String> {
        self.engine
            .strategies()
            .filter_map(|(_, _, name, _, _)| engine::wasm::module_id(name).map(str::to_owned))
            .collect()
    }

    /// The factory the engine creates strategies with.
    pub fn modules(&self) -> &WasmModules {
        &self.modules
    }

    /// Brings the engine's strategies in line with the deployments the API recorded:
    /// deploys new ones, pauses, resumes and stops. A deployment the engine refuses is
    /// reported once (with why) and not retried until it changes.
    pub fn reconcile(
        &mut self,
        wanted: &[Deployment],
        cash: &BTreeMap<AccountId, Money>,
        now: Timestamp,
        out: &mut Output,
    ) -> Vec<(StrategyId, String)> {
        let mut failures = Vec::new();
        let running: BTreeMap<StrategyId, bool> = self
            .engine
            .strategies()
            .map(|(id, _, _, _, paused)| (id, paused))
            .collect();
        let wanted_ids: BTreeSet<StrategyId> = wanted.iter().map(|d| d.id).collect();
        for (id, _) in running.iter().filter(|(id, _)| !wanted_ids.contains(id)) {
            let mut events = Vec::new();
            if self.engine.stop(*id, &mut events).is_ok() {
                for event in events {
                    self.engine_event(event, now, out);
                }
            }
        }
        for d in wanted {
            match running.get(&d.id) {
                Some(paused) => {
                    if *paused != d.paused {
                        let _ = self.engine.set_paused(d.id, d.paused);
                    }
                }
                None => {
                    if self.failed.contains_key(&d.id) {
                        continue;
                    }
                    if let Some(c) = cash.get(&d.account) {
                        self.engine.sync_cash(d.account, *c);
                    }
                    match self
                        .engine
                        .deploy(d.id, d.account, &d.strategy, d.config.clone())
                    {
                        Ok(()) => {
                            if d.paused {
                                let _ = self.engine.set_paused(d.id, true);
                            }
                        }
                        Err(e) => {
                            self.failed.insert(d.id, e.to_string());
                            failures.push((d.id, e.to_string()));
                        }
                    }
                }
            }
        }
        failures
    }
}

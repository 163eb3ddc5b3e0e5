//! The deterministic engine: market data in, strategy orders, paper fills, positions
//! and P&L out. Backtests and the live service run this same state machine; only the
//! runner around it differs (a file loop, or stream consumers with checkpoints).
//!
//! Per bar (`on_bar`): waiting orders of the symbol are checked against the bar first (so
//! an order placed on bar *t* fills on bar *t + 1*), accounts are marked at the close,
//! then the candle goes to the strategies — and to resamplers for the higher timeframes
//! strategies asked for. Per tick (`on_tick`): waiting orders are checked against the
//! tick, accounts marked, the tick aggregated into the timeframes strategies asked for,
//! closed candles dispatched, then strategies see the tick. `on_timer` closes quiet
//! candles and expires nothing by itself.
//!
//! Time only comes in with the inputs; nothing here reads a clock or does I/O.

use std::collections::BTreeMap;
use std::sync::Arc;

use domain::{
    AccountId, Candle, Fill, Instrument, Money, OrderId, StrategyId, Symbol, Tick, Timeframe,
    Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::candles::{AggregatorConfig, CandleAggregator, Resampler};
use crate::paper::{CostModel, PaperBroker, PaperEvent, PaperOrder};
use crate::portfolio::Portfolio;
use crate::strategy::{
    Builtins, Context, IndicatorRegistry, Intent, Setup, Strategy, StrategyConfig, StrategyError,
    StrategyFactory,
};
use crate::vec_map::VecMap;

/// What the engine did, for the runner to record or publish.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// A strategy's order reached the paper broker.
    OrderSubmitted {
        strategy: StrategyId,
        order: PaperOrder,
    },
    /// A strategy's order was refused (bad grid, unknown symbol).
    OrderRejected {
        strategy: StrategyId,
        order: PaperOrder,
        reason: String,
    },
    OrderCancelled {
        order: PaperOrder,
    },
    OrderExpired {
        order: PaperOrder,
    },
    Filled(Fill),
    /// A candle closed (dispatched to strategies).
    Candle(Candle),
    /// A strategy stopped itself (a module trapped, ran out of fuel or memory, or asked
    /// for a malformed order): the engine has paused it, and reports this once.
    StrategyFaulted {
        strategy: StrategyId,
        account: AccountId,
        reason: String,
    },
}

/// One deployed strategy and what the engine keeps for it.
#[derive(Debug)]
struct Slot {
    id: StrategyId,
    account: AccountId,
    name: String,
    config: StrategyConfig,
    strategy: Box<dyn Strategy>,
    registry: IndicatorRegistry,
    open_orders: VecMap<OrderId, Symbol>,
    next_order: u64,
    paused: bool,
    /// Set when the strategy faulted: it stays paused, and is reported once.
    fault: Option<String>,
}

impl Slot {
    fn wants(&self, symbol: Symbol, timeframe: Timeframe) -> bool {
        self.config.symbols.contains(&symbol) && self.config.timeframes.contains(&timeframe)
    }
}

/// Everything needed to resume an engine exactly: accounts, broker, and each strategy's
/// deployment, indicators, open orders and own state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngineSnapshot {
    pub accounts: BTreeMap<AccountId, Portfolio>,
    pub broker: PaperBroker,
    pub strategies: Vec<StrategySnapshot>,
    /// Tick aggregators with their open candles (a live runner snapshots mid-candle).
    #[serde(default)]
    pub aggregators: BTreeMap<Symbol, CandleAggregator>,
    #[serde(default)]
    pub refuse_overdraft: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StrategySnapshot {
    pub id: StrategyId,
    pub account: AccountId,
    pub name: String,
    pub config: StrategyConfig,
    pub registry: IndicatorRegistry,
    pub open_orders: BTreeMap<OrderId, Symbol>,
    pub next_order: u64,
    pub paused: bool,
    pub state: serde_json::Value,
    /// Why the strategy stopped itself, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

impl EngineSnapshot {
    /// The names the strategies are re-created from (to load their modules first).
    pub fn strategy_names(&self) -> impl Iterator<Item = &str> {
        self.strategies.iter().map(|s| s.name.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Strategy(#[from] StrategyError),
    #[error("unknown account {0}")]
    UnknownAccount(AccountId),
    #[error("unknown strategy {0}")]
    UnknownStrategy(StrategyId),
    #[error("strategy {0} is already deployed")]
    DuplicateStrategy(StrategyId),
    #[error("no instrument {0}: add it before deploying a strategy on it")]
    UnknownSymbol(Symbol),
}

/// See the module docs.
#[derive(Debug)]
pub struct Engine {
    accounts: VecMap<AccountId, Portfolio>,
    broker: PaperBroker,
    slots: Vec<Slot>,
    /// Tick input: one aggregator per symbol over the timeframes strategies asked for.
    aggregators: BTreeMap<Symbol, CandleAggregator>,
    /// Bar input: resamplers into higher timeframes, created on the first bar.
    resamplers: BTreeMap<(Symbol, Timeframe), Resampler>,
    candles: Vec<Candle>,
    paper: Vec<PaperEvent>,
    intents: Vec<Intent>,
    /// Refuse a buy fill the account's cash cannot pay for (the live core: cash is real
    /// there; backtests let a strategy's sizing be its own business).
    refuse_overdraft: bool,
    /// What deployments are created from by name.
    strategies: Arc<dyn StrategyFactory>,
    /// Modules that could not be brought back by [`Engine::restore_with`] (until taken).
    restore_failures: Vec<(StrategyId, AccountId, String)>,
}

impl Engine {
    pub fn new(costs: CostModel) -> Self {
        Engine {
            accounts: VecMap::new(),
            broker: PaperBroker::new(costs),
            slots: Vec::new(),
            aggregators: BTreeMap::new(),
            resamplers: BTreeMap::new(),
            candles: Vec::new(),
            paper: Vec::new(),
            intents: Vec::new(),
            refuse_overdraft: false,
            strategies: Arc::new(Builtins),
            restore_failures: Vec::new(),
        }
    }

    /// The users' modules [`Engine::restore_with`] could not bring back — dropped when
    /// they could not be created, kept paused with the reason when their state could not
    /// be restored — for the runner to stop their deployments with the reason. One bad
    /// module never stops the engine from restoring.
    pub fn take_restore_failures(&mut self) -> Vec<(StrategyId, AccountId, String)> {
        std::mem::take(&mut self.restore_failures)
    }

    /// Where [`Engine::deploy`] creates strategies from (the built-ins unless set).
    pub fn set_strategies(&mut self, strategies: Arc<dyn StrategyFactory>) {
        self.strategies = strategies;
    }

    /// Refuses buy fills that would take an account's cash below zero: the order is
    /// rejected (`OrderRejected`, reason `insufficient cash`) and nothing is applied.
    pub fn refuse_overdraft(&mut self, refuse: bool) {
        self.refuse_overdraft = refuse;
    }

    pub fn add_instrument(&mut self, instrument: Instrument) {
        self.broker.add_instrument(instrument);
    }

    /// Opens an account with `cash`; an existing account is left as it is.
    pub fn open_account(&mut self, account: AccountId, cash: Money) {
        self.accounts
            .entry_or_insert_with(account, || Portfolio::new(cash));
    }

    pub fn portfolio(&self, account: AccountId) -> Option<&Portfolio> {
        self.accounts.get(&account)
    }

    pub fn broker(&self) -> &PaperBroker {
        &self.broker
    }

    /// Sets an account's cash to what the ledger says (deposits and withdrawals happen
    /// outside the engine); opens the account if the engine has not seen it.
    pub fn sync_cash(&mut self, account: AccountId, cash: Money) {
        match self.accounts.get_mut(&account) {
            Some(p) => p.set_cash(cash),
            None => {
                self.accounts.insert(account, Portfolio::new(cash));
            }
        }
    }

    /// Applies a fill that happened elsewhere (an external broker's, for an order the
    /// paper broker never held) to its account's cash and position, opening the account
    /// if the engine has not seen it. On error nothing changes.
    pub fn record_fill(&mut self, fill: &domain::Fill) -> Result<(), domain::DomainError> {
        if !self.accounts.contains_key(&fill.account_id) {
            self.accounts
                .insert(fill.account_id, Portfolio::new(Money::ZERO));
        }
        match self.accounts.get_mut(&fill.account_id) {
            Some(portfolio) => portfolio.apply(fill),
            None => Ok(()),
        }
    }

    /// Submits an order that is not a strategy's (a user's order from the API) to the
    /// paper broker; it fills like any other and its fills go to its account.
    pub fn submit(&mut self, order: PaperOrder) -> Result<(), domain::DomainError> {
        if !self.accounts.contains_key(&order.account_id) {
            self.accounts
                .insert(order.account_id, Portfolio::new(Money::ZERO));
        }
        self.broker.submit(order)
    }

    /// Cancels a waiting order, a user's or a strategy's; the order if it was waiting.
    pub fn cancel(&mut self, id: OrderId) -> Option<PaperOrder> {
        let order = self.broker.cancel(id)?;
        self.forget(id);
        Some(order)
    }

    /// Creates strategy `name` for `account`, validates it, registers its indicators.
    pub fn deploy(
        &mut self,
        id: StrategyId,
        account: AccountId,
        name: &str,
        config: StrategyConfig,
    ) -> Result<(), EngineError> {
        self.check_deployable(id, account, &config)?;
        if config.symbols.is_empty() {
            return Err(StrategyError::NoSymbols.into());
        }
        config.primary_timeframe()?;
        let strategy = self.strategies.create(name, &config)?;
        self.deploy_strategy(id, account, strategy, config)
    }

    /// Deploys a strategy built by the caller rather than by name from the built-ins (a
    /// strategy of one's own, or a test's). It runs exactly as a built-in does. An engine
    /// holding one can be [`Engine::restore_with`] a factory that creates it by its name
    /// (restoring with one that cannot fails with `UnknownStrategy`).
    pub fn deploy_strategy(
        &mut self,
        id: StrategyId,
        account: AccountId,
        mut strategy: Box<dyn Strategy>,
        config: StrategyConfig,
    ) -> Result<(), EngineError> {
        self.check_deployable(id, account, &config)?;
        if config.symbols.is_empty() {
            return Err(StrategyError::NoSymbols.into());
        }
        config.primary_timeframe()?;
        let mut registry = IndicatorRegistry::default();
        strategy.init(&mut Setup {
            config: &config,
            registry: &mut registry,
        })?;
        if let Some(reason) = strategy.fault() {
            return Err(StrategyError::Module {
                reason: reason.to_owned(),
            }
            .into());
        }
        self.slots.push(Slot {
            id,
            account,
            name: strategy.name().to_owned(),
            config,
            strategy,
            registry,
            open_orders: VecMap::new(),
            next_order: 0,
            paused: false,
            fault: None,
        });
        self.rebuild_aggregators();
        Ok(())
    }

    /// The account exists, the id is free and every symbol has an instrument.
    fn check_deployable(
        &self,
        id: StrategyId,
        account: AccountId,
        config: &StrategyConfig,
    ) -> Result<(), EngineError> {
        if !self.accounts.contains_key(&account) {
            return Err(EngineError::UnknownAccount(account));
        }
        if self.slots.iter().any(|s| s.id == id) {
            return Err(EngineError::DuplicateStrategy(id));
        }
        if let Some(&missing) = config
            .symbols
            .iter()
            .find(|s| self.broker.instrument(**s).is_none())
        {
            return Err(EngineError::UnknownSymbol(missing));
        }
        Ok(())
    }

    /// Pauses (no callbacks, indicators keep updating) or resumes a strategy.
    pub fn set_paused(&mut self, id: StrategyId, paused: bool) -> Result<(), EngineError> {
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or(EngineError::UnknownStrategy(id))?;
        // A faulted strategy stays paused: resuming would run the module that failed.
        slot.paused = paused || slot.fault.is_some();
        Ok(())
    }

    /// Removes a strategy and cancels its waiting orders.
    pub fn stop(&mut self, id: StrategyId, out: &mut Vec<EngineEvent>) -> Result<(), EngineError> {
        let at = self
            .slots
            .iter()
            .position(|s| s.id == id)
            .ok_or(EngineError::UnknownStrategy(id))?;
        let slot = self.slots.remove(at);
        for order in slot.open_orders.keys() {
            if let Some(order) = self.broker.cancel(*order) {
                out.push(EngineEvent::OrderCancelled { order });
            }
        }
        self.rebuild_aggregators();
        Ok(())
    }

    /// The deployed strategies: (id, account, name, config, paused).
    pub fn strategies(
        &self,
    ) -> impl Iterator<Item = (StrategyId, AccountId, &str, &StrategyConfig, bool)> {
        self.slots
            .iter()
            .map(|s| (s.id, s.account, s.name.as_str(), &s.config, s.paused))
    }

    /// The timeframes strategies trade on each symbol.
    fn rebuild_aggregators(&mut self) {
        let mut wanted: BTreeMap<Symbol, Vec<Timeframe>> = BTreeMap::new();
        for slot in &self.slots {
            for &symbol in &slot.config.symbols {
                let tfs = wanted.entry(symbol).or_default();
                for &tf in &slot.config.timeframes {
                    if !tfs.contains(&tf) {
                        tfs.push(tf);
                    }
                }
            }
        }
        self.aggregators.retain(|symbol, agg| {
            wanted.get(symbol).is_some_and(|tfs| {
                let mut have: Vec<Timeframe> = agg.timeframes().collect();
                let mut want = tfs.clone();
                have.sort();
                want.sort();
                have == want
            })
        });
        for (symbol, tfs) in wanted {
            if let std::collections::btree_map::Entry::Vacant(slot) = self.aggregators.entry(symbol)
            {
                // `tfs` is non-empty and free of duplicates, so this cannot fail.
                if let Ok(agg) = CandleAggregator::new(symbol, &tfs, AggregatorConfig::default()) {
                    slot.insert(agg);
                }
            }
        }
    }

    /// A bar of market data.
    pub fn on_bar(&mut self, bar: &Candle, out: &mut Vec<EngineEvent>) {
        self.paper.clear();
        self.broker.on_bar(bar, &mut self.paper);
        self.settle(bar.start, out);
        self.mark(bar.symbol, bar.close);
        self.dispatch_candle(bar, out);
        // Higher timeframes some strategy trades, built from these bars (most runs trade
        // the bars themselves: then nothing is collected).
        let higher = |s: &Slot| {
            s.config.symbols.contains(&bar.symbol)
                && s.config
                    .timeframes
                    .iter()
                    .any(|tf| *tf != bar.timeframe && bar.timeframe.divides(*tf))
        };
        if !self.slots.iter().any(higher) {
            return;
        }
        let wanted: Vec<Timeframe> = self
            .slots
            .iter()
            .filter(|s| s.config.symbols.contains(&bar.symbol))
            .flat_map(|s| s.config.timeframes.iter().copied())
            .filter(|tf| *tf != bar.timeframe && bar.timeframe.divides(*tf))
            .collect();
        for tf in wanted {
            let resampler = match self.resamplers.entry((bar.symbol, tf)) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    match Resampler::new(bar.symbol, bar.timeframe, tf, false) {
                        Ok(r) => v.insert(r),
                        Err(_) => continue,
                    }
                }
            };
            self.candles.clear();
            if resampler.on_candle(bar, &mut self.candles).is_err() {
                continue;
            }
            // Close the higher candle right after its last bar, not on the next one.
            resampler.on_heartbeat(bar.end, &mut self.candles);
            let closed = std::mem::take(&mut self.candles);
            for c in &closed {
                self.dispatch_candle(c, out);
            }
            self.candles = closed;
        }
    }

    /// A trade of market data.
    pub fn on_tick(&mut self, tick: &Tick, out: &mut Vec<EngineEvent>) {
        self.paper.clear();
        self.broker.on_tick(tick, &mut self.paper);
        self.settle(tick.time, out);
        self.mark(tick.symbol, tick.price);
        if let Some(agg) = self.aggregators.get_mut(&tick.symbol) {
            self.candles.clear();
            agg.on_tick(tick, &mut self.candles);
            let closed = std::mem::take(&mut self.candles);
            for c in &closed {
                self.dispatch_candle(c, out);
            }
            self.candles = closed;
        }
        for i in 0..self.slots.len() {
            if self.slots[i].paused || !self.slots[i].config.symbols.contains(&tick.symbol) {
                continue;
            }
            self.callback(i, tick.time, out, |s, ctx| s.on_tick(tick, ctx));
        }
    }

    /// The clock reads `now`: closes quiet candles and tells strategies.
    pub fn on_timer(&mut self, now: Timestamp, out: &mut Vec<EngineEvent>) {
        let symbols: Vec<Symbol> = self.aggregators.keys().copied().collect();
        for symbol in symbols {
            if let Some(agg) = self.aggregators.get_mut(&symbol) {
                self.candles.clear();
                agg.on_heartbeat(now, &mut self.candles);
                let closed = std::mem::take(&mut self.candles);
                for c in &closed {
                    self.dispatch_candle(c, out);
                }
                self.candles = closed;
            }
        }
        for i in 0..self.slots.len() {
            if !self.slots[i].paused {
                self.callback(i, now, out, |s, ctx| s.on_timer(now, ctx));
            }
        }
    }

    fn mark(&mut self, symbol: Symbol, price: domain::Price) {
        for portfolio in self.accounts.values_mut() {
            portfolio.mark_if_held(symbol, price);
        }
    }

    /// Applies the broker's events: fills to portfolios and to the owning strategy.
    fn settle(&mut self, now: Timestamp, out: &mut Vec<EngineEvent>) {
        let events = std::mem::take(&mut self.paper);
        for event in &events {
            match event {
                PaperEvent::Filled(fill) => {
                    if self.refuse_overdraft && self.overdraws(fill) {
                        out.push(EngineEvent::OrderRejected {
                            strategy: self
                                .owner(fill.order_id)
                                .unwrap_or(StrategyId::from_u128(0)),
                            order: paper_order_of(fill),
                            reason: "insufficient cash".into(),
                        });
                        self.forget(fill.order_id);
                        continue;
                    }
                    let applied = self
                        .accounts
                        .get_mut(&fill.account_id)
                        .map(|p| p.apply(fill))
                        .unwrap_or(Ok(()));
                    if let Some(p) = self.accounts.get_mut(&fill.account_id) {
                        p.mark(fill.symbol, fill.price);
                    }
                    if let Err(e) = applied {
                        // Only an arithmetic overflow can refuse a fill; the account is
                        // unchanged and the order is reported instead of half-applied.
                        out.push(EngineEvent::OrderRejected {
                            strategy: self
                                .owner(fill.order_id)
                                .unwrap_or(StrategyId::from_u128(0)),
                            order: paper_order_of(fill),
                            reason: e.to_string(),
                        });
                        self.forget(fill.order_id);
                        continue;
                    }
                    out.push(EngineEvent::Filled(fill.clone()));
                    if let Some(i) = self.slot_of(fill.order_id) {
                        self.slots[i].open_orders.remove(&fill.order_id);
                        if !self.slots[i].paused {
                            self.callback(i, now, out, |s, ctx| s.on_fill(fill, ctx));
                        }
                    }
                }
                PaperEvent::Cancelled(order) => {
                    self.forget(order.id);
                    out.push(EngineEvent::OrderCancelled {
                        order: order.clone(),
                    });
                }
                PaperEvent::Expired(order) => {
                    self.forget(order.id);
                    out.push(EngineEvent::OrderExpired {
                        order: order.clone(),
                    });
                }
            }
        }
        self.paper = events;
    }

    /// Whether a buy fill costs more than its account's cash.
    fn overdraws(&self, fill: &Fill) -> bool {
        if fill.side != domain::Side::Buy {
            return false;
        }
        let Some(portfolio) = self.accounts.get(&fill.account_id) else {
            return false;
        };
        let cost = fill
            .price
            .checked_notional(fill.quantity)
            .and_then(|n| n.checked_add(fill.fee));
        match cost {
            Ok(cost) => portfolio.cash() < cost,
            Err(_) => true,
        }
    }

    fn slot_of(&self, order: OrderId) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.open_orders.contains_key(&order))
    }

    fn owner(&self, order: OrderId) -> Option<StrategyId> {
        self.slot_of(order).map(|i| self.slots[i].id)
    }

    fn forget(&mut self, order: OrderId) {
        if let Some(i) = self.slot_of(order) {
            self.slots[i].open_orders.remove(&order);
        }
    }

    /// Updates indicators with a closed candle and calls the strategies that trade it.
    fn dispatch_candle(&mut self, candle: &Candle, out: &mut Vec<EngineEvent>) {
        out.push(EngineEvent::Candle(*candle));
        for i in 0..self.slots.len() {
            if !self.slots[i].wants(candle.symbol, candle.timeframe) {
                continue;
            }
            self.slots[i].registry.on_candle(candle);
            if !self.slots[i].paused {
                self.callback(i, candle.end, out, |s, ctx| s.on_candle(candle, ctx));
            }
        }
    }

    /// Runs one strategy callback, then carries out the orders it asked for.
    fn callback(
        &mut self,
        i: usize,
        now: Timestamp,
        out: &mut Vec<EngineEvent>,
        call: impl FnOnce(&mut dyn Strategy, &mut Context<'_>),
    ) {
        let slot = &mut self.slots[i];
        let Some(portfolio) = self.accounts.get(&slot.account) else {
            return;
        };
        self.intents.clear();
        let mut ctx = Context {
            now,
            account: slot.account,
            strategy: slot.id,
            portfolio,
            registry: &slot.registry,
            open_orders: &slot.open_orders,
            intents: &mut self.intents,
            next_order: &mut slot.next_order,
        };
        call(slot.strategy.as_mut(), &mut ctx);
        let strategy = slot.id;
        if slot.fault.is_none() {
            if let Some(reason) = slot.strategy.fault() {
                // A faulted callback asked for nothing: its intents never reached `ctx`.
                slot.fault = Some(reason.to_owned());
                slot.paused = true;
                out.push(EngineEvent::StrategyFaulted {
                    strategy,
                    account: slot.account,
                    reason: reason.to_owned(),
                });
            }
        }
        for intent in self.intents.drain(..) {
            match intent {
                Intent::Submit(order) => match self.broker.submit(order.clone()) {
                    Ok(()) => {
                        slot.open_orders.insert(order.id, order.symbol);
                        out.push(EngineEvent::OrderSubmitted { strategy, order });
                    }
                    Err(e) => out.push(EngineEvent::OrderRejected {
                        strategy,
                        order,
                        reason: e.to_string(),
                    }),
                },
                Intent::Cancel(id) => {
                    if slot.open_orders.remove(&id).is_some() {
                        if let Some(order) = self.broker.cancel(id) {
                            out.push(EngineEvent::OrderCancelled { order });
                        }
                    }
                }
            }
        }
    }

    /// Everything needed to resume exactly where the engine is.
    pub fn snapshot(&self) -> EngineSnapshot {
        self.snapshot_with(self.broker.clone())
    }

    /// A snapshot without the broker's waiting orders, for a runner that keeps them
    /// elsewhere and resubmits them on restore (the live core: they are the open orders
    /// of the system of record); cheap however many orders wait.
    pub fn snapshot_without_pending(&self) -> EngineSnapshot {
        self.snapshot_with(self.broker.without_pending())
    }

    fn snapshot_with(&self, broker: PaperBroker) -> EngineSnapshot {
        EngineSnapshot {
            accounts: self
                .accounts
                .iter()
                .map(|(id, portfolio)| (*id, portfolio.clone()))
                .collect(),
            broker,
            strategies: self
                .slots
                .iter()
                .map(|s| StrategySnapshot {
                    id: s.id,
                    account: s.account,
                    name: s.name.clone(),
                    config: s.config.clone(),
                    registry: s.registry.clone(),
                    open_orders: s
                        .open_orders
                        .iter()
                        .map(|(id, symbol)| (*id, *symbol))
                        .collect(),
                    next_order: s.next_order,
                    paused: s.paused,
                    state: s.strategy.snapshot(),
                    fault: s.fault.clone(),
                })
                .collect(),
            aggregators: self.aggregators.clone(),
            refuse_overdraft: self.refuse_overdraft,
        }
    }

    /// An engine continuing from `snapshot`, partly built candles of tick input included.
    pub fn restore(snapshot: EngineSnapshot) -> Result<Self, EngineError> {
        Self::restore_with(snapshot, Arc::new(Builtins))
    }

    /// [`Engine::restore`], re-creating strategies (and later deployments) with
    /// `strategies`.
    pub fn restore_with(
        snapshot: EngineSnapshot,
        strategies: Arc<dyn StrategyFactory>,
    ) -> Result<Self, EngineError> {
        let mut engine = Engine::new(snapshot.broker.costs());
        engine.strategies = strategies;
        engine.broker = snapshot.broker;
        engine.broker.reindex();
        engine.refuse_overdraft = snapshot.refuse_overdraft;
        // Aggregators that match the strategies' timeframes are kept (open candles too).
        engine.aggregators = snapshot.aggregators;
        engine.accounts = snapshot.accounts.into_iter().collect();
        for s in snapshot.strategies {
            let is_module = crate::wasm::module_id(&s.name).is_some();
            let mut strategy = match engine.strategies.create(&s.name, &s.config) {
                Ok(strategy) => strategy,
                Err(e) if is_module => {
                    // Kept as a paused slot that runs nothing: its working orders stay
                    // its own, so stopping the deployment cancels them.
                    let reason = e.to_string();
                    engine
                        .restore_failures
                        .push((s.id, s.account, reason.clone()));
                    engine.slots.push(Slot {
                        id: s.id,
                        account: s.account,
                        strategy: Box::new(Unavailable {
                            name: s.name.clone(),
                            reason: reason.clone(),
                        }),
                        name: s.name,
                        config: s.config,
                        registry: s.registry,
                        open_orders: s.open_orders.into_iter().collect(),
                        next_order: s.next_order,
                        paused: true,
                        fault: Some(reason),
                    });
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            // init registers indicator ids in the same order as before; the registry
            // itself (with its warmed-up state) comes from the snapshot.
            let mut scratch = IndicatorRegistry::default();
            let mut fault = s.fault;
            let restored = strategy
                .init(&mut Setup {
                    config: &s.config,
                    registry: &mut scratch,
                })
                .and_then(|()| {
                    // A strategy that faulted stays paused with its reason.
                    if fault.is_none() {
                        strategy.restore(&s.state)
                    } else {
                        Ok(())
                    }
                });
            match restored {
                Ok(()) => {}
                Err(e) if is_module => {
                    engine
                        .restore_failures
                        .push((s.id, s.account, e.to_string()));
                    fault = Some(e.to_string());
                }
                Err(e) => return Err(e.into()),
            }
            engine.slots.push(Slot {
                id: s.id,
                account: s.account,
                name: s.name,
                config: s.config,
                strategy,
                registry: s.registry,
                open_orders: s.open_orders.into_iter().collect(),
                next_order: s.next_order,
                paused: s.paused || fault.is_some(),
                fault,
            });
        }
        engine.rebuild_aggregators();
        Ok(engine)
    }
}

/// A restored deployment whose module cannot be created: it runs nothing and says why.
#[derive(Debug)]
struct Unavailable {
    name: String,
    reason: String,
}

impl Strategy for Unavailable {
    fn name(&self) -> &str {
        &self.name
    }

    fn init(&mut self, _setup: &mut Setup<'_>) -> Result<(), StrategyError> {
        Ok(())
    }

    fn on_candle(&mut self, _candle: &Candle, _ctx: &mut Context<'_>) {}

    fn snapshot(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    fn restore(&mut self, _state: &serde_json::Value) -> Result<(), StrategyError> {
        Ok(())
    }

    fn fault(&self) -> Option<&str> {
        Some(&self.reason)
    }
}

fn paper_order_of(fill: &Fill) -> PaperOrder {
    PaperOrder {
        id: fill.order_id,
        account_id: fill.account_id,
        symbol: fill.symbol,
        side: fill.side,
        order_type: domain::OrderType::Market,
        time_in_force: domain::TimeInForce::Gtc,
        quantity: fill.quantity,
        placed_at: fill.time,
        triggered: false,
    }
}

//! Strategies: the trait a strategy implements, the context it trades through, and the
//! built-in strategies.
//!
//! A strategy is created from a name and a [`StrategyConfig`] (symbols, timeframes and
//! JSON parameters, validated at creation). In [`Strategy::init`] it registers the
//! indicators it reads; the engine updates them as candles close and then calls
//! [`Strategy::on_candle`], so a strategy sees each indicator already including the
//! candle it is handed. Orders go through [`Context::submit`]; they reach the market
//! after the callback returns (on bars: the next bar). All state a strategy keeps is in
//! [`Strategy::snapshot`], so a restarted engine continues where it stopped.

pub mod builtin;
mod context;
pub mod params;

pub use context::{Context, IndicatorId, IndicatorRegistry, Intent, OrderIntent, Setup};

use domain::{Candle, DomainError, Fill, Symbol, Tick, Timeframe, Timestamp};
use serde::{Deserialize, Serialize};

/// Where a strategy runs and how it is tuned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyConfig {
    pub symbols: Vec<Symbol>,
    /// The first is the timeframe the built-in strategies trade on.
    pub timeframes: Vec<Timeframe>,
    #[serde(default)]
    pub params: serde_json::Value,
}

impl StrategyConfig {
    pub fn new(
        symbols: Vec<Symbol>,
        timeframes: Vec<Timeframe>,
        params: serde_json::Value,
    ) -> Self {
        StrategyConfig {
            symbols,
            timeframes,
            params,
        }
    }

    /// The timeframe signals are computed on.
    pub fn primary_timeframe(&self) -> Result<Timeframe, StrategyError> {
        self.timeframes
            .first()
            .copied()
            .ok_or(StrategyError::NoTimeframes)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StrategyError {
    #[error("unknown strategy {name:?}; valid: {}", builtin::NAMES.join(", "))]
    UnknownStrategy { name: String },
    #[error("{strategy}: parameter {param:?}: {reason}")]
    InvalidParam {
        strategy: String,
        param: String,
        reason: String,
    },
    #[error("a strategy needs at least one symbol")]
    NoSymbols,
    #[error("a strategy needs at least one timeframe")]
    NoTimeframes,
    #[error("cannot restore {strategy} state: {reason}")]
    BadSnapshot { strategy: String, reason: String },
    #[error("{0}")]
    Domain(#[from] DomainError),
    /// A WebAssembly module that cannot be loaded, instantiated or initialised.
    #[error("{reason}")]
    Module { reason: String },
    /// A `wasm:<id>` name whose module the factory does not hold.
    #[error("no strategy module {id:?}")]
    UnknownModule { id: String },
}

/// What a trading strategy implements. Every callback gets a [`Context`] for reading
/// positions, cash and indicators and for submitting orders.
pub trait Strategy: Send + Sync + std::fmt::Debug {
    /// The name it is created from again on restore (`sma_cross`, `wasm:<module id>`).
    fn name(&self) -> &str;

    /// Registers the indicators the strategy reads.
    fn init(&mut self, setup: &mut Setup<'_>) -> Result<(), StrategyError>;

    /// A candle of a subscribed symbol and timeframe closed.
    fn on_candle(&mut self, candle: &Candle, ctx: &mut Context<'_>);

    /// A trade of a subscribed symbol.
    fn on_tick(&mut self, _tick: &Tick, _ctx: &mut Context<'_>) {}

    /// One of the strategy's orders filled (the position already includes it).
    fn on_fill(&mut self, _fill: &Fill, _ctx: &mut Context<'_>) {}

    /// The clock moved (heartbeat), whether or not data arrived.
    fn on_timer(&mut self, _now: Timestamp, _ctx: &mut Context<'_>) {}

    /// Everything the strategy remembers, as JSON.
    fn snapshot(&self) -> serde_json::Value;

    /// Puts back what [`Strategy::snapshot`] returned.
    fn restore(&mut self, state: &serde_json::Value) -> Result<(), StrategyError>;

    /// Why the strategy stopped itself, if it did (a sandboxed module that trapped or ran
    /// out of its budget). The engine pauses it and reports the reason once.
    fn fault(&self) -> Option<&str> {
        None
    }
}

/// Creates strategies by name: the engine, backtests and optimisations ask one, so a
/// deployment of a user's module is created (and re-created on restore) exactly as a
/// built-in is.
pub trait StrategyFactory: Send + Sync + std::fmt::Debug {
    fn create(
        &self,
        name: &str,
        config: &StrategyConfig,
    ) -> Result<Box<dyn Strategy>, StrategyError>;
}

/// The built-in strategies, and nothing else.
#[derive(Debug, Default, Clone, Copy)]
pub struct Builtins;

impl StrategyFactory for Builtins {
    fn create(
        &self,
        name: &str,
        config: &StrategyConfig,
    ) -> Result<Box<dyn Strategy>, StrategyError> {
        create(name, config)
    }
}

/// Creates a built-in strategy by name, validating its parameters.
pub fn create(name: &str, config: &StrategyConfig) -> Result<Box<dyn Strategy>, StrategyError> {
    if let Some(id) = crate::wasm::module_id(name) {
        return Err(StrategyError::UnknownModule { id: id.to_owned() });
    }
    if config.symbols.is_empty() {
        return Err(StrategyError::NoSymbols);
    }
    config.primary_timeframe()?;
    builtin::create(name, config)
}

//! The built-in strategies. All are long-only, trade market orders of a fixed `size` on
//! their primary timeframe (the first of the deployment's timeframes), run independently
//! on each of their symbols, and keep at most one working order per symbol.
//!
//! | name | enters (when flat) | exits (when long) | parameters |
//! |---|---|---|---|
//! | `sma_cross` | close crosses above SMA(period) | close crosses below it | `period` 30, `size` 1 |
//! | `ema_cross` | EMA(fast) crosses above EMA(slow) | crosses below | `fast` 12, `slow` 26, `size` 1 |
//! | `rsi_reversion` | RSI(period) < `lower` | RSI > `upper` | `period` 14, `lower` 30, `upper` 70, `size` 1 |
//! | `macd_trend` | MACD line crosses above its signal | crosses below | `fast` 12, `slow` 26, `signal` 9, `size` 1 |
//! | `bollinger_breakout` | close > upper band | close < middle band | `period` 20, `k` 2, `size` 1 |
//!
//! "Crosses above" means the previous bar had `a ≤ b` and this bar has `a > b`.

mod bollinger_breakout;
mod ema_cross;
mod macd_trend;
mod rsi_reversion;
mod sma_cross;

use domain::{Decimal, Quantity, Side, Symbol};
use serde::{Deserialize, Serialize};

use super::{Context, OrderIntent, Strategy, StrategyConfig, StrategyError};

pub const NAMES: &[&str] = &[
    "sma_cross",
    "ema_cross",
    "rsi_reversion",
    "macd_trend",
    "bollinger_breakout",
];

pub(super) fn create(
    name: &str,
    config: &StrategyConfig,
) -> Result<Box<dyn Strategy>, StrategyError> {
    Ok(match name {
        "sma_cross" => Box::new(sma_cross::SmaCross::new(config)?),
        "ema_cross" => Box::new(ema_cross::EmaCross::new(config)?),
        "rsi_reversion" => Box::new(rsi_reversion::RsiReversion::new(config)?),
        "macd_trend" => Box::new(macd_trend::MacdTrend::new(config)?),
        "bollinger_breakout" => Box::new(bollinger_breakout::BollingerBreakout::new(config)?),
        _ => {
            return Err(StrategyError::UnknownStrategy {
                name: name.to_owned(),
            });
        }
    })
}

/// Long-only entries and exits with at most one working order per symbol.
fn act(ctx: &mut Context<'_>, symbol: Symbol, size: Decimal, enter: bool, exit: bool) {
    // Most bars give no signal: then there is nothing to look up.
    if !(enter || exit) || ctx.open_orders(symbol) > 0 {
        return;
    }
    let held = ctx.position(symbol);
    if enter && held.is_zero() {
        if let Ok(q) = Quantity::positive("size", size) {
            ctx.submit(OrderIntent::market(symbol, Side::Buy, q));
        }
    } else if exit && held.is_sign_positive() && !held.is_zero() {
        if let Ok(q) = Quantity::positive("size", held) {
            ctx.submit(OrderIntent::market(symbol, Side::Sell, q));
        }
    }
}

/// A strategy's values per symbol (indicator ids), in a vector searched linearly: a
/// strategy has a handful of symbols and looks one up on every candle.
#[derive(Debug)]
struct PerSymbol<V>(Vec<(Symbol, V)>);

impl<V> Default for PerSymbol<V> {
    fn default() -> Self {
        PerSymbol(Vec::new())
    }
}

impl<V> PerSymbol<V> {
    /// Sets the value of `symbol`, replacing the one it had.
    fn insert(&mut self, symbol: Symbol, value: V) {
        match self.0.iter_mut().find(|(s, _)| *s == symbol) {
            Some(entry) => entry.1 = value,
            None => self.0.push((symbol, value)),
        }
    }

    fn get(&self, symbol: &Symbol) -> Option<&V> {
        self.0.iter().find(|(s, _)| s == symbol).map(|(_, v)| v)
    }
}

/// `(a, b)` of the previous bar, per symbol: what crossings are detected from. A vector:
/// a strategy has a handful of symbols and this is updated on every bar.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct PreviousPair(Vec<(Symbol, f64, f64)>);

impl PreviousPair {
    /// Records `(a, b)` for `symbol`; returns (crossed above, crossed below).
    fn cross(&mut self, symbol: Symbol, a: f64, b: f64) -> (bool, bool) {
        match self.0.iter_mut().find(|(s, ..)| *s == symbol) {
            Some(entry) => {
                let (pa, pb) = (entry.1, entry.2);
                (entry.1, entry.2) = (a, b);
                (pa <= pb && a > b, pa >= pb && a < b)
            }
            None => {
                self.0.push((symbol, a, b));
                (false, false)
            }
        }
    }
}

fn restore_state<T: serde::de::DeserializeOwned>(
    strategy: &'static str,
    state: &serde_json::Value,
) -> Result<T, StrategyError> {
    serde_json::from_value(state.clone()).map_err(|e| StrategyError::BadSnapshot {
        strategy: strategy.to_owned(),
        reason: e.to_string(),
    })
}

/// A built-in strategy as the catalog shows it.
#[derive(Debug, Clone, Copy)]
pub struct StrategyInfo {
    pub name: &'static str,
    /// What it does, in a sentence.
    pub summary: &'static str,
    pub params: &'static [super::params::ParamDoc<'static>],
    /// Rules between parameters that a schema of each alone cannot state.
    pub rules: &'static [&'static str],
}

impl StrategyInfo {
    /// Its parameters as one JSON Schema object, the rules in its description.
    pub fn params_schema(&self) -> serde_json::Value {
        let mut schema = super::params::params_schema(self.params);
        if !self.rules.is_empty() {
            schema["description"] = self.rules.join("; ").into();
        }
        schema
    }
}

/// Every built-in strategy, in [`NAMES`] order.
pub const CATALOG: &[StrategyInfo] = &[
    StrategyInfo {
        name: "sma_cross",
        summary: "Buys `size` when the close crosses above SMA(`period`) while flat; sells the position when it crosses below.",
        params: sma_cross::PARAMS,
        rules: &[],
    },
    StrategyInfo {
        name: "ema_cross",
        summary: "Buys `size` when EMA(`fast`) crosses above EMA(`slow`) while flat; sells the position when it crosses below.",
        params: ema_cross::PARAMS,
        rules: &["fast < slow"],
    },
    StrategyInfo {
        name: "rsi_reversion",
        summary: "Buys `size` when RSI(`period`) falls below `lower` while flat; sells the position when it rises above `upper`.",
        params: rsi_reversion::PARAMS,
        rules: &["lower < upper"],
    },
    StrategyInfo {
        name: "macd_trend",
        summary: "Buys `size` when the MACD line crosses above its signal while flat; sells the position when it crosses below.",
        params: macd_trend::PARAMS,
        rules: &["fast < slow"],
    },
    StrategyInfo {
        name: "bollinger_breakout",
        summary: "Buys `size` when the close breaks above the upper Bollinger band (`period`, `k`) while flat; sells the position when it falls below the middle band.",
        params: bollinger_breakout::PARAMS,
        rules: &[],
    },
];

/// The catalog entry of a built-in strategy.
pub fn info(name: &str) -> Option<&'static StrategyInfo> {
    CATALOG.iter().find(|s| s.name == name)
}

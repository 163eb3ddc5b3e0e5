//! `bollinger_breakout`: buy `size` when the close breaks above the upper Bollinger band
//! (SMA(`period`) + `k` standard deviations) and the position is flat; sell the whole
//! position when the close falls back below the middle band.

use domain::{Candle, Decimal, Symbol, Timeframe};

use super::{PerSymbol, act};
use crate::indicators::IndicatorSpec;
use crate::strategy::params::{ParamDoc, ParamKind, Params};
use crate::strategy::{Context, IndicatorId, Setup, Strategy, StrategyConfig, StrategyError};

pub(super) const PARAMS: &[ParamDoc] = &[
    ParamDoc {
        name: "period",
        kind: ParamKind::Integer {
            min: 2,
            max: 10_000,
        },
        default: "20",
        help: "band length in bars",
    },
    ParamDoc {
        name: "k",
        kind: ParamKind::Number {
            min: 0.1,
            max: 10.0,
        },
        default: "2",
        help: "band width in standard deviations",
    },
    ParamDoc {
        name: "size",
        kind: ParamKind::PositiveDecimal,
        default: "1",
        help: "units bought on entry",
    },
];

#[derive(Debug)]
pub struct BollingerBreakout {
    period: usize,
    k: f64,
    size: Decimal,
    timeframe: Timeframe,
    symbols: Vec<Symbol>,
    bands: PerSymbol<IndicatorId>,
}

impl BollingerBreakout {
    pub fn new(config: &StrategyConfig) -> Result<Self, StrategyError> {
        let p = Params::new("bollinger_breakout", &config.params, PARAMS)?;
        Ok(BollingerBreakout {
            period: p.integer("period")?,
            k: p.number("k")?,
            size: p.positive_decimal("size")?,
            timeframe: config.primary_timeframe()?,
            symbols: config.symbols.clone(),
            bands: PerSymbol::default(),
        })
    }
}

impl Strategy for BollingerBreakout {
    fn name(&self) -> &'static str {
        "bollinger_breakout"
    }

    fn init(&mut self, setup: &mut Setup<'_>) -> Result<(), StrategyError> {
        for &symbol in &self.symbols {
            let spec = IndicatorSpec::BBands(self.period, self.k);
            self.bands
                .insert(symbol, setup.indicator(symbol, self.timeframe, spec)?);
        }
        Ok(())
    }

    fn on_candle(&mut self, candle: &Candle, ctx: &mut Context<'_>) {
        if candle.timeframe != self.timeframe {
            return;
        }
        let Some(&id) = self.bands.get(&candle.symbol) else {
            return;
        };
        // Columns: upper, middle, lower.
        let (Some(Some(upper)), Some(Some(middle))) = (
            ctx.indicator(id).first().copied(),
            ctx.indicator(id).get(1).copied(),
        ) else {
            return;
        };
        let close = domain::num::to_f64(candle.close.value());
        act(ctx, candle.symbol, self.size, close > upper, close < middle);
    }

    /// No state beyond the indicators (levels, not crossings).
    fn snapshot(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    fn restore(&mut self, _state: &serde_json::Value) -> Result<(), StrategyError> {
        Ok(())
    }
}

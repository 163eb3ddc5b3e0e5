//! `rsi_reversion`: buy `size` when RSI(`period`) falls below `lower` and the position is
//! flat; sell the whole position when RSI rises above `upper`.

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
        default: "14",
        help: "RSI length",
    },
    ParamDoc {
        name: "lower",
        kind: ParamKind::Number {
            min: 0.0,
            max: 100.0,
        },
        default: "30",
        help: "buy below this RSI",
    },
    ParamDoc {
        name: "upper",
        kind: ParamKind::Number {
            min: 0.0,
            max: 100.0,
        },
        default: "70",
        help: "sell above this RSI, above lower",
    },
    ParamDoc {
        name: "size",
        kind: ParamKind::PositiveDecimal,
        default: "1",
        help: "units bought on entry",
    },
];

#[derive(Debug)]
pub struct RsiReversion {
    period: usize,
    lower: f64,
    upper: f64,
    size: Decimal,
    timeframe: Timeframe,
    symbols: Vec<Symbol>,
    rsi: PerSymbol<IndicatorId>,
}

impl RsiReversion {
    pub fn new(config: &StrategyConfig) -> Result<Self, StrategyError> {
        let p = Params::new("rsi_reversion", &config.params, PARAMS)?;
        let (lower, upper) = (p.number("lower")?, p.number("upper")?);
        if lower >= upper {
            return Err(StrategyError::InvalidParam {
                strategy: "rsi_reversion".into(),
                param: "lower".into(),
                reason: format!("must be below upper ({upper}), got {lower}"),
            });
        }
        Ok(RsiReversion {
            period: p.integer("period")?,
            lower,
            upper,
            size: p.positive_decimal("size")?,
            timeframe: config.primary_timeframe()?,
            symbols: config.symbols.clone(),
            rsi: PerSymbol::default(),
        })
    }
}

impl Strategy for RsiReversion {
    fn name(&self) -> &'static str {
        "rsi_reversion"
    }

    fn init(&mut self, setup: &mut Setup<'_>) -> Result<(), StrategyError> {
        for &symbol in &self.symbols {
            let id = setup.indicator(symbol, self.timeframe, IndicatorSpec::Rsi(self.period))?;
            self.rsi.insert(symbol, id);
        }
        Ok(())
    }

    fn on_candle(&mut self, candle: &Candle, ctx: &mut Context<'_>) {
        if candle.timeframe != self.timeframe {
            return;
        }
        let Some(&id) = self.rsi.get(&candle.symbol) else {
            return;
        };
        let Some(rsi) = ctx.value(id) else { return };
        act(
            ctx,
            candle.symbol,
            self.size,
            rsi < self.lower,
            rsi > self.upper,
        );
    }

    /// No state beyond the indicators (levels, not crossings).
    fn snapshot(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    fn restore(&mut self, _state: &serde_json::Value) -> Result<(), StrategyError> {
        Ok(())
    }
}

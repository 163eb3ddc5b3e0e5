//! `sma_cross`: buy `size` when the close crosses above SMA(`period`) and the position is
//! flat; sell the whole position when the close crosses below.

use domain::{Candle, Decimal, Symbol, Timeframe};

use super::{PerSymbol, PreviousPair, act, restore_state};
use crate::indicators::IndicatorSpec;
use crate::strategy::params::{ParamDoc, ParamKind, Params};
use crate::strategy::{Context, IndicatorId, Setup, Strategy, StrategyConfig, StrategyError};

pub(super) const PARAMS: &[ParamDoc] = &[
    ParamDoc {
        name: "period",
        kind: ParamKind::Integer {
            min: 1,
            max: 10_000,
        },
        default: "30",
        help: "SMA length in bars",
    },
    ParamDoc {
        name: "size",
        kind: ParamKind::PositiveDecimal,
        default: "1",
        help: "units bought on entry",
    },
];

#[derive(Debug)]
pub struct SmaCross {
    period: usize,
    size: Decimal,
    timeframe: Timeframe,
    symbols: Vec<Symbol>,
    sma: PerSymbol<IndicatorId>,
    previous: PreviousPair,
}

impl SmaCross {
    pub fn new(config: &StrategyConfig) -> Result<Self, StrategyError> {
        let p = Params::new("sma_cross", &config.params, PARAMS)?;
        Ok(SmaCross {
            period: p.integer("period")?,
            size: p.positive_decimal("size")?,
            timeframe: config.primary_timeframe()?,
            symbols: config.symbols.clone(),
            sma: PerSymbol::default(),
            previous: PreviousPair::default(),
        })
    }
}

impl Strategy for SmaCross {
    fn name(&self) -> &'static str {
        "sma_cross"
    }

    fn init(&mut self, setup: &mut Setup<'_>) -> Result<(), StrategyError> {
        for &symbol in &self.symbols {
            let id = setup.indicator(symbol, self.timeframe, IndicatorSpec::Sma(self.period))?;
            self.sma.insert(symbol, id);
        }
        Ok(())
    }

    fn on_candle(&mut self, candle: &Candle, ctx: &mut Context<'_>) {
        if candle.timeframe != self.timeframe {
            return;
        }
        let Some(&id) = self.sma.get(&candle.symbol) else {
            return;
        };
        let Some(sma) = ctx.value(id) else { return };
        let close = domain::num::to_f64(candle.close.value());
        let (above, below) = self.previous.cross(candle.symbol, close, sma);
        act(ctx, candle.symbol, self.size, above, below);
    }

    fn snapshot(&self) -> serde_json::Value {
        serde_json::to_value(&self.previous).unwrap_or_default()
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), StrategyError> {
        self.previous = restore_state("sma_cross", state)?;
        Ok(())
    }
}

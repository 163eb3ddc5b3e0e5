//! `macd_trend`: buy `size` when the MACD line crosses above its signal line and the
//! position is flat; sell the whole position when it crosses below.

use domain::{Candle, Decimal, Symbol, Timeframe};

use super::{PerSymbol, PreviousPair, act, restore_state};
use crate::indicators::IndicatorSpec;
use crate::strategy::params::{ParamDoc, ParamKind, Params};
use crate::strategy::{Context, IndicatorId, Setup, Strategy, StrategyConfig, StrategyError};

pub(super) const PARAMS: &[ParamDoc] = &[
    ParamDoc {
        name: "fast",
        kind: ParamKind::Integer {
            min: 2,
            max: 10_000,
        },
        default: "12",
        help: "fast EMA length, below slow",
    },
    ParamDoc {
        name: "slow",
        kind: ParamKind::Integer {
            min: 2,
            max: 10_000,
        },
        default: "26",
        help: "slow EMA length",
    },
    ParamDoc {
        name: "signal",
        kind: ParamKind::Integer {
            min: 1,
            max: 10_000,
        },
        default: "9",
        help: "signal EMA length",
    },
    ParamDoc {
        name: "size",
        kind: ParamKind::PositiveDecimal,
        default: "1",
        help: "units bought on entry",
    },
];

#[derive(Debug)]
pub struct MacdTrend {
    fast: usize,
    slow: usize,
    signal: usize,
    size: Decimal,
    timeframe: Timeframe,
    symbols: Vec<Symbol>,
    macd: PerSymbol<IndicatorId>,
    previous: PreviousPair,
}

impl MacdTrend {
    pub fn new(config: &StrategyConfig) -> Result<Self, StrategyError> {
        let p = Params::new("macd_trend", &config.params, PARAMS)?;
        let (fast, slow) = (p.integer("fast")?, p.integer("slow")?);
        if fast >= slow {
            return Err(StrategyError::InvalidParam {
                strategy: "macd_trend".into(),
                param: "fast".into(),
                reason: format!("must be below slow ({slow}), got {fast}"),
            });
        }
        Ok(MacdTrend {
            fast,
            slow,
            signal: p.integer("signal")?,
            size: p.positive_decimal("size")?,
            timeframe: config.primary_timeframe()?,
            symbols: config.symbols.clone(),
            macd: PerSymbol::default(),
            previous: PreviousPair::default(),
        })
    }
}

impl Strategy for MacdTrend {
    fn name(&self) -> &'static str {
        "macd_trend"
    }

    fn init(&mut self, setup: &mut Setup<'_>) -> Result<(), StrategyError> {
        for &symbol in &self.symbols {
            let spec = IndicatorSpec::Macd(self.fast, self.slow, self.signal);
            self.macd
                .insert(symbol, setup.indicator(symbol, self.timeframe, spec)?);
        }
        Ok(())
    }

    fn on_candle(&mut self, candle: &Candle, ctx: &mut Context<'_>) {
        if candle.timeframe != self.timeframe {
            return;
        }
        let Some(&id) = self.macd.get(&candle.symbol) else {
            return;
        };
        let (Some(Some(line)), Some(Some(signal))) = (
            ctx.indicator(id).first().copied(),
            ctx.indicator(id).get(1).copied(),
        ) else {
            return;
        };
        let (above, below) = self.previous.cross(candle.symbol, line, signal);
        act(ctx, candle.symbol, self.size, above, below);
    }

    fn snapshot(&self) -> serde_json::Value {
        serde_json::to_value(&self.previous).unwrap_or_default()
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), StrategyError> {
        self.previous = restore_state("macd_trend", state)?;
        Ok(())
    }
}

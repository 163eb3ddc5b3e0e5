//! `ema_cross`: buy `size` when EMA(`fast`) crosses above EMA(`slow`) and the position is
//! flat; sell the whole position when it crosses below.

use domain::{Candle, Decimal, Symbol, Timeframe};

use super::{PerSymbol, PreviousPair, act, restore_state};
use crate::indicators::IndicatorSpec;
use crate::strategy::params::{ParamDoc, ParamKind, Params};
use crate::strategy::{Context, IndicatorId, Setup, Strategy, StrategyConfig, StrategyError};

pub(super) const PARAMS: &[ParamDoc] = &[
    ParamDoc {
        name: "fast",
        kind: ParamKind::Integer {
            min: 1,
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
        name: "size",
        kind: ParamKind::PositiveDecimal,
        default: "1",
        help: "units bought on entry",
    },
];

#[derive(Debug)]
pub struct EmaCross {
    fast: usize,
    slow: usize,
    size: Decimal,
    timeframe: Timeframe,
    symbols: Vec<Symbol>,
    emas: PerSymbol<(IndicatorId, IndicatorId)>,
    previous: PreviousPair,
}

impl EmaCross {
    pub fn new(config: &StrategyConfig) -> Result<Self, StrategyError> {
        let p = Params::new("ema_cross", &config.params, PARAMS)?;
        let (fast, slow) = (p.integer("fast")?, p.integer("slow")?);
        if fast >= slow {
            return Err(StrategyError::InvalidParam {
                strategy: "ema_cross".into(),
                param: "fast".into(),
                reason: format!("must be below slow ({slow}), got {fast}"),
            });
        }
        Ok(EmaCross {
            fast,
            slow,
            size: p.positive_decimal("size")?,
            timeframe: config.primary_timeframe()?,
            symbols: config.symbols.clone(),
            emas: PerSymbol::default(),
            previous: PreviousPair::default(),
        })
    }
}

impl Strategy for EmaCross {
    fn name(&self) -> &'static str {
        "ema_cross"
    }

    fn init(&mut self, setup: &mut Setup<'_>) -> Result<(), StrategyError> {
        for &symbol in &self.symbols {
            let fast = setup.indicator(symbol, self.timeframe, IndicatorSpec::Ema(self.fast))?;
            let slow = setup.indicator(symbol, self.timeframe, IndicatorSpec::Ema(self.slow))?;
            self.emas.insert(symbol, (fast, slow));
        }
        Ok(())
    }

    fn on_candle(&mut self, candle: &Candle, ctx: &mut Context<'_>) {
        if candle.timeframe != self.timeframe {
            return;
        }
        let Some(&(fast, slow)) = self.emas.get(&candle.symbol) else {
            return;
        };
        let (Some(fast), Some(slow)) = (ctx.value(fast), ctx.value(slow)) else {
            return;
        };
        let (above, below) = self.previous.cross(candle.symbol, fast, slow);
        act(ctx, candle.symbol, self.size, above, below);
    }

    fn snapshot(&self) -> serde_json::Value {
        serde_json::to_value(&self.previous).unwrap_or_default()
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), StrategyError> {
        self.previous = restore_state("ema_cross", state)?;
        Ok(())
    }
}

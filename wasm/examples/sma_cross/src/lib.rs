//! `sma_cross` as a user's module: the built-in's rules exactly, so a backtest of this
//! module and of the built-in give the same trades to the cent on the same data.
//!
//! Buys `size` when the close crosses above SMA(`period`) while flat; sells the whole
//! position when it crosses below. "Crosses above": the previous bar had close ≤ SMA and
//! this bar has close > SMA. At most one working order per symbol.

use stratus_strategy::{Candle, Context, Decimal, Indicator, Order, Setup, Side, Strategy, export};

struct SmaCross {
    size: Decimal,
    timeframe: u32,
    sma: Vec<Indicator>,
    /// (close, SMA) of the previous bar, per symbol.
    previous: Vec<Option<(f64, f64)>>,
}

impl Strategy for SmaCross {
    fn init(setup: &mut Setup) -> Self {
        let period = setup.param_int("period");
        let timeframe = setup.timeframes()[0];
        let sma = (0..setup.symbol_count())
            .map(|s| setup.indicator(s, timeframe, &format!("sma:{period}")))
            .collect::<Vec<_>>();
        SmaCross {
            size: setup.param_dec("size"),
            timeframe,
            previous: vec![None; sma.len()],
            sma,
        }
    }

    fn on_candle(&mut self, candle: &Candle, ctx: &mut Context) {
        if candle.timeframe != self.timeframe {
            return;
        }
        let Some(sma) = ctx.value(self.sma[candle.symbol]) else {
            return;
        };
        let (above, below) = match self.previous[candle.symbol].replace((candle.close, sma)) {
            Some((pc, ps)) => (
                pc <= ps && candle.close > sma,
                pc >= ps && candle.close < sma,
            ),
            None => (false, false),
        };
        if !(above || below) || ctx.open_orders(candle.symbol) > 0 {
            return;
        }
        let held = ctx.position(candle.symbol);
        if above && held.is_zero() {
            ctx.submit(Order::market(candle.symbol, Side::Buy, self.size));
        } else if below && held.is_positive() {
            ctx.submit(Order::market(candle.symbol, Side::Sell, held));
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.previous.len() * 17);
        for p in &self.previous {
            match p {
                Some((close, sma)) => {
                    out.push(1);
                    out.extend(close.to_le_bytes());
                    out.extend(sma.to_le_bytes());
                }
                None => out.extend([0; 17]),
            }
        }
        out
    }

    fn restore(&mut self, bytes: &[u8]) {
        assert_eq!(
            bytes.len(),
            self.previous.len() * 17,
            "a snapshot of another deployment"
        );
        for (p, chunk) in self.previous.iter_mut().zip(bytes.chunks_exact(17)) {
            let f = |b: &[u8]| f64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
            *p = (chunk[0] == 1).then(|| (f(&chunk[1..9]), f(&chunk[9..17])));
        }
    }
}

export!(
    SmaCross,
    r#"{
  "abi": 1,
  "name": "SMA cross (module)",
  "summary": "Buys `size` when the close crosses above SMA(`period`) while flat; sells the position when it crosses below.",
  "params": {
    "type": "object",
    "properties": {
      "period": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 30, "description": "SMA length in bars"},
      "size": {"type": "string", "format": "decimal", "default": "1", "description": "units bought on entry"}
    }
  }
}"#
);

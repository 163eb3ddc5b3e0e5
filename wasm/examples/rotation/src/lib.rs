//! Momentum rotation across the deployment's symbols — something no built-in can say,
//! since each built-in trades every symbol on its own.
//!
//! On each bar of the primary timeframe, once every symbol has closed a bar at the same
//! time, it ranks the symbols by their return over the last `lookback` bars and holds
//! only the leader: when the leader changes (and leads by at least `margin`), it sells
//! what it holds and buys the new leader with `fraction` of its equity (whole units down
//! to `precision` decimal places).

use stratus_strategy::{Candle, Context, Decimal, Order, Setup, Side, Strategy, export};

struct Rotation {
    lookback: usize,
    margin: f64,
    fraction: f64,
    precision: u32,
    timeframe: u32,
    /// The last `lookback + 1` closes per symbol, oldest first.
    closes: Vec<Vec<f64>>,
    /// End time of each symbol's last bar.
    last_end: Vec<i64>,
    holding: Option<usize>,
}

impl Rotation {
    fn returns(&self) -> Option<Vec<f64>> {
        self.closes
            .iter()
            .map(|c| (c.len() > self.lookback).then(|| c[c.len() - 1] / c[0] - 1.0))
            .collect()
    }
}

impl Strategy for Rotation {
    fn init(setup: &mut Setup) -> Self {
        let n = setup.symbol_count();
        Rotation {
            lookback: usize::try_from(setup.param_int("lookback")).unwrap_or(20),
            margin: setup.param_num("margin"),
            fraction: setup.param_num("fraction"),
            precision: u32::try_from(setup.param_int("precision")).unwrap_or(0),
            timeframe: setup.timeframes()[0],
            closes: vec![Vec::new(); n],
            last_end: vec![i64::MIN; n],
            holding: None,
        }
    }

    fn on_candle(&mut self, candle: &Candle, ctx: &mut Context) {
        if candle.timeframe != self.timeframe {
            return;
        }
        let closes = &mut self.closes[candle.symbol];
        closes.push(candle.close);
        if closes.len() > self.lookback + 1 {
            closes.remove(0);
        }
        self.last_end[candle.symbol] = candle.end_ms;
        // Rank only when every symbol has closed this same bar.
        if self.last_end.iter().any(|e| *e != candle.end_ms) {
            return;
        }
        let Some(returns) = self.returns() else {
            return;
        };
        let (leader, best) =
            returns
                .iter()
                .copied()
                .enumerate()
                .fold(
                    (0, f64::MIN),
                    |acc, (i, r)| if r > acc.1 { (i, r) } else { acc },
                );
        if let Some(held) = self.holding
            && (held == leader || best - returns[held] < self.margin)
        {
            return;
        }
        if (0..self.closes.len()).any(|s| ctx.open_orders(s) > 0) {
            return;
        }
        for s in 0..self.closes.len() {
            let position = ctx.position(s);
            if position.is_positive() {
                ctx.submit(Order::market(s, Side::Sell, position));
            }
        }
        let Some(equity) = ctx.equity() else { return };
        // The leader's close of this bar (the account has a last price only for what it
        // holds).
        let price = self.closes[leader][self.closes[leader].len() - 1];
        let units = equity.to_f64() * self.fraction / price;
        if let Some(quantity) = Decimal::from_f64(units, self.precision).filter(|q| q.is_positive())
        {
            ctx.submit(Order::market(leader, Side::Buy, quantity));
            ctx.log(&format!("rotating into symbol {leader} ({quantity} units)"));
            self.holding = Some(leader);
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend((self.holding.map_or(-1, |h| h as i64)).to_le_bytes());
        for (closes, end) in self.closes.iter().zip(&self.last_end) {
            out.extend(end.to_le_bytes());
            out.extend((closes.len() as u64).to_le_bytes());
            for c in closes {
                out.extend(c.to_le_bytes());
            }
        }
        out
    }

    fn restore(&mut self, bytes: &[u8]) {
        let mut words = bytes
            .chunks_exact(8)
            .map(|w| <[u8; 8]>::try_from(w).unwrap_or([0; 8]));
        let mut next = || words.next().expect("a snapshot of another deployment");
        let holding = i64::from_le_bytes(next());
        self.holding = usize::try_from(holding).ok();
        for s in 0..self.closes.len() {
            self.last_end[s] = i64::from_le_bytes(next());
            let n = u64::from_le_bytes(next()) as usize;
            self.closes[s] = (0..n).map(|_| f64::from_le_bytes(next())).collect();
        }
    }
}

export!(
    Rotation,
    r#"{
  "abi": 1,
  "name": "Momentum rotation",
  "summary": "Holds only the symbol with the best return over `lookback` bars, rotating when another leads by `margin`.",
  "params": {
    "type": "object",
    "properties": {
      "lookback": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 20, "description": "bars the return is measured over"},
      "margin": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.01, "description": "how much better (as a return) a new leader must be"},
      "fraction": {"type": "number", "minimum": 0.01, "maximum": 1, "default": 0.95, "description": "share of equity put into the leader"},
      "precision": {"type": "integer", "minimum": 0, "maximum": 8, "default": 0, "description": "decimal places of the quantity bought"}
    }
  }
}"#
);

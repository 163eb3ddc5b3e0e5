//! The live end of each symbol's market (a read model in the `read-models` table): its
//! most recent trades and its candles still open, one per history timeframe. The
//! streaming core writes it after each commit; the market function reads it to answer
//! "the newest candle" and "the recent trades", which the system of record does not
//! hold (it keeps closed candles only, and no trades).
//!
//! Writes only move forward: trades older than the newest stored are dropped (a replayed
//! batch changes nothing), and an open candle replaces the stored one of its timeframe
//! only if it starts at or after it.

use std::sync::Arc;

use domain::{Candle, Price, Quantity, Symbol, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, StoreResult};
use crate::kv::{Condition, KvTable};

/// How many recent trades are kept per symbol.
pub const RECENT_TRADES: usize = 100;

/// One trade as the tape shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradePrint {
    pub time: Timestamp,
    pub price: Price,
    pub size: Quantity,
}

/// A symbol's tape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tape {
    /// Oldest first, at most [`RECENT_TRADES`].
    pub trades: Vec<TradePrint>,
    /// The open candle of each timeframe that has one, finest first.
    pub open_candles: Vec<Candle>,
}

impl Tape {
    /// The open candle of one timeframe.
    pub fn open_candle(&self, timeframe: domain::Timeframe) -> Option<&Candle> {
        self.open_candles.iter().find(|c| c.timeframe == timeframe)
    }

    /// `self` with `trades` and `candles` added (see the module docs).
    fn merged(mut self, trades: &[TradePrint], candles: &[Candle]) -> Tape {
        let newest = self.trades.last().map(|t| t.time);
        self.trades.extend(
            trades
                .iter()
                .filter(|t| newest.is_none_or(|n| t.time > n))
                .copied(),
        );
        if self.trades.len() > RECENT_TRADES {
            self.trades.drain(..self.trades.len() - RECENT_TRADES);
        }
        for candle in candles {
            match self
                .open_candles
                .iter_mut()
                .find(|c| c.timeframe == candle.timeframe)
            {
                Some(stored) if stored.start <= candle.start => *stored = *candle,
                Some(_) => {}
                None => self.open_candles.push(*candle),
            }
        }
        self.open_candles.sort_by_key(|c| c.timeframe);
        self
    }
}

/// See the module docs.
#[derive(Clone)]
pub struct MarketTape {
    kv: Arc<dyn KvTable>,
}

impl std::fmt::Debug for MarketTape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MarketTape")
    }
}

fn pk(symbol: Symbol) -> String {
    format!("tape#{symbol}")
}

impl MarketTape {
    pub fn new(kv: Arc<dyn KvTable>) -> Self {
        MarketTape { kv }
    }

    /// The tape of `symbol` (empty if nothing has traded).
    pub async fn tape(&self, symbol: Symbol) -> StoreResult<Tape> {
        match self.kv.get(&pk(symbol), "tape").await? {
            Some(item) => Ok(serde_json::from_value(item.body)?),
            None => Ok(Tape::default()),
        }
    }

    /// Adds a batch's trades (oldest first; only the newest [`RECENT_TRADES`] matter) and
    /// the candles open after it.
    pub async fn record(
        &self,
        symbol: Symbol,
        trades: &[TradePrint],
        open_candles: &[Candle],
    ) -> StoreResult<()> {
        let trades = &trades[trades.len().saturating_sub(RECENT_TRADES)..];
        let key = pk(symbol);
        loop {
            let current = self.kv.get(&key, "tape").await?;
            let (stored, condition) = match current {
                Some(item) => (
                    serde_json::from_value::<Tape>(item.body)?,
                    Condition::IfVersion(item.version),
                ),
                None => (Tape::default(), Condition::IfAbsent),
            };
            let tape = stored.clone().merged(trades, open_candles);
            if tape == stored {
                return Ok(());
            }
            match self
                .kv
                .put(&key, "tape", serde_json::to_value(&tape)?, None, condition)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == ErrorKind::ConditionFailed => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

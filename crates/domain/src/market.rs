//! Market data: trades (`Tick`) and bars (`Candle`).

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::num::{Price, Quantity};
use crate::symbol::Symbol;
use crate::time::{Timeframe, Timestamp};

/// One trade print, with the quote at that moment when the feed has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tick {
    pub symbol: Symbol,
    pub time: Timestamp,
    pub price: Price,
    pub size: Quantity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bid: Option<Price>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask: Option<Price>,
}

/// OHLCV over `[start, end)` for one symbol and timeframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candle {
    pub symbol: Symbol,
    pub timeframe: Timeframe,
    pub start: Timestamp,
    pub end: Timestamp,
    pub open: Price,
    pub high: Price,
    pub low: Price,
    pub close: Price,
    pub volume: Quantity,
    /// Number of trades aggregated (0 for a gap-filled candle).
    pub trades: u64,
}

impl Candle {
    /// Checks the OHLC relations (low ≤ open, close ≤ high) and the period bounds.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.low > self.high {
            return Err(DomainError::Invalid {
                field: "low",
                reason: "low is above high".into(),
            });
        }
        for (field, v) in [("open", self.open), ("close", self.close)] {
            if v < self.low || v > self.high {
                return Err(DomainError::Invalid {
                    field,
                    reason: format!(
                        "{field} {v} is outside low {} .. high {}",
                        self.low, self.high
                    ),
                });
            }
        }
        if self.end <= self.start {
            return Err(DomainError::Invalid {
                field: "end",
                reason: "end is not after start".into(),
            });
        }
        Ok(())
    }
}

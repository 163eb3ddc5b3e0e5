//! Trades (one match between two orders) and fills (one side's view of a trade).

use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, OrderId};
use crate::num::{Money, Price, Quantity};
use crate::order::Side;
use crate::symbol::Symbol;
use crate::time::Timestamp;

/// A trade's number within its symbol's book; together with the symbol it is unique and
/// deterministic, which is what makes replays produce the same fill ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TradeId(pub u64);

/// Whether a fill added liquidity (the resting order) or took it (the incoming order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Liquidity {
    Maker,
    Taker,
}

/// One match in a book: the resting (maker) order traded with the incoming (taker) one at
/// the maker's price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    pub trade_id: TradeId,
    pub symbol: Symbol,
    pub price: Price,
    pub quantity: Quantity,
    /// The side of the taker (a buy taker lifted an offer).
    pub taker_side: Side,
    pub maker_order_id: OrderId,
    pub maker_account_id: AccountId,
    pub taker_order_id: OrderId,
    pub taker_account_id: AccountId,
    pub time: Timestamp,
}

impl Trade {
    /// The two fills of this trade, maker first, before fees.
    pub fn fills(&self) -> [Fill; 2] {
        let fill = |order_id, account_id, side, liquidity| Fill {
            trade_id: self.trade_id,
            order_id,
            account_id,
            symbol: self.symbol,
            side,
            price: self.price,
            quantity: self.quantity,
            fee: Money::ZERO,
            liquidity,
            time: self.time,
        };
        [
            fill(
                self.maker_order_id,
                self.maker_account_id,
                self.taker_side.opposite(),
                Liquidity::Maker,
            ),
            fill(
                self.taker_order_id,
                self.taker_account_id,
                self.taker_side,
                Liquidity::Taker,
            ),
        ]
    }
}

/// One order's share of a trade: what moves an account's position and cash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    pub trade_id: TradeId,
    pub order_id: OrderId,
    pub account_id: AccountId,
    pub symbol: Symbol,
    pub side: Side,
    pub price: Price,
    pub quantity: Quantity,
    /// Commission charged for this fill (non-negative), in the account currency.
    pub fee: Money,
    pub liquidity: Liquidity,
    pub time: Timestamp,
}

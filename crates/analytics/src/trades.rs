//! Closed round trips and the statistics of their P&L.

use domain::{Decimal, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::AnalyticsError;

/// The direction of a round trip: long buys first and sells to exit, short the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TradeSide {
    Long,
    Short,
}

/// A closed round-trip trade, entry to exit, with P&L net of fees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundTrip {
    pub entry_time: Timestamp,
    pub exit_time: Timestamp,
    pub side: TradeSide,
    /// Size of the position, above zero whatever the side.
    pub quantity: Decimal,
    pub entry_price: Decimal,
    pub exit_price: Decimal,
    /// Realized P&L after fees: above zero is a win, below zero a loss, zero breakeven.
    pub pnl: Decimal,
    /// Fees paid on entry and exit (negative for a net rebate); already taken out of `pnl`.
    pub fees: Decimal,
}

/// The trade half of [`Metrics`](crate::Metrics).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TradeStats {
    pub trades: usize,
    /// Wins / trades; a breakeven trade counts in the denominator only.
    pub win_rate: Option<f64>,
    /// Gross profit / gross loss (the sum of winning P&L over the absolute sum of losing
    /// P&L); `None` without losses, where it would be infinite.
    pub profit_factor: Option<f64>,
    /// Mean P&L per trade.
    pub expectancy: Option<Decimal>,
    /// Mean P&L of the winning trades.
    pub average_win: Option<Decimal>,
    /// Mean P&L of the losing trades, negative.
    pub average_loss: Option<Decimal>,
}

pub(crate) fn trade_stats(trades: &[RoundTrip]) -> Result<TradeStats, AnalyticsError> {
    let (mut wins, mut losses) = (0usize, 0usize);
    let (mut gross_profit, mut gross_loss, mut net) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for (index, trade) in trades.iter().enumerate() {
        validate(index, trade)?;
        net = add(net, trade.pnl, "the net P&L of all trades")?;
        if trade.pnl > Decimal::ZERO {
            wins += 1;
            gross_profit = add(
                gross_profit,
                trade.pnl,
                "the gross profit of the winning trades",
            )?;
        } else if trade.pnl < Decimal::ZERO {
            losses += 1;
            gross_loss = add(gross_loss, trade.pnl, "the gross loss of the losing trades")?;
        }
    }
    let profit_factor = (losses > 0).then(|| {
        let loss = -gross_loss;
        gross_profit
            .checked_div(loss)
            .map_or_else(|| gross_profit.as_f64() / loss.as_f64(), |pf| pf.as_f64())
    });
    Ok(TradeStats {
        trades: trades.len(),
        win_rate: (!trades.is_empty()).then(|| wins as f64 / trades.len() as f64),
        profit_factor,
        expectancy: average(net, trades.len()),
        average_win: average(gross_profit, wins),
        average_loss: average(gross_loss, losses),
    })
}

fn validate(index: usize, trade: &RoundTrip) -> Result<(), AnalyticsError> {
    if trade.exit_time < trade.entry_time {
        return Err(AnalyticsError::InvalidTrade {
            index,
            reason: format!(
                "exits at {} before it enters at {}",
                trade.exit_time, trade.entry_time
            ),
        });
    }
    if trade.quantity <= Decimal::ZERO {
        return Err(AnalyticsError::InvalidTrade {
            index,
            reason: format!(
                "quantity must be above zero whatever the side, got {}",
                trade.quantity
            ),
        });
    }
    Ok(())
}

fn add(sum: Decimal, pnl: Decimal, what: &'static str) -> Result<Decimal, AnalyticsError> {
    sum.checked_add(pnl)
        .ok_or(AnalyticsError::Overflow { what })
}

/// `sum / count`, `None` for no items. Cannot overflow: a mean lies within the values.
fn average(sum: Decimal, count: usize) -> Option<Decimal> {
    if count == 0 {
        return None;
    }
    sum.checked_div(Decimal::from(count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn trade(pnl: Decimal) -> RoundTrip {
        RoundTrip {
            entry_time: Timestamp::from_secs(0),
            exit_time: Timestamp::from_secs(60),
            side: TradeSide::Long,
            quantity: dec!(1),
            entry_price: dec!(100),
            exit_price: dec!(100) + pnl,
            pnl,
            fees: dec!(0),
        }
    }

    #[test]
    fn wins_losses_and_breakeven() {
        let stats = trade_stats(&[
            trade(dec!(30)),
            trade(dec!(-10)),
            trade(dec!(0)),
            trade(dec!(10)),
            trade(dec!(-20)),
        ])
        .unwrap();
        assert_eq!(stats.trades, 5);
        assert_eq!(stats.win_rate, Some(0.4));
        assert!((stats.profit_factor.unwrap() - 40.0 / 30.0).abs() < 1e-15);
        assert_eq!(stats.expectancy, Some(dec!(2)));
        assert_eq!(stats.average_win, Some(dec!(20)));
        assert_eq!(stats.average_loss, Some(dec!(-15)));
    }

    #[test]
    fn no_trades_defines_nothing() {
        let stats = trade_stats(&[]).unwrap();
        assert_eq!(stats.trades, 0);
        assert_eq!((stats.win_rate, stats.profit_factor), (None, None));
        assert_eq!(
            (stats.expectancy, stats.average_win, stats.average_loss),
            (None, None, None)
        );
    }

    #[test]
    fn refuses_backwards_and_empty_trades_and_overflow() {
        let mut backwards = trade(dec!(1));
        backwards.exit_time = Timestamp::from_secs(-1);
        let mut empty = trade(dec!(1));
        empty.quantity = dec!(0);
        assert!(matches!(
            trade_stats(&[trade(dec!(1)), backwards]),
            Err(AnalyticsError::InvalidTrade { index: 1, .. })
        ));
        assert!(matches!(
            trade_stats(&[empty]),
            Err(AnalyticsError::InvalidTrade { index: 0, .. })
        ));
        let mut big = trade(dec!(1));
        big.pnl = Decimal::MAX;
        assert!(matches!(
            trade_stats(&[big, big]),
            Err(AnalyticsError::Overflow { .. })
        ));
    }
}

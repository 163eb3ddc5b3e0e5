//! A strategy deployment's performance: its own fills (the orders the core recorded with
//! the deployment's id, `Order::strategy_id`) folded into average-cost positions per
//! symbol (`domain::Position`, the accounting the account's positions use), valued at the
//! last trade by [`crate::portfolio::value_positions`].
//!
//! It is read from the system of record, not kept beside it: the fills are committed with
//! the core's checkpoints, so what a deployment shows after a restart (or a `kill -9`)
//! is exactly what it had committed, with nothing to rebuild.

use std::collections::BTreeMap;

use domain::{DomainError, Fill, Money, Position, Price, StrategyRecord, Symbol};

use crate::error::{AppError, AppResult};
use crate::portfolio::{marks, value_positions};
use crate::state::AppState;

/// One symbol a deployment traded.
#[derive(Debug, Clone)]
pub struct SymbolPerformance {
    pub position: Position,
    /// The last trade price (`None` before the core has seen a trade).
    pub mark: Option<Price>,
    /// The open quantity at `mark` (zero when flat or unmarked).
    pub unrealized_pnl: Money,
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct Performance {
    /// By symbol.
    pub symbols: Vec<SymbolPerformance>,
    pub fills: u64,
    /// Before fees.
    pub realized_pnl: Money,
    pub unrealized_pnl: Money,
    pub fees: Money,
    /// Realized − fees + unrealized.
    pub net_pnl: Money,
}

/// The performance that `fills` (oldest first) imply at `marks`.
pub fn from_fills(
    fills: &[Fill],
    marks: &BTreeMap<Symbol, Option<Price>>,
) -> Result<Performance, DomainError> {
    let mut positions: BTreeMap<Symbol, Position> = BTreeMap::new();
    for fill in fills {
        positions
            .entry(fill.symbol)
            .or_insert_with(|| Position::flat(fill.symbol))
            .apply(fill)?;
    }
    let valued = value_positions(positions.values().cloned().collect(), marks)?;
    let symbols = positions
        .into_values()
        .map(|position| {
            let unrealized_pnl = valued
                .open
                .iter()
                .find(|v| v.position.symbol == position.symbol)
                .map_or(Money::ZERO, |v| v.unrealized);
            SymbolPerformance {
                mark: marks.get(&position.symbol).copied().flatten(),
                position,
                unrealized_pnl,
            }
        })
        .collect();
    Ok(Performance {
        symbols,
        fills: u64::try_from(fills.len()).unwrap_or(u64::MAX),
        realized_pnl: valued.realized_pnl,
        unrealized_pnl: valued.unrealized_pnl,
        fees: valued.fees,
        net_pnl: valued.net_pnl()?,
    })
}

/// The deployment's performance now (the caller checked it is the user's).
pub async fn deployment(state: &AppState, deployment: &StrategyRecord) -> AppResult<Performance> {
    let fills = state.orders.deployment_fills(deployment.id).await?;
    let symbols = deployment
        .symbols
        .iter()
        .copied()
        .chain(fills.iter().map(|f| f.symbol))
        .collect();
    let marks = marks(state, symbols).await?;
    from_fills(&fills, &marks)
        .map_err(|e| AppError::Internal(format!("a deployment's performance: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{AccountId, Liquidity, OrderId, Side, Timestamp, TradeId};

    fn d(text: &str) -> domain::Decimal {
        text.parse().expect("decimal")
    }

    fn fill(side: Side, quantity: &str, price: &str, fee: &str, n: u64) -> Fill {
        Fill {
            trade_id: TradeId(n),
            order_id: OrderId::from_u128(u128::from(n)),
            account_id: AccountId::from_u128(1),
            symbol: Symbol::parse("ES").expect("symbol"),
            side,
            price: price.parse().expect("price"),
            quantity: quantity.parse().expect("quantity"),
            fee: Money::new(fee.parse().expect("fee")),
            liquidity: Liquidity::Taker,
            time: Timestamp::from_secs(i64::try_from(n).expect("n")),
        }
    }

    #[test]
    fn fills_fold_into_realized_unrealized_and_fees() {
        let es = Symbol::parse("ES").expect("symbol");
        let fills = [
            fill(Side::Buy, "10", "100", "1", 1),
            fill(Side::Buy, "10", "110", "1", 2),
            fill(Side::Sell, "5", "120", "0.5", 3),
        ];
        let marks = BTreeMap::from([(es, Some("115".parse().expect("price")))]);
        let p = from_fills(&fills, &marks).expect("performance");
        assert_eq!(p.fills, 3);
        assert_eq!(p.symbols[0].position.quantity(), d("15"));
        assert_eq!(p.symbols[0].position.average_price(), d("105"));
        assert_eq!(p.realized_pnl, Money::new(d("75")));
        assert_eq!(p.unrealized_pnl, Money::new(d("150")));
        assert_eq!(p.fees, Money::new(d("2.5")));
        assert_eq!(p.net_pnl, Money::new(d("222.5")));
        // Unmarked: the open quantity shows no unrealized P&L.
        let p = from_fills(&fills, &BTreeMap::new()).expect("performance");
        assert_eq!(p.unrealized_pnl, Money::ZERO);
        assert_eq!(p.symbols[0].mark, None);
        let empty = from_fills(&[], &BTreeMap::new()).expect("performance");
        assert_eq!((empty.fills, empty.net_pnl), (0, Money::ZERO));
    }
}

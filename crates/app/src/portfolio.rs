//! An account valued now: cash, what open buy orders reserve, positions at their marks,
//! equity, buying power and P&L — what the balances endpoint shows, what pre-trade checks
//! decide on, and what reports record each day.
//!
//! Paper accounts are cash accounts: buying power is cash less what working buy orders
//! reserve (remaining quantity × limit or stop price, from the account's exposure rows,
//! which the system of record keeps with the orders), and selling is limited to what is
//! held and not already offered.

use std::collections::BTreeMap;

use domain::{Account, Decimal, Money, OrderType, Position, Price, Side, Symbol};

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The price a position is valued at.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    pub price: Price,
    /// `last_trade` or `average_cost` (no trade seen yet).
    pub source: &'static str,
}

/// One position with its mark.
#[derive(Debug, Clone)]
pub struct ValuedPosition {
    pub position: Position,
    pub mark: Mark,
    pub market_value: Money,
    pub unrealized: Money,
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct Valuation {
    pub cash: Money,
    pub reserved: Money,
    pub buying_power: Money,
    pub positions: Vec<ValuedPosition>,
    pub positions_value: Money,
    pub equity: Money,
    pub unrealized_pnl: Money,
    pub realized_pnl: Money,
    pub fees: Money,
    /// Realized − fees + unrealized, over the account's life (deposits excluded).
    pub total_pnl: Money,
    /// What working orders add up to, per symbol and side.
    pub exposure: Vec<store::records::ExposureRow>,
}

fn overflow(e: domain::DomainError) -> AppError {
    AppError::Internal(format!("valuing an account: {e}"))
}

/// The last trade price of `symbol`, if the core has seen one.
pub async fn last_price(state: &AppState, symbol: Symbol) -> AppResult<Option<Price>> {
    Ok(state.prices.last(symbol).await?.map(|p| p.price))
}

/// The price an order's remaining quantity is valued at for reservations and limits.
pub fn reference_price(order_type: &OrderType, last: Option<Price>) -> Option<Price> {
    match order_type {
        OrderType::Limit { limit_price } | OrderType::StopLimit { limit_price, .. } => {
            Some(*limit_price)
        }
        OrderType::Stop { stop_price } => Some(last.map_or(*stop_price, |l| l.max(*stop_price))),
        OrderType::Market => last,
    }
}

/// The last trade price of each of `symbols` (`None` where the core has seen no trade).
pub async fn marks(
    state: &AppState,
    symbols: Vec<Symbol>,
) -> AppResult<BTreeMap<Symbol, Option<Price>>> {
    let mut marks = BTreeMap::new();
    for symbol in symbols {
        if let std::collections::btree_map::Entry::Vacant(e) = marks.entry(symbol) {
            e.insert(last_price(state, symbol).await?);
        }
    }
    Ok(marks)
}

/// Positions at their marks, and their totals: the one place where positions become
/// market values and P&L (an account's valuation and a deployment's performance).
#[derive(Debug, Clone, Default)]
pub struct ValuedPositions {
    /// The open positions with their marks (flat ones are left out).
    pub open: Vec<ValuedPosition>,
    pub market_value: Money,
    pub unrealized_pnl: Money,
    /// Before fees, over every position given (flat ones included).
    pub realized_pnl: Money,
    pub fees: Money,
}

impl ValuedPositions {
    /// Realized − fees + unrealized.
    pub fn net_pnl(&self) -> Result<Money, domain::DomainError> {
        self.realized_pnl
            .checked_sub(self.fees)
            .and_then(|m| m.checked_add(self.unrealized_pnl))
    }
}

/// Values `positions` at `marks` (the last trade; a symbol without one is marked at the
/// position's average cost, so it shows no unrealized P&L). Checked arithmetic throughout.
pub fn value_positions(
    positions: Vec<Position>,
    marks: &BTreeMap<Symbol, Option<Price>>,
) -> Result<ValuedPositions, domain::DomainError> {
    let mut valued = ValuedPositions::default();
    for position in positions {
        valued.realized_pnl = valued.realized_pnl.checked_add(position.realized_pnl())?;
        valued.fees = valued.fees.checked_add(position.fees())?;
        if position.is_flat() {
            continue;
        }
        let mark = match marks.get(&position.symbol).copied().flatten() {
            Some(price) => Mark {
                price,
                source: "last_trade",
            },
            None => Mark {
                price: Price::new(position.average_price())?,
                source: "average_cost",
            },
        };
        let market_value = position.market_value(mark.price)?;
        let unrealized = position.unrealized_pnl(mark.price)?;
        valued.market_value = valued.market_value.checked_add(market_value)?;
        valued.unrealized_pnl = valued.unrealized_pnl.checked_add(unrealized)?;
        valued.open.push(ValuedPosition {
            position,
            mark,
            market_value,
            unrealized,
        });
    }
    Ok(valued)
}

/// Values `account` now (see the module docs).
pub async fn value(state: &AppState, account: &Account) -> AppResult<Valuation> {
    let positions = state.orders.positions(account.id).await?;
    let exposure = state.orders.exposure(account.id).await?;
    let marks = marks(state, positions.iter().map(|p| p.symbol).collect()).await?;
    // Working buy orders reserve their quantity at their own price (market orders, which
    // fill at the next trade, reserve nothing once submitted).
    let mut reserved = Money::ZERO;
    for row in exposure.iter().filter(|r| r.side == Side::Buy) {
        reserved = reserved
            .checked_add(Money::new(row.notional))
            .map_err(overflow)?;
    }
    let valued = value_positions(positions, &marks).map_err(overflow)?;
    let total_pnl = valued.net_pnl().map_err(overflow)?;
    let cash = account.cash;
    let equity = cash.checked_add(valued.market_value).map_err(overflow)?;
    let buying_power = cash.checked_sub(reserved).map_err(overflow)?;
    Ok(Valuation {
        cash,
        reserved,
        buying_power: if buying_power.is_negative() {
            Money::ZERO
        } else {
            buying_power
        },
        positions: valued.open,
        positions_value: valued.market_value,
        equity,
        unrealized_pnl: valued.unrealized_pnl,
        realized_pnl: valued.realized_pnl,
        fees: valued.fees,
        total_pnl,
        exposure,
    })
}

impl Valuation {
    /// The quantity held in `symbol` (signed).
    pub fn held(&self, symbol: Symbol) -> Decimal {
        self.positions
            .iter()
            .find(|p| p.position.symbol == symbol)
            .map_or(Decimal::ZERO, |p| p.position.quantity())
    }

    /// Remaining quantity of working orders on `side` in `symbol`.
    pub fn working(&self, symbol: Symbol, side: Side) -> Decimal {
        self.exposure
            .iter()
            .filter(|r| r.symbol == symbol && r.side == side)
            .map(|r| r.quantity)
            .sum()
    }
}

/// Today's P&L of an account: its lifetime P&L now less the baseline recorded for today
/// (the first valuation of the day records it; the daily report schedule records it at
/// midnight UTC for every account).
pub async fn daily_pnl(
    state: &AppState,
    account: &Account,
    valuation: &Valuation,
) -> AppResult<Money> {
    let baseline = state
        .risk
        .day_baseline(
            account.id,
            &state.clock.today(),
            valuation.total_pnl,
            state.clock.unix_seconds(),
        )
        .await?;
    valuation.total_pnl.checked_sub(baseline).map_err(overflow)
}

/// The halt in force today, placing one if today's loss reached the account's
/// `max_daily_loss`. New orders are refused while it lasts (the rest of the UTC day).
pub async fn daily_halt(
    state: &AppState,
    account: &Account,
    valuation: &Valuation,
    limits: &store::risk::RiskLimits,
) -> AppResult<(Money, Option<store::risk::Halt>)> {
    let today = state.clock.today();
    let day_pnl = daily_pnl(state, account, valuation).await?;
    if let Some(halt) = state.risk.halted(account.id, &today).await? {
        return Ok((day_pnl, Some(halt)));
    }
    let Some(max_loss) = limits.max_daily_loss else {
        return Ok((day_pnl, None));
    };
    let loss = day_pnl.checked_neg();
    if loss < max_loss {
        return Ok((day_pnl, None));
    }
    let halt = store::risk::Halt {
        day: today,
        reason: format!("today's loss of {loss} reached the daily limit of {max_loss}"),
        at: state.clock.unix_seconds(),
    };
    let halt = state.risk.halt(account.id, &halt).await?;
    tracing::warn!(account_id = %account.id, reason = %halt.reason, "account halted for the day");
    Ok((day_pnl, Some(halt)))
}

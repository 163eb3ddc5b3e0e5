//! Pre-trade checks: what a valid order must also satisfy before it is submitted.
//! Each failure is its own problem type so a bot can tell them apart:
//! `account-halted`, `order-notional-limit`, `position-limit`, `insufficient-buying-power`,
//! `insufficient-position`, `no-market-price`.

use common::portfolio::{self, Valuation};
use common::{ApiError, ApiResult, AppState};
use domain::{Decimal, Money, OrderType, Price, Quantity, Side, Symbol};
use store::records::Account;

/// Why pre-trade checks refused an order (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Halted(String),
    Notional {
        notional: Money,
        limit: Money,
    },
    Position {
        after: Decimal,
        limit: Decimal,
    },
    BuyingPower {
        needed: Money,
        available: Money,
    },
    SellExceedsHoldings {
        selling: Decimal,
        available: Decimal,
    },
    NoPrice(Symbol),
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        match r {
            Rejection::Halted(reason) => ApiError::rejected(
                "account-halted",
                format!("the account is halted for new orders today: {reason}"),
            ),
            Rejection::Notional { notional, limit } => ApiError::rejected(
                "order-notional-limit",
                format!("the order's notional {notional} exceeds the account's limit of {limit}"),
            ),
            Rejection::Position { after, limit } => ApiError::rejected(
                "position-limit",
                format!(
                    "the position would reach {after} (working orders included), beyond the limit of {limit}"
                ),
            ),
            Rejection::BuyingPower { needed, available } => ApiError::rejected(
                "insufficient-buying-power",
                format!("the order needs {needed} but the buying power is {available}"),
            ),
            Rejection::SellExceedsHoldings { selling, available } => ApiError::rejected(
                "insufficient-position",
                format!(
                    "paper accounts are cash accounts: selling {selling} needs that much held and not already offered ({available} available)"
                ),
            ),
            Rejection::NoPrice(symbol) => ApiError::rejected(
                "no-market-price",
                format!(
                    "no trade in {symbol} has been seen yet, so a market order cannot be valued; send a limit order"
                ),
            ),
        }
    }
}

/// What the checks look at of an order: a new one, or the change an amend makes.
#[derive(Debug, Clone, Copy)]
pub struct Exposure {
    pub symbol: Symbol,
    pub side: Side,
    pub order_type: OrderType,
    /// The quantity that will be working after the order or the change.
    pub quantity: Quantity,
    /// Of that, what the checks already count (an amended order's current remainder).
    pub already_counted: Decimal,
    /// And the buying power it already reserves.
    pub already_reserved: Money,
}

fn overflow(e: domain::DomainError) -> ApiError {
    ApiError::invalid_field("quantity", format!("the order is too large: {e}"))
}

/// Runs the checks for `exposure` on `account`.
pub async fn check(state: &AppState, account: &Account, exposure: Exposure) -> ApiResult<()> {
    let valuation = portfolio::value(state, account).await?;
    let limits = state.risk.limits(account.id).await?;
    let (_, halt) = portfolio::daily_halt(state, account, &valuation, &limits).await?;
    if let Some(halt) = halt {
        return Err(Rejection::Halted(halt.reason).into());
    }
    // Limit and stop-limit orders are valued at their own price: no market read.
    let last = match exposure.order_type {
        OrderType::Limit { .. } | OrderType::StopLimit { .. } => None,
        _ => portfolio::last_price(state, exposure.symbol).await?,
    };
    let price: Option<Price> = portfolio::reference_price(&exposure.order_type, last);
    let added = exposure.quantity.value() - exposure.already_counted;
    let Some(price) = price else {
        return Err(Rejection::NoPrice(exposure.symbol).into());
    };
    let notional = price
        .checked_notional(exposure.quantity)
        .map_err(overflow)?;
    if let Some(limit) = limits.max_order_notional {
        if notional > limit {
            return Err(Rejection::Notional { notional, limit }.into());
        }
    }
    check_position(&valuation, &limits, exposure, added)?;
    match exposure.side {
        Side::Buy => {
            let needed = notional
                .checked_sub(exposure.already_reserved)
                .map_err(overflow)?;
            if needed > valuation.buying_power {
                return Err(Rejection::BuyingPower {
                    needed,
                    available: valuation.buying_power,
                }
                .into());
            }
        }
        Side::Sell => {
            let available = valuation.held(exposure.symbol)
                - (valuation.working(exposure.symbol, Side::Sell) - exposure.already_counted);
            if exposure.quantity.value() > available {
                return Err(Rejection::SellExceedsHoldings {
                    selling: exposure.quantity.value(),
                    available: available.max(Decimal::ZERO),
                }
                .into());
            }
        }
    }
    Ok(())
}

/// The position after everything working on the order's side fills.
fn check_position(
    valuation: &Valuation,
    limits: &store::risk::RiskLimits,
    exposure: Exposure,
    added: Decimal,
) -> ApiResult<()> {
    let Some(limit) = limits.max_position_for(exposure.symbol) else {
        return Ok(());
    };
    let held = valuation.held(exposure.symbol);
    let after = match exposure.side {
        Side::Buy => held + valuation.working(exposure.symbol, Side::Buy) + added,
        Side::Sell => held - valuation.working(exposure.symbol, Side::Sell) - added,
    };
    if after.abs() > limit {
        return Err(Rejection::Position { after, limit }.into());
    }
    Ok(())
}

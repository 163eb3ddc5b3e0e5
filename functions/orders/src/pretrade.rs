//! Pre-trade checks: what a valid order must also satisfy before it is submitted.
//! Each failure is its own problem type so a bot can tell them apart:
//! `account-halted`, `order-notional-limit`, `no-market-price` (checked here), and
//! `position-limit`, `insufficient-buying-power`, `insufficient-position` (checked by the
//! system of record in the transaction that records the order or the amend, so racing
//! requests cannot both pass on the same cash or shares: see
//! `store::records::OrderLimits`).

use api::{ApiError, ApiResult};
use app::AppState;
use app::portfolio;
use domain::{Account, Money, OrderType, Price, Quantity, Symbol};
use store::records::{OrderLimits, Refusal};

/// Why pre-trade checks refused an order (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Halted(String),
    Notional {
        notional: Money,
        limit: Money,
    },
    NoPrice(Symbol),
    /// Refused by the system of record as it recorded the order.
    Reservation(Refusal),
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
            Rejection::NoPrice(symbol) => ApiError::rejected(
                "no-market-price",
                format!(
                    "no trade in {symbol} has been seen yet, so a market order cannot be valued; send a limit order"
                ),
            ),
            Rejection::Reservation(Refusal::Position { after, limit }) => ApiError::rejected(
                "position-limit",
                format!(
                    "the position would reach {after} (working orders included), beyond the limit of {limit}"
                ),
            ),
            Rejection::Reservation(Refusal::BuyingPower { needed, available }) => {
                ApiError::rejected(
                    "insufficient-buying-power",
                    format!("the order needs {needed} but the buying power is {available}"),
                )
            }
            Rejection::Reservation(Refusal::Holdings { selling, available }) => ApiError::rejected(
                "insufficient-position",
                format!(
                    "paper accounts are cash accounts: selling {selling} needs that much held and not already offered ({available} available)"
                ),
            ),
        }
    }
}

/// What the checks look at of an order: a new one, or one as an amend would leave it.
#[derive(Debug, Clone, Copy)]
pub struct Exposure {
    pub symbol: Symbol,
    pub order_type: OrderType,
    /// The quantity that will be working after the order or the change.
    pub quantity: Quantity,
}

/// What an order that passed the checks takes to the system of record.
#[derive(Debug, Clone, Copy)]
pub struct Admitted {
    /// The price a market or stop order reserves at (`store::records::NewOrder`).
    pub reserve_price: Option<Price>,
    pub limits: OrderLimits,
}

fn overflow(e: domain::DomainError) -> ApiError {
    ApiError::invalid_field("quantity", format!("the order is too large: {e}"))
}

/// Runs the checks for `exposure` on `account` (see the module docs).
pub async fn check(state: &AppState, account: &Account, exposure: Exposure) -> ApiResult<Admitted> {
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
    let Some(price) = portfolio::reference_price(&exposure.order_type, last) else {
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
    Ok(Admitted {
        reserve_price: match exposure.order_type {
            OrderType::Market | OrderType::Stop { .. } => Some(price),
            OrderType::Limit { .. } | OrderType::StopLimit { .. } => None,
        },
        limits: OrderLimits {
            max_position: limits.max_position_for(exposure.symbol),
        },
    })
}

//! Cancelling and amending working orders. Both are requests to the core, which owns the
//! book: the answer is 202 with the order as it stands, and the change arrives as an
//! `order.cancelled` / `order.amended` execution (or a rejection, if the order filled
//! first). Lowering the quantity keeps the order's time priority; a new price loses it.

use api::extract::ApiJson;
use api::input::Positive;
use api::principal::Principal;
use api::views::{OrderView, is_working};
use api::{ApiError, ApiResult, FieldError};
use app::AppState;
use app::routing;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::events::{AmendOrder, OrderRef};
use domain::{Order, Price, Quantity, order::amended_type};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::pretrade::{self, Exposure};
use crate::read::owned_order;

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OrderRequested)]
pub struct Requested {
    order: OrderView,
    /// `cancel` or `amend`: what was asked of the core.
    requested: &'static str,
}

fn working(order: &Order) -> ApiResult<()> {
    if is_working(order.status()) {
        Ok(())
    } else {
        Err(ApiError::conflict(format!(
            "the order is {} and can no longer change",
            order.status()
        )))
    }
}

#[utoipa::path(delete, path = "/orders/{order_id}", tag = "orders", operation_id = "cancelOrder",
    summary = "Ask for a cancel (the core confirms it with order.cancelled)", params(("order_id" = String, Path, description = "An order of the caller (another user's is a 404)")),
    responses(
        (status = 202, description = "Requested", body = Requested),
        (status = 409, description = "The order no longer works", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Requested>)> {
    let order = owned_order(&state, &principal, &id).await?;
    working(&order)?;
    let account = state
        .accounts
        .account(principal.user_id, order.account_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no order {id:?}")))?;
    routing::router(&state, &account)
        .await?
        .cancel(&order)
        .await?;
    tracing::info!(order_id = %order.id, "cancel requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(Requested {
            order: OrderView::new(&order, &state.instruments),
            requested: "cancel",
        }),
    ))
}

/// At least one field. A lower quantity keeps the order's time priority; a new price
/// loses it. Prices must be on the order's instrument's tick grid, the quantity on its
/// lot grid and above what has filled.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AmendOrder)]
pub struct AmendBody {
    #[serde(default)]
    #[schema(nullable)]
    quantity: Option<Positive>,
    #[serde(default)]
    #[schema(nullable)]
    limit_price: Option<Positive>,
    #[serde(default)]
    #[schema(nullable)]
    stop_price: Option<Positive>,
}

#[utoipa::path(patch, path = "/orders/{order_id}", tag = "orders", operation_id = "amendOrder",
    summary = "Ask for an amend (the core confirms it with order.amended); what it adds to the order's reservation is held until then", params(("order_id" = String, Path, description = "An order of the caller (another user's is a 404)")),
    request_body = AmendBody,
    responses(
        (status = 202, description = "Requested", body = Requested),
        (status = 409, description = "The order no longer works, or the account's state refuses the change (insufficient-buying-power, insufficient-position, position-limit, order-notional-limit, account-halted)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn amend(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AmendBody>,
) -> ApiResult<(StatusCode, Json<Requested>)> {
    let order = owned_order(&state, &principal, &id).await?;
    if body.quantity.is_none() && body.limit_price.is_none() && body.stop_price.is_none() {
        return Err(ApiError::invalid_field(
            "body",
            "give at least one of quantity, limit_price, stop_price",
        ));
    }
    working(&order)?;
    let instrument = state
        .instruments
        .get(order.symbol)
        .ok_or_else(|| ApiError::conflict(format!("{} is no longer tradable", order.symbol)))?
        .clone();
    let mut errors = Vec::new();
    let quantity = match body.quantity {
        None => None,
        Some(q) => match Quantity::positive("quantity", q.0)
            .and_then(|q| instrument.validate_quantity("quantity", q).map(|()| q))
        {
            Ok(q) if q <= order.filled_quantity() => {
                errors.push(FieldError::new(
                    "quantity",
                    format!(
                        "must exceed the filled quantity {}",
                        order.filled_quantity()
                    ),
                ));
                None
            }
            Ok(q) => Some(q),
            Err(e) => {
                errors.push(FieldError::new("quantity", e.to_string()));
                None
            }
        },
    };
    let mut price = |field: &'static str, input: Option<Positive>| -> Option<Price> {
        let input = input?;
        match Price::named(field, input.0)
            .and_then(|p| instrument.validate_price(field, p).map(|()| p))
        {
            Ok(p) => Some(p),
            Err(e) => {
                errors.push(FieldError::new(field, e.to_string()));
                None
            }
        }
    };
    let limit_price = price("limit_price", body.limit_price);
    let stop_price = price("stop_price", body.stop_price);
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let new_type = amended_type(order.order_type(), limit_price, stop_price)?;
    let new_quantity = quantity.unwrap_or(order.quantity());
    let remaining = new_quantity
        .checked_sub(order.filled_quantity())
        .map_err(ApiError::from)?;
    let account = state
        .accounts
        .account(principal.user_id, order.account_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no order {id:?}")))?;
    // The checks see the order as the amend would leave it; what the amend adds to the
    // order's reservation is held by the system of record with the command.
    let admitted = pretrade::check(
        &state,
        &account,
        Exposure {
            symbol: order.symbol,
            order_type: new_type,
            quantity: remaining,
        },
    )
    .await?;
    let command = AmendOrder {
        order: OrderRef {
            order_id: order.id,
            account_id: order.account_id,
            symbol: order.symbol,
        },
        quantity,
        limit_price,
        stop_price,
    };
    routing::router(&state, &account)
        .await?
        .amend(&order, &command, admitted.limits)
        .await?
        .map_err(pretrade::Rejection::Reservation)?;
    tracing::info!(order_id = %order.id, "amend requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(Requested {
            order: OrderView::new(&order, &state.instruments),
            requested: "amend",
        }),
    ))
}

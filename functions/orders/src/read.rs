//! Reading orders, fills and instruments.

use axum::Json;
use axum::extract::{Path, State};
use common::accounts::owned;
use common::auth::Principal;
use common::extract::ApiQuery;
use common::views::{FillView, OrderView, Plain};
use common::{ApiError, ApiResult, AppState};
use domain::{Order, OrderId, OrderStatus, Symbol};
use serde::{Deserialize, Serialize};
use store::records::{OrderCursor, OrderQuery};

/// The caller's order `id`, or 404 (unknown, malformed and foreign ids alike).
pub async fn owned_order(state: &AppState, principal: &Principal, id: &str) -> ApiResult<Order> {
    let not_found = || ApiError::not_found(format!("no order {id:?}"));
    let id = OrderId::parse(id).map_err(|_| not_found())?;
    state
        .records
        .order(principal.user_id, id)
        .await?
        .ok_or_else(not_found)
}

pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<OrderView>> {
    let order = owned_order(&state, &principal, &id).await?;
    Ok(Json(OrderView::new(&order, &state.instruments)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    symbol: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct OrderPageView {
    orders: Vec<OrderView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

fn status(text: &str) -> Option<OrderStatus> {
    [
        OrderStatus::New,
        OrderStatus::Accepted,
        OrderStatus::PartiallyFilled,
        OrderStatus::Filled,
        OrderStatus::Cancelled,
        OrderStatus::Rejected,
        OrderStatus::Expired,
    ]
    .into_iter()
    .find(|s| s.as_str() == text)
}

pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<OrderPageView>> {
    let account = owned(&state, &principal, &id).await?;
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(status(text).ok_or_else(|| {
            ApiError::bad_query(
                "status",
                "one of new, accepted, partially_filled, filled, cancelled, rejected, expired",
            )
        })?),
    };
    let symbol = match query.symbol.as_deref() {
        None => None,
        Some(text) => {
            Some(Symbol::parse(text).map_err(|e| ApiError::bad_query("symbol", e.to_string()))?)
        }
    };
    let limit = common::extract::page_limit(query.limit, 50, 500)?;
    let after = match query.cursor.as_deref() {
        None => None,
        Some(token) => Some(
            OrderCursor::from_token(token)
                .ok_or_else(|| ApiError::bad_query("cursor", "not a cursor this API returned"))?,
        ),
    };
    let page = state
        .records
        .orders(
            account.id,
            &OrderQuery {
                status,
                symbol,
                after,
                limit,
            },
        )
        .await?;
    Ok(Json(OrderPageView {
        orders: page
            .orders
            .iter()
            .map(|o| OrderView::new(o, &state.instruments))
            .collect(),
        next_cursor: page.next.map(|c| c.to_token()),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FillsQuery {
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct FillList {
    fills: Vec<FillView>,
}

pub async fn fills(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<FillsQuery>,
) -> ApiResult<Json<FillList>> {
    let account = owned(&state, &principal, &id).await?;
    let limit = common::extract::page_limit(query.limit, 100, 1000)?;
    let fills = state.records.fills(account.id, limit).await?;
    Ok(Json(FillList {
        fills: fills.iter().map(FillView::from).collect(),
    }))
}

#[derive(Debug, Serialize)]
pub struct InstrumentView {
    symbol: String,
    tick_size: String,
    lot_size: String,
    min_quantity: String,
    currency: String,
    last_price: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct InstrumentList {
    instruments: Vec<InstrumentView>,
}

pub async fn instruments(
    State(state): State<AppState>,
    _principal: Principal,
) -> ApiResult<Json<InstrumentList>> {
    let mut out = Vec::new();
    for i in state.instruments.iter() {
        out.push(InstrumentView {
            symbol: i.symbol().to_string(),
            tick_size: i.tick_size().plain(),
            lot_size: i.lot_size().plain(),
            min_quantity: i.min_quantity().plain(),
            currency: i.currency().to_string(),
            last_price: state
                .prices
                .last(i.symbol())
                .await?
                .map(|p| p.price.plain()),
        });
    }
    Ok(Json(InstrumentList { instruments: out }))
}

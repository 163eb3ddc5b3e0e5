//! Reading orders and fills.

use api::accounts::owned;
use api::extract::ApiQuery;
use api::input::SymbolInput;
use api::principal::Principal;
use api::views::{FillView, OrderView};
use api::{ApiError, ApiResult};
use app::AppState;
use axum::Json;
use axum::extract::{Path, State};
use domain::{Order, OrderId, OrderStatus};
use serde::{Deserialize, Serialize};
use store::records::{OrderCursor, OrderQuery};
use utoipa::{IntoParams, ToSchema};

/// The caller's order `id`, or 404 (unknown, malformed and foreign ids alike).
pub async fn owned_order(state: &AppState, principal: &Principal, id: &str) -> ApiResult<Order> {
    let not_found = || ApiError::not_found(format!("no order {id:?}"));
    let id = OrderId::parse(id).map_err(|_| not_found())?;
    state
        .orders
        .order(principal.user_id, id)
        .await?
        .ok_or_else(not_found)
}

#[utoipa::path(get, path = "/orders/{order_id}", tag = "orders", operation_id = "getOrder",
    summary = "One order",
    params(("order_id" = String, Path, description = "An order of the caller (another user's is a 404)")),
    responses((status = 200, description = "The order", body = OrderView)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<OrderView>> {
    let order = owned_order(&state, &principal, &id).await?;
    Ok(Json(OrderView::new(&order, &state.instruments)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only orders in this state.
    #[serde(default)]
    status: Option<OrderStatusName>,
    /// Only this symbol (any symbol: one not traded here has no orders).
    #[serde(default)]
    symbol: Option<SymbolInput>,
    /// Orders in the page (default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    #[param(value_type = Option<String>, pattern = "^-?[0-9]{1,20}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = OrderStatus)]
pub enum OrderStatusName {
    New,
    Accepted,
    PartiallyFilled,
    Filled,
    Cancelled,
    Rejected,
    Expired,
}

impl From<OrderStatusName> for OrderStatus {
    fn from(s: OrderStatusName) -> Self {
        match s {
            OrderStatusName::New => OrderStatus::New,
            OrderStatusName::Accepted => OrderStatus::Accepted,
            OrderStatusName::PartiallyFilled => OrderStatus::PartiallyFilled,
            OrderStatusName::Filled => OrderStatus::Filled,
            OrderStatusName::Cancelled => OrderStatus::Cancelled,
            OrderStatusName::Rejected => OrderStatus::Rejected,
            OrderStatusName::Expired => OrderStatus::Expired,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OrderPage)]
pub struct OrderPageView {
    orders: Vec<OrderView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/accounts/{account_id}/orders", tag = "orders", operation_id = "listOrders",
    summary = "The account's orders, newest first",
    params(("account_id" = String, Path, description = "An account of the caller (another user's is a 404)"), ListQuery),
    responses(
        (status = 200, description = "A page of orders", body = OrderPageView),
        (status = 400, description = "A bad query parameter (named)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<OrderPageView>> {
    let account = owned(&state, &principal, &id).await?;
    let status = query.status.map(OrderStatus::from);
    let symbol = query.symbol.map(|s| s.0);
    let limit = api::extract::page_limit(query.limit, 50, 500)?;
    let after = match query.cursor.as_deref() {
        None => None,
        Some(token) => Some(
            OrderCursor::from_token(token)
                .ok_or_else(|| ApiError::bad_query("cursor", "not a cursor this API returned"))?,
        ),
    };
    let page = state
        .orders
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FillsQuery {
    /// Fills in the page (default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FillList {
    fills: Vec<FillView>,
}

#[utoipa::path(get, path = "/accounts/{account_id}/fills", tag = "orders", operation_id = "listFills",
    summary = "The account's latest fills",
    params(("account_id" = String, Path, description = "An account of the caller (another user's is a 404)"), FillsQuery),
    responses(
        (status = 200, description = "The fills", body = FillList),
        (status = 400, description = "A bad query parameter (named)", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn fills(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<FillsQuery>,
) -> ApiResult<Json<FillList>> {
    let account = owned(&state, &principal, &id).await?;
    let limit = api::extract::page_limit(query.limit, 100, 1000)?;
    let fills = state.orders.fills(account.id, limit).await?;
    Ok(Json(FillList {
        fills: fills.iter().map(FillView::from).collect(),
    }))
}

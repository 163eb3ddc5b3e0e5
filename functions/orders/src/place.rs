//! `POST /accounts/{account_id}/orders` (see the crate docs for the order of checks).

use api::accounts::owned;
use api::extract::ApiJson;
use api::input::{ClientOrderIdInput, InstrumentSymbol, Positive};
use api::principal::Principal;
use api::views::OrderView;
use api::{ApiError, ApiResult, FieldError};
use app::routing::{self, Submitted};
use app::{AppState, crypto};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use domain::{
    Account, ClientOrderId, ClosedMarketPolicy, Instrument, InstrumentCatalog, Order, OrderId,
    OrderType, Price, Quantity, Side, TimeInForce, order::OrderRequest,
};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::pretrade::{self, Exposure};

/// An order. The served document states it per instrument and type (see
/// `api::openapi::for_catalog`): the quantity on the lot grid, prices on the tick grid.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PlaceOrder)]
pub struct PlaceBody {
    symbol: InstrumentSymbol,
    side: SideName,
    #[serde(rename = "type")]
    order_type: OrderTypeName,
    quantity: Positive,
    #[serde(default)]
    #[schema(nullable)]
    limit_price: Option<Positive>,
    #[serde(default)]
    #[schema(nullable)]
    stop_price: Option<Positive>,
    #[serde(default)]
    #[schema(nullable)]
    time_in_force: Option<TimeInForceName>,
    #[serde(default)]
    #[schema(nullable)]
    client_order_id: Option<ClientOrderIdInput>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = Side)]
pub enum SideName {
    Buy,
    Sell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = OrderType)]
pub enum OrderTypeName {
    Market,
    Limit,
    Stop,
    StopLimit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = TimeInForce)]
pub enum TimeInForceName {
    Gtc,
    Ioc,
    Fok,
    Day,
}

/// A validated request: everything but the grid check, which `Order::new` does.
struct Parsed {
    instrument: Instrument,
    side: Side,
    order_type: OrderType,
    time_in_force: TimeInForce,
    quantity: Quantity,
    client_order_id: Option<ClientOrderId>,
}

fn price(field: &'static str, input: Option<Positive>) -> ApiResult<Option<Price>> {
    input
        .map(|p| Price::named(field, p.0).map_err(ApiError::from))
        .transpose()
}

/// The fields a type has and has not, checked together (the document says this per
/// type, so a request that breaks it is a 422).
fn order_type(
    kind: OrderTypeName,
    limit: Option<Price>,
    stop: Option<Price>,
) -> Result<OrderType, FieldError> {
    let no = |field: &str, what: &str| FieldError::new(field, what.to_owned());
    match (kind, limit, stop) {
        (OrderTypeName::Market, None, None) => Ok(OrderType::Market),
        (OrderTypeName::Market, Some(_), _) => {
            Err(no("limit_price", "a market order has no limit_price"))
        }
        (OrderTypeName::Market, None, Some(_)) => {
            Err(no("stop_price", "a market order has no stop_price"))
        }
        (OrderTypeName::Limit, Some(limit_price), None) => Ok(OrderType::Limit { limit_price }),
        (OrderTypeName::Limit, _, Some(_)) => Err(no(
            "stop_price",
            "a limit order has no stop_price (use stop_limit)",
        )),
        (OrderTypeName::Limit, None, None) => {
            Err(no("limit_price", "a limit order needs limit_price"))
        }
        (OrderTypeName::Stop, None, Some(stop_price)) => Ok(OrderType::Stop { stop_price }),
        (OrderTypeName::Stop, Some(_), _) => Err(no(
            "limit_price",
            "a stop order has no limit_price (use stop_limit)",
        )),
        (OrderTypeName::Stop, None, None) => Err(no("stop_price", "a stop order needs stop_price")),
        (OrderTypeName::StopLimit, Some(limit_price), Some(stop_price)) => {
            Ok(OrderType::StopLimit {
                stop_price,
                limit_price,
            })
        }
        (OrderTypeName::StopLimit, None, _) => {
            Err(no("limit_price", "a stop_limit order needs limit_price"))
        }
        (OrderTypeName::StopLimit, Some(_), None) => {
            Err(no("stop_price", "a stop_limit order needs stop_price"))
        }
    }
}

fn parse(state: &AppState, account: &Account, body: PlaceBody) -> ApiResult<Parsed> {
    let symbol = body.symbol.0;
    let instrument = state.instruments.get(symbol).cloned().ok_or_else(|| {
        ApiError::invalid_field(
            "symbol",
            format!("{symbol} is not a tradable instrument (see GET /instruments)"),
        )
    })?;
    if instrument.currency() != account.base_currency {
        // A valid order that this account cannot hold: its state, not the request.
        return Err(ApiError::rejected(
            "currency-mismatch",
            format!(
                "{symbol} trades in {} but the account is in {}",
                instrument.currency(),
                account.base_currency
            ),
        ));
    }
    let side = match body.side {
        SideName::Buy => Side::Buy,
        SideName::Sell => Side::Sell,
    };
    let quantity = Quantity::positive("quantity", body.quantity.0)?;
    let limit = price("limit_price", body.limit_price)?;
    let stop = price("stop_price", body.stop_price)?;
    let order_type =
        order_type(body.order_type, limit, stop).map_err(|e| ApiError::invalid(vec![e]))?;
    let is_market = matches!(order_type, OrderType::Market);
    let time_in_force = match body.time_in_force {
        None if is_market => TimeInForce::Ioc,
        None | Some(TimeInForceName::Gtc) => TimeInForce::Gtc,
        Some(TimeInForceName::Ioc) => TimeInForce::Ioc,
        Some(TimeInForceName::Fok) => TimeInForce::Fok,
        Some(TimeInForceName::Day) => TimeInForce::Day,
    };
    if is_market && matches!(time_in_force, TimeInForce::Gtc | TimeInForce::Day) {
        return Err(ApiError::invalid_field(
            "time_in_force",
            "a market order never rests: use \"ioc\" or \"fok\"",
        ));
    }
    Ok(Parsed {
        instrument,
        side,
        order_type,
        time_in_force,
        quantity,
        client_order_id: body.client_order_id.map(|c| c.0),
    })
}

/// What makes two requests "the same order": the fields that define it, with decimals
/// normalized (`10` and `10.0` are the same quantity).
fn fingerprint(order: &Order) -> String {
    let order_type = order.order_type();
    let text = format!(
        "{}|{}|{}|{}|{}|{}|{}",
        order.symbol,
        order.side.as_str(),
        order_type.name(),
        order_type
            .limit_price()
            .map(|p| p.value().normalize().to_string())
            .unwrap_or_default(),
        order_type
            .stop_price()
            .map(|p| p.value().normalize().to_string())
            .unwrap_or_default(),
        order.time_in_force().as_str(),
        order.quantity().value().normalize(),
    );
    crypto::sha256_hex(&text)
}

type Placed = (StatusCode, HeaderMap, Json<OrderView>);

fn created(order: &Order, status: StatusCode, instruments: &InstrumentCatalog) -> Placed {
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/orders/{}", order.id)) {
        headers.insert(header::LOCATION, location);
    }
    (status, headers, Json(OrderView::new(order, instruments)))
}

/// The answer to a request for `order` whose `client_order_id` names an existing order.
fn replay(existing: &Order, order: &Order, instruments: &InstrumentCatalog) -> ApiResult<Placed> {
    if fingerprint(existing) == fingerprint(order) {
        Ok(created(existing, StatusCode::OK, instruments))
    } else {
        Err(ApiError::conflict(format!(
            "client_order_id {:?} was already used for a different order ({})",
            existing
                .client_order_id
                .as_ref()
                .map(ClientOrderId::as_str)
                .unwrap_or_default(),
            existing.id
        )))
    }
}

#[utoipa::path(post, path = "/accounts/{account_id}/orders", tag = "orders", operation_id = "placeOrder",
    summary = "Place an order",
    params(("account_id" = String, Path, description = "An account of the caller (another user's is a 404)")),
    request_body = PlaceBody,
    responses(
        (status = 201, description = "Submitted (status new; the core acknowledges it)", body = OrderView),
        (status = 202, description = "A broker account's order whose broker did not answer in time: recorded as new, settled by reconciliation (read it again; resend only with the same client_order_id)", body = OrderView),
        (status = 200, description = "The same client_order_id and body again: the original order", body = OrderView),
        (status = 409, description = "Refused by the account's state: insufficient-buying-power, insufficient-position, position-limit, order-notional-limit, account-halted, no-market-price, currency-mismatch; or the client_order_id was used for a different order; a broker account's broker-rejected, broker-credentials-refused, no-broker-connection", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
        (status = 503, description = "A broker account's broker is down or rate limiting (`broker-unavailable`, with Retry-After): nothing was recorded or sent", body = api::openapi::ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn place(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PlaceBody>,
) -> ApiResult<Placed> {
    let account = owned(&state, &principal, &id).await?;
    let parsed = parse(&state, &account, body)?;
    let symbol = parsed.instrument.symbol();
    // With a client order id the order id is derived from it, so two racing copies of one
    // request are one order however they interleave.
    let order_id = match &parsed.client_order_id {
        Some(c) => OrderId::derived(&format!("{}:{}", account.id, c.as_str())),
        None => OrderId::random(),
    };
    let request = OrderRequest {
        id: order_id,
        client_order_id: parsed.client_order_id.clone(),
        account_id: account.id,
        symbol,
        side: parsed.side,
        order_type: parsed.order_type,
        time_in_force: parsed.time_in_force,
        quantity: parsed.quantity,
    };
    // The instrument's grid (tick, lot, minimum): a request off it is simply invalid.
    let order = Order::new(request.clone(), &parsed.instrument, state.clock.now())?;
    // The order row is the idempotency record: `(account, client_order_id)` is unique in
    // the system of record, so a repeated request finds the order it made (and is
    // answered with it, or with a 409 if the body differs) before any check runs.
    if let Some(client_id) = &parsed.client_order_id {
        if let Some(existing) = state
            .orders
            .order_by_client_id(account.id, client_id)
            .await?
        {
            return replay(&existing, &order, &state.instruments);
        }
    }
    // The market's hours: an instrument whose policy is to refuse orders while its
    // market is closed does so (a date its calendar does not cover counts as open).
    let now = state.clock.now();
    let calendar = parsed.instrument.calendar().calendar();
    if parsed.instrument.closed_market() == ClosedMarketPolicy::Refuse
        && calendar.is_open(now) == Some(false)
    {
        let next = calendar
            .next_session(now)
            .map(|s| format!("; it opens at {}", s.open))
            .unwrap_or_default();
        return Err(ApiError::rejected(
            "market-closed",
            format!("the {symbol} market ({}) is closed{next}", calendar.code()),
        ));
    }
    // The account's router: a broker account's connection must be usable, and its
    // broker must take this order — refused before anything is recorded or sent.
    let router = routing::router(&state, &account).await?;
    if let Some(venue) = router.venue() {
        venue.supports(&order)?;
    }
    let admitted = pretrade::check(
        &state,
        &account,
        Exposure {
            symbol,
            order_type: parsed.order_type,
            quantity: parsed.quantity,
        },
    )
    .await?;
    match router
        .submit(&order, &request, admitted.reserve_price, admitted.limits)
        .await?
    {
        Submitted::Refused(refusal) => Err(pretrade::Rejection::Reservation(refusal).into()),
        Submitted::Accepted => {
            tracing::info!(
                order_id = %order.id,
                account_id = %account.id,
                symbol = %symbol,
                side = order.side.as_str(),
                router = router.name(),
                "order submitted"
            );
            Ok(created(&order, StatusCode::CREATED, &state.instruments))
        }
        Submitted::Pending => {
            tracing::warn!(order_id = %order.id, account_id = %account.id, "order sent; the broker's answer is unknown");
            Ok(created(&order, StatusCode::ACCEPTED, &state.instruments))
        }
        Submitted::Duplicate => {
            // A concurrent copy of this request won the insert.
            let existing = match &parsed.client_order_id {
                Some(c) => state.orders.order_by_client_id(account.id, c).await?,
                None => None,
            };
            match existing {
                Some(existing) => replay(&existing, &order, &state.instruments),
                None => Err(ApiError::conflict("the order id is taken; retry")),
            }
        }
    }
}

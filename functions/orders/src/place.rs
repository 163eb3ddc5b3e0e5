//! `POST /accounts/{account_id}/orders` (see the crate docs for the order of checks).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use common::accounts::owned;
use common::auth::Principal;
use common::broker::{Broker, PaperBroker, Submitted};
use common::extract::ApiJson;
use common::input::DecimalInput;
use common::views::OrderView;
use common::{ApiError, ApiResult, AppState, FieldError, crypto};
use domain::order::OrderRequest;
use domain::{
    ClientOrderId, Instrument, InstrumentCatalog, Order, OrderId, OrderType, Price, Quantity, Side,
    Symbol, TimeInForce,
};
use serde::Deserialize;
use store::records::Account;

use crate::pretrade::{self, Exposure};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceBody {
    symbol: String,
    side: String,
    #[serde(rename = "type")]
    order_type: String,
    quantity: DecimalInput,
    #[serde(default)]
    limit_price: Option<DecimalInput>,
    #[serde(default)]
    stop_price: Option<DecimalInput>,
    #[serde(default)]
    time_in_force: Option<String>,
    #[serde(default)]
    client_order_id: Option<String>,
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

fn price(
    field: &'static str,
    input: Option<DecimalInput>,
    errors: &mut Vec<FieldError>,
) -> Option<Price> {
    let input = input?;
    match Price::named(field, input.value()) {
        Ok(p) => Some(p),
        Err(e) => {
            errors.push(FieldError::new(field, e.to_string()));
            None
        }
    }
}

fn parse(state: &AppState, account: &Account, body: PlaceBody) -> ApiResult<Parsed> {
    let mut errors = Vec::new();
    let instrument = match Symbol::parse(&body.symbol) {
        Ok(symbol) => match state.instruments.get(symbol) {
            Some(i) if i.currency() == account.base_currency => Some(i.clone()),
            Some(i) => {
                errors.push(FieldError::new(
                    "symbol",
                    format!(
                        "{symbol} trades in {} but the account is in {}",
                        i.currency(),
                        account.base_currency
                    ),
                ));
                None
            }
            None => {
                errors.push(FieldError::new(
                    "symbol",
                    format!("{symbol} is not a tradable instrument (see GET /instruments)"),
                ));
                None
            }
        },
        Err(e) => {
            errors.push(FieldError::new("symbol", e.to_string()));
            None
        }
    };
    let side = match body.side.as_str() {
        "buy" => Some(Side::Buy),
        "sell" => Some(Side::Sell),
        _ => {
            errors.push(FieldError::new("side", "must be \"buy\" or \"sell\""));
            None
        }
    };
    let quantity = match Quantity::positive("quantity", body.quantity.value()) {
        Ok(q) => Some(q),
        Err(e) => {
            errors.push(FieldError::new("quantity", e.to_string()));
            None
        }
    };
    let limit = price("limit_price", body.limit_price, &mut errors);
    let stop = price("stop_price", body.stop_price, &mut errors);
    let needs = |field: &str, errors: &mut Vec<FieldError>, what: &str| {
        errors.push(FieldError::new(field, what.to_owned()));
    };
    let order_type = match body.order_type.as_str() {
        "market" => {
            if body.limit_price.is_some() {
                needs(
                    "limit_price",
                    &mut errors,
                    "a market order has no limit_price",
                );
            }
            if body.stop_price.is_some() {
                needs(
                    "stop_price",
                    &mut errors,
                    "a market order has no stop_price",
                );
            }
            Some(OrderType::Market)
        }
        "limit" => {
            if body.stop_price.is_some() {
                needs(
                    "stop_price",
                    &mut errors,
                    "a limit order has no stop_price (use stop_limit)",
                );
            }
            if body.limit_price.is_none() {
                needs(
                    "limit_price",
                    &mut errors,
                    "a limit order needs limit_price",
                );
            }
            limit.map(|limit_price| OrderType::Limit { limit_price })
        }
        "stop" => {
            if body.limit_price.is_some() {
                needs(
                    "limit_price",
                    &mut errors,
                    "a stop order has no limit_price (use stop_limit)",
                );
            }
            if body.stop_price.is_none() {
                needs("stop_price", &mut errors, "a stop order needs stop_price");
            }
            stop.map(|stop_price| OrderType::Stop { stop_price })
        }
        "stop_limit" => {
            if body.limit_price.is_none() {
                needs(
                    "limit_price",
                    &mut errors,
                    "a stop_limit order needs limit_price",
                );
            }
            if body.stop_price.is_none() {
                needs(
                    "stop_price",
                    &mut errors,
                    "a stop_limit order needs stop_price",
                );
            }
            match (stop, limit) {
                (Some(stop_price), Some(limit_price)) => Some(OrderType::StopLimit {
                    stop_price,
                    limit_price,
                }),
                _ => None,
            }
        }
        _ => {
            errors.push(FieldError::new(
                "type",
                "must be \"market\", \"limit\", \"stop\" or \"stop_limit\"",
            ));
            None
        }
    };
    let is_market = matches!(order_type, Some(OrderType::Market));
    let time_in_force = match body.time_in_force.as_deref() {
        None if is_market => Some(TimeInForce::Ioc),
        None | Some("gtc") => Some(TimeInForce::Gtc),
        Some("ioc") => Some(TimeInForce::Ioc),
        Some("fok") => Some(TimeInForce::Fok),
        Some("day") => Some(TimeInForce::Day),
        Some(_) => {
            errors.push(FieldError::new(
                "time_in_force",
                "must be \"gtc\", \"ioc\", \"fok\" or \"day\"",
            ));
            None
        }
    };
    if is_market && matches!(time_in_force, Some(TimeInForce::Gtc | TimeInForce::Day)) {
        errors.push(FieldError::new(
            "time_in_force",
            "a market order never rests: use \"ioc\" or \"fok\"",
        ));
    }
    let client_order_id = match body.client_order_id.as_deref() {
        None => None,
        Some(text) => match ClientOrderId::parse(text) {
            Ok(c) => Some(c),
            Err(e) => {
                errors.push(FieldError::new("client_order_id", e.to_string()));
                None
            }
        },
    };
    match (instrument, side, quantity, order_type, time_in_force) {
        (Some(instrument), Some(side), Some(quantity), Some(order_type), Some(time_in_force))
            if errors.is_empty() =>
        {
            Ok(Parsed {
                instrument,
                side,
                order_type,
                time_in_force,
                quantity,
                client_order_id,
            })
        }
        _ => Err(ApiError::invalid(errors)),
    }
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
            .records
            .order_by_client_id(account.id, client_id)
            .await?
        {
            return replay(&existing, &order, &state.instruments);
        }
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
    let broker = PaperBroker::new(state.clone());
    match broker
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
                "order submitted"
            );
            Ok(created(&order, StatusCode::CREATED, &state.instruments))
        }
        Submitted::Duplicate => {
            // A concurrent copy of this request won the insert.
            let existing = match &parsed.client_order_id {
                Some(c) => state.records.order_by_client_id(account.id, c).await?,
                None => None,
            };
            match existing {
                Some(existing) => replay(&existing, &order, &state.instruments),
                None => Err(ApiError::conflict("the order id is taken; retry")),
            }
        }
    }
}

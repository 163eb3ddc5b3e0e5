//! The stub's REST surface: the Trading API v2 endpoints (behind the credentials check
//! and the fault injection of [`super::Fault`]) and the `/_stub/*` control routes an
//! out-of-process driver uses to print trades and quotes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::Timestamp;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::venue::{Kind, LARGEST, NewOrder, NewTerms, Side, Tif};
use super::{Fault, Shared};

/// An error as Alpaca writes it: an HTTP status and `{"code": …, "message": …}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    code: u32,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, 40010000, message)
    }

    pub(crate) fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            40110000,
            "request is not authorized",
        )
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, 40310000, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, 40410000, message)
    }

    pub(crate) fn unprocessable(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, 42210000, message)
    }

    /// Alpaca's answer to a reused client order id (a 422 with a code of its own).
    pub(crate) fn duplicate_client_order_id() -> Self {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            40010001,
            "client_order_id must be unique",
        )
    }

    fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            50010000,
            "internal server error occurred",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "code": self.code, "message": self.message });
        (self.status, Json(body)).into_response()
    }
}

/// The Trading API routes, behind [`gate`].
pub(crate) fn trading_router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/v2/account", get(account))
        .route(
            "/v2/orders",
            get(list_orders).post(submit).delete(cancel_all),
        )
        .route("/v2/orders:by_client_order_id", get(order_by_client_id))
        .route("/v2/orders/{id}", get(order).patch(replace).delete(cancel))
        .route("/v2/positions", get(positions))
        .route("/v2/positions/{symbol}", get(position))
        .route_layer(middleware::from_fn_with_state(shared, gate))
}

/// The control routes (no credentials, no faults).
pub(crate) fn control_router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_stub/trade", post(control_trade))
        .route("/_stub/quote", post(control_quote))
        .route("/_stub/drop_streams", post(control_drop_streams))
        .route("/_stub/close_the_day", post(control_close_the_day))
        .route("/_stub/connections", get(control_connections))
}

/// Injected faults first (a fault is the venue's answer, whatever the request), then the
/// credentials. A `Timeout` fault lets the request take effect and withholds the answer.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let fault = shared.next_fault(request.method() != Method::GET);
    match fault {
        Some(Fault::RateLimited { retry_after_secs }) => {
            return rate_limited(&shared, retry_after_secs);
        }
        Some(Fault::ServerError) => return ApiError::internal().into_response(),
        Some(Fault::Unauthorized) => return ApiError::unauthorized().into_response(),
        Some(Fault::Lost) => {
            tokio::time::sleep(shared.config.stall).await;
            return ApiError::new(StatusCode::GATEWAY_TIMEOUT, 50410000, "gateway timeout")
                .into_response();
        }
        Some(Fault::Timeout) | None => {}
    }
    let (key, secret) = credentials(request.headers());
    if !shared.config.accepts(key, secret) {
        return ApiError::unauthorized().into_response();
    }
    let response = next.run(request).await;
    if fault == Some(Fault::Timeout) {
        tokio::time::sleep(shared.config.stall).await;
    }
    response
}

/// A 429 with Alpaca's rate-limit headers (the reset is a Unix time in seconds) and
/// `Retry-After`.
fn rate_limited(shared: &Shared, retry_after_secs: u64) -> Response {
    let reset = shared.venue().now().nanos() / 1_000_000_000
        + i64::try_from(retry_after_secs).unwrap_or(i64::MAX / 2);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        42910000,
        "rate limit exceeded",
    )
    .into_response();
    let headers = response.headers_mut();
    headers.insert("X-Ratelimit-Limit", HeaderValue::from_static("200"));
    headers.insert("X-Ratelimit-Remaining", HeaderValue::from_static("0"));
    headers.insert("X-Ratelimit-Reset", HeaderValue::from(reset));
    headers.insert("Retry-After", HeaderValue::from(retry_after_secs));
    response
}

/// A decimal as Alpaca accepts it: a string (`"1.5"`) or a JSON number (`1.5`, which
/// alpaca-py sends), read from its text.
pub(crate) fn decimal(value: &Value, field: &str) -> Result<Option<Decimal>, ApiError> {
    let text = match value {
        Value::Null => return Ok(None),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(ApiError::unprocessable(format!("invalid {field}"))),
    };
    Decimal::from_str_exact(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .map(|d| Some(d.normalize()))
        .map_err(|_| ApiError::unprocessable(format!("invalid {field}")))
}

fn body_json(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_request("request body format is invalid"))
}

fn text_field<'a>(body: &'a Value, field: &str) -> Option<&'a str> {
    body.get(field).and_then(Value::as_str)
}

fn tif(text: &str) -> Result<Tif, ApiError> {
    match text {
        "day" => Ok(Tif::Day),
        "gtc" => Ok(Tif::Gtc),
        "ioc" => Ok(Tif::Ioc),
        "fok" => Ok(Tif::Fok),
        // opg and cls need an auction the stub does not run.
        other => Err(ApiError::unprocessable(format!(
            "invalid time_in_force: {other}"
        ))),
    }
}

fn parse_new_order(body: &Value) -> Result<NewOrder, ApiError> {
    let symbol = text_field(body, "symbol")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::unprocessable("symbol is required"))?
        .to_ascii_uppercase();
    let field = |name: &str| body.get(name).unwrap_or(&Value::Null);
    if decimal(field("notional"), "notional")?.is_some() {
        return Err(ApiError::unprocessable(
            "notional orders are not supported by this stub",
        ));
    }
    let qty = decimal(field("qty"), "qty")?
        .ok_or_else(|| ApiError::unprocessable("qty or notional is required"))?;
    let side = match text_field(body, "side") {
        Some("buy") => Side::Buy,
        Some("sell") => Side::Sell,
        _ => return Err(ApiError::unprocessable("invalid side")),
    };
    let kind = match text_field(body, "type") {
        Some("market") => Kind::Market,
        Some("limit") => Kind::Limit,
        Some("stop") => Kind::Stop,
        Some("stop_limit") => Kind::StopLimit,
        _ => return Err(ApiError::unprocessable("invalid order type")),
    };
    if text_field(body, "order_class").is_some_and(|c| !c.is_empty() && c != "simple") {
        return Err(ApiError::unprocessable(
            "only simple orders are supported by this stub",
        ));
    }
    Ok(NewOrder {
        symbol,
        qty,
        side,
        kind,
        tif: tif(text_field(body, "time_in_force").unwrap_or_default())?,
        limit_price: decimal(field("limit_price"), "limit_price")?,
        stop_price: decimal(field("stop_price"), "stop_price")?,
        client_order_id: text_field(body, "client_order_id").map(str::to_owned),
        extended_hours: body
            .get("extended_hours")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

async fn account(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(shared.venue().account())
}

async fn submit(State(shared): State<Arc<Shared>>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let order = parse_new_order(&body_json(&body)?)?;
    Ok(Json(shared.venue().submit(order)?))
}

/// The query of `GET /v2/orders`, every field as text (alpaca-py writes booleans as
/// `True`).
#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
    limit: Option<String>,
    after: Option<String>,
    until: Option<String>,
    direction: Option<String>,
    side: Option<String>,
    symbols: Option<String>,
}

fn bound(text: Option<&str>, field: &str) -> Result<Option<Timestamp>, ApiError> {
    text.map(|t| {
        Timestamp::parse(t).map_err(|_| ApiError::unprocessable(format!("invalid {field}")))
    })
    .transpose()
}

async fn list_orders(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let status = query.status.as_deref().unwrap_or("open");
    if !matches!(status, "open" | "closed" | "all") {
        return Err(ApiError::unprocessable("invalid status"));
    }
    let limit = match query.limit.as_deref() {
        None => 50,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|&n| (1..=500).contains(&n))
            .ok_or_else(|| ApiError::unprocessable("limit must be between 1 and 500"))?,
    };
    let after = bound(query.after.as_deref(), "after")?;
    let until = bound(query.until.as_deref(), "until")?;
    let ascending = match query.direction.as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Err(ApiError::unprocessable("invalid direction")),
    };
    let symbols: Option<Vec<String>> = query.symbols.as_deref().map(|list| {
        list.split(',')
            .map(|s| s.trim().to_ascii_uppercase())
            .collect()
    });
    let venue = shared.venue();
    let mut orders: Vec<_> = venue
        .orders()
        .filter(|o| match status {
            "open" => o.status.is_open(),
            "closed" => !o.status.is_open(),
            _ => true,
        })
        .filter(|o| after.is_none_or(|t| o.submitted_at() > t))
        .filter(|o| until.is_none_or(|t| o.submitted_at() < t))
        .filter(|o| match query.side.as_deref() {
            Some("buy") => o.is_buy(),
            Some("sell") => !o.is_buy(),
            _ => true,
        })
        .filter(|o| symbols.as_ref().is_none_or(|list| list.contains(&o.symbol)))
        .collect();
    // Stored oldest first; Alpaca lists newest first unless asked otherwise.
    if !ascending {
        orders.reverse();
    }
    Ok(Json(
        orders
            .into_iter()
            .take(limit)
            .map(|o| o.to_json())
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
struct ByClientId {
    client_order_id: Option<String>,
}

async fn order_by_client_id(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<ByClientId>,
) -> Result<Json<Value>, ApiError> {
    let id = query
        .client_order_id
        .ok_or_else(|| ApiError::unprocessable("client_order_id is required"))?;
    Ok(Json(shared.venue().order_by_client_id(&id)?.to_json()))
}

async fn order(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(shared.venue().order(&id)?.to_json()))
}

async fn replace(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = body_json(&body)?;
    let field = |name: &str| body.get(name).unwrap_or(&Value::Null);
    let terms = NewTerms {
        qty: decimal(field("qty"), "qty")?,
        tif: text_field(&body, "time_in_force").map(tif).transpose()?,
        limit_price: decimal(field("limit_price"), "limit_price")?,
        stop_price: decimal(field("stop_price"), "stop_price")?,
        client_order_id: text_field(&body, "client_order_id").map(str::to_owned),
    };
    Ok(Json(shared.venue().replace(&id, terms)?))
}

async fn cancel(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    shared.venue().cancel(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Alpaca answers a cancel-all with 207 Multi-Status and one entry per order.
async fn cancel_all(State(shared): State<Arc<Shared>>) -> (StatusCode, Json<Vec<Value>>) {
    (StatusCode::MULTI_STATUS, Json(shared.venue().cancel_all()))
}

async fn positions(State(shared): State<Arc<Shared>>) -> Json<Vec<Value>> {
    Json(shared.venue().positions())
}

async fn position(
    State(shared): State<Arc<Shared>>,
    Path(symbol): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(shared.venue().position(&symbol.to_ascii_uppercase())?))
}

fn required(body: &Value, field: &str) -> Result<Decimal, ApiError> {
    decimal(body.get(field).unwrap_or(&Value::Null), field)?
        .filter(|d| *d > Decimal::ZERO && *d <= LARGEST)
        .ok_or_else(|| ApiError::unprocessable(format!("{field} must be in (0, 1e9]")))
}

fn control_symbol(body: &Value) -> Result<String, ApiError> {
    text_field(body, "symbol")
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_uppercase)
        .ok_or_else(|| ApiError::unprocessable("symbol is required"))
}

/// `POST /_stub/trade {"symbol", "price", "qty"}`: a trade prints (see `AlpacaStub::trade`).
async fn control_trade(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let body = body_json(&body)?;
    let symbol = control_symbol(&body)?;
    shared.trade(&symbol, required(&body, "price")?, required(&body, "qty")?);
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /_stub/quote {"symbol", "bid", "ask"}`.
async fn control_quote(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let body = body_json(&body)?;
    let symbol = control_symbol(&body)?;
    shared.quote(&symbol, required(&body, "bid")?, required(&body, "ask")?);
    Ok(StatusCode::NO_CONTENT)
}

async fn control_drop_streams(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.drop_streams();
    StatusCode::NO_CONTENT
}

async fn control_close_the_day(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.venue().close_the_day();
    StatusCode::NO_CONTENT
}

/// How many connections listen to `trade_updates` and to market data (a driver waits for
/// its SDK's streams to be subscribed before making anything happen).
async fn control_connections(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let (trade_updates, market_data) = shared.listeners();
    Json(json!({ "trade_updates": trade_updates, "market_data": market_data }))
}

/// The key id and secret a request carries, in Alpaca's headers.
fn credentials(headers: &HeaderMap) -> (Option<&str>, Option<&str>) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    (header("APCA-API-KEY-ID"), header("APCA-API-SECRET-KEY"))
}

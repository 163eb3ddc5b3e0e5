//! The stub's REST API: Binance Spot's `/api/v3` subset (`ping`, `time`, `exchangeInfo`,
//! `order` — new, query, cancel —, `order/cancelReplace`, `openOrders`, `account`,
//! `myTrades`), signed requests checked as Binance checks them (`X-MBX-APIKEY`, the
//! HMAC `signature`, `timestamp` within `recvWindow`), errors as `{"code","msg"}` with
//! Binance's HTTP statuses, and the injected faults. `/_stub/trade` and `/_stub/quote`
//! are the control surface for tests and the SDK check (not Binance's).

use std::str::FromStr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::exchange::{NewOrder, OrderKind, OrderRef, Refusal, ResponseType, Side, TimeInForce};
use super::{Fault, Shared, signature};

/// A refusal on the REST surface: the HTTP status and Binance's body.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    refusal: Refusal,
    /// `cancelReplace` failures carry what happened to each half.
    data: Option<Value>,
}

impl ApiError {
    fn bad(refusal: Refusal) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            refusal,
            data: None,
        }
    }

    fn unauthorized(refusal: Refusal) -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            refusal,
            data: None,
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        ApiError::bad(refusal)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"code": self.refusal.code, "msg": self.refusal.msg});
        if let (Some(data), Some(map)) = (self.data, body.as_object_mut()) {
            map.insert("data".into(), data);
        }
        (self.status, Json(body)).into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

/// A request's parameters (the query string's first, then the body's, as Binance reads
/// them) and what its signature covers.
#[derive(Debug)]
struct Params {
    values: Vec<(String, String)>,
    query: String,
    body: String,
}

impl Params {
    fn read(query: Option<String>, body: &Bytes) -> Result<Self, ApiError> {
        let query = query.unwrap_or_default();
        let body = String::from_utf8_lossy(body).into_owned();
        let mut values: Vec<(String, String)> = Vec::new();
        let mut seen_in_query = Vec::new();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            if seen_in_query.contains(&k) {
                return Err(ApiError::bad(Refusal::new(
                    -1101,
                    "Duplicate values for a parameter detected.",
                )));
            }
            seen_in_query.push(k.clone());
            values.push((k.into_owned(), v.into_owned()));
        }
        for (k, v) in form_urlencoded::parse(body.as_bytes()) {
            if !values.iter().any(|(name, _)| name == k.as_ref()) {
                values.push((k.into_owned(), v.into_owned()));
            }
        }
        Ok(Params {
            values,
            query,
            body,
        })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::bad(Refusal::mandatory(name)))
    }

    fn decimal(&self, name: &str) -> Result<Option<Decimal>, ApiError> {
        self.get(name)
            .map(|text| {
                // The SDK sends Python floats as `str(x)`: `1e-05` is a valid quantity.
                Decimal::from_str(text)
                    .or_else(|_| Decimal::from_scientific(text))
                    .map(|d| d.normalize())
                    .map_err(|_| {
                        ApiError::bad(Refusal::new(
                            -1100,
                            format!("Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'."),
                        ))
                    })
            })
            .transpose()
    }

    fn integer(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.get(name)
            .map(|text| {
                text.parse().map_err(|_| {
                    ApiError::bad(Refusal::new(
                        -1100,
                        format!("Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."),
                    ))
                })
            })
            .transpose()
    }

    fn symbol(&self) -> Result<String, ApiError> {
        self.required("symbol").map(str::to_string)
    }

    fn order_ref(&self, id: &str, client: &str) -> Result<OrderRef, ApiError> {
        let order = OrderRef {
            symbol: self.symbol()?,
            order_id: self.integer(id)?,
            client_order_id: self.get(client).map(str::to_string),
        };
        if order.order_id.is_none() && order.client_order_id.is_none() {
            return Err(ApiError::bad(Refusal::new(
                -1102,
                format!("Param '{client}' or '{id}' must be sent, but both were empty/null!"),
            )));
        }
        Ok(order)
    }
}

/// Checks a SIGNED request as Binance does: the API key, the signature over the query
/// and body as sent, then the timestamp against `recvWindow`.
fn authenticate(shared: &Shared, headers: &HeaderMap, params: &Params) -> Result<(), ApiError> {
    let key = headers
        .get("x-mbx-apikey")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if key.is_empty() {
        return Err(ApiError::unauthorized(Refusal::new(
            -2014,
            "API-key format invalid.",
        )));
    }
    if key != shared.api_key {
        return Err(ApiError::unauthorized(Refusal::new(
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        )));
    }
    let (payload, signature) = signature::rest_payload(&params.query, &params.body);
    let signature = signature.ok_or_else(|| ApiError::bad(Refusal::mandatory("signature")))?;
    if !signature::verify(&shared.secret_key, &payload, &signature) {
        return Err(ApiError::bad(Refusal::new(
            -1022,
            "Signature for this request is not valid.",
        )));
    }
    check_time(shared, params.get("timestamp"), params.get("recvWindow"))?;
    Ok(())
}

/// `timestamp` (milliseconds, or microseconds) within `recvWindow` (default 5,000 ms, at
/// most 60,000) of the stub's clock, and not more than a second ahead of it.
pub(crate) fn check_time(
    shared: &Shared,
    timestamp: Option<&str>,
    recv_window: Option<&str>,
) -> Result<(), Refusal> {
    let timestamp: i64 = timestamp
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| Refusal::mandatory("timestamp"))?;
    // Microsecond timestamps have 16 digits for the years Binance serves.
    let timestamp_ms = if timestamp > 10_000_000_000_000 {
        timestamp / 1_000
    } else {
        timestamp
    };
    let window = match recv_window {
        None => Decimal::from(5_000),
        Some(text) => Decimal::from_str(text)
            .ok()
            .filter(|w| *w > Decimal::ZERO && *w <= Decimal::from(60_000))
            .ok_or_else(|| {
                Refusal::new(-1130, "Data sent for parameter 'recvWindow' is not valid.")
            })?,
    };
    let now = shared.now_ms();
    if timestamp_ms >= now + 1_000 {
        return Err(Refusal::new(
            -1021,
            "Timestamp for this request was 1000ms ahead of the server's time.",
        ));
    }
    if Decimal::from(now - timestamp_ms) > window {
        return Err(Refusal::new(
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    Ok(())
}

/// Binance's REST routes over `shared`, with the fault layer in front of them.
pub(crate) fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v3/ping", get(ping))
        .route("/api/v3/time", get(time))
        .route("/api/v3/exchangeInfo", get(exchange_info))
        .route(
            "/api/v3/order",
            post(new_order).get(query_order).delete(cancel_order),
        )
        .route("/api/v3/order/cancelReplace", post(cancel_replace))
        .route("/api/v3/openOrders", get(open_orders))
        .route("/api/v3/account", get(account))
        .route("/api/v3/myTrades", get(my_trades))
        .layer(middleware::from_fn_with_state(shared, faults))
        .route("/_stub/trade", post(stub_trade))
        .route("/_stub/quote", post(stub_quote))
}

/// Injected faults (see `Fault`) and the weight header every answer carries.
async fn faults(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let used = shared.add_weight();
    let mut response = match shared.take_fault() {
        None => next.run(request).await,
        Some(Fault::RateLimited { retry_after }) => {
            let body = json!({
                "code": -1003,
                "msg": "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
            });
            with_retry_after(StatusCode::TOO_MANY_REQUESTS, body, retry_after)
        }
        Some(Fault::Banned { retry_after }) => {
            let until = shared.now_ms() + i64::try_from(retry_after.saturating_mul(1_000)).unwrap_or(i64::MAX / 2);
            let body = json!({
                "code": -1003,
                "msg": format!("Way too much request weight used; IP banned until {until}. Please use WebSocket Streams for live updates to avoid bans."),
            });
            with_retry_after(StatusCode::IM_A_TEAPOT, body, retry_after)
        }
        Some(Fault::ServerError) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"code": -1000, "msg": "An unknown error occurred while processing the request."})),
        )
            .into_response(),
        Some(fault @ (Fault::Timeout | Fault::Lost)) => {
            // Applied or not, the answer never comes (until the stub stops).
            if fault == Fault::Timeout {
                let _applied = next.run(request).await;
            }
            let mut shutdown = shared.shutdown.clone();
            let _ = shutdown.wait_for(|stopped| *stopped).await;
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    };
    if let Ok(value) = HeaderValue::from_str(&used.to_string()) {
        response.headers_mut().insert("x-mbx-used-weight-1m", value);
    }
    response
}

fn with_retry_after(status: StatusCode, body: Value, retry_after: u64) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

fn ok(body: Value) -> ApiResult {
    Ok(Json(body).into_response())
}

async fn ping() -> ApiResult {
    ok(json!({}))
}

async fn time(State(shared): State<Arc<Shared>>) -> ApiResult {
    ok(json!({"serverTime": shared.now_ms()}))
}

async fn exchange_info(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> ApiResult {
    let params = Params::read(query, &Bytes::new())?;
    let exchange = shared.exchange();
    // `symbols` is a JSON array of names (`["BTCUSDT","ETHUSDT"]`).
    let wanted: Option<Vec<String>> = match (params.get("symbol"), params.get("symbols")) {
        (Some(one), _) => Some(vec![one.to_string()]),
        (None, Some(list)) => Some(serde_json::from_str(list).map_err(|_| {
            ApiError::bad(Refusal::new(
                -1100,
                "Illegal characters found in parameter 'symbols'.",
            ))
        })?),
        (None, None) => None,
    };
    if let Some(wanted) = &wanted {
        if wanted.iter().any(|s| exchange.listing(s).is_none()) {
            return Err(Refusal::bad_symbol().into());
        }
    }
    let symbols: Vec<Value> = exchange
        .listings()
        .iter()
        .filter(|l| wanted.as_ref().is_none_or(|w| w.contains(&l.symbol)))
        .map(|l| l.to_json())
        .collect();
    ok(json!({
        "timezone": "UTC",
        "serverTime": shared.now_ms(),
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
        ],
        "exchangeFilters": [],
        "symbols": symbols,
    }))
}

/// The parameters of a new order (`POST /api/v3/order`, and the new half of a
/// cancel-replace), checked in Binance's terms.
fn new_order_params(params: &Params) -> Result<NewOrder, ApiError> {
    let symbol = params.symbol()?;
    let side = Side::parse(params.required("side")?)
        .ok_or_else(|| ApiError::bad(Refusal::new(-1117, "Invalid side.")))?;
    let kind = OrderKind::parse(params.required("type")?)
        .ok_or_else(|| ApiError::bad(Refusal::new(-1116, "Invalid orderType.")))?;
    let time_in_force = match (params.get("timeInForce"), kind.timed()) {
        (Some(text), true) => Some(
            TimeInForce::parse(text)
                .ok_or_else(|| ApiError::bad(Refusal::new(-1115, "Invalid timeInForce.")))?,
        ),
        (None, true) => return Err(Refusal::mandatory("timeInForce").into()),
        (Some(_), false) => return Err(Refusal::not_required("timeInForce").into()),
        (None, false) => None,
    };
    if params.get("quoteOrderQty").is_some() {
        return Err(ApiError::bad(Refusal::new(
            -2010,
            "Quote order qty market orders are not support for this symbol.",
        )));
    }
    let quantity = params
        .decimal("quantity")?
        .ok_or_else(|| ApiError::bad(Refusal::mandatory("quantity")))?;
    let price = match (params.decimal("price")?, kind.priced()) {
        (Some(p), true) => Some(p),
        (None, true) => return Err(Refusal::mandatory("price").into()),
        (Some(_), false) => return Err(Refusal::not_required("price").into()),
        (None, false) => None,
    };
    let stop_price = match (params.decimal("stopPrice")?, kind.stopped()) {
        (Some(p), true) => Some(p),
        (None, true) => return Err(Refusal::mandatory("stopPrice").into()),
        (Some(_), false) => return Err(Refusal::not_required("stopPrice").into()),
        (None, false) => None,
    };
    let client_order_id = params.get("newClientOrderId").map(str::to_string);
    if let Some(id) = &client_order_id {
        valid_client_id("newClientOrderId", id)?;
    }
    let response = params
        .get("newOrderRespType")
        .map(|t| {
            ResponseType::parse(t).ok_or_else(|| {
                ApiError::bad(Refusal::new(
                    -1130,
                    "Data sent for parameter 'newOrderRespType' is not valid.",
                ))
            })
        })
        .transpose()?;
    if quantity <= Decimal::ZERO {
        return Err(ApiError::bad(Refusal::new(-1013, "Invalid quantity.")));
    }
    Ok(NewOrder {
        symbol,
        side,
        kind,
        time_in_force,
        quantity,
        price,
        stop_price,
        client_order_id,
        response,
    })
}

/// Binance's client order ids: `^[a-zA-Z0-9-_]{1,36}$`.
fn valid_client_id(name: &str, id: &str) -> Result<(), ApiError> {
    let ok = (1..=36).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad(Refusal::new(
            -1100,
            format!(
                "Illegal characters found in parameter '{name}'; legal range is '^[a-zA-Z0-9-_]{{1,36}}$'."
            ),
        )))
    }
}

async fn new_order(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> ApiResult {
    let params = Params::read(query, &body)?;
    authenticate(&shared, &headers, &params)?;
    let order = new_order_params(&params)?;
    let placed = shared.exchange().place(order)?;
    ok(placed)
}

async fn query_order(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let params = Params::read(query, &Bytes::new())?;
    authenticate(&shared, &headers, &params)?;
    let by = params.order_ref("orderId", "origClientOrderId")?;
    let found = shared.exchange().query(&by)?;
    ok(found)
}

async fn cancel_order(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> ApiResult {
    let params = Params::read(query, &body)?;
    authenticate(&shared, &headers, &params)?;
    let by = params.order_ref("orderId", "origClientOrderId")?;
    let cancel_id = params.get("newClientOrderId").map(str::to_string);
    if let Some(id) = &cancel_id {
        valid_client_id("newClientOrderId", id)?;
    }
    let cancelled = shared.exchange().cancel(&by, cancel_id)?;
    ok(cancelled)
}

/// `POST /api/v3/order/cancelReplace`: the cancel, then (if it succeeded, or always with
/// `ALLOW_FAILURE`) the new order, answered as Binance answers each combination.
async fn cancel_replace(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> ApiResult {
    let params = Params::read(query, &body)?;
    authenticate(&shared, &headers, &params)?;
    let allow_failure = match params.required("cancelReplaceMode")? {
        "STOP_ON_FAILURE" => false,
        "ALLOW_FAILURE" => true,
        _ => {
            return Err(ApiError::bad(Refusal::new(
                -1130,
                "Data sent for parameter 'cancelReplaceMode' is not valid.",
            )));
        }
    };
    let cancel = params.order_ref("cancelOrderId", "cancelOrigClientOrderId")?;
    let cancel_id = params.get("cancelNewClientOrderId").map(str::to_string);
    if let Some(id) = &cancel_id {
        valid_client_id("cancelNewClientOrderId", id)?;
    }
    // Filters are evaluated before either half is processed.
    let order = new_order_params(&params)?;
    let mut exchange = shared.exchange();
    let error = |r: &Refusal| json!({"code": r.code, "msg": r.msg});
    let cancelled = exchange.cancel(&cancel, cancel_id);
    if let (Err(refusal), false) = (&cancelled, allow_failure) {
        return Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            refusal: Refusal::new(-2022, "Order cancel-replace failed."),
            data: Some(json!({
                "cancelResult": "FAILURE",
                "newOrderResult": "NOT_ATTEMPTED",
                "cancelResponse": error(refusal),
                "newOrderResponse": null,
            })),
        });
    }
    let placed = exchange.place(order);
    let result = |ok: bool| if ok { "SUCCESS" } else { "FAILURE" };
    let body = json!({
        "cancelResult": result(cancelled.is_ok()),
        "newOrderResult": result(placed.is_ok()),
        "cancelResponse": cancelled.as_ref().map_or_else(error, Clone::clone),
        "newOrderResponse": placed.as_ref().map_or_else(error, Clone::clone),
    });
    match (cancelled.is_ok(), placed.is_ok()) {
        (true, true) => ok(body),
        (false, false) => Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            refusal: Refusal::new(-2022, "Order cancel-replace failed."),
            data: Some(body),
        }),
        _ => Err(ApiError {
            status: StatusCode::CONFLICT,
            refusal: Refusal::new(-2021, "Order cancel-replace partially failed."),
            data: Some(body),
        }),
    }
}

async fn open_orders(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let params = Params::read(query, &Bytes::new())?;
    authenticate(&shared, &headers, &params)?;
    let open = shared.exchange().open_orders(params.get("symbol"))?;
    ok(open)
}

async fn account(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let params = Params::read(query, &Bytes::new())?;
    authenticate(&shared, &headers, &params)?;
    let omit_zero = params.get("omitZeroBalances") == Some("true");
    let account = shared.exchange().account_json(omit_zero);
    ok(account)
}

async fn my_trades(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let params = Params::read(query, &Bytes::new())?;
    authenticate(&shared, &headers, &params)?;
    let symbol = params.symbol()?;
    let order_id = params.integer("orderId")?;
    let trades = shared.exchange().my_trades(&symbol, order_id)?;
    ok(trades)
}

/// A decimal sent as a JSON string or number.
fn decimal_field(body: &Value, name: &str) -> Result<Decimal, ApiError> {
    let text = match &body[name] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(Refusal::mandatory(name).into()),
    };
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()
        .filter(|d| *d > Decimal::ZERO)
        .ok_or_else(|| Refusal::mandatory(name).into())
}

fn symbol_field(body: &Value) -> Result<String, ApiError> {
    body["symbol"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| Refusal::mandatory("symbol").into())
}

/// `POST /_stub/trade {"symbol","price","qty"}`: a trade prints (see `BinanceStub::trade`).
async fn stub_trade(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> ApiResult {
    let symbol = symbol_field(&body)?;
    let price = decimal_field(&body, "price")?;
    let qty = decimal_field(&body, "qty")?;
    shared.exchange().trade(&symbol, price, qty)?;
    ok(json!({}))
}

/// `POST /_stub/quote {"symbol","bid","bidQty","ask","askQty"}`: the best bid and ask.
async fn stub_quote(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> ApiResult {
    let symbol = symbol_field(&body)?;
    let bid = (
        decimal_field(&body, "bid")?,
        decimal_field(&body, "bidQty")?,
    );
    let ask = (
        decimal_field(&body, "ask")?,
        decimal_field(&body, "askQty")?,
    );
    shared.exchange().quote(&symbol, bid, ask)?;
    ok(json!({}))
}

//! [`ApiError`]: the one error type of the HTTP surface, rendered as an RFC 9457 problem
//! (`application/problem+json`):
//!
//! ```json
//! {"type":"/problems/validation","title":"Invalid request","status":422,
//!  "detail":"quantity must be greater than zero",
//!  "errors":[{"field":"quantity","message":"quantity must be greater than zero"}]}
//! ```
//!
//! Client mistakes are 4xx with the field named. Store failures map by their kind:
//! retryable ones to 503 with `Retry-After`, the rest to a 500 whose body says nothing
//! about internals; the cause is logged once, here, with the request's id.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::DomainError;
use serde::Serialize;
use store::{ErrorKind, StoreError};

/// One field's problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What an [`ApiError`] says (boxed inside it, so results stay small).
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    /// The problem type's slug: `/problems/<slug>`.
    pub problem: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<u64>,
    /// What is logged for a 5xx (never sent).
    internal: Option<String>,
}

/// See the module docs. Derefs to its [`Problem`].
#[derive(Debug, Clone)]
pub struct ApiError(Box<Problem>);

impl std::ops::Deref for ApiError {
    type Target = Problem;
    fn deref(&self) -> &Problem {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut Problem {
        &mut self.0
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn new(
        status: StatusCode,
        problem: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError(Box::new(Problem {
            status,
            problem,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            internal: None,
        }))
    }

    /// Malformed input (bad JSON, a bad query string): 400.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-request",
            "Malformed request",
            detail,
        )
    }

    /// Well-formed input with invalid fields: 422, listing them.
    pub fn invalid(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid request",
            detail,
        );
        e.errors = errors;
        e
    }

    /// A query-string parameter that cannot be used: 400 naming it.
    pub fn bad_query(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::invalid(vec![FieldError::new(field, message)]);
        e.status = StatusCode::BAD_REQUEST;
        e.problem = "malformed-request";
        e.title = "Malformed query string";
        e
    }

    /// One invalid field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::invalid(vec![FieldError::new(field, message)])
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Not authenticated",
            detail,
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    /// Unknown, or not the caller's: the two are indistinguishable on purpose.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }

    /// The request was understood and refused by a business rule (buying power, a risk
    /// limit, a halted account): 422 with its own problem type.
    /// A valid request that the account's (or the market's) state refuses: 409 with its
    /// own problem type (`insufficient-buying-power`, `account-halted`, …). A request
    /// that breaks a documented rule is a 422 ([`ApiError::invalid`]) instead.
    pub fn rejected(problem: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, problem, "Request refused", detail)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Request body too large",
            format!("the body exceeds the limit of {limit} bytes"),
        )
    }

    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            detail,
        )
    }

    pub fn too_many_requests(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            "slow down and retry later",
        );
        e.retry_after = Some(retry_after.max(1));
        e
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            "this path does not take that method",
        )
    }

    /// A dependency is down or slow: retry.
    pub fn unavailable(cause: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            "a backend is temporarily unavailable; retry shortly",
        );
        e.retry_after = Some(1);
        e.internal = Some(cause.into());
        e
    }

    /// The account's broker is down, slow or rate limiting: 503 saying so, and when to
    /// retry.
    pub fn broker_unavailable(detail: impl Into<String>, retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "broker-unavailable",
            "Broker unavailable",
            detail,
        );
        e.retry_after = Some(retry_after.max(1));
        e
    }

    /// A bug or an unexpected failure: logged, never described to the client.
    pub fn internal(cause: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "something went wrong on our side; it has been logged",
        );
        e.internal = Some(cause.into());
        e
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "type": format!("/problems/{}", self.problem),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if !self.errors.is_empty() {
            body["errors"] = serde_json::to_value(&self.errors).unwrap_or_default();
        }
        body
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.title,
            self.detail
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.internal {
            if self.status.is_server_error() {
                tracing::error!(status = self.status.as_u16(), cause = %cause, "request failed");
            }
        }
        let mut response = (self.status, Json(self.body())).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"stratus\""),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e.kind {
            ErrorKind::NotFound => ApiError::not_found("not found"),
            ErrorKind::ConditionFailed => ApiError::conflict("the resource changed or exists"),
            kind if kind.is_retryable() => ApiError::unavailable(e.to_string()),
            _ => ApiError::internal(e.to_string()),
        }
    }
}

impl From<app::AppError> for ApiError {
    fn from(e: app::AppError) -> Self {
        match e {
            app::AppError::Store(e) => e.into(),
            app::AppError::Domain(e) => e.into(),
            app::AppError::Internal(message) => ApiError::internal(message),
        }
    }
}

impl From<brokers::BrokerError> for ApiError {
    fn from(e: brokers::BrokerError) -> Self {
        app::routing::RouteError::Broker(e).into()
    }
}

impl From<app::routing::RouteError> for ApiError {
    fn from(e: app::routing::RouteError) -> Self {
        use app::routing::RouteError;
        use brokers::BrokerError;
        match e {
            RouteError::Store(e) => e.into(),
            RouteError::NoConnection => ApiError::rejected(
                "no-broker-connection",
                "the account has no broker connection to route orders through",
            ),
            RouteError::ConnectionInvalid(reason) => ApiError::rejected(
                "broker-credentials-refused",
                format!("the broker refused this account's credentials: {reason}"),
            ),
            RouteError::Halted(reason) => ApiError::rejected(
                "account-halted",
                format!(
                    "new orders are halted until the difference with the broker is resolved: {reason}"
                ),
            ),
            RouteError::Broker(e) => match e {
                BrokerError::Rejected(reason) => ApiError::rejected("broker-rejected", reason),
                BrokerError::Unsupported(reason) => ApiError::invalid_field("order_type", reason),
                BrokerError::Unauthorized(reason) => ApiError::rejected(
                    "broker-credentials-refused",
                    format!("the broker refused this account's credentials: {reason}"),
                ),
                BrokerError::NotFound(reason) => ApiError::rejected("broker-order-unknown", reason),
                BrokerError::RateLimited { retry_after } => ApiError::broker_unavailable(
                    "the broker is rate limiting; nothing was sent",
                    retry_after,
                ),
                BrokerError::Unavailable(reason) => ApiError::broker_unavailable(
                    format!("the broker is unavailable ({reason}); nothing was sent"),
                    5,
                ),
                BrokerError::UnknownOutcome(reason) => {
                    // No Retry-After: a retry without the same client_order_id could
                    // place a second order.
                    let mut e = ApiError::broker_unavailable(
                        format!(
                            "the broker's answer is unknown ({reason}); read the order again before doing it again"
                        ),
                        1,
                    );
                    e.retry_after = None;
                    e
                }
            },
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e.field() {
            Some(field) => ApiError::invalid_field(field, e.to_string()),
            None => match e {
                DomainError::Overflow { .. } => {
                    ApiError::invalid_field("amount", format!("{e}: the numbers are too large"))
                }
                other => ApiError::conflict(other.to_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_kinds_map_to_statuses_without_leaking_internals() {
        let e: ApiError =
            StoreError::new(ErrorKind::Unavailable, "pool timed out on 10.0.0.5").into();
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.retry_after, Some(1));
        assert!(!e.body().to_string().contains("10.0.0.5"));
        let e: ApiError = StoreError::internal("column \"cash\" is null").into();
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.body().to_string().contains("cash"));
        let e: ApiError = StoreError::condition_failed("x").into();
        assert_eq!(e.status, StatusCode::CONFLICT);
    }

    #[test]
    fn domain_errors_name_their_field() {
        let e: ApiError = DomainError::NotPositive { field: "quantity" }.into();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        let body = e.body();
        assert_eq!(body["type"], "/problems/validation");
        assert_eq!(body["errors"][0]["field"], "quantity");
        assert_eq!(body["status"], 422);
    }
}

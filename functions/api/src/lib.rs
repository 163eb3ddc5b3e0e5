//! The HTTP surface every Stratus function shares (the application itself is `app`).
//!
//! Each function (auth, account, orders, reports) is a library exposing
//! `pub fn router(state: AppState) -> Router` and a `main` that calls [`serve::run`]:
//! under AWS Lambda (`AWS_LAMBDA_RUNTIME_API` set) the router runs behind `lambda_http`,
//! anywhere else behind `axum::serve`. `stratus up` mounts every router in one listener.
//!
//! - [`error`]: [`ApiError`], the one error of the HTTP surface, rendered as an RFC 9457
//!   problem body with per-field errors; internals are logged once and never shown.
//! - [`extract`]: strict JSON and query extractors whose errors name the field.
//! - [`input`]: the values a request may carry, validating and documenting themselves.
//! - [`principal`]: the [`principal::Principal`] extractor (an access token or an API key,
//!   checked again against the stores).
//! - [`http`]: the middleware every router gets (request ids, tracing, CORS, body limit,
//!   JSON 404/405, panics turned into 500 problems).
//! - [`routes`]: a route table that builds the router and is checked against the
//!   OpenAPI document ([`openapi`]).
//! - [`views`]: the answers' shapes.

pub mod accounts;
pub mod error;
pub mod extract;
pub mod http;
pub mod input;
pub mod openapi;
pub mod principal;
pub mod routes;
pub mod serve;
pub mod views;

pub use error::{ApiError, ApiResult, FieldError};
pub use routes::Routes;

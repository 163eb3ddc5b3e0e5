//! What every Stratus HTTP function shares.
//!
//! Each function (auth, account, orders, reports) is a library exposing
//! `pub fn router(state: AppState) -> Router` and a `main` that calls [`serve::run`]:
//! under AWS Lambda (`AWS_LAMBDA_RUNTIME_API` set) the router runs behind `lambda_http`,
//! anywhere else behind `axum::serve`. `stratus up` mounts every router in one listener.
//!
//! - [`settings`]: typed settings from defaults, an optional TOML file, then the
//!   environment; secrets in [`settings::Secret`], which never prints.
//! - [`state`]: [`AppState`], the ports (system of record, key-value tables, streams)
//!   and the typed stores over them, built for the embedded or the cloud backend.
//! - [`error`]: [`ApiError`], the one error of the HTTP surface, rendered as an RFC 9457
//!   problem body with per-field errors; internals are logged once and never shown.
//! - [`extract`]: strict JSON and query extractors whose errors name the field.
//! - [`auth`]: HS256 access tokens and the [`auth::Principal`] extractor (a JWT or an
//!   API key).
//! - [`http`]: the middleware every router gets (request ids, tracing, CORS, body limit,
//!   JSON 404/405, panics turned into 500 problems).
//! - [`routes`]: a route table that builds the router and is checked against the
//!   OpenAPI document ([`openapi`]).

pub mod accounts;
pub mod auth;
pub mod broker;
pub mod credentials;
pub mod crypto;
pub mod error;
pub mod extract;
pub mod http;
pub mod input;
pub mod openapi;
pub mod outbox;
pub mod portfolio;
pub mod routes;
pub mod serve;
pub mod settings;
pub mod state;
pub mod views;

pub use domain::Clock;
pub use error::{ApiError, ApiResult, FieldError};
pub use routes::Routes;
pub use settings::Settings;
pub use state::AppState;

//! The application layer: what every entry point — the HTTP functions, the streaming
//! core, `stratus up` — builds on, between the store's ports and the HTTP surface. No
//! HTTP here and no SDK: the ports come from `store::connect`.
//!
//! - [`settings`]: typed settings, declared once (figment: defaults, a TOML file, the
//!   environment); secrets in [`settings::Secret`], which never prints.
//! - [`state`]: [`AppState`], the ports and the typed stores over them, the clock, the
//!   keys and the instruments.
//! - [`tokens`]: HS256 access tokens.
//! - [`credentials`]: recent answers about users, sessions and API keys.
//! - [`routing`]: where an account's orders go — [`routing::PaperRouter`], which hands
//!   them to the streaming core through the outbox, or [`routing::VenueRouter`], which
//!   sends them to the account's external broker.
//! - [`reconcile`]: a broker account against its broker — catching up what the broker
//!   did, halting on what cannot be explained.
//! - [`venues`]: opening a broker connection's adapter (`brokers`), checking its
//!   credentials.
//! - [`outbox`]: relaying committed outbox events to their streams.
//! - [`portfolio`]: an account valued now.
//! - [`performance`]: a strategy deployment's P&L from its own fills.
//! - [`crypto`]: sealing broker credentials, digests, random tokens.
//! - [`display`]: how numbers are written for clients.
//! - [`reports`]: the reports' running metrics from `executions`, and the daily job.

pub mod credentials;
pub mod crypto;
pub mod display;
pub mod error;
pub mod outbox;
pub mod performance;
pub mod portfolio;
pub mod reconcile;
pub mod reports;
pub mod routing;
pub mod settings;
pub mod state;
pub mod tokens;
pub mod venues;

pub use domain::Clock;
pub use error::{AppError, AppResult};
pub use settings::Settings;
pub use state::AppState;

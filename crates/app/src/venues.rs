//! External brokers reached through broker connections: [`Venues`] opens a connection's
//! adapter (`brokers::open`) — the credentials are unsealed here, handed to the adapter
//! and dropped, never logged — and keeps it for the next request; [`Venues::verify`]
//! asks the broker whether it takes the credentials and records the answer on the
//! connection (`active`, or `invalid` with the broker's reason; a broker that cannot be
//! reached leaves it `unverified`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brokers::{Broker, BrokerError, MarketData};
use domain::AccountKind;
use store::brokers::{BrokerConnection, ConnectionStatus};

use crate::state::AppState;

/// Opened adapters by connection id and the sealed credentials they were opened with
/// (a connection whose credentials changed is opened again).
#[derive(Default)]
pub struct Venues {
    open: Mutex<HashMap<(String, String), Arc<dyn Broker>>>,
}

impl std::fmt::Debug for Venues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Venues")
    }
}

/// Adapters kept at most (one per connection in use; a laptop or a Lambda holds a few).
const KEPT: usize = 1_000;

/// The adapter's settings: the broker's address (`alpaca_url`, `binance_url` replace the
/// public ones) and the request timeout.
fn spec<'a>(
    state: &'a AppState,
    broker: &'a str,
    environment: &'a str,
    credentials: &'a BTreeMap<String, String>,
    symbols: &'a [domain::Symbol],
) -> brokers::OpenSpec<'a> {
    let base_url = match broker {
        "alpaca" => state.settings.alpaca_url.as_deref(),
        "binance" => state.settings.binance_url.as_deref(),
        _ => None,
    };
    brokers::OpenSpec {
        broker,
        environment,
        credentials,
        base_url,
        timeout: Duration::from_millis(u64::from(state.settings.broker_timeout_ms)),
        symbols,
        clock: state.clock.clone(),
    }
}

/// The catalog's symbols of the asset classes `broker` trades (where it looks for orders).
fn traded(state: &AppState, broker: &str) -> Vec<domain::Symbol> {
    state
        .instruments
        .iter()
        .filter(|i| broker != "binance" || i.asset_class() == domain::AssetClass::Crypto)
        .map(|i| i.symbol())
        .collect()
}

impl Venues {
    /// The adapter of `connection` (opened once, then kept).
    pub fn broker(
        &self,
        state: &AppState,
        connection: &BrokerConnection,
    ) -> Result<Arc<dyn Broker>, BrokerError> {
        let key = (connection.id.clone(), connection.sealed_credentials.clone());
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(broker) = open.get(&key) {
            return Ok(broker.clone());
        }
        let credentials = unseal(state, connection)?;
        let symbols = traded(state, &connection.broker);
        let broker = brokers::open(&spec(
            state,
            &connection.broker,
            &connection.environment,
            &credentials,
            &symbols,
        ))?;
        if open.len() >= KEPT {
            open.clear();
        }
        open.insert(key, broker.clone());
        Ok(broker)
    }

    /// The market data of `broker` with `credentials` given in the clear (the feed of
    /// `stratus up --feed <broker>`, configured by its operator, not a user).
    pub fn market_data(
        state: &AppState,
        broker: &str,
        environment: &str,
        credentials: &BTreeMap<String, String>,
    ) -> Result<Arc<dyn MarketData>, BrokerError> {
        let symbols = traded(state, broker);
        brokers::open_market_data(&spec(state, broker, environment, credentials, &symbols))
    }

    /// Asks the broker whether it takes the connection's credentials and records the
    /// answer (see the module docs); the connection as it now is.
    pub async fn verify(
        &self,
        state: &AppState,
        connection: &BrokerConnection,
    ) -> Result<BrokerConnection, crate::AppError> {
        let (status, reason) = match self.broker(state, connection) {
            Err(e) => status_of(&e),
            Ok(broker) => match broker.account().await {
                Ok(_) => (ConnectionStatus::Active, None),
                Err(e) => status_of(&e),
            },
        };
        let at = state.clock.unix_seconds();
        Ok(state
            .brokers
            .update(connection.account_id, &connection.id, |c| {
                c.status = status;
                c.status_reason = reason.clone();
                c.checked_at = Some(at);
            })
            .await?)
    }

    /// Marks a connection invalid with the broker's reason (it refused the credentials
    /// on a request).
    pub async fn invalidate(
        &self,
        state: &AppState,
        connection: &BrokerConnection,
        reason: &str,
    ) -> Result<(), crate::AppError> {
        let at = state.clock.unix_seconds();
        state
            .brokers
            .update(connection.account_id, &connection.id, |c| {
                c.status = ConnectionStatus::Invalid;
                c.status_reason = Some(reason.to_owned());
                c.checked_at = Some(at);
            })
            .await?;
        Ok(())
    }
}

/// What a failed check says of the credentials: refused (with the broker's words) or
/// not known (the broker did not answer).
fn status_of(e: &BrokerError) -> (ConnectionStatus, Option<String>) {
    match e {
        BrokerError::Unauthorized(reason) | BrokerError::Unsupported(reason) => {
            (ConnectionStatus::Invalid, Some(reason.clone()))
        }
        other => (ConnectionStatus::Unverified, Some(other.to_string())),
    }
}

/// The credentials of a connection, in the clear, for the adapter only.
fn unseal(
    state: &AppState,
    connection: &BrokerConnection,
) -> Result<BTreeMap<String, String>, BrokerError> {
    let refused = || {
        BrokerError::Unauthorized(
            "the stored credentials cannot be opened with this deployment's key".into(),
        )
    };
    let plaintext = state
        .sealer
        .open(
            &connection.sealed_credentials,
            &connection.account_id.to_string(),
        )
        .ok_or_else(refused)?;
    serde_json::from_slice(&plaintext).map_err(|_| refused())
}

/// The connection a broker account routes its orders through: its one connection
/// (`None` for a paper account, or a broker account whose connection was removed).
pub async fn routing_connection(
    state: &AppState,
    account: &domain::Account,
) -> Result<Option<BrokerConnection>, crate::AppError> {
    if account.kind != AccountKind::Broker {
        return Ok(None);
    }
    Ok(state.brokers.list(account.id).await?.into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_credentials_are_invalid_with_the_brokers_words() {
        let (status, reason) = status_of(&BrokerError::Unauthorized("forbidden.".into()));
        assert_eq!(status, ConnectionStatus::Invalid);
        assert_eq!(reason.as_deref(), Some("forbidden."));
        let (status, _) = status_of(&BrokerError::Unavailable("connection refused".into()));
        assert_eq!(status, ConnectionStatus::Unverified);
    }
}

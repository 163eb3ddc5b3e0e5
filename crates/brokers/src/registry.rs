//! Opening an adapter by the broker's name: what a broker connection stores (its broker,
//! environment and credentials) becomes a [`Broker`] (and, for the feed, a
//! [`MarketData`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use domain::{Clock, Symbol};

use crate::{Broker, BrokerError, BrokerResult, MarketData};

/// What an adapter is opened with.
#[derive(Clone)]
pub struct OpenSpec<'a> {
    /// `alpaca` or `binance`.
    pub broker: &'a str,
    /// `paper`/`live` (Alpaca), `testnet`/`live` (Binance).
    pub environment: &'a str,
    /// The credential fields ([`credential_fields`]), in the clear.
    pub credentials: &'a BTreeMap<String, String>,
    /// Where the broker is instead of its public address (a local stand-in).
    pub base_url: Option<&'a str>,
    /// How long a request may take before its outcome counts as unknown.
    pub timeout: Duration,
    /// The symbols the account trades at this broker (Binance finds an order by client
    /// id only within a symbol).
    pub symbols: &'a [Symbol],
    /// What requests are stamped with (Binance signs its time).
    pub clock: Clock,
}

impl std::fmt::Debug for OpenSpec<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials' values.
        f.debug_struct("OpenSpec")
            .field("broker", &self.broker)
            .field("environment", &self.environment)
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// The brokers Stratus has adapters for.
pub const BROKERS: &[&str] = &["alpaca", "binance"];

/// The environments of `broker` (the first is the default: never real money).
pub fn environments(broker: &str) -> &'static [&'static str] {
    match broker {
        "alpaca" => &["paper", "live"],
        "binance" => &["testnet", "live"],
        _ => &[],
    }
}

/// The credential fields `broker` needs.
pub fn credential_fields(broker: &str) -> &'static [&'static str] {
    match broker {
        "alpaca" => &["key_id", "secret_key"],
        "binance" => &["api_key", "secret_key"],
        _ => &[],
    }
}

/// A credential field, present and sendable: the brokers carry keys in HTTP headers and
/// sign with secrets, so a value with control characters can only be refused (said so
/// here, rather than as a request that failed for no stated reason).
fn field<'a>(spec: &OpenSpec<'a>, name: &str) -> BrokerResult<&'a str> {
    let value = spec
        .credentials
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| BrokerError::Unauthorized(format!("the credentials have no {name}")))?;
    if value.chars().any(char::is_control) {
        return Err(BrokerError::Unauthorized(format!(
            "the credentials' {name} has control characters"
        )));
    }
    Ok(value)
}

fn unknown(spec: &OpenSpec<'_>) -> BrokerError {
    if BROKERS.contains(&spec.broker) {
        BrokerError::Unsupported(format!(
            "{} has no environment {:?} (it has {})",
            spec.broker,
            spec.environment,
            environments(spec.broker).join(", ")
        ))
    } else {
        BrokerError::Unsupported(format!(
            "no adapter for {:?} (Stratus routes to {})",
            spec.broker,
            BROKERS.join(", ")
        ))
    }
}

fn alpaca_config(spec: &OpenSpec<'_>) -> BrokerResult<crate::alpaca::AlpacaConfig> {
    use crate::alpaca::{AlpacaConfig, Credentials, Endpoints};
    let endpoints = match (spec.base_url, spec.environment) {
        (Some(base), _) => Endpoints::at(base)
            .map_err(|e| BrokerError::Unsupported(format!("the Alpaca address {base:?}: {e}")))?,
        (None, "paper") => Endpoints::paper(),
        (None, "live") => Endpoints::live(),
        _ => return Err(unknown(spec)),
    };
    let credentials = Credentials::new(field(spec, "key_id")?, field(spec, "secret_key")?);
    let mut config = AlpacaConfig::new(endpoints, credentials).with_timeout(spec.timeout);
    config.clock = spec.clock.clone();
    Ok(config)
}

fn binance_config(spec: &OpenSpec<'_>) -> BrokerResult<crate::binance::BinanceConfig> {
    use crate::binance::{BinanceConfig, Credentials, Endpoints};
    let endpoints = match (spec.base_url, spec.environment) {
        (Some(base), _) => Endpoints::at(base),
        (None, "testnet") => Endpoints::testnet(),
        (None, "live") => Endpoints::live(),
        _ => return Err(unknown(spec)),
    };
    let credentials = Credentials {
        api_key: spec.credentials.get("api_key").cloned().unwrap_or_default(),
        secret_key: spec
            .credentials
            .get("secret_key")
            .cloned()
            .unwrap_or_default(),
    };
    Ok(BinanceConfig::new(endpoints, credentials)
        .with_timeout(spec.timeout)
        .with_symbols(spec.symbols.to_vec())
        .with_clock(spec.clock.clone()))
}

/// The adapter for `spec`.
pub fn open(spec: &OpenSpec<'_>) -> BrokerResult<Arc<dyn Broker>> {
    match spec.broker {
        "alpaca" => Ok(Arc::new(crate::alpaca::AlpacaBroker::new(alpaca_config(
            spec,
        )?)?)),
        "binance" => {
            field(spec, "api_key")?;
            field(spec, "secret_key")?;
            Ok(Arc::new(crate::binance::BinanceBroker::new(
                binance_config(spec)?,
            )?))
        }
        _ => Err(unknown(spec)),
    }
}

/// The market data of `spec`'s broker (Binance's needs no key).
pub fn open_market_data(spec: &OpenSpec<'_>) -> BrokerResult<Arc<dyn MarketData>> {
    match spec.broker {
        "alpaca" => Ok(Arc::new(crate::alpaca::AlpacaMarketData::new(
            alpaca_config(spec)?,
        ))),
        "binance" => {
            let config = binance_config(spec)?;
            Ok(Arc::new(
                crate::binance::BinanceMarketData::new(&config.endpoints)
                    .with_timeout(spec.timeout),
            ))
        }
        _ => Err(unknown(spec)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsendable_credentials_are_refused_with_a_reason() {
        for broker in BROKERS {
            let fields = credential_fields(broker);
            let mut credentials: BTreeMap<String, String> = fields
                .iter()
                .map(|f| ((*f).to_owned(), "ok".to_owned()))
                .collect();
            credentials.insert(fields[0].to_owned(), "key\r\nX-Injected: 1".to_owned());
            let spec = OpenSpec {
                broker,
                environment: environments(broker)[0],
                credentials: &credentials,
                base_url: Some("http://127.0.0.1:9"),
                timeout: Duration::from_secs(1),
                symbols: &[],
                clock: Clock::system(),
            };
            match open(&spec) {
                Err(BrokerError::Unauthorized(reason)) => {
                    assert!(reason.contains("control characters"), "{reason}");
                }
                Err(other) => panic!("{broker}: {other}"),
                Ok(_) => panic!("{broker}: opened"),
            }
        }
    }
}

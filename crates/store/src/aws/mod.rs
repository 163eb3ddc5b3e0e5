//! The cloud adapters: DynamoDB for the key-value tables, Kinesis for the streams.
//!
//! Clients are built from `aws-config`'s standard chain, so the same code talks to AWS,
//! LocalStack or a local emulator depending only on the environment: credentials and
//! region as usual, and `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_DYNAMODB` /
//! `AWS_ENDPOINT_URL_KINESIS` to point at an emulator. Table and stream names are
//! `<prefix>-<name>` (see `crate::resources`).
//!
//! Every call has a deadline, so a hung endpoint becomes a retryable
//! [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) instead of a caller waiting forever
//! (the SDK sets none by default). [`Timeouts`] holds them; each can be overridden by an
//! environment variable, in milliseconds:
//!
//! | variable | default | bounds |
//! |---|---|---|
//! | `STRATUS_AWS_CONNECT_TIMEOUT_MS` | 3 000 | establishing a connection (TCP and TLS) |
//! | `STRATUS_AWS_ATTEMPT_TIMEOUT_MS` | 5 000 | one HTTP attempt, connecting included |
//! | `STRATUS_AWS_OPERATION_TIMEOUT_MS` | 15 000 | a whole call, the SDK's retries included |
//!
//! The SDK retries a timed-out attempt (up to three attempts) while the operation
//! deadline allows; the store's own retry loops (Kinesis publish and reads) come on top.

mod dynamodb;
mod errors;
mod kinesis;
mod provision;

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;

pub use dynamodb::DynamoKv;
pub use errors::from_sdk;
pub use kinesis::{KinesisStream, PutOutcome, RecordsApi, RecordsPage, SdkRecords};
pub use provision::{ensure_streams, ensure_tables};

use crate::error::{StoreError, StoreResult};

/// The deadlines of every AWS call (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub attempt: Duration,
    pub operation: Duration,
}

impl Default for Timeouts {
    /// DynamoDB and Kinesis answer in milliseconds; seconds without an answer mean a
    /// dead connection or endpoint, and Lambda functions behind API Gateway have 29 s in
    /// all, so a call gives up well before that.
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(3),
            attempt: Duration::from_secs(5),
            operation: Duration::from_secs(15),
        }
    }
}

impl Timeouts {
    /// The defaults, overridden by the process environment.
    pub fn from_env() -> StoreResult<Self> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// The defaults, overridden by `env` (a lookup by variable name). A value that is not
    /// a positive whole number of milliseconds is `Invalid`, naming the variable.
    pub fn from_vars(env: impl Fn(&str) -> Option<String>) -> StoreResult<Self> {
        let mut timeouts = Timeouts::default();
        for (variable, field) in [
            ("STRATUS_AWS_CONNECT_TIMEOUT_MS", &mut timeouts.connect),
            ("STRATUS_AWS_ATTEMPT_TIMEOUT_MS", &mut timeouts.attempt),
            ("STRATUS_AWS_OPERATION_TIMEOUT_MS", &mut timeouts.operation),
        ] {
            let Some(raw) = env(variable) else { continue };
            let ms: u64 = raw
                .trim()
                .parse()
                .ok()
                .filter(|ms| *ms > 0)
                .ok_or_else(|| {
                    StoreError::invalid(format!(
                        "{variable}={raw:?}: expected a positive number of milliseconds"
                    ))
                })?;
            *field = Duration::from_millis(ms);
        }
        Ok(timeouts)
    }

    /// As the SDK takes them.
    pub fn to_sdk(self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
}

/// `aws-config`'s standard loader with `timeouts`: add explicit settings (region,
/// credentials, endpoint) before `.load()`, or load it as it is.
pub fn config_loader(timeouts: Timeouts) -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(timeouts.to_sdk())
}

/// Loads the AWS configuration from the environment (region, credentials, endpoints, and
/// the timeouts of the module docs); `Invalid` if a timeout variable is malformed.
pub async fn load_config() -> StoreResult<aws_config::SdkConfig> {
    Ok(config_loader(Timeouts::from_env()?).load().await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn timeouts_default_and_are_overridden_by_the_environment() {
        assert_eq!(Timeouts::from_vars(env(&[])), Ok(Timeouts::default()));
        let t = Timeouts::from_vars(env(&[
            ("STRATUS_AWS_ATTEMPT_TIMEOUT_MS", "250"),
            ("STRATUS_AWS_OPERATION_TIMEOUT_MS", " 1000 "),
        ]))
        .expect("valid");
        assert_eq!(t.attempt, Duration::from_millis(250));
        assert_eq!(t.operation, Duration::from_secs(1));
        assert_eq!(t.connect, Timeouts::default().connect);
        let sdk = t.to_sdk();
        assert_eq!(
            sdk.operation_attempt_timeout(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(sdk.connect_timeout(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn a_malformed_timeout_names_its_variable() {
        for bad in ["", "soon", "0", "-5", "1.5"] {
            let e = Timeouts::from_vars(env(&[("STRATUS_AWS_CONNECT_TIMEOUT_MS", bad)]))
                .expect_err(bad);
            assert_eq!(e.kind(), crate::ErrorKind::Invalid);
            assert!(e.message.contains("STRATUS_AWS_CONNECT_TIMEOUT_MS"), "{e}");
        }
    }
}

//! The cloud adapters: DynamoDB for the key-value tables, Kinesis for the streams.
//!
//! Clients are built from `aws-config`'s standard chain, so the same code talks to AWS,
//! LocalStack or a local emulator depending only on the environment: credentials and
//! region as usual, and `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_DYNAMODB` /
//! `AWS_ENDPOINT_URL_KINESIS` to point at an emulator. Table and stream names are
//! `<prefix>-<name>` (see `crate::resources`).

mod dynamodb;
mod errors;
mod kinesis;
mod provision;

pub use dynamodb::DynamoKv;
pub use errors::from_sdk;
pub use kinesis::{KinesisStream, PutOutcome, RecordsApi, SdkRecords};
pub use provision::{ensure_streams, ensure_tables};

/// Loads the AWS configuration from the environment (region, credentials, endpoints).
pub async fn load_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

//! Creating the tables and streams of `localstack/resources.json` where they are missing
//! (emulators in tests, LocalStack, `stratus up --cloud` against an empty account; in AWS
//! the SAM template owns them).

use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_kinesis::types::StreamStatus;

use super::errors::from_sdk;
use crate::error::{ErrorKind, StoreError, StoreResult};
use crate::resources::{Resources, physical_name};

const WAIT_STEP: Duration = Duration::from_millis(200);
const WAIT_STEPS: u32 = 150;

/// Creates each missing table (on-demand billing, `pk`/`sk` keys, TTL on `expires_at`) and
/// waits until all are active.
pub async fn ensure_tables(
    client: &aws_sdk_dynamodb::Client,
    prefix: &str,
) -> StoreResult<Vec<String>> {
    let resources = Resources::load()?;
    let mut names = Vec::new();
    for table in &resources.tables {
        let name = physical_name(prefix, &table.name);
        let exists = client
            .describe_table()
            .table_name(&name)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeTable", e));
        match exists {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let attribute = |n: &str| {
                    AttributeDefinition::builder()
                        .attribute_name(n)
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .map_err(|e| StoreError::invalid(e.to_string()))
                };
                let key = |n: &str, t: KeyType| {
                    KeySchemaElement::builder()
                        .attribute_name(n)
                        .key_type(t)
                        .build()
                        .map_err(|e| StoreError::invalid(e.to_string()))
                };
                client
                    .create_table()
                    .table_name(&name)
                    .billing_mode(BillingMode::PayPerRequest)
                    .attribute_definitions(attribute(&resources.table_key.partition)?)
                    .attribute_definitions(attribute(&resources.table_key.sort)?)
                    .key_schema(key(&resources.table_key.partition, KeyType::Hash)?)
                    .key_schema(key(&resources.table_key.sort, KeyType::Range)?)
                    .send()
                    .await
                    .map_err(|e| from_sdk("CreateTable", e))?;
            }
            Err(e) => return Err(e),
        }
        wait_for_table(client, &name).await?;
        enable_ttl(client, &name, &resources.ttl_attribute).await?;
        names.push(name);
    }
    Ok(names)
}

/// Turns TTL on for `attribute` unless it is already on (or turning on) for it. An
/// "already enabled" refusal (an emulator or a racing provisioner got there first) is
/// success; any other error — TTL on a different attribute, too many changes, no
/// permission — is returned.
async fn enable_ttl(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    attribute: &str,
) -> StoreResult<()> {
    let current = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeTimeToLive", e))?;
    if let Some(d) = current.time_to_live_description() {
        let on = matches!(
            d.time_to_live_status(),
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        );
        if on && d.attribute_name() == Some(attribute) {
            return Ok(());
        }
    }
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name(attribute)
        .enabled(true)
        .build()
        .map_err(|e| StoreError::invalid(e.to_string()))?;
    match client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_already_enabled(e.as_service_error()) => Ok(()),
        Err(e) => Err(from_sdk("UpdateTimeToLive", e)),
    }
}

/// DynamoDB's answer to enabling TTL where it is enabled: a `ValidationException`
/// "TimeToLive is already enabled".
fn is_already_enabled(error: Option<&impl ProvideErrorMetadata>) -> bool {
    error.is_some_and(|e| {
        e.code() == Some("ValidationException")
            && e.message()
                .is_some_and(|m| m.to_ascii_lowercase().contains("already enabled"))
    })
}

async fn wait_for_table(client: &aws_sdk_dynamodb::Client, name: &str) -> StoreResult<()> {
    for _ in 0..WAIT_STEPS {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeTable", e))?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(WAIT_STEP).await;
    }
    Err(StoreError::new(
        ErrorKind::Timeout,
        format!("table {name} did not become active"),
    ))
}

/// Creates each missing stream with its shard count and waits until all are active.
pub async fn ensure_streams(
    client: &aws_sdk_kinesis::Client,
    prefix: &str,
) -> StoreResult<Vec<String>> {
    let resources = Resources::load()?;
    let mut names = Vec::new();
    for stream in &resources.streams {
        let name = physical_name(prefix, &stream.name);
        let exists = client
            .describe_stream_summary()
            .stream_name(&name)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeStreamSummary", e));
        match exists {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {
                client
                    .create_stream()
                    .stream_name(&name)
                    .shard_count(i32::try_from(stream.shards).unwrap_or(1))
                    .send()
                    .await
                    .map_err(|e| from_sdk("CreateStream", e))?;
            }
            Err(e) => return Err(e),
        }
        wait_for_stream(client, &name).await?;
        names.push(name);
    }
    Ok(names)
}

async fn wait_for_stream(client: &aws_sdk_kinesis::Client, name: &str) -> StoreResult<()> {
    for _ in 0..WAIT_STEPS {
        let out = client
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeStreamSummary", e))?;
        if out.stream_description_summary().map(|s| s.stream_status())
            == Some(&StreamStatus::Active)
        {
            return Ok(());
        }
        tokio::time::sleep(WAIT_STEP).await;
    }
    Err(StoreError::new(
        ErrorKind::Timeout,
        format!("stream {name} did not become active"),
    ))
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;

    use super::*;

    fn answer(code: &str, message: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message(message).build()
    }

    #[test]
    fn only_an_already_enabled_ttl_is_tolerated() {
        let yes = answer("ValidationException", "TimeToLive is already enabled");
        assert!(is_already_enabled(Some(&yes)));
        for no in [
            answer(
                "ValidationException",
                "TimeToLive is active on a different AttributeName: current AttributeName is ttl",
            ),
            answer(
                "ValidationException",
                "Time to live has been modified multiple times within a fixed interval",
            ),
            answer("AccessDeniedException", "not authorized: already enabled"),
            answer("ResourceNotFoundException", "Requested resource not found"),
        ] {
            assert!(!is_already_enabled(Some(&no)), "{no:?}");
        }
        assert!(
            !is_already_enabled(None::<&ErrorMetadata>),
            "not a service error"
        );
    }
}

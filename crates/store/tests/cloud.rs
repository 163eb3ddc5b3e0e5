//! The conformance suites against DynamoDB and Kinesis — the emulators `scripts/test`
//! starts (moto), LocalStack, or AWS itself. Selected with `--features cloud-tests`; they
//! then run and must pass (never skipped): without an endpoint configured they fail.

#![cfg(feature = "cloud-tests")]
#![allow(clippy::unwrap_used)] // integration tests: a failed unwrap is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use store::aws::{DynamoKv, KinesisStream, RecordsApi, ensure_streams, ensure_tables, load_config};
use store::kv::{Clock, Condition, KvTable};
use store::resources::physical_name;
use store::stream::{OutgoingRecord, ShardId, ShardOrder, StartAt, StreamLog};
use store::{ErrorKind, StoreResult};

/// A prefix of its own per test, so tests neither see nor clean up after each other.
fn prefix() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "stratus-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

async fn config() -> aws_config::SdkConfig {
    let configured = [
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_KINESIS",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some())
        || std::env::var_os("STRATUS_TEST_REAL_AWS").is_some();
    assert!(
        configured,
        "cloud-tests need an emulator: set AWS_ENDPOINT_URL (scripts/test does), or STRATUS_TEST_REAL_AWS=1 to use AWS"
    );
    load_config().await.unwrap()
}

async fn kv(clock: Clock) -> Arc<dyn KvTable> {
    let client = aws_sdk_dynamodb::Client::new(&config().await);
    let prefix = prefix();
    ensure_tables(&client, &prefix).await.unwrap();
    Arc::new(DynamoKv::new(client, physical_name(&prefix, "auth")).with_clock(clock))
}

async fn kinesis() -> (aws_sdk_kinesis::Client, String) {
    let client = aws_sdk_kinesis::Client::new(&config().await);
    let prefix = prefix();
    ensure_streams(&client, &prefix).await.unwrap();
    (client, prefix)
}

async fn stream() -> Arc<dyn StreamLog> {
    let (client, prefix) = kinesis().await;
    Arc::new(KinesisStream::new(client, prefix))
}

mod dynamodb {
    store::kv_conformance!(super::kv);
}

mod kinesis_streams {
    store::stream_conformance!(super::stream);
}

/// Lets every third record of a call fail (as Kinesis does under load) the first time
/// it is sent, and sends the rest (and every read) to the real emulator.
#[derive(Debug)]
struct Flaky {
    inner: store::aws::SdkRecords,
    calls: AtomicUsize,
    withheld: AtomicUsize,
}

#[async_trait]
impl RecordsApi for Flaky {
    async fn put_records(
        &self,
        stream: &str,
        records: &[OutgoingRecord],
    ) -> StoreResult<Vec<store::aws::PutOutcome>> {
        let first_call = self.calls.fetch_add(1, Ordering::SeqCst) == 0;
        let send: Vec<usize> = (0..records.len())
            .filter(|i| !first_call || i % 3 != 0)
            .collect();
        let batch: Vec<OutgoingRecord> = send.iter().map(|&i| records[i].clone()).collect();
        let mut sent = self.inner.put_records(stream, &batch).await?.into_iter();
        let mut out = Vec::with_capacity(records.len());
        for i in 0..records.len() {
            if send.contains(&i) {
                out.push(sent.next().unwrap());
            } else {
                self.withheld.fetch_add(1, Ordering::SeqCst);
                out.push(store::aws::PutOutcome::Failed {
                    code: "ProvisionedThroughputExceededException".into(),
                    message: "rate exceeded for shard (injected)".into(),
                });
            }
        }
        Ok(out)
    }

    async fn shard_iterator(
        &self,
        stream: &str,
        shard: &ShardId,
        from: &StartAt,
    ) -> StoreResult<String> {
        self.inner.shard_iterator(stream, shard, from).await
    }

    async fn get_records(
        &self,
        shard: &ShardId,
        iterator: &str,
        limit: usize,
    ) -> StoreResult<store::aws::RecordsPage> {
        self.inner.get_records(shard, iterator, limit).await
    }
}

#[tokio::test]
async fn partial_put_records_failures_are_retried_record_by_record() {
    let (client, prefix) = kinesis().await;
    let flaky = Arc::new(Flaky {
        inner: store::aws::SdkRecords::new(client.clone()),
        calls: AtomicUsize::new(0),
        withheld: AtomicUsize::new(0),
    });
    let log = KinesisStream::new(client, prefix).with_records_api(flaky.clone());
    let records: Vec<OutgoingRecord> = (0..90)
        .map(|n| OutgoingRecord::new(format!("K{}", n % 9), format!("{n}").into_bytes()))
        .collect();
    let placed = log.publish("executions", records).await.unwrap();
    assert_eq!(placed.len(), 90);
    assert_eq!(
        flaky.withheld.load(Ordering::SeqCst),
        30,
        "a third failed the first time"
    );
    assert_eq!(
        flaky.calls.load(Ordering::SeqCst),
        2,
        "one retry, of the failed records only"
    );
    let mut seen = Vec::new();
    for shard in log.shards("executions").await.unwrap() {
        let batch = log
            .read("executions", &shard.id, &StartAt::TrimHorizon, 1000)
            .await
            .unwrap();
        seen.extend(
            batch
                .records
                .into_iter()
                .map(|r| String::from_utf8(r.data).unwrap().parse::<u32>().unwrap()),
        );
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..90).collect::<Vec<_>>(),
        "every record exactly once"
    );
}

#[tokio::test]
async fn after_a_reshard_parents_are_read_before_children() {
    let (client, prefix) = kinesis().await;
    let log = KinesisStream::new(client.clone(), prefix.clone());
    let before: Vec<OutgoingRecord> = (0..40)
        .map(|n| OutgoingRecord::new(format!("S{}", n % 4), format!("a{n}").into_bytes()))
        .collect();
    log.publish("candles", before).await.unwrap();
    let parent = log.shards("candles").await.unwrap().remove(0);
    // Split the single shard at the middle of the hash key range.
    client
        .split_shard()
        .stream_name(physical_name(&prefix, "candles"))
        .shard_to_split(&parent.id.0)
        .new_starting_hash_key("170141183460469231731687303715884105728")
        .send()
        .await
        .unwrap();
    let after: Vec<OutgoingRecord> = (0..40)
        .map(|n| OutgoingRecord::new(format!("S{}", n % 4), format!("b{n}").into_bytes()))
        .collect();
    log.publish("candles", after).await.unwrap();

    let shards = log.shards("candles").await.unwrap();
    assert!(
        shards
            .iter()
            .filter(|s| s.parents.contains(&parent.id))
            .count()
            >= 2,
        "{shards:?}"
    );
    let mut order = ShardOrder::new();
    let first: Vec<_> = order
        .readable(&shards)
        .iter()
        .map(|s| s.id.clone())
        .collect();
    assert_eq!(
        first,
        std::slice::from_ref(&parent.id),
        "only the parent is readable at first"
    );
    let mut data = Vec::new();
    while let Some(shard) = order.readable(&shards).first().map(|s| s.id.clone()) {
        let mut from = StartAt::TrimHorizon;
        loop {
            let batch = log.read("candles", &shard, &from, 100).await.unwrap();
            let empty = batch.records.is_empty();
            data.extend(
                batch
                    .records
                    .into_iter()
                    .map(|r| String::from_utf8(r.data).unwrap()),
            );
            match batch.next {
                Some(next) if !empty => from = next,
                Some(_) => break,
                None => {
                    order.finish(&shard);
                    break;
                }
            }
        }
        if !order.is_finished(&shard) {
            order.finish(&shard);
        }
    }
    assert_eq!(data.len(), 80);
    let first_b = data.iter().position(|d| d.starts_with('b')).unwrap();
    assert!(
        data[..first_b].iter().all(|d| d.starts_with('a')) && first_b == 40,
        "the parent's records come first"
    );
}

#[tokio::test]
async fn every_table_expires_items_by_the_ttl_attribute_and_provisioning_twice_is_fine() {
    let client = aws_sdk_dynamodb::Client::new(&config().await);
    let prefix = prefix();
    let names = ensure_tables(&client, &prefix).await.unwrap();
    let resources = store::resources::Resources::load().unwrap();
    assert_eq!(names.len(), resources.tables.len());
    // Again, as every start-up does: TTL is already on, which is no error.
    assert_eq!(ensure_tables(&client, &prefix).await.unwrap(), names);
    for name in &names {
        let ttl = client
            .describe_time_to_live()
            .table_name(name)
            .send()
            .await
            .unwrap();
        let ttl = ttl.time_to_live_description().unwrap();
        assert_eq!(
            ttl.time_to_live_status(),
            Some(&aws_sdk_dynamodb::types::TimeToLiveStatus::Enabled),
            "{name}"
        );
        assert_eq!(ttl.attribute_name(), Some("expires_at"), "{name}");
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_retryable_unavailable_error() {
    let config = aws_sdk_dynamodb::config::Builder::from(&config().await)
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let table = DynamoKv::new(aws_sdk_dynamodb::Client::from_conf(config), "nowhere");
    let e = table
        .put("k", "s", serde_json::json!(1), None, Condition::Always)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.is_retryable());
}

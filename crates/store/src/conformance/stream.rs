//! The [`StreamLog`] contract.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;

use crate::error::ErrorKind;
use crate::stream::{
    OutgoingRecord, SequenceNumber, ShardId, ShardOrder, StartAt, StreamLog, StreamRecord,
};

/// Reads every shard of `stream` to its current end, parents before children.
async fn read_all(log: &dyn StreamLog, stream: &str, page: usize) -> Vec<StreamRecord> {
    let shards = log.shards(stream).await.expect("shards");
    let mut order = ShardOrder::new();
    let mut out = Vec::new();
    loop {
        let readable: Vec<ShardId> = order
            .readable(&shards)
            .into_iter()
            .map(|s| s.id.clone())
            .collect();
        if readable.is_empty() {
            return out;
        }
        for shard in readable {
            let mut from = StartAt::TrimHorizon;
            loop {
                let batch = log.read(stream, &shard, &from, page).await.expect("read");
                let done = batch.records.is_empty();
                out.extend(batch.records);
                match batch.next {
                    Some(next) if !done => from = next,
                    _ => break,
                }
            }
            order.finish(&shard);
        }
    }
}

fn payload(key: usize, n: usize) -> Vec<u8> {
    format!("{{\"key\":{key},\"n\":{n}}}").into_bytes()
}

pub async fn per_partition_order_over_ten_thousand_records<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn StreamLog>>,
{
    let log = factory().await;
    const KEYS: usize = 25;
    const RECORDS: usize = 10_000;
    let mut published = 0;
    while published < RECORDS {
        let batch: Vec<OutgoingRecord> = (published..(published + 500).min(RECORDS))
            .map(|n| OutgoingRecord::new(format!("SYM{}", n % KEYS), payload(n % KEYS, n)))
            .collect();
        let placed = log.publish("ticks", batch).await.expect("publish");
        assert_eq!(placed.len(), 500.min(RECORDS - published));
        published += placed.len();
    }
    let records = read_all(log.as_ref(), "ticks", 1_000).await;
    assert_eq!(records.len(), RECORDS, "every record read exactly once");
    let mut per_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut per_shard: BTreeMap<ShardId, Vec<SequenceNumber>> = BTreeMap::new();
    let mut shard_of_key: BTreeMap<String, ShardId> = BTreeMap::new();
    for r in &records {
        let value: serde_json::Value = serde_json::from_slice(&r.data).expect("payload");
        per_key
            .entry(r.partition_key.clone())
            .or_default()
            .push(value["n"].as_u64().expect("n") as usize);
        per_shard
            .entry(r.shard.clone())
            .or_default()
            .push(r.sequence.clone());
        let shard = shard_of_key
            .entry(r.partition_key.clone())
            .or_insert_with(|| r.shard.clone());
        assert_eq!(*shard, r.shard, "one partition key, one shard");
    }
    assert_eq!(per_key.len(), KEYS);
    for (key, ns) in &per_key {
        assert!(
            ns.windows(2).all(|w| w[0] < w[1]),
            "{key}: records out of publish order"
        );
        assert_eq!(ns.len(), RECORDS / KEYS);
    }
    for (shard, seqs) in &per_shard {
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "{shard}: sequence numbers must grow"
        );
    }
}

pub async fn resume_from_a_checkpoint_without_gaps_or_repeats<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn StreamLog>>,
{
    let log = factory().await;
    let records: Vec<OutgoingRecord> = (0..300)
        .map(|n| OutgoingRecord::new("ACCT-1", payload(1, n)))
        .collect();
    let placed = log.publish("executions", records).await.expect("publish");
    let shard = placed[0].shard.clone();
    // A consumer reads 120 records, checkpoints the last, "crashes", and resumes.
    let first = log
        .read("executions", &shard, &StartAt::TrimHorizon, 120)
        .await
        .expect("read");
    assert_eq!(first.records.len(), 120);
    let checkpoint = first.records.last().expect("last").sequence.clone();
    let mut rest = Vec::new();
    let mut from = StartAt::After(checkpoint);
    loop {
        let batch = log
            .read("executions", &shard, &from, 50)
            .await
            .expect("read");
        if batch.records.is_empty() {
            break;
        }
        from = batch.next.expect("open shard");
        rest.extend(batch.records);
    }
    let all: Vec<SequenceNumber> = first
        .records
        .iter()
        .chain(&rest)
        .map(|r| r.sequence.clone())
        .collect();
    let expected: Vec<SequenceNumber> = placed.iter().map(|p| p.sequence.clone()).collect();
    assert_eq!(all, expected, "resumed exactly after the checkpoint");
    // Publishing more and resuming from the end picks up only the new records.
    let end = StartAt::After(expected.last().expect("last").clone());
    log.publish(
        "executions",
        vec![OutgoingRecord::new("ACCT-1", payload(1, 300))],
    )
    .await
    .expect("publish");
    let tail = log
        .read("executions", &shard, &end, 10)
        .await
        .expect("read");
    assert_eq!(tail.records.len(), 1);
}

pub async fn duplicate_delivery_is_tolerated_by_idempotent_consumers<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn StreamLog>>,
{
    let log = factory().await;
    // A producer retries a publish whose answer it lost: the same events twice.
    let events: Vec<OutgoingRecord> = (0..20)
        .map(|n| {
            OutgoingRecord::new(
                "ACCT-9",
                format!("{{\"id\":\"evt-{n}\",\"amount\":{n}}}").into_bytes(),
            )
        })
        .collect();
    log.publish("executions", events.clone())
        .await
        .expect("publish");
    log.publish("executions", events[10..].to_vec())
        .await
        .expect("retry");
    let records = read_all(log.as_ref(), "executions", 7).await;
    assert_eq!(
        records.len(),
        30,
        "the log keeps both copies (at-least-once)"
    );
    // The consumer applies each event id once.
    let mut seen = BTreeSet::new();
    let mut balance = 0i64;
    for r in &records {
        let v: serde_json::Value = serde_json::from_slice(&r.data).expect("event");
        if seen.insert(v["id"].as_str().expect("id").to_owned()) {
            balance += v["amount"].as_i64().expect("amount");
        }
    }
    assert_eq!(balance, (0..20).sum::<i64>());
}

pub async fn reads_at_and_after_a_sequence_number<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn StreamLog>>,
{
    let log = factory().await;
    let placed = log
        .publish(
            "candles",
            (0..5)
                .map(|n| OutgoingRecord::new("ES", payload(0, n)))
                .collect(),
        )
        .await
        .expect("publish");
    let shard = placed[0].shard.clone();
    let at = log
        .read(
            "candles",
            &shard,
            &StartAt::At(placed[2].sequence.clone()),
            10,
        )
        .await
        .expect("read");
    assert_eq!(
        at.records.first().map(|r| r.sequence.clone()),
        Some(placed[2].sequence.clone())
    );
    assert_eq!(at.records.len(), 3);
    let after = log
        .read(
            "candles",
            &shard,
            &StartAt::After(placed[2].sequence.clone()),
            10,
        )
        .await
        .expect("read");
    assert_eq!(
        after.records.first().map(|r| r.sequence.clone()),
        Some(placed[3].sequence.clone())
    );
    let empty = log
        .read(
            "candles",
            &shard,
            &StartAt::After(placed[4].sequence.clone()),
            10,
        )
        .await
        .expect("read");
    assert!(empty.records.is_empty());
    assert!(empty.next.is_some(), "an open shard can be polled again");
    // Lag: whatever a backend knows, it answers exactly (a count of records, or time).
    assert!(
        empty.behind.records.is_some() || empty.behind.millis.is_some(),
        "a read says how far behind it is, one way or the other"
    );
    assert_eq!(empty.behind.records.unwrap_or(0), 0, "caught up");
    assert_eq!(empty.behind.millis.unwrap_or(0), 0, "caught up");
    let partial = log
        .read(
            "candles",
            &shard,
            &StartAt::At(placed[0].sequence.clone()),
            2,
        )
        .await
        .expect("read");
    if partial.records.len() == 2 {
        if let Some(records) = partial.behind.records {
            assert_eq!(records, 3, "five placed, two read");
        }
    }
    // A stream nothing was published to reads as empty (streams are provisioned from
    // localstack/resources.json; `commands` is one this test leaves alone).
    for s in log.shards("commands").await.expect("shards") {
        assert!(
            log.read("commands", &s.id, &StartAt::TrimHorizon, 10)
                .await
                .expect("read")
                .records
                .is_empty()
        );
    }
}

pub async fn bad_publishes_and_unknown_shards_are_refused<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn StreamLog>>,
{
    let log = factory().await;
    let too_many: Vec<OutgoingRecord> = (0..501)
        .map(|n| OutgoingRecord::new("K", payload(0, n)))
        .collect();
    assert_eq!(
        log.publish("ticks", too_many)
            .await
            .expect_err("501 records")
            .kind(),
        ErrorKind::Invalid
    );
    let huge = vec![OutgoingRecord::new(
        "K",
        vec![0u8; crate::stream::MAX_RECORD_BYTES],
    )];
    assert_eq!(
        log.publish("ticks", huge)
            .await
            .expect_err("over 1 MiB")
            .kind(),
        ErrorKind::Invalid
    );
    let no_key = vec![OutgoingRecord::new("", b"x".to_vec())];
    assert_eq!(
        log.publish("ticks", no_key)
            .await
            .expect_err("empty key")
            .kind(),
        ErrorKind::Invalid
    );
    let missing = ShardId("shardId-999999999999".into());
    let e = log
        .read("ticks", &missing, &StartAt::TrimHorizon, 10)
        .await
        .expect_err("unknown shard");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(
        read_all(log.as_ref(), "ticks", 10).await.is_empty(),
        "refused publishes wrote nothing"
    );
}

//! The AWS adapters against faults no emulator produces on demand, with no emulator:
//! Kinesis reads through an injected [`RecordsApi`] (empty pages mid-shard, a closed
//! shard's end, throttling), and DynamoDB and Kinesis clients pointed at a socket that
//! accepts connections and never answers (the timeouts). Part of a plain `cargo test`.

use std::net::TcpListener;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodb::config::{Credentials, Region};
use std::sync::Arc;
use store::aws::{DynamoKv, KinesisStream, PutOutcome, RecordsApi, RecordsPage, Timeouts};
use store::kv::KvTable;
use store::stream::{OutgoingRecord, SequenceNumber, ShardId, StartAt, StreamLog, StreamRecord};
use store::{ErrorKind, StoreError, StoreResult};

fn shard() -> ShardId {
    ShardId("shardId-000000000000".into())
}

fn record(n: u64) -> StreamRecord {
    StreamRecord {
        shard: shard(),
        sequence: SequenceNumber::from_u64(n),
        partition_key: "ES".into(),
        data: format!("r{n}").into_bytes(),
    }
}

/// One shard as Kinesis serves it: `pages[p]` is what a GetRecords at page `p` answers
/// (often nothing, in the middle of a shard too). An iterator is `p/k`: page `p`, its
/// first `k` records skipped. An open shard is at its tip past the last page; a closed
/// one ends there (no next iterator).
#[derive(Debug, Default)]
struct PagedShard {
    pages: Vec<Vec<StreamRecord>>,
    closed: bool,
    /// GetRecords calls to refuse as throttled before answering.
    throttle: AtomicUsize,
    iterators: AtomicUsize,
    reads: Mutex<Vec<Instant>>,
}

impl PagedShard {
    fn new(pages: Vec<Vec<StreamRecord>>, closed: bool) -> Self {
        PagedShard {
            pages,
            closed,
            ..PagedShard::default()
        }
    }

    fn position(&self, seq: &SequenceNumber) -> Option<(usize, usize)> {
        self.pages
            .iter()
            .enumerate()
            .find_map(|(p, page)| page.iter().position(|r| r.sequence == *seq).map(|k| (p, k)))
    }

    fn reads(&self) -> Vec<Instant> {
        self.reads.lock().expect("reads").clone()
    }
}

#[async_trait]
impl RecordsApi for PagedShard {
    async fn put_records(&self, _: &str, _: &[OutgoingRecord]) -> StoreResult<Vec<PutOutcome>> {
        Err(StoreError::invalid("this shard is read-only"))
    }

    async fn shard_iterator(&self, _: &str, _: &ShardId, from: &StartAt) -> StoreResult<String> {
        self.iterators.fetch_add(1, Ordering::SeqCst);
        let (p, k) = match from {
            StartAt::TrimHorizon => (0, 0),
            StartAt::After(seq) => self.position(seq).map(|(p, k)| (p, k + 1)).expect("seq"),
            StartAt::At(seq) => self.position(seq).expect("seq"),
        };
        Ok(format!("{p}/{k}"))
    }

    async fn get_records(
        &self,
        _: &ShardId,
        iterator: &str,
        limit: usize,
    ) -> StoreResult<RecordsPage> {
        self.reads.lock().expect("reads").push(Instant::now());
        if self
            .throttle
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(StoreError::new(
                ErrorKind::Throttled,
                "GetRecords: ProvisionedThroughputExceededException (injected)",
            ));
        }
        let (p, k) = iterator.split_once('/').expect("iterator");
        let (p, k): (usize, usize) = (p.parse().expect("page"), k.parse().expect("skip"));
        let tip = self.pages.len();
        let available = self
            .pages
            .get(p)
            .map_or(&[][..], |page| &page[k.min(page.len())..]);
        let records: Vec<StreamRecord> = available.iter().take(limit).cloned().collect();
        let next = if records.len() < available.len() {
            Some((p, k + records.len()))
        } else if p + 1 < tip || !self.closed {
            Some(((p + 1).min(tip), 0))
        } else {
            None
        };
        let behind = next.map_or(0, |(np, _)| tip.saturating_sub(np) as i64 * 1_000);
        Ok(RecordsPage {
            records,
            next_iterator: next.map(|(p, k)| format!("{p}/{k}")),
            millis_behind_latest: Some(behind),
        })
    }
}

/// A Kinesis adapter whose record calls all go to `api` (the client is never used).
fn stream_over(api: Arc<PagedShard>) -> KinesisStream {
    let config = aws_sdk_kinesis::Config::builder()
        .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .build();
    KinesisStream::new(aws_sdk_kinesis::Client::from_conf(config), "test").with_records_api(api)
}

fn data(records: &[StreamRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8(r.data.clone()).expect("utf-8"))
        .collect()
}

#[tokio::test]
async fn empty_pages_in_the_middle_of_an_open_shard_do_not_stall_a_reader() {
    let mut pages = vec![vec![]; 7];
    pages.push(vec![record(1), record(2)]);
    pages.extend([vec![], vec![], vec![]]);
    pages.push(vec![record(3)]);
    let api = Arc::new(PagedShard::new(pages, false));
    let log = stream_over(api.clone());
    let mut from = StartAt::TrimHorizon;
    let mut seen = Vec::new();
    let mut reads = 0;
    while seen.len() < 3 {
        reads += 1;
        assert!(reads <= 5, "stalled at {from:?} after {seen:?}");
        let batch = log.read("ticks", &shard(), &from, 100).await.expect("read");
        if batch.records.is_empty() {
            assert_eq!(
                batch.next.as_ref(),
                Some(&from),
                "no records, same position"
            );
        }
        seen.extend(data(&batch.records));
        from = batch.next.expect("an open shard goes on");
    }
    assert_eq!(seen, ["r1", "r2", "r3"]);
    assert_eq!(from, StartAt::After(SequenceNumber::from_u64(3)));
    assert_eq!(
        api.iterators.load(Ordering::SeqCst),
        1,
        "each read resumed where the last one ended"
    );
    // Caught up: an empty answer at the tip.
    let batch = log.read("ticks", &shard(), &from, 100).await.expect("read");
    assert!(batch.records.is_empty());
    assert_eq!(batch.next, Some(from));
}

#[tokio::test]
async fn a_closed_shard_reports_its_end_once_its_iterator_is_exhausted() {
    let pages = vec![vec![record(1)], vec![], vec![], vec![record(2)]];
    let api = Arc::new(PagedShard::new(pages, true));
    let log = stream_over(api.clone());
    let mut from = StartAt::TrimHorizon;
    let mut seen = Vec::new();
    for _ in 0..5 {
        let batch = log.read("ticks", &shard(), &from, 100).await.expect("read");
        seen.extend(data(&batch.records));
        match batch.next {
            Some(next) => from = next,
            None => break,
        }
    }
    assert_eq!(seen, ["r1", "r2"], "and then the end");

    // A consumer restarting from a checkpoint at the last record learns at once that the
    // shard is done, so its children may be read.
    let fresh = stream_over(api);
    let at_end = StartAt::After(SequenceNumber::from_u64(2));
    let batch = fresh
        .read("ticks", &shard(), &at_end, 100)
        .await
        .expect("read");
    assert!(batch.records.is_empty());
    assert_eq!(batch.next, None);
}

#[tokio::test]
async fn throttled_reads_back_off_and_then_succeed() {
    let api = Arc::new(PagedShard::new(vec![vec![record(1), record(2)]], false));
    api.throttle.store(3, Ordering::SeqCst);
    let log = stream_over(api.clone());
    let batch = log
        .read("ticks", &shard(), &StartAt::TrimHorizon, 100)
        .await
        .expect("read after the throttling");
    assert_eq!(data(&batch.records), ["r1", "r2"]);
    assert_eq!(
        batch.next,
        Some(StartAt::After(SequenceNumber::from_u64(2)))
    );
    let reads = api.reads();
    assert_eq!(reads.len(), 4, "three refused, one answered");
    let gaps: Vec<Duration> = reads.windows(2).map(|w| w[1] - w[0]).collect();
    for (gap, backoff) in gaps.iter().zip([50, 100, 200]) {
        assert!(
            *gap >= Duration::from_millis(backoff),
            "exponential backoff: {gaps:?}"
        );
    }
    assert_eq!(
        api.iterators.load(Ordering::SeqCst),
        1,
        "the retries reused the iterator"
    );
}

#[tokio::test]
async fn reads_throttled_on_every_attempt_fail_as_throttled() {
    let api = Arc::new(PagedShard::new(vec![vec![record(1)]], false));
    api.throttle.store(usize::MAX, Ordering::SeqCst);
    let log = stream_over(api.clone());
    let e = log
        .read("ticks", &shard(), &StartAt::TrimHorizon, 100)
        .await
        .expect_err("throttled throughout");
    assert_eq!(e.kind(), ErrorKind::Throttled, "{e}");
    assert!(e.is_retryable());
    assert_eq!(api.reads().len(), 6, "a bounded number of attempts");
}

/// A TCP endpoint that accepts connections and never answers (a hung service or a
/// half-open connection through a load balancer). Connections are held until the test
/// process exits.
fn silent_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for connection in listener.incoming() {
            held.push(connection);
        }
    });
    format!("http://{address}")
}

const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_millis(200),
    attempt: Duration::from_millis(300),
    operation: Duration::from_millis(800),
};

/// The store's configuration with `TIMEOUTS`, built explicitly: nothing is read from
/// the environment that could point elsewhere or wait for credentials.
async fn silent_config(endpoint: &str) -> aws_config::SdkConfig {
    store::aws::config_loader(TIMEOUTS)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint)
        .load()
        .await
}

fn assert_timed_out(e: &StoreError, started: Instant) {
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.is_retryable());
    assert!(
        took >= TIMEOUTS.attempt && took < TIMEOUTS.operation + Duration::from_millis(700),
        "gave up after {took:?}"
    );
}

#[tokio::test]
async fn a_dynamodb_call_to_a_silent_endpoint_times_out_in_time() {
    let endpoint = silent_endpoint();
    // Set on the client as well: a service-specific AWS_ENDPOINT_URL_DYNAMODB in the
    // environment would otherwise win over the shared configuration.
    let config = aws_sdk_dynamodb::config::Builder::from(&silent_config(&endpoint).await)
        .endpoint_url(&endpoint)
        .build();
    let table = DynamoKv::new(aws_sdk_dynamodb::Client::from_conf(config), "silent");
    let started = Instant::now();
    let e = table.get("k", "s").await.expect_err("no answer");
    assert_timed_out(&e, started);
}

#[tokio::test]
async fn a_kinesis_call_to_a_silent_endpoint_times_out_in_time() {
    let endpoint = silent_endpoint();
    let config = aws_sdk_kinesis::config::Builder::from(&silent_config(&endpoint).await)
        .endpoint_url(&endpoint)
        .build();
    let log = KinesisStream::new(aws_sdk_kinesis::Client::from_conf(config), "silent");
    let started = Instant::now();
    let e = log.shards("ticks").await.expect_err("no answer");
    assert_timed_out(&e, started);
}

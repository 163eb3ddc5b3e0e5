//! The conformance suites against the embedded SQLite adapters, on real files in WAL mode
//! (so concurrent writers really contend for the file's lock).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use store::kv::{Clock, KvTable};
use store::sqlite::SqliteStore;
use store::stream::StreamLog;

/// A fresh database file for one test.
async fn database() -> SqliteStore {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir: PathBuf =
        std::env::temp_dir().join(format!("stratus-store-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("db-{}.sqlite", NEXT.fetch_add(1, Ordering::SeqCst)));
    SqliteStore::open(&path).await.expect("open")
}

async fn kv(clock: Clock) -> Arc<dyn KvTable> {
    Arc::new(database().await.kv("auth").with_clock(clock))
}

async fn stream() -> Arc<dyn StreamLog> {
    Arc::new(database().await.stream(4))
}

mod kv_table {
    store::kv_conformance!(super::kv);
}

mod stream_log {
    store::stream_conformance!(super::stream);
}

async fn records() -> Arc<dyn store::records::RecordStore> {
    Arc::new(database().await.records())
}

mod record_store {
    store::records_conformance!(super::records);
}

#[tokio::test]
async fn tables_in_one_file_are_separate_and_data_survives_reopening() {
    let dir = std::env::temp_dir().join(format!("stratus-store-reopen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("db.sqlite");
    let _ = std::fs::remove_file(&path);
    {
        let db = SqliteStore::open(&path).await.expect("open");
        db.kv("users")
            .put(
                "u",
                "s",
                serde_json::json!(1),
                None,
                store::kv::Condition::Always,
            )
            .await
            .expect("put");
        assert_eq!(db.kv("tokens").get("u", "s").await.expect("get"), None);
        db.stream(2)
            .publish(
                "ticks",
                vec![store::stream::OutgoingRecord::new("ES", b"t".to_vec())],
            )
            .await
            .expect("publish");
    }
    let db = SqliteStore::open(&path)
        .await
        .expect("reopen runs migrations idempotently");
    assert!(db.kv("users").get("u", "s").await.expect("get").is_some());
    let shards = db.stream(2).shards("ticks").await.expect("shards");
    let mut total = 0;
    for s in shards {
        total += db
            .stream(2)
            .read("ticks", &s.id, &store::stream::StartAt::TrimHorizon, 10)
            .await
            .expect("read")
            .records
            .len();
    }
    assert_eq!(total, 1);
}

mod record_store_publishing_to_the_log {
    async fn records_under_test() -> std::sync::Arc<dyn store::records::RecordStore> {
        std::sync::Arc::new(super::database().await.records_publishing_to(4))
    }
    // Every rule of the ports holds except the outbox's (its events are published at
    // once, so the cases that look for them in the outbox are left out).
    store::records_conformance!(@port account_ledger, ledger,
        accounts_are_scoped_to_their_user,
        ledger_posts_are_idempotent_and_refuse_overdrafts,
        concurrent_withdrawals_never_overdraw,
    );
    store::records_conformance!(@port order_records, orders,
        order_pages_follow_the_cursor_and_the_filters,
        exposure_follows_working_orders,
    );
    store::records_conformance!(@port strategy_records, strategies,
        deployments_are_kept_and_scoped_to_their_user,
    );
    store::records_conformance!(@port market_history, history,
        committed_candles_are_the_history,
            saved_candles_page_from_the_newest_and_load_idempotently,
    );
    store::records_conformance!(@port report_records, reports,
        report_rows_are_kept_per_account_and_day,
    );
    store::records_conformance!(@port core_commit, commit,
        applied_commands_are_remembered_newest_last,
        commits_carry_orders_fills_and_positions_together,
    );
}

/// Everything on one shard's log, in order.
async fn log_of(stream: &dyn StreamLog, name: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for shard in stream.shards(name).await.expect("shards") {
        let batch = stream
            .read(name, &shard.id, &store::stream::StartAt::TrimHorizon, 100)
            .await
            .expect("read");
        out.extend(batch.records.into_iter().map(|r| (r.partition_key, r.data)));
    }
    out
}

#[tokio::test]
async fn outbox_events_reach_the_log_in_the_transaction_that_writes_them() {
    use domain::EventId;
    use store::records::{CommitBatch, CoreCommit, OutboxEvent, OutboxQueue};
    let db = database().await;
    let records = db.records_publishing_to(1);
    let stream = db.stream(1);
    let event = |n: u32, stream: &str| OutboxEvent {
        event_id: EventId::derived(&format!("event-{n}")),
        stream: stream.into(),
        partition_key: format!("key-{n}"),
        payload: format!("{{\"n\":{n}}}").into_bytes(),
    };
    let batch = CommitBatch {
        outbox: vec![
            event(1, "executions"),
            event(2, "candles"),
            event(3, "executions"),
        ],
        ..CommitBatch::default()
    };
    records.commit(&batch).await.expect("commit");
    assert!(records.unpublished(10).await.expect("outbox").is_empty());
    let executions = log_of(&stream, "executions").await;
    assert_eq!(
        executions,
        vec![
            ("key-1".to_owned(), b"{\"n\":1}".to_vec()),
            ("key-3".to_owned(), b"{\"n\":3}".to_vec()),
        ]
    );
    assert_eq!(log_of(&stream, "candles").await.len(), 1);

    // A write that fails leaves nothing on the log either.
    let failing = CommitBatch {
        outbox: vec![event(4, "executions")],
        ledger: vec![domain::LedgerEntry {
            id: EventId::derived("no-such-account"),
            account_id: domain::AccountId::from_u128(99),
            kind: domain::LedgerKind::Deposit,
            amount: domain::Money::new(domain::Decimal::ONE),
            reference: String::new(),
            time: domain::Timestamp::from_secs(1),
        }],
        ..CommitBatch::default()
    };
    records.commit(&failing).await.expect_err("no account 99");
    assert_eq!(log_of(&stream, "executions").await.len(), 2);
}

#[tokio::test]
async fn writes_committed_together_each_hear_their_own_outcome() {
    use store::ErrorKind;
    use store::kv::Condition;
    let db = database().await;
    let kv = Arc::new(db.kv("claims"));
    // 240 writes at once onto 60 keys, each allowed only if the key is absent: they land
    // in a few group commits, and in each the losers roll back to their own savepoint.
    let tasks: Vec<_> = (0..240)
        .map(|i| {
            let kv = Arc::clone(&kv);
            tokio::spawn(async move {
                let key = format!("k{}", i % 60);
                let outcome = kv
                    .put(&key, "s", serde_json::json!(i), None, Condition::IfAbsent)
                    .await;
                (key, i, outcome)
            })
        })
        .collect();
    let mut winners = std::collections::BTreeMap::new();
    for task in tasks {
        let (key, i, outcome) = task.await.expect("task");
        match outcome {
            Ok(item) => {
                assert_eq!(item.version, 1);
                assert!(winners.insert(key, i).is_none(), "two winners for one key");
            }
            Err(e) => assert_eq!(e.kind(), ErrorKind::ConditionFailed, "{e}"),
        }
    }
    assert_eq!(winners.len(), 60);
    // Each key holds exactly its winner's body: nothing of a loser survived.
    for (key, i) in winners {
        let item = kv.get(&key, "s").await.expect("get").expect("an item");
        assert_eq!(item.body, serde_json::json!(i), "{key}");
        assert_eq!(item.version, 1);
    }
}

#[tokio::test]
async fn an_outbox_an_earlier_build_left_is_relayed_then_no_longer_read() {
    use domain::EventId;
    use store::records::{CommitBatch, CoreCommit, OutboxEvent, OutboxQueue};
    let db = database().await;
    // Written as an earlier build wrote it: into the outbox table, for a relay.
    let event = OutboxEvent {
        event_id: EventId::derived("left-behind"),
        stream: "commands".into(),
        partition_key: "AAPL".into(),
        payload: b"{}".to_vec(),
    };
    db.records()
        .commit(&CommitBatch {
            outbox: vec![event.clone()],
            ..CommitBatch::default()
        })
        .await
        .expect("commit");
    let publishing = db.records_publishing_to(1);
    let pending = publishing.unpublished(10).await.expect("outbox");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].event, event);
    publishing
        .mark_published(&[pending[0].id])
        .await
        .expect("mark");
    assert!(publishing.unpublished(10).await.expect("outbox").is_empty());
    // New events go straight to the log, never through the outbox.
    publishing
        .commit(&CommitBatch {
            outbox: vec![OutboxEvent {
                event_id: EventId::derived("new"),
                ..event
            }],
            ..CommitBatch::default()
        })
        .await
        .expect("commit");
    assert!(publishing.unpublished(10).await.expect("outbox").is_empty());
    assert_eq!(log_of(&db.stream(1), "commands").await.len(), 1);
}

/// The file holds password hashes, sealed credentials and money: only its owner may read
/// it, like the secret kept beside it (a file left 0644 by an earlier build is tightened).
#[cfg(unix)]
#[tokio::test]
async fn the_database_and_its_wal_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("stratus-store-mode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("db.sqlite");
    let _ = std::fs::remove_file(&path);
    std::fs::write(&path, b"").expect("an empty file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let db = SqliteStore::open(&path).await.expect("open");
    db.kv("users")
        .put(
            "u",
            "s",
            serde_json::json!(1),
            None,
            store::kv::Condition::Always,
        )
        .await
        .expect("write");
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        let mode = std::fs::metadata(&file).expect(suffix).permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

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

//! The embedded backend: one SQLite file (WAL mode) holding the key-value tables and the
//! stream log, so `stratus up` needs nothing installed.

mod kv;
mod records;
mod stream;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use kv::SqliteKv;
pub use records::SqliteRecords;
pub use stream::SqliteStream;

use crate::error::{StoreError, StoreResult};

/// A pool on one SQLite file, migrated.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    gate: WriteGate,
}

/// Writers of one file take turns here before `BEGIN IMMEDIATE`. SQLite lets one writer
/// at a time hold the file's write lock and makes the others retry with sleeps that grow
/// to 100 ms; queueing them in the process instead keeps a busy file's writes in arrival
/// order and its latency flat. (Other processes on the same file still wait on SQLite's
/// busy timeout.)
#[derive(Debug, Clone, Default)]
pub struct WriteGate(std::sync::Arc<tokio::sync::Mutex<()>>);

impl WriteGate {
    pub async fn enter(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.0.lock().await
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies the migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL: a commit survives a process crash; an OS crash may lose the
            // last transactions, never corrupt the file.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // Orders, fills and kv items are keyed by random ids, so writes touch pages
            // all over the file: a larger page cache and memory-mapped reads keep them
            // off the read system call as the file grows.
            .pragma("cache_size", "-32768")
            .pragma("mmap_size", "268435456")
            .pragma("temp_store", "memory");
        Self::connect(options).await
    }

    /// A private in-memory database (tests).
    pub async fn in_memory() -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| StoreError::invalid(e.to_string()))?
            .foreign_keys(true);
        // One connection: every connection to `:memory:` is its own database.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        Self::migrate(pool).await
    }

    async fn connect(options: SqliteConnectOptions) -> StoreResult<Self> {
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Self::migrate(pool).await
    }

    async fn migrate(pool: SqlitePool) -> StoreResult<Self> {
        sqlx::migrate!("./sqlite-migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::internal(format!("SQLite migrations failed: {e}")))?;
        Ok(SqliteStore {
            pool,
            gate: WriteGate::default(),
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A key-value table named `table` in this file.
    pub fn kv(&self, table: &str) -> SqliteKv {
        SqliteKv::new(self.pool.clone(), table).with_gate(self.gate.clone())
    }

    /// The system of record (accounts, ledger, outbox, checkpoints, snapshots).
    pub fn records(&self) -> SqliteRecords {
        SqliteRecords::new(self.pool.clone()).with_gate(self.gate.clone())
    }

    /// The stream log, with `shards` shards per stream.
    pub fn stream(&self, shards: usize) -> SqliteStream {
        SqliteStream::new(self.pool.clone(), shards).with_gate(self.gate.clone())
    }
}

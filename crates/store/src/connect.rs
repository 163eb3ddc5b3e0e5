//! Connecting to a backend: the adapters behind every port, built from a
//! [`Backend`] — one SQLite file (embedded), Postgres + DynamoDB + Kinesis (cloud), or
//! in-memory fakes (unit tests). This is the only place the SDK clients are made.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use domain::Clock;

use crate::error::{StoreError, StoreResult};
use crate::kv::KvTable;
use crate::records::RecordStore;
use crate::stream::StreamLog;

/// Logical stream names (the Kinesis adapter adds the deployment prefix).
pub mod streams {
    pub const TICKS: &str = "ticks";
    pub const COMMANDS: &str = "commands";
    pub const EXECUTIONS: &str = "executions";
    pub const CANDLES: &str = "candles";
}

/// The key-value tables, as in `localstack/resources.json`.
pub mod tables {
    pub const AUTH: &str = "auth";
    pub const ACCOUNTS: &str = "accounts";
    pub const READ_MODELS: &str = "read-models";
    pub const LEASES: &str = "leases";
    pub const RATE_LIMITS: &str = "rate-limits";
    pub const DEAD_LETTERS: &str = "dead-letters";
    pub const STRATEGY_MODULES: &str = "strategy-modules";
}

const ALL_TABLES: [&str; 7] = [
    tables::AUTH,
    tables::ACCOUNTS,
    tables::READ_MODELS,
    tables::LEASES,
    tables::RATE_LIMITS,
    tables::DEAD_LETTERS,
    tables::STRATEGY_MODULES,
];

/// Shards per stream in the embedded file's log.
const EMBEDDED_SHARDS: usize = 2;

/// Which adapters to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// Everything in one SQLite file, `<dir>/stratus.db` (created if missing).
    Embedded { dir: PathBuf },
    /// Postgres at `database_url`; DynamoDB tables and Kinesis streams named
    /// `<prefix>-<name>`, endpoints and credentials from the standard AWS environment.
    /// With `provision`, missing tables and streams are created first (emulators, a
    /// first run); in AWS the SAM template owns them.
    Cloud {
        database_url: String,
        prefix: String,
        provision: bool,
    },
    /// In-memory fakes (unit tests).
    Memory,
}

/// The adapters behind the ports.
#[derive(Clone)]
pub struct Ports {
    pub records: Arc<dyn RecordStore>,
    pub streams: Arc<dyn StreamLog>,
    pub tables: BTreeMap<&'static str, Arc<dyn KvTable>>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports")
            .field("tables", &self.tables.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Ports {
    /// The key-value table `name` (one of [`tables`]).
    pub fn table(&self, name: &'static str) -> StoreResult<Arc<dyn KvTable>> {
        self.tables
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::invalid(format!("no {name} table configured")))
    }
}

/// Connects `backend`; the key-value adapters check expiry against `clock`.
pub async fn connect(backend: &Backend, clock: &Clock) -> StoreResult<Ports> {
    match backend {
        Backend::Embedded { dir } => embedded(dir, clock).await,
        Backend::Cloud {
            database_url,
            prefix,
            provision,
        } => cloud(database_url, prefix, clock, *provision).await,
        Backend::Memory => Ok(memory(clock)),
    }
}

/// Everything in one SQLite file, `<dir>/stratus.db` (created if missing).
pub async fn embedded(dir: &Path, clock: &Clock) -> StoreResult<Ports> {
    std::fs::create_dir_all(dir).map_err(|e| {
        StoreError::new(
            crate::ErrorKind::Unavailable,
            format!("{}: cannot create the data directory: {e}", dir.display()),
        )
    })?;
    let store = crate::sqlite::SqliteStore::open(&dir.join("stratus.db")).await?;
    Ok(sqlite(&store, clock))
}

/// The ports of an open SQLite store.
pub fn sqlite(store: &crate::sqlite::SqliteStore, clock: &Clock) -> Ports {
    let tables = ALL_TABLES
        .iter()
        .map(|name| {
            let kv: Arc<dyn KvTable> = Arc::new(store.kv(name).with_clock(clock.clone()));
            (*name, kv)
        })
        .collect();
    Ports {
        records: Arc::new(store.records_publishing_to(EMBEDDED_SHARDS)),
        streams: Arc::new(store.stream(EMBEDDED_SHARDS)),
        tables,
    }
}

/// Postgres, DynamoDB and Kinesis (see [`Backend::Cloud`]).
pub async fn cloud(
    database_url: &str,
    prefix: &str,
    clock: &Clock,
    provision: bool,
) -> StoreResult<Ports> {
    let pg = crate::postgres::PgStore::connect(database_url).await?;
    let config = crate::aws::load_config().await?;
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let kinesis = aws_sdk_kinesis::Client::new(&config);
    if provision {
        crate::aws::ensure_tables(&dynamo, prefix).await?;
        crate::aws::ensure_streams(&kinesis, prefix).await?;
    }
    let tables = ALL_TABLES
        .iter()
        .map(|name| {
            let kv: Arc<dyn KvTable> = Arc::new(
                crate::aws::DynamoKv::new(
                    dynamo.clone(),
                    crate::resources::physical_name(prefix, name),
                )
                .with_clock(clock.clone()),
            );
            (*name, kv)
        })
        .collect();
    Ok(Ports {
        records: Arc::new(pg.records()),
        streams: Arc::new(crate::aws::KinesisStream::new(kinesis, prefix)),
        tables,
    })
}

/// In-memory fakes (unit tests).
pub fn memory(clock: &Clock) -> Ports {
    let tables = ALL_TABLES
        .iter()
        .map(|name| {
            let kv: Arc<dyn KvTable> = Arc::new(crate::memory::MemoryKv::with_clock(clock.clone()));
            (*name, kv)
        })
        .collect();
    Ports {
        records: Arc::new(crate::memory::MemoryRecords::new()),
        streams: Arc::new(crate::memory::MemoryStream::new(2)),
        tables,
    }
}

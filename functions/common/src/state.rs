//! [`AppState`]: the ports and typed stores every function works with, and the settings,
//! keys and clock they need. Built once per process (per Lambda container) from
//! [`Ports`], which are the embedded SQLite file, the cloud services, or in-memory fakes.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use domain::InstrumentCatalog;
use store::auth::{LoginGuard, RefreshTokens, UserStore};
use store::brokers::BrokerConnections;
use store::dead_letters::DeadLetters;
use store::kv::KvTable;
use store::market_prices::MarketPrices;
use store::records::RecordStore;
use store::risk::RiskStore;
use store::stream::StreamLog;

use crate::auth::TokenKeys;
use crate::crypto::Sealer;
use crate::settings::{Backend, Settings, SettingsError};
use domain::Clock;

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

const ALL_TABLES: [&str; 6] = [
    tables::AUTH,
    tables::ACCOUNTS,
    tables::READ_MODELS,
    tables::LEASES,
    tables::RATE_LIMITS,
    tables::DEAD_LETTERS,
];

/// Shards per stream in the embedded file's log.
const EMBEDDED_SHARDS: usize = 2;

impl Ports {
    /// Everything in one SQLite file, `<dir>/stratus.db` (created if missing).
    pub async fn embedded(dir: &Path, clock: &Clock) -> anyhow::Result<Ports> {
        std::fs::create_dir_all(dir).map_err(|e| {
            anyhow::anyhow!("{}: cannot create the data directory: {e}", dir.display())
        })?;
        let store = store::sqlite::SqliteStore::open(&dir.join("stratus.db")).await?;
        Ok(Self::sqlite(&store, clock))
    }

    /// The ports of an open SQLite store.
    pub fn sqlite(store: &store::sqlite::SqliteStore, clock: &Clock) -> Ports {
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

    /// Postgres at `database_url`, DynamoDB tables and Kinesis streams named
    /// `<prefix>-<name>`, endpoints and credentials from the standard AWS environment.
    /// With `provision`, missing tables and streams are created first (emulators,
    /// `stratus up --cloud`); in AWS the SAM template owns them.
    pub async fn cloud(
        database_url: &str,
        prefix: &str,
        clock: &Clock,
        provision: bool,
    ) -> anyhow::Result<Ports> {
        let pg = store::postgres::PgStore::connect(database_url).await?;
        let config = store::aws::load_config().await?;
        let dynamo = aws_sdk_dynamodb::Client::new(&config);
        let kinesis = aws_sdk_kinesis::Client::new(&config);
        if provision {
            store::aws::ensure_tables(&dynamo, prefix).await?;
            store::aws::ensure_streams(&kinesis, prefix).await?;
        }
        let tables = ALL_TABLES
            .iter()
            .map(|name| {
                let kv: Arc<dyn KvTable> = Arc::new(
                    store::aws::DynamoKv::new(
                        dynamo.clone(),
                        store::resources::physical_name(prefix, name),
                    )
                    .with_clock(clock.clone()),
                );
                (*name, kv)
            })
            .collect();
        Ok(Ports {
            records: Arc::new(pg.records()),
            streams: Arc::new(store::aws::KinesisStream::new(kinesis, prefix)),
            tables,
        })
    }

    /// In-memory fakes (unit tests).
    pub fn memory(clock: &Clock) -> Ports {
        let tables = ALL_TABLES
            .iter()
            .map(|name| {
                let kv: Arc<dyn KvTable> =
                    Arc::new(store::memory::MemoryKv::with_clock(clock.clone()));
                (*name, kv)
            })
            .collect();
        Ports {
            records: Arc::new(store::memory::MemoryRecords::new()),
            streams: Arc::new(store::memory::MemoryStream::new(2)),
            tables,
        }
    }

    fn table(&self, name: &'static str) -> Result<Arc<dyn KvTable>, SettingsError> {
        self.tables
            .get(name)
            .cloned()
            .ok_or(SettingsError::Invalid {
                setting: "tables",
                message: format!("no {name} table configured"),
            })
    }
}

/// See the module docs. Cheap to clone (everything is shared).
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub clock: Clock,
    pub keys: Arc<TokenKeys>,
    pub sealer: Arc<Sealer>,
    pub instruments: Arc<InstrumentCatalog>,
    pub records: Arc<dyn RecordStore>,
    pub streams: Arc<dyn StreamLog>,
    pub users: UserStore,
    pub refresh_tokens: RefreshTokens,
    pub logins: LoginGuard,
    /// Token buckets (per client IP on login).
    pub rate_limits: LoginGuard,
    pub risk: RiskStore,
    pub brokers: BrokerConnections,
    pub prices: MarketPrices,
    /// The read-models table itself, for consumers that keep their own views there.
    pub read_models: Arc<dyn KvTable>,
    pub dead_letters: DeadLetters,
    /// Recent answers about users, sessions and API keys (see `crate::credentials`).
    pub credentials: Arc<crate::credentials::CredentialChecks>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("backend", &self.settings.backend)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Validates `settings` (refusing to start on a short JWT secret) and wires the ports.
    pub fn new(
        settings: Settings,
        ports: Ports,
        instruments: InstrumentCatalog,
        clock: Clock,
    ) -> Result<AppState, SettingsError> {
        settings.validate()?;
        let keys = TokenKeys::new(&settings)?;
        let sealer = match &settings.credentials_key {
            Some(key) => Sealer::from_base64_key(key.expose())?,
            None => Sealer::derived_from(
                settings
                    .jwt_secret
                    .as_ref()
                    .map(|s| s.expose())
                    .unwrap_or_default(),
            ),
        };
        Ok(AppState {
            keys: Arc::new(keys),
            sealer: Arc::new(sealer),
            instruments: Arc::new(instruments),
            records: ports.records.clone(),
            streams: ports.streams.clone(),
            users: UserStore::new(ports.table(tables::AUTH)?),
            refresh_tokens: RefreshTokens::new(ports.table(tables::AUTH)?),
            logins: LoginGuard::new(ports.table(tables::AUTH)?),
            rate_limits: LoginGuard::new(ports.table(tables::RATE_LIMITS)?),
            risk: RiskStore::new(ports.table(tables::ACCOUNTS)?),
            brokers: BrokerConnections::new(ports.table(tables::ACCOUNTS)?),
            prices: MarketPrices::new(ports.table(tables::READ_MODELS)?),
            read_models: ports.table(tables::READ_MODELS)?,
            dead_letters: DeadLetters::new(ports.table(tables::DEAD_LETTERS)?),
            credentials: Arc::default(),
            settings: Arc::new(settings),
            clock,
        })
    }

    /// The state a function binary runs with: settings from the environment, the
    /// backend they name, the instruments they name (the built-in ones by default).
    pub async fn from_env() -> anyhow::Result<AppState> {
        let settings = Settings::load()?;
        settings.validate()?;
        let clock = Clock::system();
        let ports = match settings.backend {
            Backend::Embedded => Ports::embedded(&settings.data_dir, &clock).await?,
            Backend::Cloud => {
                let url = settings
                    .database_url
                    .as_ref()
                    .map(|s| s.expose().to_owned())
                    .unwrap_or_default();
                Ports::cloud(&url, &settings.prefix, &clock, settings.provision).await?
            }
        };
        let instruments = settings.catalog()?;
        Ok(AppState::new(settings, ports, instruments, clock)?)
    }
}

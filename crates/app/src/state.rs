//! [`AppState`]: the ports and typed stores every entry point works with, and the
//! settings, keys and clock they need. Built once per process (per Lambda container) from
//! `store::Ports` (the embedded SQLite file, the cloud services, or in-memory fakes), which
//! `store::connect` makes from the settings' backend.

use std::sync::Arc;

use domain::{Clock, InstrumentCatalog};
use store::brokers::BrokerConnections;
use store::connect::tables;
use store::core_status::CoreStatusStore;
use store::dead_letters::DeadLetters;
use store::kv::KvTable;
use store::market_prices::MarketPrices;
use store::market_tape::MarketTape;
use store::records::{
    AccountLedger, CoreCommit, MarketHistory, OrderRecords, OutboxQueue, PlatformActivity,
    ReportRecords, ResearchJobs, StrategyRecords,
};
use store::risk::RiskStore;
use store::strategy_modules::StrategyModules;
use store::stream::StreamLog;
use store::users::{LoginGuard, RefreshTokens, UserStore};

use crate::crypto::Sealer;
use crate::settings::{Settings, SettingsError};
use crate::tokens::TokenKeys;

/// The key-value table `name` of `ports`, or why the ports lack it.
fn table(ports: &store::Ports, name: &'static str) -> Result<Arc<dyn KvTable>, SettingsError> {
    ports.table(name).map_err(|e| SettingsError::Invalid {
        setting: "tables",
        message: e.to_string(),
    })
}

/// See the module docs. Cheap to clone (everything is shared).
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub clock: Clock,
    pub keys: Arc<TokenKeys>,
    pub sealer: Arc<Sealer>,
    pub instruments: Arc<InstrumentCatalog>,
    /// The system of record, one port per part (all the same adapter underneath).
    pub accounts: Arc<dyn AccountLedger>,
    pub orders: Arc<dyn OrderRecords>,
    pub strategies: Arc<dyn StrategyRecords>,
    pub history: Arc<dyn MarketHistory>,
    pub reports: Arc<dyn ReportRecords>,
    /// Backtests and optimisations (the research function and its workers).
    pub jobs: Arc<dyn ResearchJobs>,
    /// Counts across every user (the operations dashboard, admins only).
    pub activity: Arc<dyn PlatformActivity>,
    /// The core's commit, and the checkpoints and snapshot it reads back (the core and the
    /// consumers it runs).
    pub commits: Arc<dyn CoreCommit>,
    pub outbox: Arc<dyn OutboxQueue>,
    pub streams: Arc<dyn StreamLog>,
    pub users: UserStore,
    pub refresh_tokens: RefreshTokens,
    pub logins: LoginGuard,
    /// Token buckets (per client IP on login).
    pub rate_limits: LoginGuard,
    pub risk: RiskStore,
    pub brokers: BrokerConnections,
    pub prices: MarketPrices,
    /// Each symbol's recent trades and open candles (kept by the core).
    pub tape: MarketTape,
    /// The read-models table itself, for consumers that keep their own views there.
    pub read_models: Arc<dyn KvTable>,
    pub dead_letters: DeadLetters,
    /// The streaming core's status, published by the core (a read model).
    pub core_status: CoreStatusStore,
    /// Users' strategy modules (WebAssembly): the research function uploads them, the
    /// orders function, the research worker and the core read them.
    pub modules: StrategyModules,
    /// Recent answers about users, sessions and API keys (see `crate::credentials`).
    pub credentials: Arc<crate::credentials::CredentialChecks>,
    /// Broker connections' adapters, opened once (see `crate::venues`).
    pub venues: Arc<crate::venues::Venues>,
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
        ports: store::Ports,
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
            accounts: ports.records.clone(),
            orders: ports.records.clone(),
            strategies: ports.records.clone(),
            history: ports.records.clone(),
            jobs: ports.records.clone(),
            activity: ports.records.clone(),
            reports: ports.records.clone(),
            commits: ports.records.clone(),
            outbox: ports.records.clone(),
            streams: ports.streams.clone(),
            users: UserStore::new(table(&ports, tables::AUTH)?),
            refresh_tokens: RefreshTokens::new(table(&ports, tables::AUTH)?),
            logins: LoginGuard::new(table(&ports, tables::AUTH)?),
            rate_limits: LoginGuard::new(table(&ports, tables::RATE_LIMITS)?),
            risk: RiskStore::new(table(&ports, tables::ACCOUNTS)?),
            brokers: BrokerConnections::new(table(&ports, tables::ACCOUNTS)?),
            prices: MarketPrices::new(table(&ports, tables::READ_MODELS)?),
            tape: MarketTape::new(table(&ports, tables::READ_MODELS)?),
            read_models: table(&ports, tables::READ_MODELS)?,
            dead_letters: DeadLetters::new(table(&ports, tables::DEAD_LETTERS)?),
            core_status: CoreStatusStore::new(table(&ports, tables::READ_MODELS)?),
            modules: StrategyModules::new(table(&ports, tables::STRATEGY_MODULES)?),
            credentials: Arc::default(),
            venues: Arc::default(),
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
        let ports = store::connect(&settings.store_backend(), &clock).await?;
        let instruments = settings.catalog()?;
        Ok(AppState::new(settings, ports, instruments, clock)?)
    }
}

//! The whole platform in one process — what `stratus up` runs: every function's routes,
//! `/openapi.json`, the core's `/health` and `/ws` and the portal at `/` on one listener,
//! and the core, the market feed, the `executions` consumer and the daily report timer as
//! tasks, over the embedded SQLite file (or, `--cloud`, Postgres, DynamoDB and Kinesis).

use std::net::SocketAddr;
use std::path::Path;

use app::settings::{Backend, Secret, Settings};
use app::{AppState, Clock};
use axum::Router;
use domain::InstrumentCatalog;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use core_service::feed::FeedConfig;
use core_service::runner::CoreConfig;
use core_service::service::{Service, ServiceConfig};

/// What to start.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    pub settings: Settings,
    /// `host:port`; port 0 picks a free one.
    pub bind: String,
    pub feed: FeedConfig,
    pub instruments: InstrumentCatalog,
    pub core: CoreConfig,
}

/// The running platform.
#[derive(Debug)]
pub struct Platform {
    pub addr: SocketAddr,
    pub state: AppState,
    service: Service,
    research: research_fn::worker::Workers,
    server: JoinHandle<std::io::Result<()>>,
    stop_server: watch::Sender<bool>,
}

/// All the functions' routes, as one table.
pub fn function_routes() -> api::Routes {
    auth_fn::routes()
        .merge(account_fn::routes())
        .merge(orders_fn::routes())
        .merge(reports_fn::routes())
        .merge(market_fn::routes())
        .merge(research_fn::routes())
        .merge(admin_fn::routes())
}

/// The JWT secret of an embedded deployment: the configured one, else one generated on
/// first start and kept in the data directory (owner-only), so tokens survive restarts.
pub fn embedded_secret(dir: &Path) -> anyhow::Result<Secret> {
    let path = dir.join("jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= 32 {
            return Ok(Secret::new(existing));
        }
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", dir.display()))?;
    let secret = app::crypto::random_token(48);
    std::fs::write(&path, &secret)
        .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(Secret::new(secret))
}

impl Platform {
    /// Opens the stores, starts the tasks and the listener.
    pub async fn start(mut config: PlatformConfig) -> anyhow::Result<Platform> {
        let clock = Clock::system();
        // The core in this process relays the outbox every step: requests need not.
        if config.settings.relay_inline.is_none() {
            config.settings.relay_inline = Some(false);
        }
        match config.settings.backend {
            Backend::Embedded => {
                if config.settings.jwt_secret.is_none() {
                    config.settings.jwt_secret = Some(embedded_secret(&config.settings.data_dir)?);
                }
            }
            Backend::Cloud => {
                anyhow::ensure!(
                    config.settings.database_url.is_some(),
                    "--cloud needs DATABASE_URL"
                );
                // Against emulators or a first deployment: create what is missing.
                config.settings.provision = true;
            }
        }
        let ports = store::connect(&config.settings.store_backend(), &clock).await?;
        let state = AppState::new(config.settings.clone(), ports, config.instruments, clock)?;
        let service = Service::spawn(
            state.clone(),
            ServiceConfig {
                core: config.core,
                feed: config.feed,
                executions_consumer: true,
                daily_reports: true,
            },
        );
        // Research jobs run here too: a bounded pool, each optimisation over every core.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let research = research_fn::worker::spawn(
            state.clone(),
            state.settings.research_workers as usize,
            cores,
        )
        .await;
        let router: Router = function_routes().into_router_with(
            state.clone(),
            service.routes(state.clone()).merge(portal_fn::router()),
        );
        let listener = tokio::net::TcpListener::bind(&config.bind)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.bind))?;
        let addr = listener.local_addr()?;
        let (stop_server, mut stopped) = watch::channel(false);
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stopped.changed().await;
            })
            .await
        });
        Ok(Platform {
            addr,
            state,
            service,
            research,
            server,
            stop_server,
        })
    }

    /// Stops accepting requests, lets the tasks finish (the core commits its batch), and
    /// returns when everything has stopped.
    pub async fn stop(self) {
        let _ = self.stop_server.send(true);
        let _ = self.server.await;
        self.research.stop().await;
        self.service.stop().await;
    }
}

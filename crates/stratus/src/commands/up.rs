//! `stratus up`: the whole platform in one process (see `stratus::platform`) — every
//! HTTP route, the WebSocket, the streaming core and a market feed over an embedded
//! SQLite file, or with `--cloud` over Postgres, DynamoDB and Kinesis.

use std::path::PathBuf;

use anyhow::Context;
use app::settings::{Backend, Settings};
use clap::Args;
use core_service::feed::FeedConfig;
use domain::{Currency, Decimal, Instrument, InstrumentCatalog, Symbol};
use stratus::platform::{Platform, PlatformConfig};

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Where the embedded store lives (default: the `data_dir` setting,
    /// `STRATUS_DATA_DIR`, else `stratus-data`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The HTTP listener (default: the `bind` setting, `STRATUS_BIND`, else
    /// 127.0.0.1:8080).
    #[arg(long)]
    bind: Option<String>,
    /// Replay this CSV file as the market feed instead of the synthetic market.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// The symbol of the replayed file.
    #[arg(long, default_value = "AAPL", requires = "replay")]
    symbol: String,
    /// Replay speed: data time per wall time (`1` real time, `60` a minute a second, `0`
    /// as fast as possible).
    #[arg(long, default_value_t = 1.0, requires = "replay")]
    speed: f64,
    /// No market feed (ticks come from another producer).
    #[arg(long, conflicts_with = "replay")]
    no_feed: bool,
    /// Synthetic trades per second per symbol.
    #[arg(long, default_value_t = 2.0)]
    ticks_per_second: f64,
    /// Use Postgres (DATABASE_URL), DynamoDB and Kinesis (AWS_ENDPOINT_URL…) instead of
    /// the embedded store; missing tables and streams are created.
    #[arg(long)]
    cloud: bool,
}

fn feed(
    args: &UpArgs,
    instruments: &mut InstrumentCatalog,
) -> anyhow::Result<(FeedConfig, String)> {
    if args.no_feed {
        return Ok((FeedConfig::None, "none".into()));
    }
    if let Some(path) = &args.replay {
        if !path.is_file() {
            anyhow::bail!("{}: no such file", path.display());
        }
        if !(args.speed.is_finite() && args.speed >= 0.0) {
            anyhow::bail!("--speed must be 0 or more, not {}", args.speed);
        }
        let symbol = Symbol::parse(&args.symbol).with_context(|| "--symbol")?;
        if instruments.get(symbol).is_none() {
            // A file of a symbol the catalog lacks trades on a cent grid in whole units.
            let mut list: Vec<Instrument> = instruments.iter().cloned().collect();
            list.push(Instrument::new(
                symbol,
                Decimal::new(1, 2),
                Decimal::ONE,
                Decimal::ONE,
                Currency::USD,
            )?);
            *instruments = InstrumentCatalog::from_instruments(list)?;
        }
        let what = format!(
            "replay of {} as {symbol} at {}",
            path.display(),
            if args.speed == 0.0 {
                "full speed".to_owned()
            } else {
                format!("{}×", args.speed)
            }
        );
        return Ok((
            FeedConfig::Replay {
                path: path.clone(),
                symbol,
                speed: args.speed,
            },
            what,
        ));
    }
    if !(args.ticks_per_second.is_finite() && args.ticks_per_second > 0.0) {
        anyhow::bail!("--ticks-per-second must be above 0");
    }
    let FeedConfig::Synthetic { symbols, seed, .. } = FeedConfig::default_synthetic() else {
        return Ok((FeedConfig::None, "none".into()));
    };
    let names: Vec<String> = symbols.iter().map(|(s, _)| s.to_string()).collect();
    Ok((
        FeedConfig::Synthetic {
            symbols,
            ticks_per_second: args.ticks_per_second,
            seed,
        },
        format!(
            "synthetic: {} ({} trades/s each)",
            names.join(" "),
            args.ticks_per_second
        ),
    ))
}

pub fn run(args: UpArgs) -> anyhow::Result<()> {
    // The flags win over the settings (defaults, STRATUS_CONFIG, STRATUS_* variables).
    let mut settings = Settings::load()?;
    if let Some(dir) = &args.data_dir {
        settings.data_dir = dir.clone();
    }
    let bind = args
        .bind
        .clone()
        .or_else(|| settings.bind.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    settings.bind = Some(bind.clone());
    if args.cloud {
        settings.backend = Backend::Cloud;
        // Against emulators (or a first run): create what is missing.
        settings.provision = true;
    }
    api::serve::init_tracing(&settings);
    let mut instruments = settings.catalog()?;
    let (feed, feed_text) = feed(&args, &mut instruments)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let backend = match settings.backend {
            Backend::Embedded => format!("embedded, data in {}", settings.data_dir.display()),
            Backend::Cloud => format!("cloud, prefix {}", settings.prefix),
        };
        let platform = Platform::start(PlatformConfig {
            settings,
            bind: bind.clone(),
            feed,
            instruments,
            core: Default::default(),
        })
        .await?;
        let addr = platform.addr;
        println!("Stratus is up ({backend})");
        println!("  Portal     http://{addr}/   (open it in a browser and sign up)");
        println!("  API        http://{addr}   (OpenAPI 3.1: http://{addr}/openapi.json)");
        println!("  WebSocket  ws://{addr}/ws");
        println!("  Health     http://{addr}/health");
        println!("  Feed       {feed_text}");
        println!();
        println!("Quick start with curl:");
        println!("  curl -s http://{addr}/auth/register -H 'content-type: application/json' \\");
        println!("       -d '{{\"email\":\"you@example.com\",\"password\":\"a long passphrase\"}}'");
        println!("  TOKEN=$(curl -s http://{addr}/auth/login -H 'content-type: application/json' \\");
        println!("       -d '{{\"email\":\"you@example.com\",\"password\":\"a long passphrase\"}}' | jq -r .access_token)");
        println!("  ACCT=$(curl -s http://{addr}/accounts -H \"authorization: Bearer $TOKEN\" \\");
        println!("       -H 'content-type: application/json' -d '{{\"name\":\"paper\"}}' | jq -r .id)");
        println!("  curl -s http://{addr}/accounts/$ACCT/deposits -H \"authorization: Bearer $TOKEN\" \\");
        println!("       -H 'content-type: application/json' -d '{{\"amount\":\"10000\"}}'");
        println!("  curl -s http://{addr}/accounts/$ACCT/orders -H \"authorization: Bearer $TOKEN\" \\");
        println!("       -H 'content-type: application/json' -d '{{\"symbol\":\"AAPL\",\"side\":\"buy\",\"type\":\"market\",\"quantity\":\"1\"}}'");
        println!("  curl -s http://{addr}/accounts/$ACCT/positions -H \"authorization: Bearer $TOKEN\"");
        println!("Ctrl-C stops it (the core commits what it is doing first).");
        api::serve::shutdown_signal().await;
        println!("stopping…");
        platform.stop().await;
        anyhow::Ok(())
    })
}

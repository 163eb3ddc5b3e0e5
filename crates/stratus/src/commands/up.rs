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
    /// The market feed: `synthetic` (the default), or a broker's live market data —
    /// `alpaca` (trades and quotes; credentials from APCA_API_KEY_ID and
    /// APCA_API_SECRET_KEY) or `binance` (trades and best bid/ask; no key needed).
    #[arg(long, value_enum, default_value_t = FeedKind::Synthetic, conflicts_with = "replay")]
    feed: FeedKind,
    /// Replay this CSV file as the market feed instead of the synthetic market.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// The symbol of the replayed file, or the symbols of a broker's feed (repeat the flag;
    /// default AAPL).
    #[arg(long)]
    symbol: Vec<String>,
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

/// Where ticks come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FeedKind {
    Synthetic,
    Alpaca,
    Binance,
}

/// A broker's feed (see `--feed`).
fn broker_feed(
    args: &UpArgs,
    instruments: &InstrumentCatalog,
) -> anyhow::Result<(FeedConfig, String)> {
    let (broker, environment, keys): (&str, &str, &[(&str, &str)]) = match args.feed {
        FeedKind::Alpaca => (
            "alpaca",
            "paper",
            &[
                ("key_id", "APCA_API_KEY_ID"),
                ("secret_key", "APCA_API_SECRET_KEY"),
            ],
        ),
        FeedKind::Binance => ("binance", "live", &[]),
        FeedKind::Synthetic => anyhow::bail!("not a broker feed"),
    };
    let mut credentials = std::collections::BTreeMap::new();
    for (field, variable) in keys {
        let value = std::env::var(variable).map_err(|_| {
            anyhow::anyhow!("--feed {broker} needs {variable} (the key of your {broker} account)")
        })?;
        credentials.insert((*field).to_owned(), value);
    }
    let names = if args.symbol.is_empty() {
        vec!["AAPL".to_owned()]
    } else {
        args.symbol.clone()
    };
    let mut symbols = Vec::new();
    for name in &names {
        let symbol = Symbol::parse(name).with_context(|| format!("--symbol {name}"))?;
        if instruments.get(symbol).is_none() {
            anyhow::bail!(
                "--symbol {symbol}: not in the instrument catalog (STRATUS_INSTRUMENTS adds instruments)"
            );
        }
        symbols.push(symbol);
    }
    let text = format!("{broker} market data: {}", names.join(" "));
    Ok((
        FeedConfig::Broker {
            broker: broker.to_owned(),
            environment: environment.to_owned(),
            symbols,
            credentials: core_service::feed::FeedCredentials(credentials),
        },
        text,
    ))
}

fn feed(
    args: &UpArgs,
    instruments: &mut InstrumentCatalog,
) -> anyhow::Result<(FeedConfig, String)> {
    if args.no_feed {
        return Ok((FeedConfig::None, "none".into()));
    }
    if args.feed != FeedKind::Synthetic {
        return broker_feed(args, instruments);
    }
    if let Some(path) = &args.replay {
        if !path.is_file() {
            anyhow::bail!("{}: no such file", path.display());
        }
        if !(args.speed.is_finite() && args.speed >= 0.0) {
            anyhow::bail!("--speed must be 0 or more, not {}", args.speed);
        }
        let name = match args.symbol.as_slice() {
            [] => "AAPL",
            [one] => one.as_str(),
            _ => anyhow::bail!("--replay replays one symbol: give --symbol once"),
        };
        let symbol = Symbol::parse(name).with_context(|| "--symbol")?;
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
    if !args.symbol.is_empty() {
        anyhow::bail!("--symbol goes with --replay or a broker's --feed");
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

//! `stratus-broker-stub <venue> [options]`: one of the broker stubs as a process, for
//! drivers outside Rust (the brokers' own SDKs in `scripts/broker-sdk-check`). Prints one
//! line, `listening <base_url>`, once it accepts connections, then serves until killed.

use std::io::Write;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(about = "A local stand-in for a broker's API")]
struct Cli {
    #[command(subcommand)]
    venue: Venue,
}

#[derive(Debug, Subcommand)]
enum Venue {
    /// Alpaca: the Trading API v2 at the base URL, `trade_updates` at /stream, market data
    /// at /v2/iex, and the /_stub/* control routes.
    Alpaca(AlpacaArgs),
    /// Binance Spot: the REST API at the base URL, the WebSocket API at /ws-api/v3 (the
    /// user data stream), market streams at /ws and /stream, and the /_stub/* control
    /// routes.
    Binance(BinanceArgs),
}

#[derive(Debug, Args)]
struct BinanceArgs {
    /// The port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The API key the stub accepts (default: the stub's own).
    #[arg(long)]
    key: Option<String>,
    /// The HMAC secret key of that API key (default: the stub's own).
    #[arg(long)]
    secret: Option<String>,
}

#[derive(Debug, Args)]
struct AlpacaArgs {
    /// The port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The API key id the stub accepts.
    #[arg(long, default_value = "stub-key")]
    key: String,
    /// The API secret key the stub accepts.
    #[arg(long, default_value = "stub-secret")]
    secret: String,
}

fn announce(base_url: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening {base_url}")?;
    // A driver reads this line through a pipe: it must not wait in a buffer.
    stdout.flush().context("writing the address")
}

/// Serves until the process is interrupted.
async fn until_interrupted() -> anyhow::Result<()> {
    tokio::signal::ctrl_c().await.context("waiting for ctrl-c")
}

async fn serve_alpaca(args: AlpacaArgs) -> anyhow::Result<()> {
    let config = broker_stubs::alpaca::AlpacaStubConfig {
        port: args.port,
        key_id: args.key,
        secret_key: args.secret,
        ..Default::default()
    };
    // Held while serving: dropping the stub stops its server.
    let stub = broker_stubs::alpaca::start(config).await?;
    announce(&stub.base_url())?;
    until_interrupted().await
}

async fn serve_binance(args: BinanceArgs) -> anyhow::Result<()> {
    let defaults = broker_stubs::binance::StubConfig::default();
    let config = broker_stubs::binance::StubConfig {
        port: args.port,
        api_key: args.key.unwrap_or(defaults.api_key.clone()),
        secret_key: args.secret.unwrap_or(defaults.secret_key.clone()),
        ..defaults
    };
    // Held while serving: dropping the stub stops its server.
    let stub = broker_stubs::binance::start(config).await?;
    announce(&stub.base_url())?;
    until_interrupted().await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().venue {
        Venue::Alpaca(args) => serve_alpaca(args).await,
        Venue::Binance(args) => serve_binance(args).await,
    }
}

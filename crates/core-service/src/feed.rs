//! The market feed of `stratus up`: a seeded synthetic market (geometric Brownian motion)
//! in real time, a CSV file replayed at a speed factor, or a broker's live market data
//! (Alpaca's trades and quotes, Binance's trades and best bid/ask: each trade a tick
//! carrying the latest quote) — published as `market.tick` events on the `ticks`
//! stream, partitioned by symbol, exactly as a producer in the cloud would publish them.
//! A broker's stream that drops is subscribed again, backing off up to 30 s.
//!
//! A replay keeps the file's own timestamps (candles, strategies and reports then see the
//! market's real calendar) and paces publication by the time between records divided by
//! the speed (`0`: as fast as possible). A bar becomes four ticks inside its period —
//! open, high, low, close, a quarter of the volume each — so strategies trading the
//! bar's timeframe see the bar itself again.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use app::AppState;
use domain::events::Event;
use domain::{Decimal, EventId, Quantity, Symbol, Tick, Timestamp};
use engine::market_data::Record;
use engine::market_data::csv::DataReader;
use engine::market_data::synthetic::{SyntheticConfig, SyntheticFeed, SyntheticSymbol};
use store::connect::streams;
use store::stream::OutgoingRecord;
use tokio::sync::watch;

/// Which feed.
#[derive(Debug, Clone)]
pub enum FeedConfig {
    /// No feed (ticks come from elsewhere: a producer, a test).
    None,
    Synthetic {
        /// Symbol and starting price; each must be in the instrument catalog.
        symbols: Vec<(Symbol, f64)>,
        ticks_per_second: f64,
        seed: u64,
    },
    Replay {
        path: PathBuf,
        symbol: Symbol,
        speed: f64,
    },
    /// A broker's live market data.
    Broker {
        /// `alpaca` or `binance`.
        broker: String,
        environment: String,
        symbols: Vec<Symbol>,
        credentials: FeedCredentials,
    },
}

/// The feed's credentials (the operator's, from the environment); never printed.
#[derive(Clone, Default)]
pub struct FeedCredentials(pub std::collections::BTreeMap<String, String>);

impl std::fmt::Debug for FeedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl FeedConfig {
    /// The default: four symbols, two ticks a second each.
    pub fn default_synthetic() -> Self {
        let symbols = [
            ("AAPL", 190.0),
            ("MSFT", 410.0),
            ("SPY", 520.0),
            ("ES", 5200.0),
        ]
        .iter()
        .filter_map(|(s, p)| Symbol::parse(s).ok().map(|s| (s, *p)))
        .collect();
        FeedConfig::Synthetic {
            symbols,
            ticks_per_second: 2.0,
            seed: 1,
        }
    }
}

/// Publishes ticks until the feed ends (a replay) or `shutdown`; the number published.
pub async fn run(
    app: AppState,
    config: FeedConfig,
    mut shutdown: watch::Receiver<bool>,
    progress: Arc<AtomicU64>,
) -> anyhow::Result<u64> {
    match config {
        FeedConfig::None => Ok(0),
        FeedConfig::Synthetic {
            symbols,
            ticks_per_second,
            seed,
        } => {
            let mut list = Vec::new();
            for (symbol, price) in symbols {
                let instrument =
                    app.instruments.get(symbol).cloned().ok_or_else(|| {
                        anyhow::anyhow!("{symbol} is not in the instrument catalog")
                    })?;
                list.push(SyntheticSymbol {
                    instrument,
                    start_price: price,
                });
            }
            let start = app.clock.now();
            let feed = SyntheticFeed::new(SyntheticConfig {
                symbols: list,
                drift: 0.05,
                volatility: 0.4,
                ticks_per_second,
                start,
                seed,
            })?;
            let started = tokio::time::Instant::now();
            let mut out = Publisher::new(&app, &progress);
            for tick in feed {
                if *shutdown.borrow() {
                    break;
                }
                let due = Duration::from_nanos(
                    u64::try_from(tick.time.nanos() - start.nanos()).unwrap_or(0),
                );
                out.wait_until(started + due, &mut shutdown).await;
                out.push(tick).await;
            }
            Ok(out.finish().await)
        }
        FeedConfig::Replay {
            path,
            symbol,
            speed,
        } => {
            let reader = DataReader::open(&path, symbol)?;
            let started = tokio::time::Instant::now();
            let mut first: Option<Timestamp> = None;
            let mut out = Publisher::new(&app, &progress);
            for record in reader {
                if *shutdown.borrow() {
                    break;
                }
                let ticks = match record? {
                    Record::Tick(t) => vec![Tick { symbol, ..t }],
                    Record::Bar(bar) => bar_ticks(symbol, &bar),
                };
                for tick in ticks {
                    let base = *first.get_or_insert(tick.time);
                    if speed > 0.0 {
                        let data = (tick.time.nanos() - base.nanos()).max(0) as f64 / speed;
                        let due = Duration::from_nanos(data.min(1e18) as u64);
                        out.wait_until(started + due, &mut shutdown).await;
                    }
                    out.push(tick).await;
                }
            }
            let published = out.finish().await;
            tracing::info!(published, file = %path.display(), "replay finished");
            Ok(published)
        }
        FeedConfig::Broker {
            broker,
            environment,
            symbols,
            credentials,
        } => {
            let data =
                app::venues::Venues::market_data(&app, &broker, &environment, &credentials.0)?;
            let mut out = Publisher::new(&app, &progress);
            let mut backoff = Duration::from_secs(1);
            'subscriptions: loop {
                if *shutdown.borrow() {
                    break;
                }
                match data.subscribe(&symbols).await {
                    Ok(mut feed) => {
                        backoff = Duration::from_secs(1);
                        tracing::info!(broker = %broker, symbols = symbols.len(), "following the broker's market data");
                        loop {
                            let next = tokio::select! {
                                next = feed.next() => next,
                                _ = shutdown.changed() => break 'subscriptions,
                            };
                            match next {
                                Some(Ok(tick)) => {
                                    // Live: each trade goes out as it comes.
                                    out.push(tick).await;
                                    out.flush().await;
                                }
                                Some(Err(e)) => {
                                    tracing::warn!(broker = %broker, error = %e, "the broker's market data stream ended");
                                    break;
                                }
                                None => break,
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(broker = %broker, error = %e, "cannot subscribe to the broker's market data");
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
            Ok(out.finish().await)
        }
    }
}

/// A bar as four ticks inside its period (see the module docs).
fn bar_ticks(symbol: Symbol, bar: &domain::Candle) -> Vec<Tick> {
    let span = (bar.end.nanos() - bar.start.nanos()).max(4);
    let size = Quantity::new(
        (bar.volume.value() / Decimal::from(4))
            .round_dp(8)
            .max(Decimal::new(1, 8)),
    )
    .unwrap_or(Quantity::ZERO);
    [bar.open, bar.high, bar.low, bar.close]
        .iter()
        .enumerate()
        .map(|(i, price)| Tick {
            symbol,
            time: Timestamp::from_nanos(bar.start.nanos() + span / 4 * i as i64),
            price: *price,
            size,
            bid: None,
            ask: None,
        })
        .collect()
}

/// Ticks waiting to go out in one `PutRecords`, and the count of those gone.
struct Publisher<'a> {
    app: &'a AppState,
    progress: &'a AtomicU64,
    pending: Vec<Tick>,
    published: u64,
}

impl<'a> Publisher<'a> {
    /// Ticks per batch: one `PutRecords` call at its limit of 500 records.
    const BATCH: usize = 500;

    fn new(app: &'a AppState, progress: &'a AtomicU64) -> Self {
        Publisher {
            app,
            progress,
            pending: Vec::new(),
            published: 0,
        }
    }

    async fn push(&mut self, tick: Tick) {
        self.pending.push(tick);
        if self.pending.len() >= Self::BATCH {
            self.flush().await;
        }
    }

    /// Paces the feed: what is pending goes out now (it is due), then sleeps until
    /// `wait` or shutdown.
    async fn wait_until(
        &mut self,
        wait: tokio::time::Instant,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        if wait <= tokio::time::Instant::now() {
            return;
        }
        self.flush().await;
        tokio::select! {
            _ = tokio::time::sleep_until(wait) => {}
            _ = shutdown.changed() => {}
        }
    }

    /// Publishes what is pending; the number published in all.
    async fn finish(mut self) -> u64 {
        self.flush().await;
        self.published
    }

    async fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let records: Vec<OutgoingRecord> = self
            .pending
            .iter()
            .map(|t| {
                let id = EventId::derived(&format!("tick:{}:{}", t.symbol, t.time.nanos()));
                let envelope = Event::TickReceived(*t).to_envelope(id, t.time);
                OutgoingRecord::new(envelope.partition_key.clone(), envelope.to_vec())
            })
            .collect();
        let n = records.len() as u64;
        loop {
            match self
                .app
                .streams
                .publish(streams::TICKS, records.clone())
                .await
            {
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "publishing ticks failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        self.published += n;
        self.progress.fetch_add(n, Ordering::Relaxed);
        self.pending.clear();
    }
}

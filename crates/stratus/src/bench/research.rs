//! The market-data and research benches, each on a whole platform started in this
//! process (an embedded store in a temporary directory, no feed) holding 100,000
//! synthetic one-minute bars of `BENCH`:
//!
//! - `candles-route`: `GET /instruments/BENCH/candles` for 1,000 candles over one
//!   keep-alive HTTP connection, recorded (1m) and resampled (5m from 1m): latency
//!   percentiles per request, auth and all.
//! - `sweep`: 100 parameter sets × 100,000 bars in one optimisation, first on one thread,
//!   then on every core: bars per second each and the speed-up; then the same sweep as
//!   one optimisation job over HTTP (bars read from the history, the worker on every
//!   core), end to end.
//! - `backtest-job`: a backtest job submitted over HTTP and run by the worker pool, its
//!   report compared field for field with what `stratus backtest --json` prints for the
//!   same bars written to a file.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use app::settings::Settings;
use clap::Args;
use domain::{Candle, Decimal, InstrumentCatalog, Money, Symbol};
use engine::backtest::BacktestConfig;
use engine::optimize::{OptimizeConfig, RankBy, Search, optimize};
use engine::paper::CostModel;
use stratus::platform::{Platform, PlatformConfig};

use super::backtest::synthetic_bars;
use super::http::client::{BaseUrl, Conn};
use super::http::{random_u64, setup_call};
use super::percentile;

#[derive(Debug, Args)]
pub struct ResearchArgs {
    /// One-minute bars in the history.
    #[arg(long, default_value_t = 100_000)]
    bars: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Debug, Args)]
pub struct CandlesRouteArgs {
    #[command(flatten)]
    common: ResearchArgs,
    /// Requests per timeframe.
    #[arg(long, default_value_t = 1_000)]
    requests: usize,
    /// Candles per request.
    #[arg(long, default_value_t = 1_000)]
    limit: usize,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    common: ResearchArgs,
    /// Parameter sets (sma_cross periods 5, 6, …).
    #[arg(long, default_value_t = 100)]
    runs: usize,
    /// Threads of the parallel pass (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Passes of each (one thread, then every core, alternating); the best of each counts.
    #[arg(long, default_value_t = 3)]
    passes: usize,
}

fn bench_symbol() -> anyhow::Result<Symbol> {
    Ok(Symbol::parse("BENCH")?)
}

/// A platform with the bars in its history, and a signed-in user.
struct Stage {
    platform: Platform,
    dir: std::path::PathBuf,
    url: BaseUrl,
    token: String,
    bars: Vec<Candle>,
}

async fn stage(args: &ResearchArgs) -> anyhow::Result<Stage> {
    anyhow::ensure!(args.bars >= 100, "--bars must be at least 100");
    let dir = std::env::temp_dir().join(format!("stratus-bench-research-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let settings = Settings {
        data_dir: dir.clone(),
        ..Settings::default()
    };
    let platform = Platform::start(PlatformConfig {
        settings,
        bind: "127.0.0.1:0".into(),
        feed: core_service::feed::FeedConfig::None,
        instruments: InstrumentCatalog::builtin(),
        core: Default::default(),
    })
    .await?;
    let bars = synthetic_bars(bench_symbol()?, args.bars, args.seed)?;
    let started = Instant::now();
    platform.state.history.save_candles(&bars).await?;
    eprintln!(
        "stage: {} bars stored in {:.1}s",
        bars.len(),
        started.elapsed().as_secs_f64()
    );
    let url = BaseUrl::parse(&format!("http://{}", platform.addr)).map_err(anyhow::Error::msg)?;
    let mut conn = Conn::connect(&url, Duration::from_secs(10)).await?;
    let tag = format!("{:016x}", random_u64());
    let credentials = serde_json::json!({
        "email": format!("bench-{tag}@bench.example.com"),
        "password": format!("bench-password-{tag}"),
    });
    setup_call(
        &mut conn,
        &url,
        "register",
        "/auth/register",
        None,
        credentials.clone(),
    )
    .await?;
    let login = setup_call(&mut conn, &url, "login", "/auth/login", None, credentials).await?;
    let token = login["access_token"]
        .as_str()
        .context("login: no access_token")?
        .to_owned();
    Ok(Stage {
        platform,
        dir,
        url,
        token,
        bars,
    })
}

impl Stage {
    async fn stop(self) {
        self.platform.stop().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    async fn get(&self, conn: &mut Conn, path: &str) -> anyhow::Result<serde_json::Value> {
        let bearer = format!("Bearer {}", self.token);
        let response = conn
            .request(
                "GET",
                &self.url.target(path),
                &[("authorization", &bearer)],
                &[],
            )
            .await
            .with_context(|| format!("GET {path}"))?;
        if response.status != 200 {
            bail!(
                "GET {path}: {} {}",
                response.status,
                response.body_snippet()
            );
        }
        Ok(response.json()?)
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn ms(nanos: f64) -> f64 {
    (nanos / 1e4).round() / 100.0
}

pub fn candles_route(args: CandlesRouteArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.requests >= 10, "--requests must be at least 10");
    runtime()?.block_on(async {
        let stage = stage(&args.common).await?;
        let mut conn = Conn::connect(&stage.url, Duration::from_secs(10)).await?;
        let mut line = serde_json::json!({"bench": "candles-route", "candles": args.limit, "requests": args.requests});
        for timeframe in ["1m", "5m"] {
            let path = format!("/instruments/BENCH/candles?timeframe={timeframe}&limit={}", args.limit);
            // Warm up the connection, the caches and the page cache.
            for _ in 0..10 {
                stage.get(&mut conn, &path).await?;
            }
            let mut samples = Vec::with_capacity(args.requests);
            let mut got = 0;
            for _ in 0..args.requests {
                let started = Instant::now();
                let page = stage.get(&mut conn, &path).await?;
                samples.push(started.elapsed().as_nanos() as u64);
                got = page["candles"].as_array().map_or(0, Vec::len);
            }
            anyhow::ensure!(got == args.limit, "{timeframe}: {got} candles, not {}", args.limit);
            samples.sort_unstable();
            let key = if timeframe == "1m" { "recorded" } else { "resampled_5m" };
            line[key] = serde_json::json!({
                "p50_ms": ms(percentile(&samples, 50.0)),
                "p99_ms": ms(percentile(&samples, 99.0)),
                "max_ms": ms(*samples.last().unwrap_or(&0) as f64),
            });
            eprintln!("candles-route {timeframe}: {}", line[key]);
        }
        stage.stop().await;
        println!("{line}");
        anyhow::Ok(())
    })
}

pub fn sweep(args: SweepArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.runs >= 2, "--runs must be at least 2");
    anyhow::ensure!(args.common.bars >= 100, "--bars must be at least 100");
    let bars = synthetic_bars(bench_symbol()?, args.common.bars, args.common.seed)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let periods: Vec<serde_json::Value> = (5..5 + args.runs as u64)
        .map(serde_json::Value::from)
        .collect();
    let config = |threads| OptimizeConfig {
        backtest: BacktestConfig {
            symbol: bars[0].symbol,
            strategy: "sma_cross".into(),
            params: serde_json::json!({"size": 10}),
            cash: Money::new(Decimal::from(100_000)),
            costs: CostModel::default(),
            timeframe: None,
            from: None,
            to: None,
            tick_size: Decimal::new(1, 2),
            strategies: std::sync::Arc::new(engine::strategy::Builtins),
        },
        search: Search::Grid([("period".to_owned(), periods.clone())].into()),
        rank_by: RankBy::Sharpe,
        threads,
        walk_forward: None,
        top: 10,
        max_runs: args.runs,
    };
    let total_bars = (bars.len() * args.runs) as f64;
    let timed = |threads| -> anyhow::Result<(f64, engine::optimize::OptimizeReport)> {
        let started = Instant::now();
        let report = optimize(&bars, &config(threads), &|_, _| {})?;
        Ok((started.elapsed().as_secs_f64(), report))
    };
    // Alternating passes, the best of each: the host's noise hits both alike.
    let mut best_one: Option<(f64, engine::optimize::OptimizeReport)> = None;
    let mut best_many: Option<(f64, engine::optimize::OptimizeReport)> = None;
    for pass in 0..args.passes.max(1) {
        let (one_secs, one) = timed(1)?;
        let (many_secs, many) = timed(threads)?;
        eprintln!(
            "sweep pass {}: {one_secs:.2}s on 1 thread, {many_secs:.2}s on {threads}",
            pass + 1
        );
        if best_one.as_ref().is_none_or(|(s, _)| one_secs < *s) {
            best_one = Some((one_secs, one));
        }
        if best_many.as_ref().is_none_or(|(s, _)| many_secs < *s) {
            best_many = Some((many_secs, many));
        }
    }
    let ((one_secs, one), (many_secs, many)) = match (best_one, best_many) {
        (Some(a), Some(b)) => (a, b),
        _ => bail!("no pass ran"),
    };
    let same = serde_json::to_value(&one.all)? == serde_json::to_value(&many.all)?;
    anyhow::ensure!(same, "the parallel sweep ranked differently");
    // The same sweep as one optimisation job: submitted over HTTP to a platform whose
    // history holds the bars, run by its worker on every core, polled to the end.
    let (job_secs, job_same) = runtime()?.block_on(async {
        let stage = stage(&args.common).await?;
        let mut conn = Conn::connect(&stage.url, Duration::from_secs(10)).await?;
        let request = serde_json::json!({
            "strategy": "sma_cross", "symbol": "BENCH", "timeframe": "1m", "cash": "100000",
            "params": {"size": 10}, "grid": {"period": periods}, "top": 10,
        });
        let started = Instant::now();
        let job = setup_call(
            &mut conn,
            &stage.url,
            "submit",
            "/optimizations",
            Some(&stage.token),
            request,
        )
        .await?;
        let id = job["id"].as_str().context("no job id")?.to_owned();
        let job = loop {
            let job = stage
                .get(&mut conn, &format!("/optimizations/{id}"))
                .await?;
            match job["status"].as_str() {
                Some("succeeded") => break job,
                Some("failed") => bail!("the job failed: {}", job["error"]),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        let secs = started.elapsed().as_secs_f64();
        let same = job["result"]["all"] == serde_json::to_value(&one.all)?;
        stage.stop().await;
        anyhow::Ok((secs, same))
    })?;
    anyhow::ensure!(job_same, "the job ranked differently from the optimiser");
    let line = serde_json::json!({
        "bench": "sweep",
        "runs": args.runs,
        "bars_per_run": bars.len(),
        "passes": args.passes.max(1),
        "threads": threads,
        "single_thread_bars_per_sec": (total_bars / one_secs).round(),
        "parallel_bars_per_sec": (total_bars / many_secs).round(),
        "speedup": ((one_secs / many_secs) * 100.0).round() / 100.0,
        "same_ranking": same,
        "job_secs": (job_secs * 1000.0).round() / 1000.0,
        "job_bars_per_sec": (total_bars / job_secs).round(),
        "job_speedup": ((total_bars / job_secs) / (total_bars / one_secs) * 100.0).round() / 100.0,
        "best": one.best.first().map(|b| b.params.clone()),
    });
    println!("{line}");
    Ok(())
}

pub fn backtest_job(args: ResearchArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let stage = stage(&args).await?;
        let mut conn = Conn::connect(&stage.url, Duration::from_secs(10)).await?;
        let request = serde_json::json!({
            "strategy": "sma_cross", "params": {"period": 30, "size": 10},
            "symbols": ["BENCH"], "timeframe": "1m", "cash": "100000",
        });
        let started = Instant::now();
        let job = setup_call(
            &mut conn,
            &stage.url,
            "submit",
            "/backtests",
            Some(&stage.token),
            request,
        )
        .await?;
        let id = job["id"].as_str().context("no job id")?.to_owned();
        let job = loop {
            let job = stage.get(&mut conn, &format!("/backtests/{id}")).await?;
            match job["status"].as_str() {
                Some("succeeded") => break job,
                Some("failed") => bail!("the job failed: {}", job["error"]),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        let job_secs = started.elapsed().as_secs_f64();
        // What `stratus backtest --json` prints for the same bars in a file.
        let path = stage.dir.join("bars.csv");
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
        crate::commands::candles::write_csv(&mut file, &stage.bars)?;
        std::io::Write::flush(&mut file)?;
        drop(file);
        let config = BacktestConfig {
            symbol: bench_symbol()?,
            strategy: "sma_cross".into(),
            params: serde_json::json!({"period": 30, "size": 10}),
            cash: Money::new(Decimal::from(100_000)),
            costs: CostModel::default(),
            timeframe: None,
            from: None,
            to: None,
            tick_size: Decimal::new(1, 2),
            strategies: std::sync::Arc::new(engine::strategy::Builtins),
        };
        let reader = engine::market_data::csv::DataReader::open(&path, config.symbol)?;
        let cli = engine::backtest::run(reader, &config, &mut |_| {})?.to_json();
        let report = &job["result"]["runs"][0]["report"];
        let equal = *report == cli;
        if !equal {
            eprintln!("job: {}\ncli: {}", report["metrics"], cli["metrics"]);
        }
        let differing: Vec<String> = cli
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, v)| report.get(k.as_str()) != Some(*v))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        let line = serde_json::json!({
            "bench": "backtest-job",
            "bars": stage.bars.len(),
            "job_secs": (job_secs * 1000.0).round() / 1000.0,
            "equal_to_cli": equal,
            "fields": cli.as_object().map_or(0, |o| o.len()),
            "differing": differing,
        });
        stage.stop().await;
        println!("{line}");
        anyhow::ensure!(equal, "the job's report differs from the CLI's");
        anyhow::Ok(())
    })
}

//! Running a job: its bars read from the candle history, the engine's backtest (or the
//! optimiser over it) on a blocking thread, progress written as it goes, the result
//! kept with the job.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use analytics::{AnalyticsConfig, EquityPoint};
use app::AppState;
use domain::{Candle, Decimal, JobKind, ResearchJob, Symbol, Timestamp};
use engine::backtest::{self, BacktestReport};
use engine::market_data::Record;
use engine::optimize::{OptimizeConfig, optimize};
use serde_json::{Value, json};
use store::records::JobOutcome;

use crate::spec::{self, BacktestRequest, OptimizationRequest};

/// The most points an equity series keeps in a result (the chart draws a few hundred).
pub const SERIES_POINTS: usize = 1_000;

/// How often a running job's progress is written.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// Runs `job` (already claimed) to its end and records the outcome. `threads`: how many
/// an optimisation spreads over.
pub async fn run_and_finish(state: &AppState, job: &ResearchJob, threads: usize) {
    let outcome = execute(state, job, threads).await;
    let now = state.clock.now();
    let written = match &outcome {
        Ok(result) => {
            state
                .jobs
                .finish_job(job.id, JobOutcome::Succeeded(result), now)
                .await
        }
        Err(reason) => {
            tracing::info!(job = %job.id, %reason, "research job failed");
            state
                .jobs
                .finish_job(job.id, JobOutcome::Failed(reason), now)
                .await
        }
    };
    if let Err(e) = written {
        // The job stays running until a worker's start fails it with a reason.
        tracing::warn!(job = %job.id, error = %e, "could not record a research job's outcome");
    }
}

/// The job's result, or why it failed (in words for its owner).
pub async fn execute(state: &AppState, job: &ResearchJob, threads: usize) -> Result<Value, String> {
    match job.kind {
        JobKind::Backtest => {
            let request: BacktestRequest = serde_json::from_value(job.request.clone())
                .map_err(|e| format!("the request cannot be read: {e}"))?;
            backtest_job(state, job, &request).await
        }
        JobKind::Optimization => {
            let request: OptimizationRequest = serde_json::from_value(job.request.clone())
                .map_err(|e| format!("the request cannot be read: {e}"))?;
            optimization_job(state, job, &request, threads).await
        }
    }
}

/// Writes `share()` as the job's progress every half second until `work` ends.
async fn report_progress<T>(
    state: &AppState,
    job: &ResearchJob,
    share: impl Fn() -> f64,
    work: tokio::task::JoinHandle<T>,
) -> Result<T, String> {
    let mut work = work;
    loop {
        tokio::select! {
            finished = &mut work => {
                return finished.map_err(|e| format!("the run stopped: {e}"));
            }
            () = tokio::time::sleep(PROGRESS_EVERY) => {
                if let Err(e) = state.jobs.job_progress(job.id, share().min(0.99)).await {
                    tracing::warn!(job = %job.id, error = %e, "progress not written");
                }
            }
        }
    }
}

/// Every `step`-th point and the last: at most about `max` points.
fn thin<T: Clone>(points: &[T], max: usize) -> Vec<T> {
    let step = points.len().div_ceil(max.max(1)).max(1);
    let mut out: Vec<T> = points.iter().step_by(step).cloned().collect();
    if let Some(last) = points.last() {
        if (points.len() - 1) % step != 0 {
            out.push(last.clone());
        }
    }
    out
}

/// A buy-and-hold curve of `bars` starting with `cash`, sampled at `times` (the last
/// close at or before each).
fn hold_curve(bars: &[Candle], cash: Decimal, times: &[Timestamp]) -> Vec<EquityPoint> {
    let Some(first) = bars.first() else {
        return Vec::new();
    };
    let units = cash.checked_div(first.open.value()).unwrap_or_default();
    let mut out = Vec::with_capacity(times.len());
    let mut i = 0;
    let mut close = first.open.value();
    for &t in times {
        while i < bars.len() && bars[i].end <= t {
            close = bars[i].close.value();
            i += 1;
        }
        out.push(EquityPoint {
            time: t,
            equity: units.checked_mul(close).unwrap_or_default(),
            exposed: true,
        });
    }
    out
}

/// One symbol's backtest as the result shows it: the CLI's JSON document (`report`,
/// field for field what `stratus backtest --json` prints), round trips, and the equity,
/// benchmark and drawdown series.
fn run_view(
    report: &BacktestReport,
    source: domain::Timeframe,
    benchmark: Option<(Symbol, Vec<EquityPoint>)>,
) -> Result<Value, String> {
    let equity = report.equity.to_vec();
    let (benchmark_symbol, bench, metrics) = match benchmark {
        None => (
            report.symbol,
            report.benchmark.to_vec(),
            report.metrics.clone(),
        ),
        Some((symbol, curve)) => {
            // Another symbol's buy and hold: the same metrics against that curve.
            let metrics = analytics::compute(
                &equity,
                &report.round_trips,
                &curve,
                &AnalyticsConfig {
                    periods_per_year: report.periods_per_year,
                    risk_free_rate: 0.0,
                },
            )
            .map_err(|e| e.to_string())?;
            (symbol, curve, metrics)
        }
    };
    let mut document = report.to_json();
    document["metrics"] = serde_json::to_value(&metrics).map_err(|e| e.to_string())?;
    let drawdown = analytics::drawdown_series(&equity);
    let series: Vec<Value> = equity
        .iter()
        .zip(&drawdown)
        .enumerate()
        .map(|(i, (p, (_, dd)))| {
            json!({
                "time": p.time,
                "equity": p.equity.normalize().to_string(),
                "benchmark": bench.get(i).map(|b| b.equity.round_dp(8).normalize().to_string()),
                "drawdown": dd,
            })
        })
        .collect();
    Ok(json!({
        "symbol": report.symbol,
        "source_timeframe": source,
        "benchmark_symbol": benchmark_symbol,
        "bars": report.records,
        "report": document,
        "round_trips": report.round_trips,
        "series": thin(&series, SERIES_POINTS),
    }))
}

async fn backtest_job(
    state: &AppState,
    job: &ResearchJob,
    request: &BacktestRequest,
) -> Result<Value, String> {
    let window = request.market().check().map_err(|e| e.detail.clone())?;
    let named = spec::strategy(state, job.user_id, &request.strategy)
        .await
        .map_err(|e| e.detail.clone())?;
    // The bars of every symbol (and the benchmark's) first: they are also the progress's
    // denominator.
    let mut inputs = Vec::new();
    for (i, symbol) in request.symbols.iter().enumerate() {
        let source = spec::source_of(state, symbol.0, &window, &format!("symbols[{i}]"))
            .await
            .map_err(|e| e.detail.clone())?;
        let bars = spec::bars(state, symbol.0, source, window.from, window.to)
            .await
            .map_err(|e| e.to_string())?;
        inputs.push((symbol.0, source, bars));
    }
    let benchmark = match &request.benchmark {
        Some(b) => {
            let source = spec::source_of(state, b.0, &window, "benchmark")
                .await
                .map_err(|e| e.detail.clone())?;
            Some((
                b.0,
                spec::bars(state, b.0, source, window.from, window.to)
                    .await
                    .map_err(|e| e.to_string())?,
            ))
        }
        None => None,
    };
    let total: u64 = inputs.iter().map(|(_, _, b)| b.len() as u64).sum();
    let done = Arc::new(AtomicU64::new(0));
    let configs: Vec<_> = inputs
        .iter()
        .map(|(symbol, _, _)| {
            spec::backtest_config(
                state,
                (&request.strategy, &named),
                &request.params,
                *symbol,
                &window,
            )
        })
        .collect();
    let counter = done.clone();
    let work = tokio::task::spawn_blocking(move || {
        let mut runs = Vec::new();
        for ((symbol, source, bars), config) in inputs.into_iter().zip(configs) {
            let records = bars.iter().map(|c| {
                counter.fetch_add(1, Ordering::Relaxed);
                Ok(Record::Bar(*c))
            });
            let report = backtest::run(records, &config, &mut |_| {})
                .map_err(|e| format!("{symbol}: {e}"))?;
            let bench = benchmark.as_ref().map(|(b, bars)| {
                let times: Vec<Timestamp> = report.equity.to_vec().iter().map(|p| p.time).collect();
                (*b, hold_curve(bars, config.cash.value(), &times))
            });
            runs.push(run_view(&report, source, bench)?);
        }
        Ok::<_, String>(runs)
    });
    let share = move || done.load(Ordering::Relaxed) as f64 / total.max(1) as f64;
    let runs = report_progress(state, job, share, work).await??;
    Ok(json!({ "runs": runs }))
}

async fn optimization_job(
    state: &AppState,
    job: &ResearchJob,
    request: &OptimizationRequest,
    threads: usize,
) -> Result<Value, String> {
    let window = request.market().check().map_err(|e| e.detail.clone())?;
    let named = spec::strategy(state, job.user_id, &request.strategy)
        .await
        .map_err(|e| e.detail.clone())?;
    let search = request.search(&named).map_err(|e| e.detail.clone())?;
    let symbol = request.symbol.0;
    let source = spec::source_of(state, symbol, &window, "symbol")
        .await
        .map_err(|e| e.detail.clone())?;
    let bars = spec::bars(state, symbol, source, window.from, window.to)
        .await
        .map_err(|e| e.to_string())?;
    let config = OptimizeConfig {
        backtest: spec::backtest_config(
            state,
            (&request.strategy, &named),
            &request.params,
            symbol,
            &window,
        ),
        search,
        rank_by: request.rank_by.unwrap_or_default(),
        threads: threads.max(1),
        walk_forward: request.walk_forward,
        top: request.top.unwrap_or(10),
        max_runs: spec::MAX_RUNS,
    };
    let done = Arc::new(AtomicU64::new(0));
    let total = Arc::new(AtomicU64::new(1));
    let (counter, size) = (done.clone(), total.clone());
    let work = tokio::task::spawn_blocking(move || {
        optimize(&bars, &config, &|finished, all| {
            counter.store(finished as u64, Ordering::Relaxed);
            size.store(all as u64, Ordering::Relaxed);
        })
        .map_err(|e| e.to_string())
    });
    let share =
        move || done.load(Ordering::Relaxed) as f64 / total.load(Ordering::Relaxed).max(1) as f64;
    let report = report_progress(state, job, share, work).await??;
    let mut result = serde_json::to_value(&report).map_err(|e| e.to_string())?;
    result["symbol"] = json!(symbol);
    result["source_timeframe"] = json!(source);
    Ok(result)
}

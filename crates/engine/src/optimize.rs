//! Parameter searches: one strategy backtested over the same bars with many parameter
//! sets — every point of a grid, or random draws from ranges — spread over threads, and
//! ranked by a chosen metric. With walk-forward, the search runs on the first part of the
//! bars (in-sample) and the best sets run again on the rest (out-of-sample), so that a
//! set that only fits the past shows it.
//!
//! Each run is [`backtest::run`] itself, so a run's result is exactly what a single
//! backtest with those parameters gives. Runs share the bars (read-only) and nothing
//! else; the ranking is stable (ties keep the order the sets were generated in), so the
//! same search gives the same answer on any number of threads.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use analytics::Metrics;
use domain::{Candle, Money};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::backtest::{self, BacktestConfig, BacktestError, BacktestReport};
use crate::market_data::Record;
use crate::rng::SplitMix64;
use crate::strategy::{StrategyConfig, StrategyError};

/// The most runs one search may make (grid points, or random draws, in-sample).
pub const MAX_RUNS: usize = 2_000;

/// Where the parameter sets come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Search {
    /// Every combination of the listed values (a parameter not listed keeps its default).
    Grid(BTreeMap<String, Vec<Value>>),
    /// `samples` draws, each parameter uniform in its range, from a seeded generator.
    Random {
        ranges: BTreeMap<String, ParamRange>,
        samples: usize,
        #[serde(default)]
        seed: u64,
    },
}

/// A range to draw a parameter from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ParamRange {
    /// Whole numbers `min..=max`.
    Integer { min: i64, max: i64 },
    /// Numbers in `[min, max]`.
    Number { min: f64, max: f64 },
}

/// What runs are ranked by: higher is better for all but `max_drawdown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    #[default]
    Sharpe,
    Sortino,
    TotalReturn,
    Cagr,
    Calmar,
    ProfitFactor,
    WinRate,
    MaxDrawdown,
}

impl RankBy {
    pub const ALL: [RankBy; 8] = [
        RankBy::Sharpe,
        RankBy::Sortino,
        RankBy::TotalReturn,
        RankBy::Cagr,
        RankBy::Calmar,
        RankBy::ProfitFactor,
        RankBy::WinRate,
        RankBy::MaxDrawdown,
    ];

    /// The metric's value, oriented so that higher is better (`None`: undefined, ranked
    /// last).
    pub fn score(self, m: &Metrics) -> Option<f64> {
        let value = match self {
            RankBy::Sharpe => m.sharpe,
            RankBy::Sortino => m.sortino,
            RankBy::TotalReturn => Some(m.total_return),
            RankBy::Cagr => m.cagr,
            RankBy::Calmar => m.calmar,
            RankBy::ProfitFactor => m.profit_factor,
            RankBy::WinRate => m.win_rate,
            RankBy::MaxDrawdown => Some(-m.max_drawdown),
        };
        value.filter(|v| v.is_finite())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OptimizeError {
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("the search makes {runs} runs; at most {max} are allowed")]
    TooManyRuns { runs: usize, max: usize },
    #[error("no parameter set of the search makes the strategy: {0}")]
    NoValidSet(StrategyError),
    #[error(transparent)]
    Backtest(#[from] BacktestError),
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> OptimizeError {
    OptimizeError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The parameter sets of `search` on top of `base` (the fixed parameters), in a stable
/// order; at most `max_runs`.
pub fn parameter_sets(
    search: &Search,
    base: &Map<String, Value>,
    max_runs: usize,
) -> Result<Vec<Value>, OptimizeError> {
    match search {
        Search::Grid(grid) => {
            let mut runs: usize = 1;
            for (name, values) in grid {
                if values.is_empty() {
                    return Err(invalid(format!("grid.{name}"), "lists no value"));
                }
                runs = runs.saturating_mul(values.len());
            }
            if grid.is_empty() {
                return Err(invalid("grid", "names no parameter"));
            }
            if runs > max_runs {
                return Err(OptimizeError::TooManyRuns {
                    runs,
                    max: max_runs,
                });
            }
            let mut sets = vec![base.clone()];
            for (name, values) in grid {
                sets = sets
                    .into_iter()
                    .flat_map(|set| {
                        values.iter().map(move |v| {
                            let mut next = set.clone();
                            next.insert(name.clone(), v.clone());
                            next
                        })
                    })
                    .collect();
            }
            Ok(sets.into_iter().map(Value::Object).collect())
        }
        Search::Random {
            ranges,
            samples,
            seed,
        } => {
            if ranges.is_empty() {
                return Err(invalid("ranges", "names no parameter"));
            }
            if *samples == 0 {
                return Err(invalid("samples", "must be at least 1"));
            }
            if *samples > max_runs {
                return Err(OptimizeError::TooManyRuns {
                    runs: *samples,
                    max: max_runs,
                });
            }
            for (name, range) in ranges {
                let ok = match *range {
                    ParamRange::Integer { min, max } => min <= max,
                    ParamRange::Number { min, max } => {
                        min.is_finite() && max.is_finite() && min <= max
                    }
                };
                if !ok {
                    return Err(invalid(
                        format!("ranges.{name}"),
                        "min must not be above max",
                    ));
                }
            }
            let mut rng = SplitMix64::new(*seed);
            Ok((0..*samples)
                .map(|_| {
                    let mut set = base.clone();
                    for (name, range) in ranges {
                        let value = match *range {
                            ParamRange::Integer { min, max } => {
                                Value::from(rng.range_i64(min, max))
                            }
                            ParamRange::Number { min, max } => {
                                // Six decimals: readable, and the same on every machine.
                                let x = min + (max - min) * rng.next_f64();
                                Value::from((x * 1e6).round() / 1e6)
                            }
                        };
                        set.insert(name.clone(), value);
                    }
                    Value::Object(set)
                })
                .collect())
        }
    }
}

/// A search: the backtest every run shares (its `params` are the fixed ones), the sets,
/// the ranking, the threads.
#[derive(Debug, Clone)]
pub struct OptimizeConfig {
    pub backtest: BacktestConfig,
    pub search: Search,
    pub rank_by: RankBy,
    /// Threads to spread runs over (at least 1).
    pub threads: usize,
    /// The share of the bars searched in-sample (`0 < f < 1`); the rest tests the best
    /// sets out-of-sample. `None`: search over all the bars.
    pub walk_forward: Option<f64>,
    /// How many of the best sets are kept (and, with walk-forward, tested out-of-sample).
    pub top: usize,
    pub max_runs: usize,
}

/// One run's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub metrics: Metrics,
    pub final_equity: Money,
    pub fills: usize,
}

impl RunSummary {
    fn of(report: &BacktestReport) -> Self {
        RunSummary {
            metrics: report.metrics.clone(),
            final_equity: report.final_equity,
            fills: report.fills.len(),
        }
    }
}

/// A parameter set the strategy refused (a grid's `fast` not below its `slow`): skipped,
/// with why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub params: Value,
    pub reason: String,
}

/// The sets of `sets` the strategy accepts, and the ones it refuses.
pub fn valid_sets(
    backtest: &BacktestConfig,
    sets: Vec<Value>,
) -> Result<(Vec<Value>, Vec<Skipped>), OptimizeError> {
    let timeframes = vec![backtest.timeframe.unwrap_or(domain::Timeframe::D1)];
    let mut valid = Vec::with_capacity(sets.len());
    let mut skipped = Vec::new();
    let mut first_error = None;
    for set in sets {
        let probe = StrategyConfig::new(vec![backtest.symbol], timeframes.clone(), set.clone());
        match backtest.strategies.create(&backtest.strategy, &probe) {
            Ok(_) => valid.push(set),
            Err(e) => {
                skipped.push(Skipped {
                    params: set,
                    reason: e.to_string(),
                });
                first_error.get_or_insert(e);
            }
        }
    }
    match (valid.is_empty(), first_error) {
        (true, Some(e)) => Err(OptimizeError::NoValidSet(e)),
        _ => Ok((valid, skipped)),
    }
}

/// A parameter set's result.
#[derive(Debug, Clone, Serialize)]
pub struct Ranked {
    /// 1 for the best.
    pub rank: usize,
    pub params: Value,
    /// The ranking metric (oriented: higher is better), in-sample.
    pub score: Option<f64>,
    /// Over the searched bars (all of them, or the in-sample part).
    pub in_sample: RunSummary,
    /// Over the bars left out of the search (walk-forward, best sets only).
    pub out_of_sample: Option<RunSummary>,
}

/// What a search found.
#[derive(Debug, Clone, Serialize)]
pub struct OptimizeReport {
    pub runs: usize,
    /// Bars each run read (in-sample).
    pub bars: usize,
    pub rank_by: RankBy,
    /// The first bar left out of the search (walk-forward).
    pub split_at: Option<domain::Timestamp>,
    /// The `top` best, best first.
    pub best: Vec<Ranked>,
    /// Every run's score, in the order the sets were generated (for a sweep table).
    pub all: Vec<Ranked>,
    /// Sets the strategy refused, not run.
    pub skipped: Vec<Skipped>,
}

/// Runs `config` over `bars` (one symbol's, oldest first). `progress(done, total)` is
/// called from the worker threads after each run.
pub fn optimize(
    bars: &[Candle],
    config: &OptimizeConfig,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<OptimizeReport, OptimizeError> {
    let base = match &config.backtest.params {
        Value::Null => Map::new(),
        Value::Object(m) => m.clone(),
        _ => return Err(invalid("params", "must be an object")),
    };
    let (sets, skipped) = valid_sets(
        &config.backtest,
        parameter_sets(&config.search, &base, config.max_runs)?,
    )?;
    let (searched, held_out) = match config.walk_forward {
        None => (bars, &bars[..0]),
        Some(f) if f > 0.0 && f < 1.0 => {
            let mut split = ((bars.len() as f64) * f).floor() as usize;
            // At a period of the strategy's timeframe, so that no candle of it is cut in
            // two (the last in-sample one left open, the first out-of-sample one short).
            if let (Some(tf), Some(bar)) = (config.backtest.timeframe, bars.get(split)) {
                let boundary = tf.period_start(bar.start);
                split = bars.partition_point(|b| b.start < boundary);
            }
            if split == 0 || split >= bars.len() {
                return Err(invalid("walk_forward", "leaves no bars on one side"));
            }
            bars.split_at(split)
        }
        Some(_) => return Err(invalid("walk_forward", "must be between 0 and 1")),
    };
    let out_runs = if config.walk_forward.is_some() {
        config.top.min(sets.len())
    } else {
        0
    };
    let total = sets.len() + out_runs;
    let done = AtomicUsize::new(0);
    let runs = run_all(searched, &config.backtest, &sets, config.threads, &|| {
        progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
    })?;
    let mut all: Vec<Ranked> = sets
        .into_iter()
        .zip(runs)
        .map(|(params, report)| Ranked {
            rank: 0,
            score: config.rank_by.score(&report.metrics),
            params,
            in_sample: report,
            out_of_sample: None,
        })
        .collect();
    // Best first; undefined scores last; ties in generation order (a stable sort).
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (all[a].score, all[b].score);
        match (x, y) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
    });
    for (rank, &i) in order.iter().enumerate() {
        all[i].rank = rank + 1;
    }
    let mut best: Vec<Ranked> = order
        .iter()
        .take(config.top.max(1))
        .map(|&i| all[i].clone())
        .collect();
    if out_runs > 0 {
        let params: Vec<Value> = best.iter().map(|r| r.params.clone()).collect();
        let tested = run_all(held_out, &config.backtest, &params, config.threads, &|| {
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
        })?;
        for (ranked, summary) in best.iter_mut().zip(tested) {
            ranked.out_of_sample = Some(summary);
        }
    }
    Ok(OptimizeReport {
        runs: all.len(),
        bars: searched.len(),
        rank_by: config.rank_by,
        split_at: held_out.first().map(|c| c.start),
        best,
        all,
        skipped,
    })
}

/// Backtests every set over `bars`, `threads` at a time; results in the sets' order.
fn run_all(
    bars: &[Candle],
    base: &BacktestConfig,
    sets: &[Value],
    threads: usize,
    after_each: &(dyn Fn() + Sync),
) -> Result<Vec<RunSummary>, OptimizeError> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<RunSummary, BacktestError>>>> =
        Mutex::new((0..sets.len()).map(|_| None).collect());
    let run = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(params) = sets.get(i) else { break };
            let config = BacktestConfig {
                params: params.clone(),
                ..base.clone()
            };
            let records = bars.iter().map(|c| Ok(Record::Bar(*c)));
            let outcome = backtest::run(records, &config, &mut |_| {}).map(|r| RunSummary::of(&r));
            let failed = outcome.is_err();
            if let Ok(mut slots) = results.lock() {
                slots[i] = Some(outcome);
            }
            after_each();
            if failed {
                // The first error ends the search: skip what is left.
                next.store(sets.len(), Ordering::Relaxed);
            }
        }
    };
    let threads = threads.clamp(1, sets.len().max(1));
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(run);
        }
        run();
    });
    let slots = results.into_inner().unwrap_or_default();
    let mut out = Vec::with_capacity(slots.len());
    for slot in slots {
        match slot {
            Some(Ok(summary)) => out.push(summary),
            Some(Err(e)) => return Err(e.into()),
            None => {}
        }
    }
    Ok(out)
}

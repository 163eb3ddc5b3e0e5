//! What a user asks for — a backtest or an optimisation — and its checks before it is
//! queued: every mistake a 422 naming the field, so a job that starts can only fail for
//! reasons the data gives.

use std::collections::BTreeMap;
use std::sync::Arc;

use api::input::{Amount, SymbolInput, TimeframeInput};
use api::{ApiError, ApiResult};
use app::AppState;
use domain::{Candle, Decimal, Money, Symbol, Timeframe, Timestamp, UserId};
use engine::backtest::BacktestConfig;
use engine::optimize::{ParamRange, RankBy, Search};
use engine::paper::{Commission, CostModel, Slippage};
use engine::strategy::params::ParamKind;
use engine::strategy::{Builtins, StrategyConfig, StrategyFactory};
use engine::wasm::{Limits, WasmModules};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// The most symbols one backtest job runs.
pub const MAX_SYMBOLS: usize = 10;
/// The most runs one optimisation makes (grid points or random samples).
pub const MAX_RUNS: usize = engine::optimize::MAX_RUNS;
/// The most sets an optimisation reports in full (and tests out-of-sample).
pub const MAX_TOP: usize = 50;

/// The window and costs both kinds of job share (their fields, checked together).
#[derive(Debug, Clone)]
pub struct Market<'a> {
    pub timeframe: &'a TimeframeInput,
    pub from: &'a Option<String>,
    pub to: &'a Option<String>,
    pub cash: &'a Option<Amount>,
    pub commission: &'a Option<String>,
    pub slippage: &'a Option<String>,
}

/// The window and cost fields of a research request (spelled out in each, not
/// flattened: a flattened struct becomes an `allOf` whose parts each forbid the other's
/// fields, which no document reader can satisfy).
macro_rules! market_fields {
    ($(#[$meta:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$meta])*
        pub struct $name {
            $($body)*
            /// The bars' period the strategy trades on (the history's candles, resampled
            /// when coarser).
            pub timeframe: TimeframeInput,
            /// First bar: a date (`2006-01-02`) or an RFC 3339 time. Default: the first
            /// stored.
            #[serde(default)]
            pub from: Option<String>,
            /// Last day (included) or a time to stop before. Default: the last stored.
            #[serde(default)]
            pub to: Option<String>,
            /// Starting cash (default 10000).
            #[serde(default)]
            pub cash: Option<Amount>,
            /// `0`, `per_unit:AMOUNT`, `percent:PCT` or `fixed:AMOUNT` (default `0`).
            #[serde(default)]
            #[schema(example = "percent:0.1")]
            pub commission: Option<String>,
            /// Slippage of market and stop fills: `0`, `ticks:N` or `bps:N` (default `0`).
            #[serde(default)]
            #[schema(example = "bps:5")]
            pub slippage: Option<String>,
        }

        impl $name {
            pub fn market(&self) -> Market<'_> {
                Market {
                    timeframe: &self.timeframe,
                    from: &self.from,
                    to: &self.to,
                    cash: &self.cash,
                    commission: &self.commission,
                    slippage: &self.slippage,
                }
            }
        }
    };
}

market_fields! {
/// A backtest job.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BacktestRequest {
    /// A strategy of the catalog (`GET /catalog/strategies`): a built-in, or one of the
    /// caller's modules as `wasm:<module id>`.
    #[schema(example = "sma_cross")]
    pub strategy: String,
    /// Its parameters (the catalog's schema); absent ones take their defaults.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Map<String, Value>,
    /// 1 to 10 symbols with candle history; each is backtested on its own account of
    /// `cash`.
    pub symbols: Vec<SymbolInput>,
    /// Compare with buying and holding this symbol instead of each traded one.
    #[serde(default)]
    pub benchmark: Option<SymbolInput>,
}
}

/// Random draws for an optimisation.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomSearch {
    /// Each parameter's range: `{"type": "integer", "min": 5, "max": 60}` or
    /// `{"type": "number", "min": 0.5, "max": 3}`.
    #[schema(value_type = Object)]
    pub ranges: BTreeMap<String, ParamRange>,
    /// How many sets to draw (1 to 2000).
    pub samples: usize,
    /// The generator's seed: the same seed draws the same sets.
    #[serde(default)]
    pub seed: u64,
}

market_fields! {
/// An optimisation job: one symbol, a grid or random search.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptimizationRequest {
    /// A built-in of the catalog, or one of the caller's modules as `wasm:<module id>`.
    #[schema(example = "sma_cross")]
    pub strategy: String,
    /// Fixed parameters (the search sets the others).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Map<String, Value>,
    pub symbol: SymbolInput,
    /// Every combination of these values: `{"period": [10, 20, 30]}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub grid: Option<BTreeMap<String, Vec<Value>>>,
    /// Or random draws from ranges.
    #[serde(default)]
    pub random: Option<RandomSearch>,
    /// The metric runs are ranked by (default `sharpe`; `max_drawdown` ranks the
    /// shallowest first).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "sharpe")]
    pub rank_by: Option<RankBy>,
    /// Walk-forward: the share of the bars searched (0.5 to 0.95); the best sets then run
    /// on the rest.
    #[serde(default)]
    pub walk_forward: Option<f64>,
    /// How many of the best sets to report in full (1 to 50, default 10).
    #[serde(default)]
    pub top: Option<usize>,
}
}

/// A checked market window and costs.
#[derive(Debug, Clone)]
pub struct Window {
    pub timeframe: Timeframe,
    pub from: Timestamp,
    pub to: Timestamp,
    pub cash: Money,
    pub costs: CostModel,
}

/// A date covers its whole day (as the CLI's `--from`/`--to`).
fn bound(field: &str, text: &str, end_of_day: bool) -> ApiResult<Timestamp> {
    Timestamp::parse_bound(text, end_of_day).map_err(|_| {
        ApiError::invalid_field(
            field,
            format!("{text:?} is not a date (2006-01-15) or an RFC 3339 time"),
        )
    })
}

impl Market<'_> {
    pub fn check(&self) -> ApiResult<Window> {
        let from = match &self.from {
            Some(t) => bound("from", t, false)?,
            None => Timestamp::from_nanos(i64::MIN),
        };
        let to = match &self.to {
            Some(t) => bound("to", t, true)?,
            None => Timestamp::MAX,
        };
        if from >= to {
            return Err(ApiError::invalid_field("from", "from is not before to"));
        }
        let commission: Commission = self.commission.as_deref().unwrap_or("0").parse().map_err(
            |e: engine::paper::CostParseError| ApiError::invalid_field("commission", e.to_string()),
        )?;
        let slippage: Slippage = self.slippage.as_deref().unwrap_or("0").parse().map_err(
            |e: engine::paper::CostParseError| ApiError::invalid_field("slippage", e.to_string()),
        )?;
        Ok(Window {
            timeframe: self.timeframe.0,
            from,
            to,
            cash: Money::new(self.cash.as_ref().map_or(Decimal::from(10_000), |c| c.0)),
            costs: CostModel {
                commission,
                slippage,
            },
        })
    }
}

/// The strategy a request names, ready to create: a built-in of the catalog, or one of
/// the caller's modules with its bytes loaded.
#[derive(Debug, Clone)]
pub struct Named {
    /// Each parameter with its kind (what a search may vary).
    pub params: Vec<(String, ParamKind)>,
    /// Creates it (and, for a module, nothing but the built-ins and that module).
    pub factory: Arc<dyn StrategyFactory>,
}

/// The strategy `name` as `owner` may run it, or a 422 naming `strategy`: a built-in, or
/// `wasm:<id>` naming one of the owner's modules (another user's module is unknown).
pub async fn strategy(state: &AppState, owner: UserId, name: &str) -> ApiResult<Named> {
    let Some(id) = engine::wasm::module_id(name) else {
        let info = engine::strategy::builtin::info(name).ok_or_else(|| {
            ApiError::invalid_field(
                "strategy",
                format!(
                    "unknown strategy {name:?}; the catalog has {} and your modules (wasm:<id>)",
                    engine::strategy::builtin::NAMES.join(", ")
                ),
            )
        })?;
        return Ok(Named {
            params: info
                .params
                .iter()
                .map(|p| (p.name.to_owned(), p.kind))
                .collect(),
            factory: Arc::new(Builtins),
        });
    };
    let unknown = || {
        ApiError::invalid_field(
            "strategy",
            format!("you have no strategy module {id:?} (GET /strategy-modules)"),
        )
    };
    let module = match state.modules.get(owner, id).await {
        Ok(m) => m,
        Err(e) if e.kind() == store::ErrorKind::NotFound => return Err(unknown()),
        Err(e) => return Err(e.into()),
    };
    let bytes = match state.modules.bytes(&module.id).await {
        Ok(b) if b.owner == owner => b.bytes,
        Ok(_) => return Err(unknown()),
        Err(e) if e.kind() == store::ErrorKind::NotFound => return Err(unknown()),
        Err(e) => return Err(e.into()),
    };
    let modules = WasmModules::new(Limits::default());
    let loaded = modules.clone();
    let id = module.id.clone();
    // Compiling a module is CPU work: off the request's thread.
    tokio::task::spawn_blocking(move || loaded.insert(&id, &bytes))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::invalid_field("strategy", e.to_string()))?;
    Ok(Named {
        params: modules.params(&module.id).unwrap_or_default(),
        factory: Arc::new(modules),
    })
}

/// Whether `params` make the strategy (a 422 naming `field` and the parameter if not).
pub fn check_params(
    named: &Named,
    name: &str,
    params: &Map<String, Value>,
    field: &str,
) -> ApiResult<()> {
    let config = StrategyConfig::new(
        vec![Symbol::parse("PROBE").map_err(|e| ApiError::internal(e.to_string()))?],
        vec![Timeframe::D1],
        Value::Object(params.clone()),
    );
    match named.factory.create(name, &config) {
        Ok(_) => Ok(()),
        Err(engine::strategy::StrategyError::InvalidParam { param, reason, .. }) => {
            Err(ApiError::invalid_field(format!("{field}.{param}"), reason))
        }
        Err(
            e @ (engine::strategy::StrategyError::Module { .. }
            | engine::strategy::StrategyError::UnknownModule { .. }),
        ) => Err(ApiError::invalid_field("strategy", e.to_string())),
        Err(e) => Err(ApiError::invalid_field(field, e.to_string())),
    }
}

/// The recorded timeframe of `symbol` that makes `timeframe` (the coarsest that divides
/// it), and whether any of its candles lie in the window; a 422 naming `field` if none.
pub async fn source_of(
    state: &AppState,
    symbol: Symbol,
    window: &Window,
    field: &str,
) -> ApiResult<Timeframe> {
    let recorded = state.history.candle_timeframes(symbol).await?;
    let Some(source) = recorded
        .iter()
        .rev()
        .copied()
        .find(|r| r.divides(window.timeframe))
    else {
        let have = if recorded.is_empty() {
            "no candle history (load some with stratus data import)".to_owned()
        } else {
            format!(
                "only {} candles",
                recorded
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return Err(ApiError::invalid_field(
            field,
            format!("{symbol} has {have}: none makes {} bars", window.timeframe),
        ));
    };
    let any = state
        .history
        .candles(symbol, source, window.from, window.to, 1)
        .await?;
    if any.is_empty() {
        return Err(ApiError::invalid_field(
            "from",
            format!("{symbol} has no {source} candles in the window"),
        ));
    }
    Ok(source)
}

/// The stored bars of `symbol` in the window, oldest first, read in pages.
pub async fn bars(
    state: &AppState,
    symbol: Symbol,
    source: Timeframe,
    from: Timestamp,
    to: Timestamp,
) -> store::StoreResult<Vec<Candle>> {
    const PAGE: usize = 50_000;
    let mut out: Vec<Candle> = Vec::new();
    let mut start = from;
    loop {
        let page = state
            .history
            .candles(symbol, source, start, to, PAGE)
            .await?;
        let full = page.len() == PAGE;
        let Some(last) = page.last() else { break };
        start = Timestamp::from_nanos(last.start.nanos().saturating_add(1));
        out.extend(page);
        if !full {
            break;
        }
    }
    Ok(out)
}

/// The backtest every run of a job shares.
pub fn backtest_config(
    state: &AppState,
    (strategy, named): (&str, &Named),
    params: &Map<String, Value>,
    symbol: Symbol,
    window: &Window,
) -> BacktestConfig {
    BacktestConfig {
        symbol,
        strategy: strategy.to_owned(),
        params: Value::Object(params.clone()),
        cash: window.cash,
        costs: window.costs,
        timeframe: Some(window.timeframe),
        from: (window.from != Timestamp::from_nanos(i64::MIN)).then_some(window.from),
        to: (window.to != Timestamp::MAX).then_some(window.to),
        // The instrument's grid when it is traded here; the CLI's default otherwise.
        tick_size: state
            .instruments
            .get(symbol)
            .map_or(Decimal::new(1, 2), |i| i.tick_size()),
        strategies: named.factory.clone(),
    }
}

impl BacktestRequest {
    /// Checks everything that can be checked before the job runs, for `owner`'s job.
    pub async fn check(&self, state: &AppState, owner: UserId) -> ApiResult<Window> {
        let named = strategy(state, owner, &self.strategy).await?;
        check_params(&named, &self.strategy, &self.params, "params")?;
        if self.symbols.is_empty() || self.symbols.len() > MAX_SYMBOLS {
            return Err(ApiError::invalid_field(
                "symbols",
                format!("give 1 to {MAX_SYMBOLS} symbols"),
            ));
        }
        for (i, a) in self.symbols.iter().enumerate() {
            if self.symbols[..i].contains(a) {
                return Err(ApiError::invalid_field(
                    format!("symbols[{i}]"),
                    format!("{} is listed twice", a.0),
                ));
            }
        }
        let window = self.market().check()?;
        for (i, symbol) in self.symbols.iter().enumerate() {
            source_of(state, symbol.0, &window, &format!("symbols[{i}]")).await?;
        }
        if let Some(b) = &self.benchmark {
            source_of(state, b.0, &window, "benchmark").await?;
        }
        Ok(window)
    }
}

impl OptimizationRequest {
    /// The search, checked: its parameters are the strategy's, of the right kind, within
    /// their bounds, and at least one set it makes is one the strategy accepts (sets it
    /// refuses — a grid's `fast` not below its `slow` — are skipped when the job runs).
    pub fn search(&self, named: &Named) -> ApiResult<Search> {
        let kind_of = |name: &str, field: &str| {
            named
                .params
                .iter()
                .find(|(p, _)| p == name)
                .map(|(_, kind)| *kind)
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        format!("{field}.{name}"),
                        format!("{} has no parameter {name:?}", self.strategy),
                    )
                })
        };
        let (search, field) = match (&self.grid, &self.random) {
            (Some(grid), None) => {
                let mut runs: usize = 1;
                for (name, values) in grid {
                    kind_of(name, "grid")?;
                    if values.is_empty() {
                        return Err(ApiError::invalid_field(
                            format!("grid.{name}"),
                            "list at least one value",
                        ));
                    }
                    runs = runs.saturating_mul(values.len());
                }
                if grid.is_empty() {
                    return Err(ApiError::invalid_field(
                        "grid",
                        "name at least one parameter",
                    ));
                }
                if runs > MAX_RUNS {
                    return Err(ApiError::invalid_field(
                        "grid",
                        format!("{runs} combinations; at most {MAX_RUNS} runs"),
                    ));
                }
                (Search::Grid(grid.clone()), "grid")
            }
            (None, Some(random)) => {
                if random.samples == 0 || random.samples > MAX_RUNS {
                    return Err(ApiError::invalid_field(
                        "random.samples",
                        format!("from 1 to {MAX_RUNS}"),
                    ));
                }
                if random.ranges.is_empty() {
                    return Err(ApiError::invalid_field(
                        "random.ranges",
                        "name at least one parameter",
                    ));
                }
                for (name, range) in &random.ranges {
                    let field = format!("random.ranges.{name}");
                    let kind = kind_of(name, "random.ranges")?;
                    let within = match (kind, *range) {
                        (
                            ParamKind::Integer { min, max },
                            ParamRange::Integer { min: a, max: b },
                        ) => min <= a && a <= b && b <= max,
                        (ParamKind::Number { min, max }, ParamRange::Number { min: a, max: b }) => {
                            a.is_finite() && b.is_finite() && min <= a && a <= b && b <= max
                        }
                        (
                            ParamKind::Number { min, max },
                            ParamRange::Integer { min: a, max: b },
                        ) => min <= a as f64 && a <= b && b as f64 <= max,
                        _ => {
                            return Err(ApiError::invalid_field(
                                field,
                                format!("{name} is a {kind}; give a range of that kind"),
                            ));
                        }
                    };
                    if !within {
                        return Err(ApiError::invalid_field(
                            field,
                            format!("min ≤ max, both within {kind}"),
                        ));
                    }
                }
                let search = Search::Random {
                    ranges: random.ranges.clone(),
                    samples: random.samples,
                    seed: random.seed,
                };
                (search, "random.ranges")
            }
            _ => {
                return Err(ApiError::invalid_field(
                    "grid",
                    "give either grid or random (one of them)",
                ));
            }
        };
        // The sets themselves, as the job will make them: at least one must be valid.
        let sets = engine::optimize::parameter_sets(&search, &self.params, MAX_RUNS)
            .map_err(|e| ApiError::invalid_field(field, e.to_string()))?;
        let probe = BacktestConfig {
            symbol: self.symbol.0,
            strategy: self.strategy.clone(),
            params: Value::Null,
            cash: Money::new(Decimal::ONE),
            costs: CostModel::default(),
            timeframe: Some(self.timeframe.0),
            from: None,
            to: None,
            tick_size: Decimal::new(1, 2),
            strategies: named.factory.clone(),
        };
        match engine::optimize::valid_sets(&probe, sets) {
            Ok(_) => Ok(search),
            Err(engine::optimize::OptimizeError::NoValidSet(
                engine::strategy::StrategyError::InvalidParam { param, reason, .. },
            )) => Err(ApiError::invalid_field(
                format!("{field}.{param}"),
                format!("no set of the search is valid: {reason}"),
            )),
            Err(e) => Err(ApiError::invalid_field(field, e.to_string())),
        }
    }

    /// Checks everything that can be checked before the job runs, for `owner`'s job.
    pub async fn check(&self, state: &AppState, owner: UserId) -> ApiResult<(Window, Search)> {
        let named = strategy(state, owner, &self.strategy).await?;
        check_params(&named, &self.strategy, &self.params, "params")?;
        let search = self.search(&named)?;
        if let Some(f) = self.walk_forward {
            if !(0.5..=0.95).contains(&f) {
                return Err(ApiError::invalid_field("walk_forward", "from 0.5 to 0.95"));
            }
        }
        if let Some(top) = self.top {
            if !(1..=MAX_TOP).contains(&top) {
                return Err(ApiError::invalid_field(
                    "top",
                    format!("from 1 to {MAX_TOP}"),
                ));
            }
        }
        let window = self.market().check()?;
        source_of(state, self.symbol.0, &window, "symbol").await?;
        Ok((window, search))
    }
}

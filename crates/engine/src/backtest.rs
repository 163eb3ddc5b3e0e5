//! The backtest runner: streams a data file's records through the [`Engine`] with one
//! strategy on one account, records fills, round trips and the equity curve, and turns
//! them into a report with the analytics metrics and a buy-and-hold comparison.
//!
//! Records are consumed one at a time, never collected, so memory grows with the number
//! of equity points (one per bar of the strategy's timeframe, in compact curves of 17
//! bytes a point each for the strategy and buy and hold), not with the file.

use std::sync::Arc;

use analytics::{AnalyticsConfig, EquityCurve, EquityPoint, Metrics, RoundTrip, RoundTripBook};
use domain::{
    AccountId, Candle, Currency, Decimal, DomainError, Fill, Instrument, Money, Price, Side,
    StrategyId, Symbol, Timeframe, Timestamp,
};
use serde::Serialize;

use crate::engine::{Engine, EngineError, EngineEvent};
use crate::market_data::{DataError, Record};
use crate::paper::CostModel;
use crate::portfolio::Portfolio;
use crate::strategy::{StrategyConfig, StrategyFactory};

/// What to run.
#[derive(Debug, Clone)]
pub struct BacktestConfig {
    pub symbol: Symbol,
    pub strategy: String,
    pub params: serde_json::Value,
    pub cash: Money,
    pub costs: CostModel,
    /// The strategy's timeframe; `None` trades the file's own bars (ticks: 1m).
    pub timeframe: Option<Timeframe>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Price grid for limit/stop prices and slippage in ticks.
    pub tick_size: Decimal,
    /// What `strategy` is created from: the built-ins, or a factory that also holds the
    /// user's modules (`wasm:<id>`).
    pub strategies: Arc<dyn StrategyFactory>,
}

#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("no data in the selected period")]
    NoData,
    /// The strategy (a user's module) stopped itself: the run's results would be partial.
    #[error("the strategy stopped: {0}")]
    StrategyStopped(String),
    #[error("--from {from} is not before --to {to}")]
    EmptyWindow { from: Timestamp, to: Timestamp },
    #[error(transparent)]
    Analytics(#[from] analytics::AnalyticsError),
    #[error(
        "{bars} bars cannot be resampled into {requested} candles: {requested} is not a whole number of aligned {bars} periods"
    )]
    Timeframe {
        bars: Timeframe,
        requested: Timeframe,
    },
}

/// One fill as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TradeRow {
    pub side: Side,
    pub qty: Decimal,
    pub price: Decimal,
    pub fee: Decimal,
    pub time: Timestamp,
}

/// What a backtest produced.
#[derive(Debug, Clone)]
pub struct BacktestReport {
    pub strategy: String,
    pub symbol: Symbol,
    pub timeframe: Timeframe,
    pub fills: Vec<Fill>,
    pub round_trips: Vec<RoundTrip>,
    /// One point per bar of the strategy's timeframe, stored compactly.
    pub equity: EquityCurve,
    /// Buy and hold at the same times.
    pub benchmark: EquityCurve,
    pub final_cash: Money,
    pub final_equity: Money,
    pub records: u64,
    pub metrics: Metrics,
    pub periods_per_year: f64,
}

impl BacktestReport {
    /// The `--json` document: trades, final equity and cash, metrics (decimals as strings).
    pub fn to_json(&self) -> serde_json::Value {
        let trades: Vec<TradeRow> = self
            .fills
            .iter()
            .map(|f| TradeRow {
                side: f.side,
                qty: f.quantity.value(),
                price: f.price.value(),
                fee: f.fee.value(),
                time: f.time,
            })
            .collect();
        serde_json::json!({
            "strategy": self.strategy,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "trades": trades,
            "final_equity": self.final_equity,
            "final_cash": self.final_cash,
            "metrics": self.metrics,
        })
    }
}

/// Collects what the report needs from the engine's events.
struct Recorder {
    account: AccountId,
    symbol: Symbol,
    cash: Money,
    timeframe: Option<Timeframe>,
    trips: RoundTripBook,
    round_trips: Vec<RoundTrip>,
    fills: Vec<Fill>,
    equity: EquityCurve,
    benchmark: EquityCurve,
    /// Units buy-and-hold bought with the starting cash at the first open.
    benchmark_units: Option<Decimal>,
    benchmark_values: BenchmarkValues,
    /// The account as of its last fill, while it holds nothing but `symbol`.
    holdings: Option<Holdings>,
}

/// What an account's equity is made of when it holds one symbol: cash and a quantity.
/// Only fills change them, so they are read from the portfolio after fills and the
/// equity of a bar is `cash + quantity × close`, the very operations
/// `Portfolio::equity` performs with the mark the engine set (the bar's close).
#[derive(Debug, Clone, Copy)]
struct Holdings {
    cash: Money,
    quantity: Decimal,
}

impl Recorder {
    /// Records the engine's events for one input. `bar` is the input when it was a bar:
    /// a candle event of it is then valued from the holdings and its close.
    fn record(
        &mut self,
        events: &[EngineEvent],
        engine: &Engine,
        bar: Option<&Candle>,
    ) -> Result<(), BacktestError> {
        for event in events {
            match event {
                EngineEvent::Filled(fill) => self.on_fill(fill, engine)?,
                EngineEvent::Candle(c) if Some(c.timeframe) == self.timeframe => {
                    let own_bar =
                        bar.is_some_and(|b| b.timeframe == c.timeframe && b.start == c.start);
                    let (value, exposed) = match self.holdings {
                        Some(h) if own_bar => h.value(c.close)?,
                        _ => {
                            let portfolio = self.portfolio(engine)?;
                            (portfolio.equity()?, portfolio.is_exposed())
                        }
                    };
                    self.equity.push(EquityPoint {
                        time: c.end,
                        equity: value.value(),
                        exposed,
                    });
                    // Buy and hold: all the starting cash in at the first open.
                    let cash = self.cash.value();
                    let held = *self.benchmark_units.get_or_insert_with(|| {
                        cash.checked_div(c.open.value()).unwrap_or_default()
                    });
                    let bench = self.benchmark_values.value(held, c.close.value());
                    self.benchmark.push(EquityPoint {
                        time: c.end,
                        equity: bench,
                        exposed: true,
                    });
                }
                EngineEvent::StrategyFaulted { reason, .. } => {
                    return Err(BacktestError::StrategyStopped(reason.clone()));
                }
                _ => {}
            }
        }
        Ok(())
    }

    #[inline(never)]
    fn on_fill(&mut self, fill: &Fill, engine: &Engine) -> Result<(), BacktestError> {
        if let Some(trip) = self.trips.on_fill(fill)? {
            self.round_trips.push(trip);
        }
        self.fills.push(fill.clone());
        let portfolio = self.portfolio(engine)?;
        let symbol = self.symbol;
        self.holdings = portfolio
            .positions()
            .all(|p| p.symbol == symbol || p.is_flat())
            .then(|| Holdings {
                cash: portfolio.cash(),
                quantity: portfolio.quantity(symbol),
            });
        Ok(())
    }

    fn portfolio<'e>(&self, engine: &'e Engine) -> Result<&'e Portfolio, BacktestError> {
        Ok(engine
            .portfolio(self.account)
            .ok_or(EngineError::UnknownAccount(self.account))?)
    }
}

impl Holdings {
    /// Equity at `mark` and whether a position is open.
    #[inline]
    fn value(self, mark: Price) -> Result<(Money, bool), DomainError> {
        if self.quantity.is_zero() {
            return Ok((self.cash, false));
        }
        let position = self
            .quantity
            .checked_mul(mark.value())
            .map(Money::new)
            .ok_or(DomainError::Overflow {
                operation: "market value",
            })?;
        Ok((self.cash.checked_add(position)?, true))
    }
}

/// Buy-and-hold values (`units × close`) computed once per distinct close and looked up
/// after that: the product with the 28-digit unit count is the most expensive step of
/// recording a bar, and prices keep returning to the same values on their tick grid.
/// Direct-mapped on the close's mantissa; a slot holds the close it was computed for, to
/// the exact representation, so a hit is the very product. `units` is fixed for a run.
struct BenchmarkValues {
    slots: Vec<Option<(Decimal, Decimal)>>,
}

impl BenchmarkValues {
    const SLOTS: usize = 4096;

    fn new() -> Self {
        BenchmarkValues {
            slots: vec![None; Self::SLOTS],
        }
    }

    fn value(&mut self, units: Decimal, close: Decimal) -> Decimal {
        let parts = close.unpack();
        let slot = (parts.lo ^ (parts.scale << 7)) as usize % Self::SLOTS;
        match self.slots[slot] {
            Some((seen, value)) if seen.serialize() == close.serialize() => value,
            _ => {
                let value = units.checked_mul(close).unwrap_or_default();
                self.slots[slot] = Some((close, value));
                value
            }
        }
    }
}

/// Runs a backtest over `records`. `progress` is called with the number of records read
/// every 65,536 records.
pub fn run<I>(
    records: I,
    config: &BacktestConfig,
    progress: &mut dyn FnMut(u64),
) -> Result<BacktestReport, BacktestError>
where
    I: Iterator<Item = Result<Record, DataError>>,
{
    let from = config.from.unwrap_or(Timestamp::from_nanos(i64::MIN));
    let to = config.to.unwrap_or(Timestamp::MAX);
    if from >= to {
        return Err(BacktestError::EmptyWindow { from, to });
    }
    let account = AccountId::derived("backtest");
    let strategy_id = StrategyId::derived("backtest");
    let instrument = Instrument::new(
        config.symbol,
        config.tick_size,
        Decimal::new(1, 8),
        Decimal::new(1, 8),
        Currency::USD,
    )?;
    let mut engine = Engine::new(config.costs);
    engine.set_strategies(config.strategies.clone());
    engine.add_instrument(instrument);
    engine.open_account(account, config.cash);

    let mut timeframe = config.timeframe;
    let mut deployed = false;
    let mut recorder = Recorder {
        account,
        symbol: config.symbol,
        cash: config.cash,
        timeframe: None,
        trips: RoundTripBook::new(config.symbol),
        round_trips: Vec::new(),
        fills: Vec::new(),
        equity: EquityCurve::new(),
        benchmark: EquityCurve::new(),
        benchmark_units: None,
        benchmark_values: BenchmarkValues::new(),
        holdings: Some(Holdings {
            cash: config.cash,
            quantity: Decimal::ZERO,
        }),
    };
    let mut events = Vec::new();
    let mut count = 0u64;
    let mut last_time = None;

    for record in records {
        let record = record?;
        let time = match &record {
            Record::Tick(t) => t.time,
            Record::Bar(c) => c.start,
        };
        if time < from {
            continue;
        }
        if time >= to {
            break;
        }
        count += 1;
        if count % 65_536 == 0 {
            progress(count);
        }
        if !deployed {
            let tf = match (&record, timeframe) {
                (_, Some(tf)) => tf,
                (Record::Bar(c), None) => c.timeframe,
                (Record::Tick(_), None) => Timeframe::M1,
            };
            if let Record::Bar(c) = &record {
                if !c.timeframe.divides(tf) {
                    return Err(BacktestError::Timeframe {
                        bars: c.timeframe,
                        requested: tf,
                    });
                }
            }
            timeframe = Some(tf);
            let strategy_config =
                StrategyConfig::new(vec![config.symbol], vec![tf], config.params.clone());
            engine.deploy(strategy_id, account, &config.strategy, strategy_config)?;
            recorder.timeframe = Some(tf);
            deployed = true;
        }
        events.clear();
        match &record {
            Record::Tick(t) => {
                let tick = domain::Tick {
                    symbol: config.symbol,
                    ..*t
                };
                engine.on_tick(&tick, &mut events);
                recorder.record(&events, &engine, None)?;
            }
            Record::Bar(c) => {
                let bar = Candle {
                    symbol: config.symbol,
                    ..*c
                };
                engine.on_bar(&bar, &mut events);
                recorder.record(&events, &engine, Some(&bar))?;
            }
        }
        last_time = Some((time, matches!(record, Record::Tick(_))));
    }
    // A tick run's last candle is still open: the clock at its end closes it.
    if let (Some((time, true)), Some(tf)) = (last_time, timeframe) {
        events.clear();
        engine.on_timer(tf.period_end(tf.period_start(time)), &mut events);
        recorder.record(&events, &engine, None)?;
    }
    if count == 0 {
        return Err(BacktestError::NoData);
    }
    let portfolio = engine
        .portfolio(account)
        .ok_or(EngineError::UnknownAccount(account))?;
    let final_equity = portfolio.equity()?;
    let final_cash = portfolio.cash();
    let timeframe = timeframe.unwrap_or(Timeframe::D1);
    let Recorder {
        round_trips,
        fills,
        equity,
        benchmark,
        ..
    } = recorder;
    let periods_per_year = periods_per_year(&equity, timeframe);
    let metrics = analytics::compute_curves(
        &equity,
        &round_trips,
        &benchmark,
        &AnalyticsConfig {
            periods_per_year,
            risk_free_rate: 0.0,
        },
    )?;
    Ok(BacktestReport {
        strategy: config.strategy.clone(),
        symbol: config.symbol,
        timeframe,
        fills,
        round_trips,
        equity,
        benchmark,
        final_cash,
        final_equity,
        records: count,
        metrics,
        periods_per_year,
    })
}

/// Periods per year as the data shows it: bars over elapsed calendar time (≈252 for
/// exchange-day bars, 525,960 for round-the-clock minutes). Falls back to the nominal
/// count of the timeframe for very short runs.
fn periods_per_year(equity: &EquityCurve, timeframe: Timeframe) -> f64 {
    const YEAR_SECS: f64 = 365.25 * 86_400.0;
    let nominal = YEAR_SECS / f64::from(timeframe.seconds());
    match (equity.first(), equity.last()) {
        (Some(a), Some(b)) if equity.len() > 20 => {
            let secs = (b.time.nanos() - a.time.nanos()) as f64 / 1e9;
            if secs > 0.0 {
                ((equity.len() - 1) as f64 / secs * YEAR_SECS).min(nominal)
            } else {
                nominal
            }
        }
        _ => nominal,
    }
}

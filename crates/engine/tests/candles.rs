//! Candle aggregation and resampling: alignment, heartbeats, gap filling, late ticks, and
//! the equivalence of resampled bars with bars aggregated from the same ticks.

#![allow(clippy::unwrap_used)] // integration tests: a failed unwrap is a failed test

use std::path::PathBuf;

use domain::{Candle, Quantity, Symbol, Tick, Timeframe, Timestamp};
use engine::candles::{AggregatorConfig, CandleAggregator, CandleError, Resampler};
use engine::market_data::{MarketData, SyntheticConfig, SyntheticFeed, SyntheticSymbol, read_file};

fn sym() -> Symbol {
    Symbol::parse("ES").unwrap()
}

fn tick(time: &str, price: &str, size: u64) -> Tick {
    Tick {
        symbol: sym(),
        time: Timestamp::parse(time).unwrap(),
        price: price.parse().unwrap(),
        size: Quantity::new(size.into()).unwrap(),
        bid: None,
        ask: None,
    }
}

fn tf(s: &str) -> Timeframe {
    Timeframe::parse(s).unwrap()
}

fn show(c: &Candle) -> String {
    format!(
        "{} {} {} {} {} {} v{} n{}",
        c.timeframe, c.start, c.open, c.high, c.low, c.close, c.volume, c.trades
    )
}

fn aggregate(agg: &mut CandleAggregator, ticks: &[Tick]) -> Vec<Candle> {
    let mut out = Vec::new();
    for t in ticks {
        agg.on_tick(t, &mut out);
    }
    out
}

#[test]
fn one_minute_candles_close_on_the_next_period() {
    let mut agg = CandleAggregator::new(sym(), &[tf("1m")], AggregatorConfig::default()).unwrap();
    let out = aggregate(
        &mut agg,
        &[
            tick("2026-11-20T10:00:05Z", "100", 1),
            tick("2026-11-20T10:00:30Z", "102", 2),
            tick("2026-11-20T10:00:59.999Z", "99", 3),
            tick("2026-11-20T10:01:00Z", "101", 1),
        ],
    );
    assert_eq!(
        out.iter().map(show).collect::<Vec<_>>(),
        ["1m 2026-11-20T10:00:00Z 100 102 99 99 v6 n3"]
    );
    let mut rest = Vec::new();
    agg.flush(&mut rest);
    assert_eq!(
        rest.iter().map(show).collect::<Vec<_>>(),
        ["1m 2026-11-20T10:01:00Z 101 101 101 101 v1 n1"]
    );
}

#[test]
fn several_timeframes_at_once_finest_first_and_weeks_start_monday() {
    let mut agg = CandleAggregator::new(
        sym(),
        &[tf("1w"), tf("1m"), tf("1h")],
        AggregatorConfig::default(),
    )
    .unwrap();
    let mut out = aggregate(
        &mut agg,
        &[
            tick("2026-11-22T23:59:00Z", "10", 1), // Sunday
            tick("2026-11-23T00:00:00Z", "11", 1), // Monday: new minute, hour and week
        ],
    );
    assert_eq!(
        out.iter().map(show).collect::<Vec<_>>(),
        [
            "1m 2026-11-22T23:59:00Z 10 10 10 10 v1 n1",
            "1h 2026-11-22T23:00:00Z 10 10 10 10 v1 n1",
            "1w 2026-11-16T00:00:00Z 10 10 10 10 v1 n1",
        ]
    );
    out.clear();
    agg.flush(&mut out);
    assert_eq!(out[2].start.to_string(), "2026-11-23T00:00:00Z");
}

#[test]
fn heartbeats_close_quiet_candles_and_gap_filling_adds_flat_ones() {
    let mut agg = CandleAggregator::new(sym(), &[tf("1m")], AggregatorConfig::default()).unwrap();
    let mut out = aggregate(&mut agg, &[tick("2026-11-20T10:00:05Z", "100", 1)]);
    agg.on_heartbeat(Timestamp::parse("2026-11-20T10:00:59Z").unwrap(), &mut out);
    assert!(out.is_empty(), "the period has not ended");
    agg.on_heartbeat(Timestamp::parse("2026-11-20T10:03:30Z").unwrap(), &mut out);
    assert_eq!(
        out.len(),
        1,
        "closed by the clock, no gap candles without gap filling"
    );

    let mut agg =
        CandleAggregator::new(sym(), &[tf("1m")], AggregatorConfig { gap_fill: true }).unwrap();
    let mut out = aggregate(&mut agg, &[tick("2026-11-20T10:00:05Z", "100", 1)]);
    agg.on_heartbeat(Timestamp::parse("2026-11-20T10:03:30Z").unwrap(), &mut out);
    assert_eq!(
        out.iter().map(show).collect::<Vec<_>>(),
        [
            "1m 2026-11-20T10:00:00Z 100 100 100 100 v1 n1",
            "1m 2026-11-20T10:01:00Z 100 100 100 100 v0 n0",
            "1m 2026-11-20T10:02:00Z 100 100 100 100 v0 n0",
        ]
    );
    out.clear();
    agg.on_tick(&tick("2026-11-20T10:05:10Z", "103", 1), &mut out);
    assert_eq!(
        out.iter().map(show).collect::<Vec<_>>(),
        [
            "1m 2026-11-20T10:03:00Z 100 100 100 100 v0 n0",
            "1m 2026-11-20T10:04:00Z 100 100 100 100 v0 n0"
        ]
    );
}

#[test]
fn late_ticks_are_dropped_and_counted_out_of_order_ones_inside_the_candle_are_kept() {
    let mut agg =
        CandleAggregator::new(sym(), &[tf("1m"), tf("5m")], AggregatorConfig::default()).unwrap();
    let mut out = Vec::new();
    assert!(agg.on_tick(&tick("2026-11-20T10:01:30Z", "100", 1), &mut out));
    assert!(
        agg.on_tick(&tick("2026-11-20T10:01:10Z", "105", 1), &mut out),
        "same candle, earlier"
    );
    assert!(
        !agg.on_tick(&tick("2026-11-20T10:00:59Z", "90", 1), &mut out),
        "before the open 1m candle"
    );
    agg.on_heartbeat(Timestamp::parse("2026-11-20T10:02:01Z").unwrap(), &mut out);
    assert!(
        !agg.on_tick(&tick("2026-11-20T10:01:59Z", "90", 1), &mut out),
        "its candle was closed by the clock"
    );
    assert_eq!(agg.stats().late_ticks, 2);
    assert_eq!(
        show(&out[0]),
        "1m 2026-11-20T10:01:00Z 100 105 100 100 v2 n2",
        "close is the newest tick"
    );
    let mut foreign = tick("2026-11-20T10:03:00Z", "1", 1);
    foreign.symbol = Symbol::parse("NQ").unwrap();
    assert!(!agg.on_tick(&foreign, &mut out));
    assert_eq!(agg.stats().foreign_ticks, 1);
}

#[test]
fn bad_configurations_are_errors() {
    assert_eq!(
        CandleAggregator::new(sym(), &[], AggregatorConfig::default()).unwrap_err(),
        CandleError::NoTimeframes
    );
    assert!(
        CandleAggregator::new(sym(), &[tf("1m"), tf("60s")], AggregatorConfig::default()).is_err()
    );
    assert!(Resampler::new(sym(), tf("7m"), tf("1h"), false).is_err());
    assert!(Resampler::new(sym(), tf("1h"), tf("5m"), false).is_err());
    let mut r = Resampler::new(sym(), tf("5m"), tf("1h"), false).unwrap();
    let mut agg = CandleAggregator::new(sym(), &[tf("1m")], AggregatorConfig::default()).unwrap();
    let mut c = Vec::new();
    agg.on_tick(&tick("2026-11-20T10:00:00Z", "1", 1), &mut c);
    agg.flush(&mut c);
    assert!(matches!(
        r.on_candle(&c[0], &mut Vec::new()),
        Err(CandleError::WrongInput { .. })
    ));
}

fn synthetic(seed: u64, ticks_per_second: f64, n: usize) -> Vec<Tick> {
    let config = SyntheticConfig {
        symbols: vec![SyntheticSymbol::simple("ES", 4500.0).unwrap()],
        drift: 0.0,
        volatility: 0.4,
        ticks_per_second,
        start: Timestamp::parse("2026-11-18T21:17:03Z").unwrap(),
        seed,
    };
    SyntheticFeed::new(config).unwrap().take(n).collect()
}

/// Aggregating ticks straight into `high` equals aggregating them into `low` and
/// resampling those candles into `high`.
fn assert_resampling_matches(ticks: &[Tick], low: Timeframe, high: Timeframe) {
    let run = |tfs: &[Timeframe]| {
        let mut agg =
            CandleAggregator::new(ticks[0].symbol, tfs, AggregatorConfig::default()).unwrap();
        let mut out = aggregate(&mut agg, ticks);
        agg.flush(&mut out);
        out
    };
    let direct = run(&[high]);
    let mut resampler = Resampler::new(ticks[0].symbol, low, high, false).unwrap();
    let mut resampled = Vec::new();
    for c in run(&[low]) {
        resampler.on_candle(&c, &mut resampled).unwrap();
    }
    resampler.flush(&mut resampled);
    assert!(
        direct.len() > 3,
        "too few {high} candles to compare: {}",
        direct.len()
    );
    assert_eq!(resampled, direct, "{low} → {high}");
}

/// The same equivalence with gap filling, in the semantics the resampler documents: the
/// source candles are the real ones (no flat fillers: a filler at the start of a `high`
/// period would become its open, and its close would widen its range), and the
/// resampler fills the empty `high` periods itself. That is what a bar file gives the
/// CLI's `--gap-fill`. Both sides see the same heartbeats (the clock now and then, a
/// little behind the ticks, and once far past the last tick), so fillers created by the
/// clock are compared too; `low` candles closed by a heartbeat go to the resampler
/// before it hears the heartbeat, as a pipeline would pass them on.
///
/// Returns the number of filled `high` periods, for the caller to check there were some.
fn assert_gap_filled_resampling_matches(ticks: &[Tick], low: Timeframe, high: Timeframe) -> usize {
    let symbol = ticks[0].symbol;
    let beat = |t: &Tick| Timestamp::from_nanos(t.time.nanos() - 1_000_000_000);
    let after = Timestamp::from_nanos(
        high.period_end(high.period_start(ticks[ticks.len() - 1].time))
            .nanos()
            + 3 * high.nanos(),
    );

    let mut agg =
        CandleAggregator::new(symbol, &[high], AggregatorConfig { gap_fill: true }).unwrap();
    let mut direct = Vec::new();
    for (i, t) in ticks.iter().enumerate() {
        if i % 7 == 0 {
            agg.on_heartbeat(beat(t), &mut direct);
        }
        agg.on_tick(t, &mut direct);
    }
    agg.on_heartbeat(after, &mut direct);
    agg.flush(&mut direct);

    let mut source = CandleAggregator::new(symbol, &[low], AggregatorConfig::default()).unwrap();
    let mut resampler = Resampler::new(symbol, low, high, true).unwrap();
    let (mut lows, mut resampled) = (Vec::new(), Vec::new());
    let pass_on = |lows: &mut Vec<Candle>, resampler: &mut Resampler, out: &mut Vec<Candle>| {
        for c in lows.drain(..) {
            resampler.on_candle(&c, out).unwrap();
        }
    };
    for (i, t) in ticks.iter().enumerate() {
        if i % 7 == 0 {
            source.on_heartbeat(beat(t), &mut lows);
            pass_on(&mut lows, &mut resampler, &mut resampled);
            resampler.on_heartbeat(beat(t), &mut resampled);
        }
        source.on_tick(t, &mut lows);
        pass_on(&mut lows, &mut resampler, &mut resampled);
    }
    source.on_heartbeat(after, &mut lows);
    pass_on(&mut lows, &mut resampler, &mut resampled);
    resampler.on_heartbeat(after, &mut resampled);
    source.flush(&mut lows);
    pass_on(&mut lows, &mut resampler, &mut resampled);
    resampler.flush(&mut resampled);

    assert!(
        direct.len() > 20,
        "too few {high} candles to compare: {}",
        direct.len()
    );
    assert_eq!(resampled, direct, "{low} → {high} with gap filling");
    // Gap filling did happen, and made a continuous series of periods.
    assert!(direct.windows(2).all(|w| w[0].end == w[1].start));
    direct.iter().filter(|c| c.trades == 0).count()
}

#[test]
fn resampling_5m_to_1h_equals_aggregating_ticks_to_1h() {
    for seed in 1..=5 {
        // ~2 ticks a minute for ~2 days: quiet 5m periods included.
        assert_resampling_matches(&synthetic(seed, 1.0 / 30.0, 6_000), tf("5m"), tf("1h"));
    }
}

#[test]
fn resampling_1d_to_1w_equals_aggregating_ticks_to_1w() {
    for seed in 1..=3 {
        // ~one tick an hour for ~40 weeks.
        assert_resampling_matches(&synthetic(seed, 1.0 / 3600.0, 7_000), tf("1d"), tf("1w"));
    }
}

#[test]
fn resampling_15s_to_4h_and_1m_to_1d() {
    let ticks = synthetic(9, 0.5, 200_000);
    assert_resampling_matches(&ticks, tf("15s"), tf("4h"));
    assert_resampling_matches(&ticks, tf("1m"), tf("1d"));
}

#[test]
fn resampling_with_gap_filling_equals_aggregating_ticks_with_gap_filling() {
    for seed in 1..=4 {
        // ~one tick an hour: a third of the hours and most 5m periods are empty.
        let ticks = synthetic(seed, 1.0 / 3600.0, 400);
        let filled = assert_gap_filled_resampling_matches(&ticks, tf("5m"), tf("1h"));
        assert!(filled > 50, "seed {seed}: only {filled} empty hours");
        // ~one tick a day: empty days between 1h candles.
        let ticks = synthetic(seed, 1.0 / 86_400.0, 150);
        let filled = assert_gap_filled_resampling_matches(&ticks, tf("1h"), tf("1d"));
        assert!(filled > 20, "seed {seed}: only {filled} empty days");
    }
}

/// Why the resampler wants real candles: fed gap-filled ones, the first hour after a
/// quiet spell opens at the previous close (its flat filler's open), not at its first
/// trade, and disagrees with the hour aggregated from the ticks.
#[test]
fn gap_filled_source_candles_would_set_the_open_of_the_next_real_period() {
    let ticks = [
        tick("2026-11-20T10:10:00Z", "100", 1),
        tick("2026-11-20T11:40:00Z", "103", 1),
    ];
    let mut five =
        CandleAggregator::new(sym(), &[tf("5m")], AggregatorConfig { gap_fill: true }).unwrap();
    let mut fives = aggregate(&mut five, &ticks);
    five.flush(&mut fives);
    let mut resampler = Resampler::new(sym(), tf("5m"), tf("1h"), true).unwrap();
    let mut hours = Vec::new();
    for c in &fives {
        resampler.on_candle(c, &mut hours).unwrap();
    }
    resampler.flush(&mut hours);
    assert_eq!(
        hours.iter().map(show).collect::<Vec<_>>(),
        [
            "1h 2026-11-20T10:00:00Z 100 100 100 100 v1 n1",
            "1h 2026-11-20T11:00:00Z 100 103 100 103 v1 n1",
        ],
        "the 11:00 hour opens at the 10:10 close, not at the 11:40 trade"
    );
    let mut hour =
        CandleAggregator::new(sym(), &[tf("1h")], AggregatorConfig { gap_fill: true }).unwrap();
    let mut direct = aggregate(&mut hour, &ticks);
    hour.flush(&mut direct);
    assert_eq!(
        show(&direct[1]),
        "1h 2026-11-20T11:00:00Z 103 103 103 103 v1 n1"
    );
}

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(name)
}

#[test]
fn sample_files_read_as_documented() {
    let daily = read_file(&data("2006-day-001.txt"), sym()).unwrap();
    assert!(
        matches!(&daily, MarketData::Bars { timeframe, candles } if *timeframe == Timeframe::D1 && candles.len() == 255)
    );
    let five = read_file(&data("2006-min-005.txt"), sym()).unwrap();
    assert!(
        matches!(&five, MarketData::Bars { timeframe, candles } if *timeframe == Timeframe::M5 && candles.len() == 2142)
    );
    let ticks = read_file(&data("ticksample.csv"), sym()).unwrap();
    assert!(matches!(&ticks, MarketData::Ticks(t) if t.len() == 135));
    for name in ["orcl-1995-2014.txt", "nvda-1999-2014.txt"] {
        let bars = read_file(&data(name), sym()).unwrap();
        assert!(
            matches!(
                bars,
                MarketData::Bars {
                    timeframe: Timeframe::D1,
                    ..
                }
            ),
            "{name}"
        );
    }
    let missing = read_file(&data("nope.csv"), sym()).unwrap_err();
    assert!(
        missing.to_string().contains("nope.csv: cannot read"),
        "{missing}"
    );
}

#[test]
fn five_minute_file_resamples_to_hours_and_days() {
    let MarketData::Bars { candles, .. } = read_file(&data("2006-min-005.txt"), sym()).unwrap()
    else {
        panic!()
    };
    let mut hourly = Resampler::new(sym(), tf("5m"), tf("1h"), false).unwrap();
    let mut out = Vec::new();
    for c in &candles {
        hourly.on_candle(c, &mut out).unwrap();
    }
    hourly.flush(&mut out);
    // The first hour of the file: 09:00–10:00 on 2006-01-02, from twelve 5m bars.
    let first: Vec<&Candle> = candles
        .iter()
        .take_while(|c| c.start < out[0].end)
        .collect();
    assert_eq!(out[0].start.to_string(), "2006-01-02T09:00:00Z");
    assert_eq!(out[0].open, first[0].open);
    assert_eq!(out[0].close, first.last().unwrap().close);
    assert_eq!(out[0].high, first.iter().map(|c| c.high).max().unwrap());
    assert_eq!(out[0].low, first.iter().map(|c| c.low).min().unwrap());
    assert!(out.iter().all(|c| c.validate().is_ok()));
}

/// Many timeframes at once give, for each, exactly what an aggregator of that timeframe
/// alone gives — with or without gap filling, with heartbeats between ticks. (Nested
/// timeframes are built from the finest one's candles; 7m is fed by ticks.)
#[test]
fn many_timeframes_at_once_equal_each_alone() {
    let tfs: Vec<Timeframe> = ["1m", "5m", "7m", "15m", "1h", "4h", "1d"]
        .iter()
        .map(|s| tf(s))
        .collect();
    let ticks = synthetic(3, 1.0 / 20.0, 30_000);
    for gap_fill in [false, true] {
        let run = |tfs: &[Timeframe]| {
            let mut agg = CandleAggregator::new(sym(), tfs, AggregatorConfig { gap_fill }).unwrap();
            let mut out = Vec::new();
            for (i, t) in ticks.iter().enumerate() {
                if i % 97 == 0 {
                    // A clock a little behind the ticks now and then.
                    agg.on_heartbeat(
                        Timestamp::from_nanos(t.time.nanos() - 1_000_000_000),
                        &mut out,
                    );
                }
                agg.on_tick(t, &mut out);
            }
            agg.flush(&mut out);
            out
        };
        let together = run(&tfs);
        for &one in &tfs {
            let alone = run(&[one]);
            let picked: Vec<Candle> = together
                .iter()
                .filter(|c| c.timeframe == one)
                .copied()
                .collect();
            assert_eq!(picked, alone, "{one} (gap_fill {gap_fill})");
        }
    }
}

/// The open candles a chart shows are, at every moment, the candles an aggregator of
/// that timeframe alone would emit if the data ended there.
#[test]
fn open_candles_are_what_the_data_so_far_would_close() {
    let tfs: Vec<Timeframe> = ["1m", "5m", "7m", "1h", "1d"]
        .iter()
        .map(|s| tf(s))
        .collect();
    let ticks = synthetic(5, 1.0 / 15.0, 4_000);
    let mut agg = CandleAggregator::new(sym(), &tfs, AggregatorConfig::default()).unwrap();
    let mut alone: Vec<CandleAggregator> = tfs
        .iter()
        .map(|&t| CandleAggregator::new(sym(), &[t], AggregatorConfig::default()).unwrap())
        .collect();
    let mut sink = Vec::new();
    assert!(agg.open_candles().is_empty());
    for (i, t) in ticks.iter().enumerate() {
        agg.on_tick(t, &mut sink);
        for a in &mut alone {
            a.on_tick(t, &mut sink);
        }
        if i % 37 == 0 {
            let open = agg.open_candles();
            assert_eq!(open.len(), tfs.len());
            for (a, candle) in alone.iter().zip(&open) {
                let mut flushed = Vec::new();
                a.clone().flush(&mut flushed);
                assert_eq!(
                    flushed.last(),
                    Some(candle),
                    "tick {i}, {}",
                    candle.timeframe
                );
            }
        }
    }
}

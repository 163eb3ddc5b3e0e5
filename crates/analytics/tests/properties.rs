//! Invariants of the metrics over random curves, trades and benchmarks.

#![allow(clippy::unwrap_used)] // integration tests: a failed unwrap is a failed test

use analytics::{
    AnalyticsConfig, EquityCurve, EquityPoint, Metrics, RoundTrip, TradeSide, compute,
    compute_curves, drawdown_series,
};
use domain::{Decimal, Timestamp};
use proptest::prelude::*;

/// Times with random gaps (a second to two weeks) from 2020, and equity in cents.
fn curve(
    len: std::ops::Range<usize>,
    cents: std::ops::Range<i64>,
) -> impl Strategy<Value = Vec<EquityPoint>> {
    prop::collection::vec((1i64..1_209_600, cents, any::<bool>()), len).prop_map(|rows| {
        let mut time = 1_577_836_800;
        rows.into_iter()
            .map(|(gap, cents, exposed)| {
                time += gap;
                EquityPoint::new(Timestamp::from_secs(time), Decimal::new(cents, 2), exposed)
            })
            .collect()
    })
}

/// A curve that starts above zero and may then go anywhere, zero and below included.
fn wild_curve() -> impl Strategy<Value = Vec<EquityPoint>> {
    (
        1i64..1_000_000_000_000,
        curve(1..60, -1_000_000..1_000_000_000_000),
    )
        .prop_map(|(start, mut rest)| {
            let first = rest[0].time.nanos() / 1_000_000_000 - 1;
            rest.insert(
                0,
                EquityPoint::new(Timestamp::from_secs(first), Decimal::new(start, 2), false),
            );
            rest
        })
}

fn trades() -> impl Strategy<Value = Vec<RoundTrip>> {
    prop::collection::vec(-1_000_000_000i64..1_000_000_000, 0..20).prop_map(|pnls| {
        pnls.into_iter()
            .map(|cents| RoundTrip {
                entry_time: Timestamp::from_secs(1_577_836_800),
                exit_time: Timestamp::from_secs(1_577_840_400),
                side: if cents % 2 == 0 {
                    TradeSide::Long
                } else {
                    TradeSide::Short
                },
                quantity: Decimal::ONE,
                entry_price: Decimal::ONE_HUNDRED,
                exit_price: Decimal::ONE_HUNDRED,
                pnl: Decimal::new(cents, 2),
                fees: Decimal::new(cents.abs() % 500, 2),
            })
            .collect()
    })
}

fn config() -> impl Strategy<Value = AnalyticsConfig> {
    (
        prop::sample::select(vec![1.0, 12.0, 52.0, 252.0, 365.0, 98_280.0, 1e-3, 1e9]),
        -0.99f64..1.0,
    )
        .prop_map(|(ppy, rf)| AnalyticsConfig::new(ppy).with_risk_free_rate(rf))
}

/// Every `f64` of the metrics, optional or not, with its name.
fn floats(m: &Metrics) -> Vec<(&'static str, Option<f64>)> {
    let mut all = vec![
        ("total_return", Some(m.total_return)),
        ("cagr", m.cagr),
        ("annual_volatility", m.annual_volatility),
        ("sharpe", m.sharpe),
        ("sortino", m.sortino),
        ("max_drawdown", Some(m.max_drawdown)),
        ("calmar", m.calmar),
        ("win_rate", m.win_rate),
        ("profit_factor", m.profit_factor),
        ("exposure", Some(m.exposure)),
    ];
    if let Some(b) = &m.benchmark {
        all.extend([
            ("benchmark.total_return", Some(b.total_return)),
            ("benchmark.excess_return", Some(b.excess_return)),
            ("benchmark.alpha", b.alpha),
            ("benchmark.beta", b.beta),
        ]);
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn drawdown_is_a_fraction_of_the_peak(equity in curve(1..80, 0..10_000_000_000)) {
        let series = drawdown_series(&equity);
        prop_assert_eq!(series.len(), equity.len());
        for (point, (time, dd)) in equity.iter().zip(&series) {
            prop_assert_eq!(point.time, *time);
            prop_assert!((0.0..=1.0).contains(dd), "{}", dd);
        }
        if equity[0].equity > Decimal::ZERO {
            let m = compute(&equity, &[], &[], &AnalyticsConfig::daily()).unwrap();
            let deepest = series.iter().map(|p| p.1).fold(0.0, f64::max);
            prop_assert_eq!(m.max_drawdown, deepest);
            prop_assert!(m.max_drawdown_periods < equity.len());
            let span = (equity[equity.len() - 1].time.nanos() - equity[0].time.nanos()) / 1_000_000_000;
            prop_assert!((0..=span).contains(&m.max_drawdown_duration_secs));
        }
    }

    #[test]
    fn total_return_matches_start_and_end(equity in wild_curve()) {
        let m = compute(&equity, &[], &[], &AnalyticsConfig::daily()).unwrap();
        let (start, end) = (equity[0].equity, equity[equity.len() - 1].equity);
        prop_assert_eq!((m.start_equity, m.end_equity), (start, end));
        let implied = start.as_f64() * (1.0 + m.total_return);
        prop_assert!((implied - end.as_f64()).abs() <= 1e-9 * start.as_f64().max(end.as_f64().abs()));
        prop_assert_eq!(m.total_return > 0.0, end > start);
        prop_assert_eq!(m.total_return < 0.0, end < start);
    }

    #[test]
    fn metrics_are_never_nan_or_infinite(
        equity in wild_curve(),
        benchmark_cents in prop::collection::vec(1i64..1_000_000_000_000, 60),
        trades in trades(),
        config in config(),
        with_benchmark in any::<bool>(),
    ) {
        let benchmark: Vec<EquityPoint> = if with_benchmark {
            equity
                .iter()
                .zip(&benchmark_cents)
                .map(|(p, &cents)| EquityPoint::new(p.time, Decimal::new(cents, 2), true))
                .collect()
        } else {
            Vec::new()
        };
        let m = compute(&equity, &trades, &benchmark, &config).unwrap();
        for (name, value) in floats(&m) {
            if let Some(x) = value {
                prop_assert!(x.is_finite(), "{} = {}", name, x);
            }
        }
        prop_assert_eq!(m.benchmark.is_some(), with_benchmark);
        prop_assert!((0.0..=1.0).contains(&m.exposure));
        if let Some(rate) = m.win_rate {
            prop_assert!((0.0..=1.0).contains(&rate));
        }

        // serde_json writes NaN and ±inf as null: every non-optional number must stay a
        // number, and the text must read back.
        let json = serde_json::to_value(&m).unwrap();
        for key in ["total_return", "max_drawdown", "exposure"] {
            prop_assert!(json[key].is_f64(), "{} is {}", key, json[key]);
        }
        let text = serde_json::to_string(&m).unwrap();
        prop_assert!(!text.contains("NaN") && !text.contains("inf"));
        let back: Metrics = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back.start_equity, m.start_equity);
        prop_assert_eq!(back.trades, m.trades);
    }

    /// Compact curves give the very metrics (to the bit) and the very errors of slices,
    /// with values of every size and scale, zero and negative ones included.
    #[test]
    fn compact_curves_give_the_same_metrics(
        equity in wild_curve(),
        scales in prop::collection::vec(0u32..6, 61),
        benchmark_cents in prop::collection::vec(-10i64..1_000_000_000_000, 61),
        trades in trades(),
        config in config(),
        with_benchmark in any::<bool>(),
        swap in any::<bool>(),
    ) {
        let mut equity: Vec<EquityPoint> = equity
            .into_iter()
            .zip(&scales)
            .map(|(p, &scale)| {
                let mut value = p.equity;
                value.rescale(value.scale() + scale);
                if scale == 5 {
                    value *= Decimal::new(1_000_000_000_000_000, 0);
                }
                EquityPoint::new(p.time, value, p.exposed)
            })
            .collect();
        if swap && equity.len() > 2 {
            let t = equity[1].time;
            equity[1].time = equity[2].time;
            equity[2].time = t;
        }
        let benchmark: Vec<EquityPoint> = if with_benchmark {
            equity
                .iter()
                .zip(&benchmark_cents)
                .map(|(p, &cents)| EquityPoint::new(p.time, Decimal::new(cents, 2), true))
                .collect()
        } else {
            Vec::new()
        };
        let compact = |points: &[EquityPoint]| -> EquityCurve { points.iter().copied().collect() };
        let (curve, bench) = (compact(&equity), compact(&benchmark));
        prop_assert_eq!(curve.to_vec(), equity.clone());
        let slices = compute(&equity, &trades, &benchmark, &config);
        let curves = compute_curves(&curve, &trades, &bench, &config);
        prop_assert_eq!(format!("{slices:?}"), format!("{curves:?}"));
    }

    #[test]
    fn shuffled_times_are_refused_not_panicked_on(
        mut equity in curve(2..30, 1..1_000_000),
        i in 0usize..29,
        j in 0usize..29,
    ) {
        let (i, j) = (i % equity.len(), j % equity.len());
        prop_assume!(i != j);
        let t = equity[i].time;
        equity[i].time = equity[j].time;
        equity[j].time = t;
        prop_assert!(compute(&equity, &[], &[], &AnalyticsConfig::daily()).is_err());
    }
}

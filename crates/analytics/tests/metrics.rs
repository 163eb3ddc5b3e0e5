//! Metrics of small curves worked out by hand, one behaviour per test.
//!
//! The reference curve is 100 → 110 → 99 → 121 on consecutive days: returns 1/10, −1/10
//! and 2/9, mean 2/27, deviations 7/270, −47/270 and 40/270, so the sample variance is
//! 1929/72900 and the standard deviation √1929/270.

#![allow(clippy::unwrap_used)] // integration tests: a failed unwrap is a failed test

use analytics::{
    AnalyticsConfig, AnalyticsError, Curve, EquityPoint, Metrics, RoundTrip, TradeSide, compute,
    drawdown_series,
};
use domain::{Decimal, Timestamp};
use rust_decimal_macros::dec;

const DAY: i64 = 86_400;

fn close(actual: f64, expected: f64) {
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "expected {expected}, got {actual}"
    );
}

fn close_some(actual: Option<f64>, expected: f64) {
    close(actual.expect("a defined ratio"), expected);
}

/// Daily points from 2024-01-01, exposed after the first.
fn daily(values: &[Decimal]) -> Vec<EquityPoint> {
    values
        .iter()
        .enumerate()
        .map(|(i, &equity)| EquityPoint {
            time: Timestamp::from_secs(1_704_067_200 + DAY * i as i64),
            equity,
            exposed: i > 0,
        })
        .collect()
}

fn reference() -> Vec<EquityPoint> {
    let mut curve = daily(&[dec!(100), dec!(110), dec!(99), dec!(121)]);
    curve[3].exposed = false;
    curve
}

fn metrics(equity: &[EquityPoint]) -> Metrics {
    compute(equity, &[], &[], &AnalyticsConfig::daily()).unwrap()
}

fn trade(pnl: Decimal) -> RoundTrip {
    RoundTrip {
        entry_time: Timestamp::from_secs(1_704_067_200),
        exit_time: Timestamp::from_secs(1_704_067_200 + DAY),
        side: TradeSide::Short,
        quantity: dec!(2),
        entry_price: dec!(50),
        exit_price: dec!(50) - pnl / dec!(2),
        pnl,
        fees: dec!(0.5),
    }
}

#[test]
fn reference_curve_returns_and_growth() {
    let m = metrics(&reference());
    assert_eq!((m.start_equity, m.end_equity), (dec!(100), dec!(121)));
    close(m.total_return, 0.21);
    let years = 3.0 / 365.25;
    close_some(m.cagr, 1.21f64.powf(1.0 / years) - 1.0);
}

#[test]
fn reference_curve_volatility_sharpe_and_sortino() {
    let m = metrics(&reference());
    let stdev = 1929f64.sqrt() / 270.0;
    close_some(m.annual_volatility, stdev * 252f64.sqrt());
    // mean / stdev = (2/27) / (√1929/270) = 20/√1929
    close_some(m.sharpe, 20.0 / 1929f64.sqrt() * 252f64.sqrt());
    // Downside deviation: √((0 + 0.01 + 0) / 3) = 0.1/√3.
    close_some(
        m.sortino,
        (2.0 / 27.0) / (0.1 / 3f64.sqrt()) * 252f64.sqrt(),
    );
}

#[test]
fn reference_curve_drawdown_and_calmar() {
    let m = metrics(&reference());
    close(m.max_drawdown, 0.1);
    // From the peak at 110 (day 1) to the recovery at 121 (day 3).
    assert_eq!(m.max_drawdown_periods, 2);
    assert_eq!(m.max_drawdown_duration_secs, 2 * DAY);
    close_some(m.calmar, m.cagr.unwrap() / 0.1);
    let series: Vec<f64> = drawdown_series(&reference()).iter().map(|p| p.1).collect();
    assert_eq!(series, vec![0.0, 0.0, 0.1, 0.0]);
}

#[test]
fn exposure_counts_the_periods_ending_at_exposed_points() {
    // The first point only marks the start; of the three periods two were exposed.
    close(metrics(&reference()).exposure, 2.0 / 3.0);
    assert_eq!(metrics(&daily(&[dec!(100)])).exposure, 0.0);
}

#[test]
fn risk_free_rate_is_taken_per_period() {
    let config = AnalyticsConfig::daily().with_risk_free_rate(0.05);
    let m = compute(&reference(), &[], &[], &config).unwrap();
    let rf = 1.05f64.powf(1.0 / 252.0) - 1.0;
    let r = [0.1, -0.1, 2.0 / 9.0];
    let excess = 2.0 / 27.0 - rf;
    close_some(m.sharpe, excess / (1929f64.sqrt() / 270.0) * 252f64.sqrt());
    let downside = (r.iter().map(|x| (x - rf).min(0.0).powi(2)).sum::<f64>() / 3.0).sqrt();
    close_some(m.sortino, excess / downside * 252f64.sqrt());
}

#[test]
fn unrecovered_drawdown_lasts_until_the_end() {
    let m = metrics(&daily(&[
        dec!(100),
        dec!(120),
        dec!(90),
        dec!(96),
        dec!(108),
    ]));
    close(m.max_drawdown, 0.25);
    assert_eq!(m.max_drawdown_periods, 3);
    assert_eq!(m.max_drawdown_duration_secs, 3 * DAY);
}

#[test]
fn flat_curve_has_zero_volatility_and_no_sharpe() {
    let m = metrics(&daily(&[dec!(100); 4]));
    assert_eq!(m.total_return, 0.0);
    assert_eq!(m.cagr, Some(0.0));
    assert_eq!(m.annual_volatility, Some(0.0));
    assert_eq!((m.sharpe, m.sortino, m.calmar), (None, None, None));
    assert_eq!(m.max_drawdown, 0.0);
}

#[test]
fn constant_growth_is_not_an_infinite_sharpe() {
    let m = metrics(&daily(&[dec!(100), dec!(110), dec!(121), dec!(133.1)]));
    assert_eq!(m.annual_volatility, Some(0.0));
    assert_eq!(m.sharpe, None);
}

#[test]
fn rising_curve_has_no_drawdown_and_no_calmar() {
    let m = metrics(&daily(&[
        dec!(100),
        dec!(101),
        dec!(103),
        dec!(106),
        dec!(106),
    ]));
    assert_eq!(m.max_drawdown, 0.0);
    assert_eq!(
        (m.max_drawdown_periods, m.max_drawdown_duration_secs),
        (0, 0)
    );
    assert_eq!(m.calmar, None);
    assert_eq!(
        m.sortino, None,
        "no period fell short of the risk-free rate"
    );
    assert!(m.sharpe.unwrap() > 0.0);
}

#[test]
fn too_few_points_define_no_ratios() {
    let single = metrics(&daily(&[dec!(100)]));
    assert_eq!(single.total_return, 0.0);
    assert_eq!((single.cagr, single.annual_volatility), (None, None));
    assert_eq!(
        (single.sharpe, single.sortino, single.calmar),
        (None, None, None)
    );
    let two = metrics(&daily(&[dec!(100), dec!(105)]));
    assert_eq!(
        (two.annual_volatility, two.sharpe, two.sortino),
        (None, None, None)
    );
}

#[test]
fn cagr_needs_a_day_and_positive_end_equity() {
    let hours: Vec<EquityPoint> = [dec!(100), dec!(101)]
        .iter()
        .enumerate()
        .map(|(i, &e)| EquityPoint::new(Timestamp::from_secs(3600 * i as i64), e, true))
        .collect();
    assert_eq!(metrics(&hours).cagr, None);
    let wiped = metrics(&daily(&[dec!(100), dec!(50), dec!(-20)]));
    assert_eq!(wiped.cagr, None);
    close(wiped.total_return, -1.2);
    close(wiped.max_drawdown, 1.2);
}

#[test]
fn a_curve_through_zero_defines_no_return_ratios() {
    let m = metrics(&daily(&[dec!(100), dec!(0), dec!(50), dec!(60)]));
    close(m.total_return, -0.4);
    assert_eq!(m.max_drawdown, 1.0);
    assert_eq!(
        (m.annual_volatility, m.sharpe, m.sortino),
        (None, None, None)
    );
}

#[test]
fn trades_with_wins_losses_and_breakeven() {
    let trades = [
        trade(dec!(50)),
        trade(dec!(-20)),
        trade(dec!(0)),
        trade(dec!(30)),
        trade(dec!(-10)),
    ];
    let m = compute(&reference(), &trades, &[], &AnalyticsConfig::daily()).unwrap();
    assert_eq!(m.trades, 5);
    close_some(m.win_rate, 0.4);
    close_some(m.profit_factor, 80.0 / 30.0);
    assert_eq!(m.expectancy, Some(dec!(10)));
    assert_eq!(m.average_win, Some(dec!(40)));
    assert_eq!(m.average_loss, Some(dec!(-15)));
}

#[test]
fn one_sided_trade_records() {
    let config = AnalyticsConfig::daily();
    let winners = compute(
        &reference(),
        &[trade(dec!(5)), trade(dec!(7))],
        &[],
        &config,
    )
    .unwrap();
    assert_eq!(winners.win_rate, Some(1.0));
    assert_eq!(
        winners.profit_factor, None,
        "no losses: infinite, so undefined"
    );
    assert_eq!(
        (winners.average_win, winners.average_loss),
        (Some(dec!(6)), None)
    );
    let losers = compute(&reference(), &[trade(dec!(-5))], &[], &config).unwrap();
    assert_eq!(
        (losers.win_rate, losers.profit_factor),
        (Some(0.0), Some(0.0))
    );
    assert_eq!(
        (losers.average_win, losers.average_loss),
        (None, Some(dec!(-5)))
    );
    let flat = compute(&reference(), &[trade(dec!(0))], &[], &config).unwrap();
    assert_eq!((flat.win_rate, flat.profit_factor), (Some(0.0), None));
    assert_eq!(flat.expectancy, Some(dec!(0)));
}

#[test]
fn no_trades_defines_no_trade_statistics() {
    let m = metrics(&reference());
    assert_eq!(m.trades, 0);
    assert_eq!((m.win_rate, m.profit_factor), (None, None));
    assert_eq!(
        (m.expectancy, m.average_win, m.average_loss),
        (None, None, None)
    );
}

#[test]
fn benchmark_identical_to_equity() {
    let config = AnalyticsConfig::daily().with_risk_free_rate(0.03);
    let m = compute(&reference(), &[], &reference(), &config).unwrap();
    let b = m.benchmark.unwrap();
    close(b.total_return, 0.21);
    close(b.excess_return, 0.0);
    close_some(b.beta, 1.0);
    close_some(b.alpha, 0.0);
}

#[test]
fn benchmark_with_twice_the_returns_has_beta_one_half() {
    // Benchmark returns 2/10, −2/10 and 4/9 from 100: 120, 96, 96 × 13/9.
    let benchmark = daily(&[
        dec!(100),
        dec!(120),
        dec!(96),
        dec!(96) * dec!(13) / dec!(9),
    ]);
    let m = compute(&reference(), &[], &benchmark, &AnalyticsConfig::daily()).unwrap();
    let b = m.benchmark.unwrap();
    close_some(b.beta, 0.5);
    close_some(b.alpha, 0.0);
    close(b.total_return, 96.0 * 13.0 / 9.0 / 100.0 - 1.0);
    close(b.excess_return, 0.21 - b.total_return);

    // With a risk-free rate: alpha = (m − rf − ½(2m − rf)) × ppy = −½·rf·ppy.
    let config = AnalyticsConfig::daily().with_risk_free_rate(0.05);
    let b = compute(&reference(), &[], &benchmark, &config)
        .unwrap()
        .benchmark
        .unwrap();
    let rf = 1.05f64.powf(1.0 / 252.0) - 1.0;
    close_some(b.alpha, -0.5 * rf * 252.0);
}

#[test]
fn flat_benchmark_has_no_beta() {
    let m = compute(
        &reference(),
        &[],
        &daily(&[dec!(50); 4]),
        &AnalyticsConfig::daily(),
    )
    .unwrap();
    let b = m.benchmark.unwrap();
    assert_eq!((b.beta, b.alpha), (None, None));
    close(b.excess_return, 0.21);
}

#[test]
fn no_benchmark_no_comparison() {
    assert_eq!(metrics(&reference()).benchmark, None);
}

#[test]
fn json_keeps_money_as_strings_and_undefined_ratios_as_null() {
    let m = metrics(&daily(&[dec!(100.50); 3]));
    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json["start_equity"], "100.50");
    assert_eq!(json["sharpe"], serde_json::Value::Null);
    assert_eq!(json["annual_volatility"], 0.0);
    assert_eq!(json["benchmark"], serde_json::Value::Null);
    let back: Metrics = serde_json::from_value(json).unwrap();
    assert_eq!(back, m);
}

mod refused_input {
    use super::*;

    fn refused(equity: &[EquityPoint], benchmark: &[EquityPoint]) -> AnalyticsError {
        compute(equity, &[], benchmark, &AnalyticsConfig::daily()).unwrap_err()
    }

    #[test]
    fn empty_curve() {
        let e = refused(&[], &[]);
        assert_eq!(e, AnalyticsError::EmptyEquity);
        assert!(e.to_string().contains("empty"));
    }

    #[test]
    fn repeated_or_backwards_times() {
        let mut curve = reference();
        curve[2].time = curve[1].time;
        let e = refused(&curve, &[]);
        assert!(
            matches!(
                e,
                AnalyticsError::TimesNotIncreasing {
                    curve: Curve::Equity,
                    index: 2,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("point 2"), "{e}");
        curve[2].time = Timestamp::from_secs(0);
        assert!(matches!(
            refused(&curve, &[]),
            AnalyticsError::TimesNotIncreasing { .. }
        ));
    }

    #[test]
    fn non_positive_start() {
        for start in [dec!(0), dec!(-1)] {
            let e = refused(&daily(&[start, dec!(10)]), &[]);
            assert_eq!(
                e,
                AnalyticsError::NonPositiveStart {
                    curve: Curve::Equity,
                    equity: start
                }
            );
            assert!(e.to_string().contains("start above zero"), "{e}");
        }
    }

    #[test]
    fn bad_periods_per_year() {
        for ppy in [0.0, -252.0, f64::NAN, f64::INFINITY] {
            let e = compute(&reference(), &[], &[], &AnalyticsConfig::new(ppy)).unwrap_err();
            assert!(
                matches!(e, AnalyticsError::InvalidPeriodsPerYear { .. }),
                "{ppy}: {e:?}"
            );
            assert!(e.to_string().contains("periods_per_year"));
        }
    }

    #[test]
    fn bad_risk_free_rate() {
        for rate in [f64::NAN, -1.0, f64::INFINITY] {
            let config = AnalyticsConfig::daily().with_risk_free_rate(rate);
            let e = compute(&reference(), &[], &[], &config).unwrap_err();
            assert!(
                matches!(e, AnalyticsError::InvalidRiskFreeRate { .. }),
                "{e:?}"
            );
        }
    }

    #[test]
    fn benchmark_with_other_times() {
        let e = refused(&reference(), &daily(&[dec!(1), dec!(2)]));
        assert_eq!(
            e,
            AnalyticsError::BenchmarkLength {
                equity: 4,
                benchmark: 2
            }
        );
        assert!(e.to_string().contains("same") || e.to_string().contains("each equity time"));

        let mut shifted = reference();
        shifted[1].time = Timestamp::from_secs(shifted[1].time.nanos() / 1_000_000_000 + 60);
        let e = refused(&reference(), &shifted);
        assert!(
            matches!(e, AnalyticsError::BenchmarkTime { index: 1, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("benchmark point 1"), "{e}");
    }

    #[test]
    fn benchmark_starting_at_zero() {
        let e = refused(&reference(), &daily(&[dec!(0), dec!(1), dec!(2), dec!(3)]));
        assert!(matches!(
            e,
            AnalyticsError::NonPositiveStart {
                curve: Curve::Benchmark,
                ..
            }
        ));
    }

    #[test]
    fn malformed_trades() {
        let mut backwards = trade(dec!(1));
        backwards.exit_time = Timestamp::from_secs(0);
        let mut empty = trade(dec!(1));
        empty.quantity = dec!(0);
        for (bad, words) in [(backwards, "before it enters"), (empty, "quantity")] {
            let e = compute(
                &reference(),
                &[trade(dec!(1)), bad],
                &[],
                &AnalyticsConfig::daily(),
            )
            .unwrap_err();
            assert!(
                matches!(e, AnalyticsError::InvalidTrade { index: 1, .. }),
                "{e:?}"
            );
            assert!(e.to_string().contains(words), "{e}");
        }
    }

    #[test]
    fn pnl_beyond_the_decimal_range() {
        let mut huge = trade(dec!(1));
        huge.pnl = Decimal::MAX;
        let e = compute(&reference(), &[huge, huge], &[], &AnalyticsConfig::daily()).unwrap_err();
        assert!(matches!(e, AnalyticsError::Overflow { .. }), "{e:?}");
    }
}

//! Drawdowns: how far equity is below its running peak, and the worst such episode.

use domain::Timestamp;

use crate::curve::{EquityPoint, Points, seconds_between};
use crate::returns::Level;

/// The fraction by which each point's equity is below the highest equity so far:
/// `(peak − equity) / peak`, so 0 at a new high and 0.25 a quarter below it.
///
/// Never negative. It exceeds 1 only if equity goes below zero, and it is 0 while the running
/// peak itself is not above zero (there is nothing to draw down from).
pub fn drawdown_series(equity: &[EquityPoint]) -> Vec<(Timestamp, f64)> {
    let mut peak: Option<Level> = None;
    (0..equity.len())
        .map(|index| {
            let value = Level::at(equity, index);
            let high = match peak {
                Some(p) if p.at_or_above(equity, &value) => p,
                _ => value,
            };
            peak = Some(high);
            (equity[index].time, fraction_below(equity, &high, &value))
        })
        .collect()
}

/// `(peak − value) / peak`, or 0 when `peak` is not above zero or `value` is at or above it.
#[inline]
fn fraction_below<P: Points + ?Sized>(points: &P, peak: &Level, value: &Level) -> f64 {
    if !peak.is_positive(points) || value.at_or_above(points, peak) {
        return 0.0;
    }
    -value.return_over(points, peak)
}

/// The deepest drawdown of a curve and how long it lasted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MaxDrawdown {
    /// Depth as a fraction of the peak, ≥ 0 (0 for a curve that never falls).
    pub depth: f64,
    /// Seconds from the peak to the first point back at or above it, or to the last point
    /// if equity never recovered.
    pub duration_secs: i64,
    /// The same span counted in periods (equity points after the peak).
    pub duration_periods: usize,
}

/// The deepest drawdown; the first one if several are equally deep.
///
/// The duration runs from the peak the drawdown is measured from to the recovery: the first
/// later point whose equity is back at or above that peak (or the end of the curve).
pub(crate) fn max_drawdown_of<P: Points + ?Sized>(equity: &P) -> MaxDrawdown {
    let none = MaxDrawdown {
        depth: 0.0,
        duration_secs: 0,
        duration_periods: 0,
    };
    if equity.len() == 0 {
        return none;
    }
    let (mut peak_index, mut peak) = (0, Level::at(equity, 0));
    // (depth, index of its peak, index of its trough)
    let mut worst: Option<(f64, usize, usize)> = None;
    for index in 0..equity.len() {
        let value = Level::at(equity, index);
        if value.at_or_above(equity, &peak) {
            (peak_index, peak) = (index, value);
            continue;
        }
        let depth = fraction_below(equity, &peak, &value);
        if depth > worst.map_or(0.0, |w| w.0) {
            worst = Some((depth, peak_index, index));
        }
    }
    let Some((depth, peak_index, trough_index)) = worst else {
        return none;
    };
    let peak = Level::at(equity, peak_index);
    let end_index = (trough_index..equity.len())
        .find(|&i| Level::at(equity, i).at_or_above(equity, &peak))
        .unwrap_or(equity.len() - 1);
    MaxDrawdown {
        depth,
        duration_secs: seconds_between(equity.time(peak_index), equity.time(end_index)),
        duration_periods: end_index - peak_index,
    }
}

#[cfg(test)]
fn max_drawdown(equity: &[EquityPoint]) -> MaxDrawdown {
    max_drawdown_of(equity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::Decimal;
    use rust_decimal_macros::dec;

    fn curve(values: &[Decimal]) -> Vec<EquityPoint> {
        values
            .iter()
            .enumerate()
            .map(|(i, &e)| EquityPoint::new(Timestamp::from_secs(60 * i as i64), e, false))
            .collect()
    }

    #[test]
    fn series_measures_against_the_running_peak() {
        let dd: Vec<f64> = drawdown_series(&curve(&[
            dec!(100),
            dec!(80),
            dec!(120),
            dec!(90),
            dec!(130),
        ]))
        .into_iter()
        .map(|(_, d)| d)
        .collect();
        assert_eq!(dd, vec![0.0, 0.2, 0.0, 0.25, 0.0]);
    }

    #[test]
    fn worst_drawdown_and_its_recovery() {
        let dd = max_drawdown(&curve(&[
            dec!(100),
            dec!(80),
            dec!(120),
            dec!(90),
            dec!(100),
            dec!(130),
        ]));
        assert_eq!(dd.depth, 0.25);
        assert_eq!(dd.duration_periods, 3);
        assert_eq!(dd.duration_secs, 180);
    }

    #[test]
    fn unrecovered_drawdown_lasts_to_the_end() {
        let dd = max_drawdown(&curve(&[dec!(100), dec!(120), dec!(60), dec!(70)]));
        assert_eq!(dd.depth, 0.5);
        assert_eq!(dd.duration_periods, 2);
        assert_eq!(dd.duration_secs, 120);
    }

    #[test]
    fn equally_deep_drawdowns_report_the_first() {
        let dd = max_drawdown(&curve(&[
            dec!(100),
            dec!(90),
            dec!(100),
            dec!(100),
            dec!(90),
            dec!(90),
            dec!(100),
        ]));
        assert_eq!(dd.depth, 0.1);
        assert_eq!(dd.duration_periods, 2);
    }

    #[test]
    fn never_falling_curve_has_no_drawdown() {
        let dd = max_drawdown(&curve(&[dec!(1), dec!(1), dec!(2)]));
        assert_eq!(
            dd,
            MaxDrawdown {
                depth: 0.0,
                duration_secs: 0,
                duration_periods: 0
            }
        );
        assert_eq!(max_drawdown(&[]).depth, 0.0);
    }

    #[test]
    fn negative_equity_draws_down_more_than_everything() {
        let dd = drawdown_series(&curve(&[dec!(100), dec!(-50)]));
        assert_eq!(dd[1].1, 1.5);
    }
}

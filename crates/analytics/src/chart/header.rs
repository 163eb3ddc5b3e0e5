//! The title row: the subtitle text, the legend, and fitting a title beside it.

use domain::Decimal;

use super::axis::signed_percent;
use super::calendar::{Civil, period_label};
use super::svg::{Coord, Svg};
use super::{BENCHMARK, EQUITY, PLOT_RIGHT};
use crate::curve::EquityPoint;
use crate::returns::ratio_minus_one;

/// `Jan 2, 2020 – Dec 31, 2024  ·  Total return +23.4%  ·  Benchmark +15.2%`
pub(super) fn subtitle(
    first: &EquityPoint,
    last: &EquityPoint,
    benchmark: &[EquityPoint],
) -> String {
    let (start, end) = (
        i128::from(first.time.nanos()),
        i128::from(last.time.nanos()),
    );
    let mut parts = vec![if start == end {
        Civil::at(start).date()
    } else {
        period_label(start, end)
    }];
    let total = |from: &EquityPoint, to: &EquityPoint| {
        (from.equity > Decimal::ZERO).then(|| ratio_minus_one(to.equity, from.equity))
    };
    if let Some(r) = total(first, last) {
        parts.push(format!("Total return {}", signed_percent(r)));
    }
    let benchmark_return = benchmark
        .first()
        .zip(benchmark.last())
        .and_then(|(b0, b1)| total(b0, b1));
    if let Some(r) = benchmark_return {
        parts.push(format!("Benchmark {}", signed_percent(r)));
    }
    parts.join("  ·  ")
}

/// The legend at the top right; returns the width it takes.
pub(super) fn legend(svg: &mut Svg, with_benchmark: bool) -> f64 {
    let mut entries = vec![("Strategy", EQUITY)];
    if with_benchmark {
        entries.push(("Benchmark (rebased)", BENCHMARK));
    }
    const SWATCH: f64 = 16.0;
    const GAP: f64 = 6.0;
    const SPACING: f64 = 18.0;
    let widths: Vec<f64> = entries
        .iter()
        .map(|(label, _)| SWATCH + GAP + text_width(label, 12.0))
        .collect();
    let total = widths.iter().sum::<f64>() + SPACING * (entries.len() - 1) as f64;
    let mut x = PLOT_RIGHT - total;
    let y = 34.0;
    for ((label, colour), width) in entries.iter().zip(&widths) {
        svg.fmt(format_args!(
            "<path d=\"M{} {}h{SWATCH}\" stroke=\"{colour}\" stroke-width=\"2.5\" stroke-linecap=\"round\"/>\n",
            Coord(x),
            Coord(y - 4.0)
        ));
        svg.text(x + SWATCH + GAP, y, "class=\"legend\"", label);
        x += width + SPACING;
    }
    total
}

/// Approximate rendered width of `text` in a sans-serif face at `size` px.
pub(super) fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.56
}

/// `text` cut to `max` characters, with an ellipsis when cut.
pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

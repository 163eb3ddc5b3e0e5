//! Value axes: "nice" tick steps (1, 2, 2.5 or 5 × 10^k) and labels for money and percent.

/// A value axis: its domain runs from the first to the last tick.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scale {
    pub ticks: Vec<f64>,
    pub step: f64,
}

impl Scale {
    pub(crate) fn lo(&self) -> f64 {
        self.ticks.first().copied().unwrap_or(0.0)
    }

    pub(crate) fn hi(&self) -> f64 {
        self.ticks.last().copied().unwrap_or(1.0)
    }

    /// Where `value` falls between `lo` (0) and `hi` (1).
    pub(crate) fn fraction(&self, value: f64) -> f64 {
        let span = self.hi() - self.lo();
        if span > 0.0 {
            (value - self.lo()) / span
        } else {
            0.5
        }
    }
}

const MANTISSAS: [f64; 5] = [1.0, 2.0, 2.5, 4.0, 5.0];

/// The tick step and extent covering `[lo, hi]` with between `min_ticks` and `max_ticks`
/// ticks that wastes the least room; if no nice step gives such a count, the one whose count
/// is closest. A degenerate range (a flat curve) is widened by 1% around its value.
pub(crate) fn nice_scale(lo: f64, hi: f64, min_ticks: usize, max_ticks: usize) -> Scale {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo.min(hi), lo.max(hi))
    } else {
        (0.0, 1.0)
    };
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.01 };
        (lo - pad, hi + pad)
    };
    let span = hi - lo;
    let base = (span / max_ticks.max(1) as f64).log10().floor() as i32;
    // (distance of the tick count from the wanted range, wasted room, first k, last k, step)
    let mut best: Option<(usize, f64, f64, f64, Step)> = None;
    for exponent in base - 1..=base + 2 {
        for mantissa in MANTISSAS {
            let step = Step { mantissa, exponent };
            // The tolerance stops 0.3 / 0.1 = 2.9999999999999996 from adding a tick.
            let first = (lo / step.value() + 1e-9).floor();
            let last = (hi / step.value() - 1e-9).ceil();
            let count = (last - first) as usize + 1;
            let distance = min_ticks.saturating_sub(count) + count.saturating_sub(max_ticks);
            let waste = (last - first) * step.value() - span;
            let better = match best {
                None => true,
                Some((d, w, ..)) => distance < d || (distance == d && waste < w),
            };
            if better && step.value() > 0.0 && step.value().is_finite() {
                best = Some((distance, waste, first, last, step));
            }
        }
    }
    let Some((_, _, first, last, step)) = best else {
        return Scale {
            ticks: vec![lo, hi],
            step: span,
        };
    };
    let ticks = (0..=(last - first) as usize)
        .map(|i| step.times(first + i as f64))
        .collect();
    Scale {
        ticks,
        step: step.value(),
    }
}

/// `mantissa × 10^exponent`, kept apart so that ticks are computed as `k × 2 / 10` (exactly
/// 0.6 for k = 3) rather than `k × 0.2` (0.6000000000000001).
#[derive(Debug, Clone, Copy)]
struct Step {
    mantissa: f64,
    exponent: i32,
}

impl Step {
    fn value(self) -> f64 {
        self.times(1.0)
    }

    fn times(self, k: f64) -> f64 {
        if self.exponent >= 0 {
            k * self.mantissa * 10f64.powi(self.exponent)
        } else {
            k * self.mantissa / 10f64.powi(-self.exponent)
        }
    }
}

/// Decimals needed to show multiples of `step` exactly (0.25 → 2, 5 → 0), at most 10:
/// the fewest that make `step` a whole number of the last digit.
fn decimals_for(step: f64) -> usize {
    (0..10)
        .find(|&d| {
            let scaled = step.abs() * 10f64.powi(d as i32);
            scaled.round() >= 1.0 && (scaled - scaled.round()).abs() < 1e-6 * scaled
        })
        .unwrap_or(10)
}

/// `value` with `decimals` decimals, thousands separators and a true minus sign.
fn grouped(value: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, value.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut out = String::with_capacity(text.len() + int.len() / 3 + 3);
    let is_zero = text.bytes().all(|b| b == b'0' || b == b'.');
    if value < 0.0 && !is_zero {
        out.push('−');
    }
    for (i, digit) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// A money tick label: `105,000`, `2.5M`, `1.25B`, with as many decimals as the step needs.
/// Millions and above are abbreviated unless that would need more than two decimals (a
/// nearly flat ten-million curve reads `10,000,000.10`, not `10.0000001M`).
pub(crate) fn money_label(value: f64, scale: &Scale) -> String {
    let largest = scale.lo().abs().max(scale.hi().abs());
    let (divisor, suffix) = [(1e12, "T"), (1e9, "B"), (1e6, "M")]
        .into_iter()
        .find(|&(divisor, _)| largest >= divisor && decimals_for(scale.step / divisor) <= 2)
        .unwrap_or((1.0, ""));
    let decimals = decimals_for(scale.step / divisor);
    format!("{}{suffix}", grouped(value / divisor, decimals))
}

/// A drawdown tick label: the fraction `value` below the peak as `−10%`.
pub(crate) fn drawdown_label(value: f64, scale: &Scale) -> String {
    format!(
        "{}%",
        grouped(-value * 100.0, decimals_for(scale.step * 100.0))
    )
}

/// A fraction as a signed percentage with one decimal: `+23.4%`, `−5.0%`.
pub(crate) fn signed_percent(fraction: f64) -> String {
    let text = grouped(fraction * 100.0, 1);
    if text.starts_with('−') || text.bytes().all(|b| b == b'0' || b == b'.') {
        format!("{text}%")
    } else {
        format!("+{text}%")
    }
}

/// An unsigned percentage with one decimal, two under 1%: `12.3%`, `0.42%`.
pub(crate) fn percent(fraction: f64) -> String {
    let decimals = if fraction.abs() < 0.01 { 2 } else { 1 };
    format!("{}%", grouped(fraction.abs() * 100.0, decimals))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticks(lo: f64, hi: f64) -> Vec<f64> {
        nice_scale(lo, hi, 5, 6).ticks
    }

    #[test]
    fn picks_round_steps_covering_the_data() {
        assert_eq!(ticks(99.0, 121.0), vec![90.0, 100.0, 110.0, 120.0, 130.0]);
        assert_eq!(ticks(0.0, 1.0), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        let s = nice_scale(99.0, 121.0, 5, 6);
        assert!(s.lo() <= 99.0 && s.hi() >= 121.0);
        assert!((5..=6).contains(&s.ticks.len()), "{:?}", s.ticks);
        assert!(MANTISSAS.iter().any(|m| {
            let e = (s.step / m).log10().round();
            (m * 10f64.powf(e) - s.step).abs() < 1e-9 * s.step
        }));
    }

    #[test]
    fn five_or_six_ticks_across_magnitudes() {
        for magnitude in -3..=9 {
            let unit = 10f64.powi(magnitude);
            for width in [0.013, 0.07, 0.19, 0.33, 0.5, 0.77, 1.0, 1.9, 3.7, 6.1, 8.8] {
                for offset in [0.0, 1.0, 17.3, 123.4, -42.0] {
                    let (lo, hi) = (offset * unit, (offset + width) * unit);
                    let s = nice_scale(lo, hi, 5, 6);
                    assert!(
                        (5..=6).contains(&s.ticks.len()),
                        "{lo}..{hi}: {:?}",
                        s.ticks
                    );
                    let tolerance = 1e-6 * (hi - lo);
                    assert!(s.lo() <= lo + tolerance && s.hi() >= hi - tolerance);
                }
            }
        }
    }

    #[test]
    fn flat_range_is_widened() {
        let s = nice_scale(100.0, 100.0, 5, 6);
        assert!(s.lo() < 100.0 && s.hi() > 100.0);
        let z = nice_scale(0.0, 0.0, 5, 6);
        assert!(z.lo() < 0.0 && z.hi() > 0.0);
    }

    #[test]
    fn money_labels_group_and_scale() {
        let s = nice_scale(95_000.0, 121_000.0, 5, 6);
        let labels: Vec<String> = s.ticks.iter().map(|&v| money_label(v, &s)).collect();
        assert!(labels.iter().all(|l| l.ends_with(",000")), "{labels:?}");
        let m = nice_scale(1_000_000.0, 2_200_000.0, 5, 6);
        assert_eq!(money_label(1_250_000.0, &m), "1.25M");
        let small = nice_scale(100.0, 100.9, 5, 6);
        assert_eq!(money_label(100.2, &small), "100.2");
        let flat_millions = nice_scale(10_000_000.0, 10_000_000.6, 5, 6);
        assert_eq!(money_label(10_000_000.2, &flat_millions), "10,000,000.2");
        assert_eq!(decimals_for(1e-7), 7);
        assert_eq!(decimals_for(2.5), 1);
        assert_eq!(grouped(-1234567.891, 2), "−1,234,567.89");
        assert_eq!(grouped(-0.0001, 1), "0.0");
    }

    #[test]
    fn percent_labels() {
        let s = nice_scale(0.0, 0.23, 3, 4);
        let labels: Vec<String> = s.ticks.iter().map(|&v| drawdown_label(v, &s)).collect();
        assert_eq!(labels.first().map(String::as_str), Some("0%"));
        assert!(labels[1..].iter().all(|l| l.starts_with('−')), "{labels:?}");
        assert_eq!(signed_percent(0.2341), "+23.4%");
        assert_eq!(signed_percent(-0.05), "−5.0%");
        assert_eq!(signed_percent(0.0), "0.0%");
        assert_eq!(percent(-0.123), "12.3%");
        assert_eq!(percent(0.0042), "0.42%");
    }
}

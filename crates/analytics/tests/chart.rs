//! The SVG equity chart: well-formed for every kind of input, escaped, and small however
//! long the curve.

#![allow(clippy::unwrap_used)] // integration tests: a failed unwrap is a failed test

mod support {
    pub mod xml;
}

use analytics::{EquityPoint, equity_svg};
use domain::{Decimal, Timestamp};
use support::xml::check_well_formed;

/// `n` points `step` seconds apart from 2021-01-04, wandering around `base`.
fn walk(n: usize, step: i64, base: i64) -> Vec<EquityPoint> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut cents = base * 100;
    (0..n)
        .map(|i| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let shock = (state >> 33) as i64 % 2001 - 1000;
            cents = (cents + cents / 100_000 * shock / 10).max(100);
            EquityPoint::new(
                Timestamp::from_secs(1_609_718_400 + i as i64 * step),
                Decimal::new(cents, 2),
                i % 3 != 0,
            )
        })
        .collect()
}

#[test]
fn chart_of_a_daily_curve_with_benchmark_is_well_formed() {
    let equity = walk(750, 86_400, 100_000);
    let benchmark = walk(750, 86_400, 4_000);
    let svg = equity_svg(&equity, &benchmark, "Daily momentum");
    let elements = check_well_formed(&svg).unwrap();
    assert!(elements > 30, "{elements} elements");
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"520\"")
    );
    assert!(svg.contains("Benchmark (rebased)"));
    assert!(svg.contains(">Drawdown<"));
    assert!(svg.contains("Total return"));
    // Five or six money ticks on the equity axis, as many grid lines as labels.
    let money_labels = svg.matches("text-anchor=\"end\">").count();
    assert!(
        (5 + 3..=6 + 4).contains(&money_labels),
        "{money_labels} value labels"
    );
}

#[test]
fn chart_without_benchmark_has_no_benchmark_legend() {
    let svg = equity_svg(&walk(100, 3_600, 50_000), &[], "Hourly");
    check_well_formed(&svg).unwrap();
    assert!(!svg.contains("Benchmark"));
    assert!(svg.contains(">Strategy<"));
}

#[test]
fn title_is_escaped() {
    let title = "Fish & Chips <3 \"quoted\" 'single' \u{0}end";
    let svg = equity_svg(&walk(10, 86_400, 100), &[], title);
    check_well_formed(&svg).unwrap();
    let escaped = "Fish &amp; Chips &lt;3 &quot;quoted&quot; &apos;single&apos;  end";
    assert!(svg.contains(&format!(">{escaped}</title>")), "{svg}");
    assert!(svg.contains(&format!(">{escaped}</text>")));
    assert!(!svg.contains("<3"));
}

#[test]
fn long_titles_are_shortened_on_the_chart_but_kept_in_the_title_element() {
    let title = "A".repeat(300);
    let svg = equity_svg(&walk(10, 86_400, 100), &[], &title);
    check_well_formed(&svg).unwrap();
    assert!(svg.contains(&format!(">{title}</title>")));
    assert!(svg.contains("…</text>"));
}

#[test]
fn edge_case_inputs_still_give_well_formed_charts() {
    let single = walk(1, 60, 1_000);
    let flat: Vec<EquityPoint> = walk(50, 60, 1_000)
        .into_iter()
        .map(|p| EquityPoint::new(p.time, Decimal::new(1_000, 0), p.exposed))
        .collect();
    let mut through_zero = walk(40, 86_400, 10);
    through_zero[20].equity = Decimal::ZERO;
    through_zero[21].equity = Decimal::new(-55, 1);
    let mut unordered = walk(30, 86_400, 10);
    unordered.swap(3, 17);
    let bad_benchmark: Vec<EquityPoint> = walk(40, 86_400, 10)
        .into_iter()
        .map(|p| EquityPoint::new(p.time, -p.equity, false))
        .collect();
    let cases: [(&str, &[EquityPoint], &[EquityPoint]); 6] = [
        ("empty", &[], &[]),
        ("single", &single, &single),
        ("flat", &flat, &[]),
        ("through zero", &through_zero, &[]),
        ("unordered", &unordered, &[]),
        ("negative benchmark", &through_zero, &bad_benchmark),
    ];
    for (name, equity, benchmark) in cases {
        let svg = equity_svg(equity, benchmark, name);
        check_well_formed(&svg)
            .map_err(|e| format!("{name}: {e}"))
            .unwrap();
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{name}");
    }
    assert!(equity_svg(&[], &[], "x").contains("No equity data"));
}

#[test]
fn a_million_points_give_a_small_file() {
    let equity = walk(1_000_000, 60, 250_000);
    let benchmark = walk(1_000_000, 60, 400);
    let svg = equity_svg(&equity, &benchmark, "One million minutes");
    check_well_formed(&svg).unwrap();
    assert!(svg.len() < 200_000, "{} bytes", svg.len());
    // Each series keeps at most two points per pixel column of the 788-pixel plot.
    let longest = svg
        .split("points=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().split(' ').count())
        .max()
        .unwrap();
    assert!(longest <= 2 * 790 + 4, "{longest} points in one series");
}

#[test]
fn the_same_curve_draws_the_same_chart() {
    let equity = walk(3_000, 300, 10_000);
    assert_eq!(equity_svg(&equity, &[], "t"), equity_svg(&equity, &[], "t"));
}

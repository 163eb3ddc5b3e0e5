//! The two panels: the equity and benchmark lines over money ticks, the drawdown area over
//! percent ticks, and the grid and date ticks they share.

use super::axis::{Scale, drawdown_label, money_label, percent};
use super::calendar::time_ticks;
use super::downsample::downsample;
use super::svg::{Coord, Svg};
use super::{
    AXIS, BENCHMARK, DATE_LABEL_Y, DD_BOTTOM, DD_TOP, DRAWDOWN, EQUITY, GRID, MAIN_BOTTOM,
    MAIN_TOP, PLOT_RIGHT,
};
use crate::curve::EquityPoint;

/// A value axis placed on the page: maps values to y between `top` and `bottom`.
#[derive(Debug, Clone)]
pub(super) struct ValueAxis {
    pub(super) scale: Scale,
    top: f64,
    bottom: f64,
    /// Values grow downward (drawdown depth) rather than upward (equity).
    downward: bool,
}

impl ValueAxis {
    pub(super) fn upward(scale: Scale, top: f64, bottom: f64) -> Self {
        ValueAxis {
            scale,
            top,
            bottom,
            downward: false,
        }
    }

    pub(super) fn downward(scale: Scale, top: f64, bottom: f64) -> Self {
        ValueAxis {
            downward: true,
            ..Self::upward(scale, top, bottom)
        }
    }

    fn y(&self, value: f64) -> f64 {
        let offset = self.scale.fraction(value) * (self.bottom - self.top);
        if self.downward {
            self.top + offset
        } else {
            self.bottom - offset
        }
    }
}

/// The time axis: maps nanoseconds to x across the plot, from `left` to [`PLOT_RIGHT`].
#[derive(Debug, Clone, Copy)]
pub(super) struct TimeAxis {
    start: i128,
    end: i128,
    pub(super) left: f64,
}

impl TimeAxis {
    /// Spans both curves; a single instant is widened to the day around it.
    pub(super) fn new(equity: &[EquityPoint], benchmark: &[EquityPoint], left: f64) -> Self {
        let (start, end) = equity
            .iter()
            .chain(benchmark)
            .map(|p| i128::from(p.time.nanos()))
            .fold((i128::MAX, i128::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
        if start < end {
            TimeAxis { start, end, left }
        } else {
            let half_day = 12 * 3600 * 1_000_000_000;
            TimeAxis {
                start: start - half_day,
                end: start + half_day,
                left,
            }
        }
    }

    fn x(&self, nanos: i64) -> f64 {
        self.x_at(i128::from(nanos))
    }

    fn x_at(&self, nanos: i128) -> f64 {
        let fraction = (nanos - self.start) as f64 / (self.end - self.start) as f64;
        self.left + fraction * (PLOT_RIGHT - self.left)
    }
}

/// The equity area and line, the benchmark, a dashed line at the starting equity and a dot
/// on the last point.
pub(super) fn equity_panel(
    svg: &mut Svg,
    times: &TimeAxis,
    values: &ValueAxis,
    equity: &[EquityPoint],
    benchmark: &[EquityPoint],
    rebase: f64,
) {
    let line = downsample(
        equity
            .iter()
            .map(|p| (times.x(p.time.nanos()), values.y(p.equity.as_f64()))),
        equity.len(),
        times.left,
        PLOT_RIGHT,
    );
    svg.raw("<g clip-path=\"url(#stratus-main-clip)\">\n");
    area(
        svg,
        &line,
        MAIN_BOTTOM,
        "fill=\"url(#stratus-equity-fill)\"",
    );
    if let Some(&(_, start_y)) = line.first() {
        svg.fmt(format_args!(
            "<path d=\"M{} {}H{}\" stroke=\"{BENCHMARK}\" stroke-width=\"1\" stroke-dasharray=\"3 4\" fill=\"none\"/>\n",
            Coord(times.left),
            Coord(start_y),
            Coord(PLOT_RIGHT)
        ));
    }
    if !benchmark.is_empty() {
        let rebased = downsample(
            benchmark.iter().map(|p| {
                (
                    times.x(p.time.nanos()),
                    values.y(p.equity.as_f64() * rebase),
                )
            }),
            benchmark.len(),
            times.left,
            PLOT_RIGHT,
        );
        polyline(svg, &rebased, BENCHMARK, 1.4);
    }
    polyline(svg, &line, EQUITY, 1.8);
    svg.raw("</g>\n");
    if let Some(&(x, y)) = line.last() {
        svg.fmt(format_args!(
            "<circle cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"{EQUITY}\" stroke=\"#fff\" stroke-width=\"1.5\"/>\n",
            Coord(x),
            Coord(y)
        ));
    }
}

/// The underwater curve as a red area hanging from 0%, with its deepest point in the label.
pub(super) fn drawdown_panel(
    svg: &mut Svg,
    times: &TimeAxis,
    depths: &ValueAxis,
    equity: &[EquityPoint],
    drawdowns: &[f64],
    deepest: f64,
) {
    // Below 0.005% the percentage would print as zero.
    let note = if deepest >= 0.00005 {
        format!("max −{}", percent(deepest))
    } else {
        "none".to_string()
    };
    svg.fmt(format_args!(
        "<text x=\"{}\" y=\"{}\" class=\"panel\">Drawdown<tspan class=\"note\" dx=\"8\">{note}</tspan></text>\n",
        Coord(times.left),
        Coord(DD_TOP - 9.0),
    ));
    let underwater = downsample(
        equity
            .iter()
            .zip(drawdowns)
            .map(|(p, &d)| (times.x(p.time.nanos()), depths.y(d))),
        equity.len(),
        times.left,
        PLOT_RIGHT,
    );
    svg.raw("<g clip-path=\"url(#stratus-dd-clip)\">\n");
    area(
        svg,
        &underwater,
        DD_TOP,
        &format!("fill=\"{DRAWDOWN}\" fill-opacity=\"0.16\""),
    );
    polyline(svg, &underwater, DRAWDOWN, 1.2);
    svg.raw("</g>\n");
}

/// Drawdown of each point below the running peak (0 while the peak is not above zero).
pub(super) fn running_drawdown(equity: &[EquityPoint]) -> Vec<f64> {
    let mut peak = f64::NEG_INFINITY;
    equity
        .iter()
        .map(|p| {
            let value = p.equity.as_f64();
            peak = peak.max(value);
            if peak > 0.0 {
                ((peak - value) / peak).max(0.0)
            } else {
                0.0
            }
        })
        .collect()
}

/// Grid lines, tick labels and the baselines of both panels.
pub(super) fn grid(svg: &mut Svg, times: &TimeAxis, values: &ValueAxis, depths: &ValueAxis) {
    // Centre 1 px lines on a pixel so they render sharp.
    let crisp = |v: f64| v.round() + 0.5;
    let mut lines = String::new();
    let mut labels = Svg::new();
    let mut horizontal = |y: f64| {
        lines.push_str(&format!(
            "M{} {}H{}",
            Coord(times.left),
            Coord(crisp(y)),
            Coord(PLOT_RIGHT)
        ));
    };
    for &v in &values.scale.ticks {
        horizontal(values.y(v));
        let label = money_label(v, &values.scale);
        labels.text(
            times.left - 10.0,
            values.y(v) + 4.0,
            "text-anchor=\"end\"",
            &label,
        );
    }
    for &d in &depths.scale.ticks {
        // 0% is the panel's top edge, drawn with the baselines.
        if d > 0.0 {
            horizontal(depths.y(d));
        }
        let label = drawdown_label(d, &depths.scale);
        labels.text(
            times.left - 10.0,
            depths.y(d) + 4.0,
            "text-anchor=\"end\"",
            &label,
        );
    }
    for tick in time_ticks(times.start, times.end) {
        let x = times.x_at(tick.nanos);
        for (top, bottom) in [(MAIN_TOP, MAIN_BOTTOM), (DD_TOP, DD_BOTTOM)] {
            lines.push_str(&format!(
                "M{} {}V{}",
                Coord(crisp(x)),
                Coord(top),
                Coord(bottom)
            ));
        }
        labels.text(x, DATE_LABEL_Y, "text-anchor=\"middle\"", &tick.label);
    }
    svg.fmt(format_args!(
        "<path d=\"{lines}\" stroke=\"{GRID}\" stroke-width=\"1\" fill=\"none\" shape-rendering=\"crispEdges\"/>\n"
    ));
    svg.fmt(format_args!(
        "<path d=\"M{l} {mb}H{r}M{l} {dt}H{r}M{l} {db}H{r}\" stroke=\"{AXIS}\" stroke-width=\"1\" fill=\"none\" shape-rendering=\"crispEdges\"/>\n",
        l = Coord(times.left),
        r = Coord(PLOT_RIGHT),
        mb = Coord(crisp(MAIN_BOTTOM)),
        dt = Coord(crisp(DD_TOP)),
        db = Coord(crisp(DD_BOTTOM)),
    ));
    svg.raw(&labels.into_markup());
}

/// A filled area between `points` and the horizontal line `base`.
fn area(svg: &mut Svg, points: &[(f64, f64)], base: f64, fill: &str) {
    let (Some(&(x0, _)), Some(&(x1, _))) = (points.first(), points.last()) else {
        return;
    };
    svg.fmt(format_args!(
        "<polygon {fill} points=\"{},{} ",
        Coord(x0),
        Coord(base)
    ));
    svg.points(points);
    svg.fmt(format_args!(" {},{}\"/>\n", Coord(x1), Coord(base)));
}

fn polyline(svg: &mut Svg, points: &[(f64, f64)], colour: &str, width: f64) {
    svg.fmt(format_args!(
        "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width}\" stroke-linejoin=\"round\" stroke-linecap=\"round\" points=\""
    ));
    svg.points(points);
    svg.raw("\"/>\n");
}

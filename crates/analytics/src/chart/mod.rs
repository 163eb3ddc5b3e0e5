//! `equity_svg`: an equity curve, an optional benchmark and the drawdown as one standalone
//! SVG chart, for reports and the web UI.
//!
//! Layout, 900 × 520 on white: the title and a subtitle (period, total return, benchmark
//! return) with the legend top right; the equity panel with money ticks on the left; below
//! it the drawdown panel (red area, percent ticks); date ticks on calendar boundaries under
//! both, with light grid lines through both panels. The benchmark is rebased to the
//! strategy's starting equity so the two lines start together.
//!
//! Curves longer than [`downsample::MAX_POINTS`] are reduced to the lowest and highest
//! point of each pixel column, so a million-point curve gives a file of about the same size
//! as a two-thousand-point one.

mod axis;
mod calendar;
mod downsample;
mod header;
mod panels;
mod svg;

use domain::Decimal;

use crate::curve::EquityPoint;
use axis::{drawdown_label, money_label, nice_scale};
use header::{legend, subtitle, text_width, truncate};
use panels::{TimeAxis, ValueAxis, drawdown_panel, equity_panel, grid, running_drawdown};
use svg::{Coord, Svg};

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 520.0;
/// Left edge of the text (title, subtitle).
const MARGIN: f64 = 24.0;
/// Left edge of the plots, moved right when tick labels are wider than usual.
const PLOT_LEFT: f64 = 84.0;
const PLOT_RIGHT: f64 = 872.0;
const MAIN_TOP: f64 = 88.0;
const MAIN_BOTTOM: f64 = 348.0;
const DD_TOP: f64 = 382.0;
const DD_BOTTOM: f64 = 462.0;
const DATE_LABEL_Y: f64 = 482.0;

const INK: &str = "#1f2328";
const MUTED: &str = "#59636e";
const GRID: &str = "#eaeef2";
const AXIS: &str = "#d1d9e0";
const EQUITY: &str = "#0969da";
const BENCHMARK: &str = "#9198a1";
const DRAWDOWN: &str = "#cf222e";

const FONT: &str = "Inter, 'Segoe UI', 'Helvetica Neue', Helvetica, Arial, sans-serif";

/// Draws `equity` (and `benchmark`, if not empty) as a standalone SVG document.
///
/// Never fails: an empty curve gives a chart saying there is no data, and a benchmark that
/// cannot be rebased (it starts at or below zero) is left out. The title is escaped.
pub fn equity_svg(equity: &[EquityPoint], benchmark: &[EquityPoint], title: &str) -> String {
    let mut svg = Svg::new();
    // Benchmark value × rebase = the benchmark as if it had started with the strategy.
    let rebase = match (equity.first(), benchmark.first()) {
        (Some(e), Some(b)) if e.equity > Decimal::ZERO && b.equity > Decimal::ZERO => {
            Some(e.equity.as_f64() / b.equity.as_f64())
        }
        _ => None,
    };
    let benchmark = if rebase.is_some() { benchmark } else { &[] };

    open_document(&mut svg, title);
    let legend_width = legend(&mut svg, !benchmark.is_empty());
    // At most 11 px a character in 18 px semibold; a long title stays whole in <title>.
    let title_chars = ((PLOT_RIGHT - MARGIN - legend_width - 32.0) / 11.0).max(8.0) as usize;
    svg.text(
        MARGIN,
        34.0,
        "class=\"title\"",
        &truncate(title, title_chars),
    );

    let (Some(first), Some(last)) = (equity.first(), equity.last()) else {
        svg.text(MARGIN, 57.0, "class=\"subtitle\"", "No equity data");
        frame(&mut svg);
        svg.text(
            (PLOT_LEFT + PLOT_RIGHT) / 2.0,
            (MAIN_TOP + MAIN_BOTTOM) / 2.0,
            "class=\"empty\" text-anchor=\"middle\"",
            "No equity data to chart",
        );
        return svg.finish();
    };
    svg.text(
        MARGIN,
        57.0,
        "class=\"subtitle\"",
        &subtitle(first, last, benchmark),
    );

    let rebase = rebase.unwrap_or(1.0);
    let (lo, hi) = equity
        .iter()
        .map(|p| p.equity.as_f64())
        .chain(benchmark.iter().map(|p| p.equity.as_f64() * rebase))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let values = ValueAxis::upward(nice_scale(lo, hi, 5, 6), MAIN_TOP, MAIN_BOTTOM);
    let drawdowns = running_drawdown(equity);
    let deepest = drawdowns.iter().copied().fold(0.0, f64::max);
    // At least 1% deep, so a curve that never falls still gets a readable panel.
    let depths = ValueAxis::downward(nice_scale(0.0, deepest.max(0.01), 3, 4), DD_TOP, DD_BOTTOM);

    // The plot starts where the widest tick label ends.
    let widest = values
        .scale
        .ticks
        .iter()
        .map(|&v| money_label(v, &values.scale))
        .chain(
            depths
                .scale
                .ticks
                .iter()
                .map(|&d| drawdown_label(d, &depths.scale)),
        )
        .map(|label| text_width(&label, 11.0))
        .fold(0.0, f64::max);
    let times = TimeAxis::new(equity, benchmark, (MARGIN + widest + 10.0).max(PLOT_LEFT));

    clip_paths(&mut svg, times.left);
    grid(&mut svg, &times, &values, &depths);
    equity_panel(&mut svg, &times, &values, equity, benchmark, rebase);
    drawdown_panel(&mut svg, &times, &depths, equity, &drawdowns, deepest);
    svg.finish()
}

/// The root element, accessible title, styles, gradient, clip paths and background.
fn open_document(svg: &mut Svg, title: &str) {
    svg.fmt(format_args!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"stratus-chart-title\">\n",
        w = WIDTH,
        h = HEIGHT
    ));
    svg.fmt(format_args!(
        "<title id=\"stratus-chart-title\">{}</title>\n",
        svg::escape_text(title)
    ));
    svg.fmt(format_args!(
        "<style>\n\
         text{{font-family:{FONT};font-size:11px;fill:{MUTED};font-variant-numeric:tabular-nums}}\n\
         .title{{font-size:18px;font-weight:600;fill:{INK}}}\n\
         .subtitle{{font-size:12.5px}}\n\
         .legend{{font-size:12px;fill:{INK}}}\n\
         .panel{{font-weight:600;fill:{INK}}}\n\
         .note{{font-weight:400;fill:{MUTED}}}\n\
         .empty{{font-size:14px}}\n\
         </style>\n"
    ));
    svg.fmt(format_args!(
        "<defs>\n\
         <linearGradient id=\"stratus-equity-fill\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"1\">\
         <stop offset=\"0\" stop-color=\"{EQUITY}\" stop-opacity=\"0.16\"/>\
         <stop offset=\"1\" stop-color=\"{EQUITY}\" stop-opacity=\"0.01\"/></linearGradient>\n\
         </defs>\n\
         <rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#fff\"/>\n"
    ));
}

/// Clip paths for both panels (with a little room so lines on the edge keep their width).
fn clip_paths(svg: &mut Svg, left: f64) {
    svg.fmt(format_args!(
        "<defs>\n\
         <clipPath id=\"stratus-main-clip\"><rect x=\"{l}\" y=\"{mt}\" width=\"{pw}\" height=\"{mh}\"/></clipPath>\n\
         <clipPath id=\"stratus-dd-clip\"><rect x=\"{l}\" y=\"{dt}\" width=\"{pw}\" height=\"{dh}\"/></clipPath>\n\
         </defs>\n",
        l = Coord(left - 2.0),
        pw = Coord(PLOT_RIGHT - left + 4.0),
        mt = Coord(MAIN_TOP - 3.0),
        mh = Coord(MAIN_BOTTOM - MAIN_TOP + 6.0),
        dt = Coord(DD_TOP),
        dh = Coord(DD_BOTTOM - DD_TOP + 3.0),
    ));
}

/// The outline of both panels, for the empty chart.
fn frame(svg: &mut Svg) {
    for (top, bottom) in [(MAIN_TOP, MAIN_BOTTOM), (DD_TOP, DD_BOTTOM)] {
        svg.fmt(format_args!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"{GRID}\"/>\n",
            Coord(PLOT_LEFT),
            Coord(top),
            Coord(PLOT_RIGHT - PLOT_LEFT),
            Coord(bottom - top)
        ));
    }
}

//! Every indicator against TA-Lib, row by row, on three real price series: an equity
//! index in 2006 (255 daily bars, no volume), ORCL 1995–2014 (5036) and NVDA 1999–2014
//! (4012). The reference CSVs in `tests/data/talib/` are written by
//! `scripts/talib_vectors.py` (TA-Lib 0.8) from the files in `../data/`.
//!
//! For every output column: the first valid row must be TA-Lib's (and the indicator's
//! `lookback()`), a row must be empty exactly where TA-Lib's is, and every value must
//! agree within `|ours - talib| <= 1e-6 * max(|talib|, 1e-3 * typical)`, `typical` being
//! the mean of `|talib|` over the column. That is 1e-6 relative, except for values that
//! cross zero (MACD histogram, OBV) where a relative error means nothing: there the
//! allowed error is a billionth of the column's typical size.

#![allow(clippy::unwrap_used)] // integration tests: a failed unwrap is a failed test

use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

use engine::indicators::{
    Atr, Bar, BarIndicator, BollingerBands, Ema, IndicatorSpec, Macd, Obv, Rsi, Sma, Stochastic,
    Vwap, Wma,
};

/// One price file and TA-Lib's outputs for it.
struct Dataset {
    name: &'static str,
    bars: Vec<Bar>,
    talib: HashMap<String, Vec<Option<f64>>>,
}

impl Dataset {
    fn talib(&self, column: &str) -> &[Option<f64>] {
        self.talib
            .get(column)
            .unwrap_or_else(|| panic!("{}: no TA-Lib column {column}", self.name))
    }
}

static DATASETS: LazyLock<Vec<Dataset>> = LazyLock::new(|| {
    ["2006-day-001", "orcl-1995-2014", "nvda-1999-2014"]
        .into_iter()
        .map(load)
        .collect()
});

fn load(name: &'static str) -> Dataset {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let prices = read_csv(&root.join("../../data").join(format!("{name}.txt")));
    let numbers = |column: &str| -> Vec<f64> {
        prices[column]
            .iter()
            .map(|cell| cell.parse().unwrap())
            .collect()
    };
    let (open, high, low, close, volume) = (
        numbers("Open"),
        numbers("High"),
        numbers("Low"),
        numbers("Close"),
        numbers("Volume"),
    );
    let bars = (0..close.len())
        .map(|i| Bar {
            open: open[i],
            high: high[i],
            low: low[i],
            close: close[i],
            volume: volume[i],
        })
        .collect();
    let talib = read_csv(&root.join("tests/data/talib").join(format!("{name}.csv")))
        .into_iter()
        .map(|(column, cells)| {
            let values = cells
                .iter()
                .map(|cell| (!cell.is_empty()).then(|| cell.parse().unwrap()))
                .collect();
            (column, values)
        })
        .collect();
    Dataset { name, bars, talib }
}

/// A comma-separated file with a header row and no quoting (all these files are), as
/// its columns: name → cells, top to bottom.
fn read_csv(path: &Path) -> HashMap<String, Vec<String>> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines().filter(|line| !line.trim().is_empty());
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut columns: Vec<Vec<String>> = vec![Vec::new(); header.len()];
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), header.len(), "{}: {line}", path.display());
        for (column, cell) in columns.iter_mut().zip(cells) {
            column.push(cell.to_owned());
        }
    }
    header.into_iter().map(str::to_owned).zip(columns).collect()
}

fn assert_matches_talib(dataset: &Dataset, column: &str, ours: &[Option<f64>]) {
    let talib = dataset.talib(column);
    let name = dataset.name;
    assert_eq!(ours.len(), talib.len(), "{name} {column}: row count");
    let first_valid = |series: &[Option<f64>]| series.iter().position(Option::is_some);
    assert_eq!(
        first_valid(ours),
        first_valid(talib),
        "{name} {column}: first valid row"
    );
    let values: Vec<f64> = talib.iter().flatten().map(|v| v.abs()).collect();
    let typical = values.iter().sum::<f64>() / values.len().max(1) as f64;
    for (row, (ours, theirs)) in ours.iter().zip(talib).enumerate() {
        match (ours, theirs) {
            (Some(ours), Some(theirs)) => {
                let tolerance = 1e-6 * theirs.abs().max(1e-3 * typical);
                assert!(
                    (ours - theirs).abs() <= tolerance,
                    "{name} {column} row {row}: ours {ours}, TA-Lib {theirs}"
                );
            }
            (None, None) => {}
            _ => panic!("{name} {column} row {row}: ours {ours:?}, TA-Lib {theirs:?}"),
        }
    }
}

/// `lookback()` is TA-Lib's first valid index (when the column has a value at all).
fn assert_lookback(dataset: &Dataset, column: &str, lookback: usize) {
    if let Some(first) = dataset.talib(column).iter().position(Option::is_some) {
        assert_eq!(lookback, first, "{} {column}: lookback", dataset.name);
    }
}

// One runner per indicator: the struct fed every bar, one series per output.

fn on_closes<T>(bars: &[Bar], mut update: impl FnMut(f64) -> Option<T>) -> Vec<Option<T>> {
    bars.iter().map(|bar| update(bar.close)).collect()
}

fn sma(bars: &[Bar], period: usize) -> Vec<Option<f64>> {
    let mut sma = Sma::new(period).unwrap();
    on_closes(bars, |close| sma.update(close))
}

fn ema(bars: &[Bar], period: usize) -> Vec<Option<f64>> {
    let mut ema = Ema::new(period).unwrap();
    on_closes(bars, |close| ema.update(close))
}

fn wma(bars: &[Bar], period: usize) -> Vec<Option<f64>> {
    let mut wma = Wma::new(period).unwrap();
    on_closes(bars, |close| wma.update(close))
}

fn rsi(bars: &[Bar], period: usize) -> Vec<Option<f64>> {
    let mut rsi = Rsi::new(period).unwrap();
    on_closes(bars, |close| rsi.update(close))
}

fn macd(bars: &[Bar], fast: usize, slow: usize, signal: usize) -> [Vec<Option<f64>>; 3] {
    let mut macd = Macd::new(fast, slow, signal).unwrap();
    let out = on_closes(bars, |close| macd.update(close));
    [
        out.iter().map(|o| o.map(|o| o.macd)).collect(),
        out.iter().map(|o| o.map(|o| o.signal)).collect(),
        out.iter().map(|o| o.map(|o| o.histogram)).collect(),
    ]
}

fn bbands(bars: &[Bar], period: usize, k: f64) -> [Vec<Option<f64>>; 3] {
    let mut bands = BollingerBands::new(period, k).unwrap();
    let out = on_closes(bars, |close| bands.update(close));
    [
        out.iter().map(|o| o.map(|o| o.upper)).collect(),
        out.iter().map(|o| o.map(|o| o.middle)).collect(),
        out.iter().map(|o| o.map(|o| o.lower)).collect(),
    ]
}

fn atr(bars: &[Bar], period: usize) -> Vec<Option<f64>> {
    let mut atr = Atr::new(period).unwrap();
    bars.iter().map(|bar| atr.update(bar)).collect()
}

fn stoch(bars: &[Bar], fastk: usize, slowk: usize, slowd: usize) -> [Vec<Option<f64>>; 2] {
    let mut stoch = Stochastic::new(fastk, slowk, slowd).unwrap();
    let out: Vec<_> = bars.iter().map(|bar| stoch.update(bar)).collect();
    [
        out.iter().map(|o| o.map(|o| o.k)).collect(),
        out.iter().map(|o| o.map(|o| o.d)).collect(),
    ]
}

fn obv(bars: &[Bar]) -> Vec<Option<f64>> {
    let mut obv = Obv::new();
    bars.iter().map(|bar| obv.update(bar)).collect()
}

fn vwap(bars: &[Bar]) -> Vec<Option<f64>> {
    let mut vwap = Vwap::new();
    bars.iter().map(|bar| vwap.update(bar)).collect()
}

#[test]
fn sma_matches_talib() {
    for d in DATASETS.iter() {
        for period in [30, 1, 2] {
            let column = format!("sma_{period}");
            assert_matches_talib(d, &column, &sma(&d.bars, period));
            assert_lookback(d, &column, Sma::new(period).unwrap().lookback());
        }
    }
}

#[test]
fn ema_matches_talib() {
    for d in DATASETS.iter() {
        for period in [30, 3] {
            let column = format!("ema_{period}");
            assert_matches_talib(d, &column, &ema(&d.bars, period));
            assert_lookback(d, &column, Ema::new(period).unwrap().lookback());
        }
    }
}

#[test]
fn wma_matches_talib() {
    for d in DATASETS.iter() {
        for period in [10, 2] {
            let column = format!("wma_{period}");
            assert_matches_talib(d, &column, &wma(&d.bars, period));
            assert_lookback(d, &column, Wma::new(period).unwrap().lookback());
        }
    }
}

#[test]
fn rsi_matches_talib() {
    for d in DATASETS.iter() {
        for period in [14, 2] {
            let column = format!("rsi_{period}");
            assert_matches_talib(d, &column, &rsi(&d.bars, period));
            assert_lookback(d, &column, Rsi::new(period).unwrap().lookback());
        }
    }
}

#[test]
fn macd_matches_talib_including_its_seeding() {
    for d in DATASETS.iter() {
        for (fast, slow, signal) in [(12, 26, 9), (3, 5, 2)] {
            let suffix = format!("{fast}_{slow}_{signal}");
            let [line, signal_line, histogram] = macd(&d.bars, fast, slow, signal);
            assert_matches_talib(d, &format!("macd_{suffix}"), &line);
            assert_matches_talib(d, &format!("macdsignal_{suffix}"), &signal_line);
            assert_matches_talib(d, &format!("macdhist_{suffix}"), &histogram);
            let lookback = Macd::new(fast, slow, signal).unwrap().lookback();
            assert_lookback(d, &format!("macd_{suffix}"), lookback);
        }
    }
}

#[test]
fn macd_with_fast_and_slow_swapped_is_the_same_as_talib() {
    for d in DATASETS.iter() {
        let [line, signal_line, histogram] = macd(&d.bars, 26, 12, 9);
        assert_matches_talib(d, "macd_12_26_9", &line);
        assert_matches_talib(d, "macdsignal_12_26_9", &signal_line);
        assert_matches_talib(d, "macdhist_12_26_9", &histogram);
    }
}

#[test]
fn bollinger_bands_match_talib() {
    for d in DATASETS.iter() {
        for (period, k, suffix) in [(20, 2.0, "20_2"), (2, 1.5, "2_1.5")] {
            let [upper, middle, lower] = bbands(&d.bars, period, k);
            assert_matches_talib(d, &format!("bbupper_{suffix}"), &upper);
            assert_matches_talib(d, &format!("bbmiddle_{suffix}"), &middle);
            assert_matches_talib(d, &format!("bblower_{suffix}"), &lower);
            let lookback = BollingerBands::new(period, k).unwrap().lookback();
            assert_lookback(d, &format!("bbmiddle_{suffix}"), lookback);
        }
    }
}

#[test]
fn atr_matches_talib() {
    for d in DATASETS.iter() {
        for period in [14, 1] {
            let column = format!("atr_{period}");
            assert_matches_talib(d, &column, &atr(&d.bars, period));
            assert_lookback(d, &column, Atr::new(period).unwrap().lookback());
        }
    }
}

#[test]
fn stochastic_matches_talib() {
    for d in DATASETS.iter() {
        for (fastk, slowk, slowd) in [(14, 3, 3), (5, 3, 2), (1, 1, 1)] {
            let suffix = format!("{fastk}_{slowk}_{slowd}");
            let [k, d_line] = stoch(&d.bars, fastk, slowk, slowd);
            assert_matches_talib(d, &format!("slowk_{suffix}"), &k);
            assert_matches_talib(d, &format!("slowd_{suffix}"), &d_line);
            let lookback = Stochastic::new(fastk, slowk, slowd).unwrap().lookback();
            assert_lookback(d, &format!("slowk_{suffix}"), lookback);
        }
    }
}

#[test]
fn obv_matches_talib() {
    for d in DATASETS.iter() {
        assert_matches_talib(d, "obv", &obv(&d.bars));
        assert_lookback(d, "obv", Obv::new().lookback());
    }
}

#[test]
fn vwap_matches_the_numpy_formula() {
    for d in DATASETS.iter() {
        assert_matches_talib(d, "vwap", &vwap(&d.bars));
        assert_lookback(d, "vwap", Vwap::new().lookback());
    }
}

/// The struct outputs for the specs the CLI documents, one series per column.
fn struct_columns(bars: &[Bar]) -> Vec<(&'static str, Vec<Vec<Option<f64>>>)> {
    vec![
        ("sma:30", vec![sma(bars, 30)]),
        ("ema:30", vec![ema(bars, 30)]),
        ("wma:10", vec![wma(bars, 10)]),
        ("rsi:14", vec![rsi(bars, 14)]),
        ("macd:12:26:9", macd(bars, 12, 26, 9).to_vec()),
        ("bbands:20:2", bbands(bars, 20, 2.0).to_vec()),
        ("atr:14", vec![atr(bars, 14)]),
        ("stoch:14:3:3", stoch(bars, 14, 3, 3).to_vec()),
        ("vwap", vec![vwap(bars)]),
        ("obv", vec![obv(bars)]),
    ]
}

/// Feeds `bars` to a spec-built indicator, one series per column.
fn spec_columns(spec: &IndicatorSpec, bars: &[Bar]) -> Vec<Vec<Option<f64>>> {
    let mut indicator = spec.build().unwrap();
    let mut columns = vec![Vec::with_capacity(bars.len()); spec.columns().len()];
    let mut row = Vec::new();
    for bar in bars {
        row.clear();
        indicator.update(bar, &mut row);
        assert_eq!(row.len(), columns.len(), "{spec:?}: values per bar");
        for (column, value) in columns.iter_mut().zip(&row) {
            column.push(*value);
        }
    }
    columns
}

#[test]
fn spec_built_indicators_give_the_struct_numbers() {
    for d in DATASETS.iter() {
        for (text, expected) in struct_columns(&d.bars) {
            let spec = IndicatorSpec::parse(text).unwrap();
            assert_eq!(spec_columns(&spec, &d.bars), expected, "{} {text}", d.name);
        }
    }
}

#[test]
fn reset_then_the_same_bars_gives_the_same_numbers() {
    let d = &DATASETS[1];
    for (text, _) in struct_columns(&d.bars[..300]) {
        let spec = IndicatorSpec::parse(text).unwrap();
        let mut indicator = spec.build().unwrap();
        let mut first = Vec::new();
        for bar in &d.bars[..300] {
            indicator.update(bar, &mut first);
        }
        indicator.reset();
        let mut second = Vec::new();
        for bar in &d.bars[..300] {
            indicator.update(bar, &mut second);
        }
        assert_eq!(first, second, "{text}");
    }
}

#[test]
fn spec_errors_name_the_problem_and_what_is_valid() {
    let error = |spec: &str| IndicatorSpec::parse(spec).unwrap_err().to_string();
    assert_eq!(
        error("foo"),
        "unknown indicator \"foo\"; valid: sma:N, ema:N, wma:N, rsi:N, \
         macd:FAST:SLOW:SIGNAL, bbands:N:K, atr:N, stoch:FASTK:SLOWK:SLOWD, vwap, obv"
    );
    assert_eq!(error("sma:0"), "sma period must be at least 1, got 0");
    assert_eq!(
        error("sma:"),
        "sma period must be a whole number up to 100000, got \"\"; usage: sma:N"
    );
    assert_eq!(
        error("sma:x"),
        "sma period must be a whole number up to 100000, got \"x\"; usage: sma:N"
    );
    assert_eq!(
        error("sma:99999999999999999999999"),
        "sma period must be a whole number up to 100000, got \"99999999999999999999999\"; \
         usage: sma:N"
    );
    assert_eq!(
        error("sma:100001"),
        "sma period must be at most 100000, got 100001"
    );
    assert_eq!(
        error("macd:1"),
        "macd takes 3 parameter(s), got 1 in \"macd:1\"; usage: macd:FAST:SLOW:SIGNAL"
    );
    assert_eq!(
        error("macd:1:26:9"),
        "macd fast period must be at least 2, got 1"
    );
    assert_eq!(
        error("bbands:20:nan"),
        "bbands multiplier must be a finite number, got NaN"
    );
    assert_eq!(
        error("bbands:20:two"),
        "bbands multiplier must be a number, got \"two\"; usage: bbands:N:K"
    );
    assert_eq!(error("rsi:1"), "rsi period must be at least 2, got 1");
    assert_eq!(
        error("stoch:14:0:3"),
        "stoch slow %K period must be at least 1, got 0"
    );
    assert_eq!(
        error("vwap:5"),
        "vwap takes 0 parameter(s), got 1 in \"vwap:5\"; usage: vwap"
    );
}

//! The `stratus` binary's data commands (`candles`, `indicators`, `backtest`, `bench`) run
//! as a real process over the sample files in `data/`, with exact expectations: candle
//! values recomputed here from the files, indicator values against plain arithmetic,
//! backtest JSON checked for shape, determinism and cash conservation, and every bad input
//! refused with `error: <path>:<line>: …` and a non-zero exit, never a panic.
//!
//! Each test runs the binary a few times at most; the largest input is ORCL's 5,036 daily
//! bars, so the suite stays quick in a debug build. Speed is never asserted here.

#![allow(clippy::unwrap_used)] // integration tests: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{Duration, NaiveDateTime};
use rust_decimal::Decimal;
use serde_json::Value;

const DAILY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/2006-day-001.txt");
const FIVE_MINUTE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/2006-min-005.txt");
const TICKS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/ticksample.csv");
const ORCL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/orcl-1995-2014.txt");
const NVDA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/nvda-1999-2014.txt");

/// The ORCL sma_cross run most backtest tests look at.
const ORCL_SMA_CROSS: &[&str] = &[
    "backtest",
    "--data",
    ORCL,
    "--symbol",
    "ORCL",
    "--strategy",
    "sma_cross",
    "--param",
    "period=30",
    "--param",
    "size=100",
    "--json",
];

// ---------------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------------

/// Runs `stratus ARGS` to completion: its exit status, stdout and stderr.
fn stratus(args: &[&str]) -> (ExitStatus, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        !stderr.contains("panicked"),
        "stratus {args:?} panicked:\n{stderr}"
    );
    (output.status, stdout, stderr)
}

/// Runs a command that must succeed; its stdout.
fn succeeds(args: &[&str]) -> String {
    let (status, stdout, stderr) = stratus(args);
    assert!(
        status.success(),
        "stratus {args:?} failed with {status}:\n{stderr}"
    );
    stdout
}

/// Runs a command that must fail the way the CLI reports errors (exit 1, one
/// `error: …` on stderr, nothing on stdout); its stderr.
fn fails(args: &[&str]) -> String {
    let (status, stdout, stderr) = stratus(args);
    assert_eq!(
        status.code(),
        Some(1),
        "stratus {args:?} should fail with exit 1, got {status}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.starts_with("error: "),
        "stratus {args:?}: stderr should start with `error: `, got:\n{stderr}"
    );
    assert!(
        stdout.is_empty(),
        "stratus {args:?} failed but printed:\n{stdout}"
    );
    stderr
}

/// Asserts that `haystack` contains every needle, showing it whole otherwise.
#[track_caller]
fn assert_mentions(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            haystack.contains(needle),
            "expected {needle:?} in:\n{haystack}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Temporary files
// ---------------------------------------------------------------------------------------

static NEXT_TEMP: AtomicUsize = AtomicUsize::new(0);

/// A path under the system temp directory no other test (or run) uses; removed on drop,
/// whether a file or a directory was made there.
#[derive(Debug)]
struct TempPath(PathBuf);

impl TempPath {
    fn new(name: &str) -> Self {
        let n = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
        TempPath(
            std::env::temp_dir().join(format!("stratus-cli-{}-{n}-{name}", std::process::id())),
        )
    }

    /// A file holding `contents`.
    fn file(name: &str, contents: &str) -> Self {
        let path = TempPath::new(name);
        std::fs::write(&path.0, contents).unwrap();
        path
    }

    fn as_str(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------
// Reading the sample files and the CLI's CSV output
// ---------------------------------------------------------------------------------------

/// The data rows of a CSV file, split on commas (header dropped, blank lines skipped).
fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

fn read_rows(path: &str) -> Vec<Vec<String>> {
    rows(&std::fs::read_to_string(path).unwrap())
}

fn dec(text: &str) -> Decimal {
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} is not a decimal: {e}"))
}

fn float(text: &str) -> f64 {
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} is not a number: {e}"))
}

/// A candle as `candles --csv` prints it, or as recomputed here.
#[derive(Debug, Clone, PartialEq)]
struct Ohlcv {
    time: String,
    open: Decimal,
    high: Decimal,
    low: Decimal,
    close: Decimal,
    volume: Decimal,
}

fn parse_candles_csv(stdout: &str) -> Vec<Ohlcv> {
    assert_eq!(
        stdout.lines().next(),
        Some("time,open,high,low,close,volume"),
        "candles --csv header"
    );
    rows(stdout)
        .iter()
        .map(|r| {
            assert_eq!(r.len(), 6, "candles --csv row {r:?}");
            Ohlcv {
                time: r[0].clone(),
                open: dec(&r[1]),
                high: dec(&r[2]),
                low: dec(&r[3]),
                close: dec(&r[4]),
                volume: dec(&r[5]),
            }
        })
        .collect()
}

/// A bar of `2006-min-005.txt`: `Date,Time,Open,High,Low,Close,Volume,OpenInterest`, the
/// time being the bar's close.
#[derive(Debug, Clone)]
struct FiveMinuteBar {
    start: NaiveDateTime,
    open: Decimal,
    high: Decimal,
    low: Decimal,
    close: Decimal,
    volume: Decimal,
}

fn five_minute_bars() -> Vec<FiveMinuteBar> {
    read_rows(FIVE_MINUTE)
        .iter()
        .map(|r| {
            let close_time =
                NaiveDateTime::parse_from_str(&format!("{} {}", r[0], r[1]), "%Y-%m-%d %H:%M:%S")
                    .unwrap();
            FiveMinuteBar {
                start: close_time - Duration::minutes(5),
                open: dec(&r[2]),
                high: dec(&r[3]),
                low: dec(&r[4]),
                close: dec(&r[5]),
                volume: dec(&r[6]),
            }
        })
        .collect()
}

fn rfc3339(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Hourly candles recomputed from the five-minute bars: open of the first, high/low the
/// extremes, close of the last, volumes summed.
fn expected_hours(bars: &[FiveMinuteBar]) -> Vec<Ohlcv> {
    let mut hours: Vec<Ohlcv> = Vec::new();
    for bar in bars {
        let hour = bar.start.format("%Y-%m-%dT%H:00:00Z").to_string();
        match hours.last_mut() {
            Some(h) if h.time == hour => {
                h.high = h.high.max(bar.high);
                h.low = h.low.min(bar.low);
                h.close = bar.close;
                h.volume += bar.volume;
            }
            _ => hours.push(Ohlcv {
                time: hour,
                open: bar.open,
                high: bar.high,
                low: bar.low,
                close: bar.close,
                volume: bar.volume,
            }),
        }
    }
    hours
}

/// A tick of `ticksample.csv`: `Datetime,Open,High,Low,Close,Volume,OpenInterest`.
#[derive(Debug, Clone)]
struct SampleTick {
    time: NaiveDateTime,
    price: Decimal,
    size: Decimal,
}

fn sample_ticks() -> Vec<SampleTick> {
    read_rows(TICKS)
        .iter()
        .map(|r| SampleTick {
            time: NaiveDateTime::parse_from_str(&r[0], "%Y-%m-%dT%H:%M:%S%.f").unwrap(),
            price: dec(&r[4]),
            size: dec(&r[5]),
        })
        .collect()
}

fn daily_closes() -> Vec<f64> {
    read_rows(DAILY).iter().map(|r| float(&r[4])).collect()
}

// ---------------------------------------------------------------------------------------
// candles
// ---------------------------------------------------------------------------------------

#[test]
fn candles_resamples_five_minute_bars_into_hours_of_their_twelve_bars() {
    let stdout = succeeds(&[
        "candles",
        "--data",
        FIVE_MINUTE,
        "--timeframe",
        "1h",
        "--csv",
    ]);
    let bars = five_minute_bars();

    // The first hour, 09:00–10:00, is the bars stamped 09:05 … 10:00.
    let first_hour: Vec<&FiveMinuteBar> = bars
        .iter()
        .take_while(|b| b.start.format("%Y-%m-%d %H").to_string() == "2006-01-02 09")
        .collect();
    assert_eq!(first_hour.len(), 12);
    let first_line = stdout.lines().nth(1).unwrap();
    assert!(
        first_line.starts_with("2006-01-02T09:00:00Z,3578.73,"),
        "first hour row: {first_line}"
    );
    let candles = parse_candles_csv(&stdout);
    let first = &candles[0];
    assert_eq!(first.open, first_hour[0].open);
    assert_eq!(first.high, first_hour.iter().map(|b| b.high).max().unwrap());
    assert_eq!(first.low, first_hour.iter().map(|b| b.low).min().unwrap());
    assert_eq!(first.close, first_hour[11].close);
    assert_eq!(first.close, dec("3600.40"));

    // One row per distinct hour, and every row as recomputed from the file.
    let distinct_hours: BTreeSet<String> = bars
        .iter()
        .map(|b| b.start.format("%Y-%m-%d %H").to_string())
        .collect();
    assert_eq!(candles.len(), distinct_hours.len());
    assert_eq!(candles, expected_hours(&bars));
}

#[test]
fn candles_at_the_files_own_period_stamp_five_minute_bars_at_their_start() {
    let stdout = succeeds(&[
        "candles",
        "--data",
        FIVE_MINUTE,
        "--timeframe",
        "5m",
        "--csv",
    ]);
    let candles = parse_candles_csv(&stdout);
    let bars = five_minute_bars();
    assert_eq!(candles.len(), bars.len());
    for (c, b) in candles.iter().zip(&bars) {
        let expected = Ohlcv {
            time: rfc3339(b.start),
            open: b.open,
            high: b.high,
            low: b.low,
            close: b.close,
            volume: b.volume,
        };
        assert_eq!(c, &expected);
    }
    assert_eq!(candles[0].time, "2006-01-02T09:00:00Z");
}

#[test]
fn candles_from_ticks_at_one_minute_keep_every_unit_of_volume() {
    let stdout = succeeds(&["candles", "--data", TICKS, "--timeframe", "1m", "--csv"]);
    let candles = parse_candles_csv(&stdout);
    let ticks = sample_ticks();
    let file_volume: Decimal = ticks.iter().map(|t| t.size).sum();
    let candle_volume: Decimal = candles.iter().map(|c| c.volume).sum();
    assert_eq!(candle_volume, file_volume);
    assert_eq!(file_volume, dec("2599"));

    // Each minute is its ticks: first price, extremes, last price.
    let minutes: Vec<String> = candles.iter().map(|c| c.time.clone()).collect();
    assert_eq!(
        minutes,
        [
            "2015-09-23T20:57:00Z",
            "2015-09-23T20:58:00Z",
            "2015-09-23T20:59:00Z",
            "2015-09-23T21:00:00Z"
        ]
    );
    for c in &candles {
        let in_minute: Vec<&SampleTick> = ticks
            .iter()
            .filter(|t| t.time.format("%Y-%m-%dT%H:%M:00Z").to_string() == c.time)
            .collect();
        assert_eq!(c.open, in_minute[0].price, "{}", c.time);
        assert_eq!(c.close, in_minute[in_minute.len() - 1].price, "{}", c.time);
        assert_eq!(c.high, in_minute.iter().map(|t| t.price).max().unwrap());
        assert_eq!(c.low, in_minute.iter().map(|t| t.price).min().unwrap());
        assert_eq!(c.volume, in_minute.iter().map(|t| t.size).sum::<Decimal>());
    }
}

#[test]
fn candles_table_has_a_header_line_one_row_per_candle_and_a_count() {
    let stdout = succeeds(&["candles", "--data", TICKS, "--timeframe", "1m"]);
    let lines: Vec<&str> = stdout.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["time", "open", "high", "low", "close", "volume", "trades"]
    );
    assert_eq!(
        lines.len(),
        1 + 4 + 1,
        "header, four minutes, count:\n{stdout}"
    );
    assert_eq!(lines[5], "4 1m candles");
    let first: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        first,
        [
            "2015-09-23T20:57:00Z",
            "3067",
            "3067",
            "3066",
            "3066",
            "186",
            "5"
        ]
    );
    // The trades column counts every tick of the file once.
    let trades: u64 = lines[1..5]
        .iter()
        .map(|l| l.split_whitespace().last().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(trades, sample_ticks().len() as u64);
}

#[test]
fn candles_window_of_instants_keeps_ticks_from_from_and_stops_before_to() {
    let stdout = succeeds(&[
        "candles",
        "--data",
        TICKS,
        "--timeframe",
        "1m",
        "--from",
        "2015-09-23T20:58:00Z",
        "--to",
        "2015-09-23T20:59:00Z",
        "--csv",
    ]);
    let candles = parse_candles_csv(&stdout);
    let in_window: Vec<SampleTick> = sample_ticks()
        .into_iter()
        .filter(|t| t.time.format("%H:%M").to_string() == "20:58")
        .collect();
    assert_eq!(
        candles,
        [Ohlcv {
            time: "2015-09-23T20:58:00Z".into(),
            open: in_window[0].price,
            high: in_window.iter().map(|t| t.price).max().unwrap(),
            low: in_window.iter().map(|t| t.price).min().unwrap(),
            close: in_window[in_window.len() - 1].price,
            volume: in_window.iter().map(|t| t.size).sum(),
        }]
    );
}

#[test]
fn candles_window_of_dates_includes_the_to_day() {
    let stdout = succeeds(&[
        "candles",
        "--data",
        DAILY,
        "--timeframe",
        "1d",
        "--from",
        "2006-01-03",
        "--to",
        "2006-01-05",
        "--csv",
    ]);
    let times: Vec<String> = parse_candles_csv(&stdout)
        .into_iter()
        .map(|c| c.time)
        .collect();
    assert_eq!(
        times,
        [
            "2006-01-03T00:00:00Z",
            "2006-01-04T00:00:00Z",
            "2006-01-05T00:00:00Z"
        ]
    );
}

#[test]
fn candles_window_on_five_minute_bars_selects_them_by_start() {
    let stdout = succeeds(&[
        "candles",
        "--data",
        FIVE_MINUTE,
        "--timeframe",
        "5m",
        "--from",
        "2006-01-03",
        "--to",
        "2006-01-03",
        "--csv",
    ]);
    let times: Vec<String> = parse_candles_csv(&stdout)
        .into_iter()
        .map(|c| c.time)
        .collect();
    let expected: Vec<String> = five_minute_bars()
        .iter()
        .filter(|b| b.start.format("%Y-%m-%d").to_string() == "2006-01-03")
        .map(|b| rfc3339(b.start))
        .collect();
    assert_eq!(expected.len(), 102);
    assert_eq!(times, expected);
}

#[test]
fn candles_gap_fill_on_ticks_adds_flat_empty_seconds_between_trades() {
    let args = ["candles", "--data", TICKS, "--timeframe", "1s", "--csv"];
    let sparse = parse_candles_csv(&succeeds(&args));
    let filled = parse_candles_csv(&succeeds(&[&args[..], &["--gap-fill"]].concat()));

    // Every second from the first trade's to the last trade's, once.
    let first = NaiveDateTime::parse_from_str("2015-09-23 20:57:42", "%Y-%m-%d %H:%M:%S").unwrap();
    let last = NaiveDateTime::parse_from_str("2015-09-23 21:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
    let seconds: Vec<String> = (0..=(last - first).num_seconds())
        .map(|s| rfc3339(first + Duration::seconds(s)))
        .collect();
    let filled_times: Vec<String> = filled.iter().map(|c| c.time.clone()).collect();
    assert_eq!(filled_times, seconds);
    assert!(sparse.len() < filled.len(), "the sample has empty seconds");

    // Seconds with trades are unchanged; the others repeat the previous close, volume 0.
    let mut sparse_iter = sparse.iter().peekable();
    let mut previous_close = None;
    for c in &filled {
        if sparse_iter.peek().map(|s| &s.time) == Some(&c.time) {
            assert_eq!(Some(c), sparse_iter.next());
        } else {
            let close = previous_close.unwrap();
            assert_eq!(
                (c.open, c.high, c.low, c.close, c.volume),
                (close, close, close, close, Decimal::ZERO),
                "filled second {}",
                c.time
            );
        }
        previous_close = Some(c.close);
    }
    assert!(sparse_iter.next().is_none());
}

#[test]
fn candles_gap_fill_on_five_minute_bars_fills_the_night_with_the_last_close() {
    let stdout = succeeds(&[
        "candles",
        "--data",
        FIVE_MINUTE,
        "--timeframe",
        "1h",
        "--to",
        "2006-01-03",
        "--gap-fill",
        "--csv",
    ]);
    let candles = parse_candles_csv(&stdout);
    let times: Vec<String> = candles.iter().map(|c| c.time.clone()).collect();
    // 2006-01-02 09:00 through 2006-01-03 17:00, every hour.
    assert_eq!(times.len(), 15 + 18);
    assert_eq!(times[0], "2006-01-02T09:00:00Z");
    assert_eq!(times[times.len() - 1], "2006-01-03T17:00:00Z");
    let close_of_day_one = candles[8].close; // 17:00–18:00
    assert_eq!(candles[8].time, "2006-01-02T17:00:00Z");
    // 18:00 on the 2nd to 08:00 on the 3rd: no bars, flat at the 17:00 hour's close.
    assert_eq!(candles[24].time, "2006-01-03T09:00:00Z");
    for c in &candles[9..24] {
        assert_eq!(
            (c.open, c.high, c.low, c.close, c.volume),
            (
                close_of_day_one,
                close_of_day_one,
                close_of_day_one,
                close_of_day_one,
                Decimal::ZERO
            ),
            "night hour {}",
            c.time
        );
    }
}

#[test]
fn candles_gap_fill_at_the_files_own_period_fills_weekends() {
    let stdout = succeeds(&[
        "candles",
        "--data",
        DAILY,
        "--timeframe",
        "1d",
        "--to",
        "2006-01-09",
        "--gap-fill",
        "--csv",
    ]);
    let candles = parse_candles_csv(&stdout);
    let times: Vec<&str> = candles.iter().map(|c| c.time.as_str()).collect();
    assert_eq!(
        times,
        [
            "2006-01-02T00:00:00Z",
            "2006-01-03T00:00:00Z",
            "2006-01-04T00:00:00Z",
            "2006-01-05T00:00:00Z",
            "2006-01-06T00:00:00Z",
            "2006-01-07T00:00:00Z",
            "2006-01-08T00:00:00Z",
            "2006-01-09T00:00:00Z"
        ]
    );
    let friday_close = candles[4].close;
    for c in &candles[5..7] {
        assert_eq!(
            (c.open, c.close, c.volume),
            (friday_close, friday_close, Decimal::ZERO)
        );
    }
}

#[test]
fn candles_csv_output_reads_back_as_the_same_candles() {
    let hourly = succeeds(&[
        "candles",
        "--data",
        FIVE_MINUTE,
        "--timeframe",
        "1h",
        "--csv",
    ]);
    let file = TempPath::file("hourly.csv", &hourly);
    let again = succeeds(&[
        "candles",
        "--data",
        file.as_str(),
        "--timeframe",
        "1h",
        "--csv",
    ]);
    assert_eq!(again, hourly);
    // And hours resample to the same days as the five-minute bars do.
    let days_from_hours = succeeds(&[
        "candles",
        "--data",
        file.as_str(),
        "--timeframe",
        "1d",
        "--csv",
    ]);
    let days_from_bars = succeeds(&[
        "candles",
        "--data",
        FIVE_MINUTE,
        "--timeframe",
        "1d",
        "--csv",
    ]);
    assert_eq!(days_from_hours, days_from_bars);
}

#[test]
fn candles_refuse_to_resample_five_minute_bars_into_seven_minutes() {
    let stderr = fails(&["candles", "--data", FIVE_MINUTE, "--timeframe", "7m"]);
    assert_mentions(
        &stderr,
        &[FIVE_MINUTE, "5m bars cannot be resampled into 7m"],
    );
}

#[test]
fn candles_refuse_an_unknown_timeframe_unit_naming_the_flag() {
    let stderr = fails(&["candles", "--data", FIVE_MINUTE, "--timeframe", "1x"]);
    assert!(stderr.starts_with("error: --timeframe: "), "{stderr}");
    assert_mentions(&stderr, &["\"1x\""]);
}

#[test]
fn candles_refuse_a_from_after_the_to() {
    let stderr = fails(&[
        "candles",
        "--data",
        DAILY,
        "--timeframe",
        "1d",
        "--from",
        "2006-02-01",
        "--to",
        "2006-01-10",
    ]);
    assert_mentions(&stderr, &["--from", "is not before --to"]);
}

#[test]
fn candles_refuse_a_from_that_is_not_a_date() {
    let stderr = fails(&[
        "candles",
        "--data",
        DAILY,
        "--timeframe",
        "1d",
        "--from",
        "2006/01/02",
    ]);
    assert_mentions(&stderr, &["--from \"2006/01/02\" is not a date"]);
}

#[test]
fn candles_refuse_a_window_holding_no_data_naming_the_file() {
    let stderr = fails(&[
        "candles",
        "--data",
        DAILY,
        "--timeframe",
        "1d",
        "--from",
        "2030-01-01",
    ]);
    assert_mentions(&stderr, &[DAILY, "no data between --from and --to"]);
}

// ---------------------------------------------------------------------------------------
// Bad data files: every data command refuses them at the right line
// ---------------------------------------------------------------------------------------

/// Writes `contents` to a fresh file and checks that `candles`, `indicators` and
/// `backtest` all refuse it with `error: <path>:<line>: ` and a message holding `needle`.
#[track_caller]
fn assert_refused_at_line(name: &str, contents: &str, line: usize, needle: &str) {
    let file = TempPath::file(name, contents);
    let path = file.as_str();
    let commands: [&[&str]; 3] = [
        &["candles", "--data", path, "--timeframe", "1d"],
        &["indicators", "--data", path, "--indicator", "sma:2"],
        &["backtest", "--data", path, "--strategy", "sma_cross"],
    ];
    for args in commands {
        let stderr = fails(args);
        let prefix = format!("error: {path}:{line}: ");
        assert!(
            stderr.starts_with(&prefix),
            "stratus {}: expected {prefix:?}…, got:\n{stderr}",
            args[0]
        );
        assert_mentions(&stderr, &[needle]);
    }
}

#[test]
fn a_row_with_missing_fields_is_refused_at_its_line() {
    assert_refused_at_line(
        "malformed.csv",
        "Date,Open,High,Low,Close,Volume\n\
         2006-01-02,1,2,0.5,1.5,10\n\
         2006-01-03,1,2,0.5\n",
        3,
        "expected 6 fields, found 4",
    );
}

#[test]
fn a_nan_price_is_refused_at_its_line() {
    assert_refused_at_line(
        "nan.csv",
        "Date,Open,High,Low,Close,Volume\n\
         2006-01-02,1,2,0.5,1.5,10\n\
         2006-01-03,1,2,0.5,1.5,10\n\
         2006-01-04,NaN,2,0.5,1.5,10\n",
        4,
        "\"NaN\" is not a decimal number",
    );
}

#[test]
fn a_negative_price_is_refused_at_its_line() {
    assert_refused_at_line(
        "negative.csv",
        "Date,Open,High,Low,Close,Volume\n\
         2006-01-02,1,2,0.5,1.5,10\n\
         2006-01-03,-1,2,0.5,1.5,10\n",
        3,
        "Open must be greater than zero, got -1",
    );
}

#[test]
fn an_unknown_column_is_refused_at_the_header_listing_known_ones() {
    assert_refused_at_line(
        "unknown-column.csv",
        "Date,Open,High,Low,Close,Volume,Foo\n\
         2006-01-02,1,2,0.5,1.5,10,1\n",
        1,
        "unknown column \"Foo\"; known columns: Date, Time, Datetime, Open",
    );
}

#[test]
fn bars_going_back_in_time_are_refused_at_the_earlier_bar() {
    assert_refused_at_line(
        "bars-backwards.csv",
        "Date,Open,High,Low,Close,Volume\n\
         2006-01-02,1,2,0.5,1.5,10\n\
         2006-01-04,1,2,0.5,1.5,10\n\
         2006-01-03,1,2,0.5,1.5,10\n",
        4,
        "rows must be in time order",
    );
}

#[test]
fn ticks_going_back_in_time_are_refused_at_the_earlier_tick() {
    assert_refused_at_line(
        "ticks-backwards.csv",
        "Datetime,Open,High,Low,Close,Volume\n\
         2015-09-23T20:57:42,1,1,1,1,1\n\
         2015-09-23T20:57:43,1,1,1,1,1\n\
         2015-09-23T20:57:41,1,1,1,1,1\n",
        4,
        "rows must be in time order",
    );
}

#[test]
fn a_bad_five_minute_bar_is_refused_at_its_line() {
    assert_refused_at_line(
        "intraday.csv",
        "Date,Time,Open,High,Low,Close,Volume,OpenInterest\n\
         2006-01-02,09:05:00,3578.73,3587.88,3578.73,3582.99,0,0\n\
         2006-01-02,09:10:00,3583.01,3588.40,3583.01,3588.03,0,0\n\
         2006-01-02,09:15:00,3588.09,3591.83,3587.75,oops,0,0\n",
        4,
        "Close: \"oops\" is not a decimal number",
    );
}

#[test]
fn line_numbers_count_blank_lines() {
    assert_refused_at_line(
        "blank-lines.csv",
        "Date,Open,High,Low,Close,Volume\n\
         2006-01-02,1,2,0.5,1.5,10\n\
         \n\
         \n\
         2006-01-03,1,2,0.5,1.5,10\n\
         2006-01-04,1,2,0.5,abc,10\n",
        6,
        "Close: \"abc\" is not a decimal number",
    );
}

#[test]
fn a_missing_file_is_refused_naming_its_path() {
    let missing = TempPath::new("does-not-exist.csv");
    let path = missing.as_str();
    for args in [
        &["candles", "--data", path, "--timeframe", "1d"][..],
        &["indicators", "--data", path, "--indicator", "sma:2"],
        &["backtest", "--data", path, "--strategy", "sma_cross"],
    ] {
        let stderr = fails(args);
        assert!(
            stderr.starts_with(&format!("error: {path}: cannot read")),
            "{stderr}"
        );
    }
}

#[test]
fn a_header_without_rows_is_refused_naming_the_file() {
    let file = TempPath::file("header-only.csv", "Date,Open,High,Low,Close,Volume\n");
    let path = file.as_str();
    for args in [
        &["candles", "--data", path, "--timeframe", "1d"][..],
        &["indicators", "--data", path, "--indicator", "sma:2"],
    ] {
        let stderr = fails(args);
        assert_eq!(
            stderr,
            format!("error: {path}: file has a header but no bars\n")
        );
    }
}

// ---------------------------------------------------------------------------------------
// indicators
// ---------------------------------------------------------------------------------------

#[test]
fn indicators_csv_gives_sma_and_macd_columns_empty_until_warm() {
    let stdout = succeeds(&[
        "indicators",
        "--data",
        DAILY,
        "--indicator",
        "sma:5",
        "--indicator",
        "macd:12:26:9",
        "--csv",
    ]);
    assert_eq!(
        stdout.lines().next(),
        Some("time,sma_5,macd,macd_signal,macd_hist")
    );
    let table = rows(&stdout);
    let closes = daily_closes();
    assert_eq!(table.len(), closes.len());
    assert_eq!(table[0][0], "2006-01-02T00:00:00Z");

    for (i, row) in table.iter().enumerate() {
        assert_eq!(row.len(), 5, "row {i}: {row:?}");
        // sma_5: empty for the first four bars, then the mean of the last five closes.
        if i < 4 {
            assert_eq!(row[1], "", "sma_5 at row {i}");
        } else {
            let mean = closes[i - 4..=i].iter().sum::<f64>() / 5.0;
            assert!(
                (float(&row[1]) - mean).abs() < 1e-9,
                "sma_5 at row {i}: {} vs {mean}",
                row[1]
            );
        }
        // MACD 12/26/9: the signal needs 26 + 9 - 1 = 34 bars, all three appear together.
        if i < 33 {
            assert_eq!(row[2..], ["", "", ""], "macd at row {i}");
        } else {
            let (macd, signal, hist) = (float(&row[2]), float(&row[3]), float(&row[4]));
            assert!(
                (hist - (macd - signal)).abs() < 1e-9,
                "macd_hist at row {i}"
            );
        }
    }
    let first_mean = closes[..5].iter().sum::<f64>() / 5.0;
    assert!((float(&table[4][1]) - first_mean).abs() < 1e-9);
}

#[test]
fn indicators_table_has_a_header_line() {
    let stdout = succeeds(&["indicators", "--data", DAILY, "--indicator", "sma:5"]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["time", "sma_5"]
    );
    assert_eq!(lines.len(), 1 + daily_closes().len());
    assert_eq!(lines[1].trim(), "2006-01-02T00:00:00Z");
    let fifth: Vec<&str> = lines[5].split_whitespace().collect();
    assert_eq!(fifth, ["2006-01-06T00:00:00Z", "3637.672000"]);
}

#[test]
fn indicators_on_a_timeframe_see_the_resampled_candles() {
    let candles = parse_candles_csv(&succeeds(&[
        "candles",
        "--data",
        FIVE_MINUTE,
        "--timeframe",
        "1h",
        "--csv",
    ]));
    let stdout = succeeds(&[
        "indicators",
        "--data",
        FIVE_MINUTE,
        "--timeframe",
        "1h",
        "--indicator",
        "sma:1",
        "--csv",
    ]);
    let table = rows(&stdout);
    assert_eq!(table.len(), candles.len());
    for (row, c) in table.iter().zip(&candles) {
        assert_eq!(row[0], c.time);
        assert_eq!(dec(&row[1]), c.close, "sma:1 at {}", c.time);
    }
}

#[test]
fn indicators_refuse_an_unknown_indicator_listing_the_valid_ones() {
    let stderr = fails(&["indicators", "--data", DAILY, "--indicator", "foo"]);
    assert_mentions(
        &stderr,
        &[
            "--indicator \"foo\"",
            "unknown indicator \"foo\"",
            "valid: sma:N, ema:N, wma:N, rsi:N, macd:FAST:SLOW:SIGNAL, bbands:N:K",
            "vwap, obv",
        ],
    );
}

#[test]
fn indicators_refuse_a_zero_period_saying_what_is_valid() {
    let stderr = fails(&["indicators", "--data", DAILY, "--indicator", "sma:0"]);
    assert_mentions(
        &stderr,
        &["--indicator \"sma:0\"", "period must be at least 1, got 0"],
    );
}

#[test]
fn indicators_refuse_a_missing_parameter_showing_the_usage() {
    let stderr = fails(&["indicators", "--data", DAILY, "--indicator", "sma"]);
    assert_mentions(&stderr, &["--indicator \"sma\"", "usage: sma:N"]);
}

// ---------------------------------------------------------------------------------------
// backtest
// ---------------------------------------------------------------------------------------

fn backtest_json(args: &[&str]) -> Value {
    let stdout = succeeds(args);
    assert_eq!(
        stdout.lines().count(),
        1,
        "--json prints one line:\n{stdout}"
    );
    serde_json::from_str(&stdout).unwrap()
}

fn str_field<'a>(doc: &'a Value, key: &str) -> &'a str {
    doc[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} should be a string, got {}", doc[key]))
}

#[test]
fn backtest_json_is_one_document_of_trades_equity_and_metrics() {
    let doc = backtest_json(ORCL_SMA_CROSS);
    assert_eq!(doc["strategy"], "sma_cross");
    assert_eq!(doc["symbol"], "ORCL");
    assert_eq!(doc["timeframe"], "1d");
    dec(str_field(&doc, "final_equity"));
    dec(str_field(&doc, "final_cash"));

    let trades = doc["trades"].as_array().unwrap();
    assert!(!trades.is_empty());
    for t in trades {
        let side = str_field(t, "side");
        assert!(side == "buy" || side == "sell", "side {side:?}");
        assert_eq!(dec(str_field(t, "qty")), dec("100"));
        assert!(dec(str_field(t, "price")) > Decimal::ZERO);
        let time = str_field(t, "time");
        assert!(
            time.len() == 20 && time.ends_with("T00:00:00Z"),
            "trade time {time:?}"
        );
    }

    let metrics = doc["metrics"].as_object().unwrap();
    for key in ["total_return", "sharpe", "max_drawdown"] {
        assert!(metrics[key].is_f64(), "metrics.{key} = {}", metrics[key]);
    }
    let round_trips = metrics["trades"].as_u64().unwrap();
    assert_eq!(round_trips, trades.len() as u64 / 2);
    assert!(metrics["benchmark"].is_object());
    assert!(metrics["benchmark"]["total_return"].is_f64());

    // total_return agrees with the equity figures.
    let total_return = metrics["total_return"].as_f64().unwrap();
    let final_equity = float(str_field(&doc, "final_equity"));
    assert!((total_return - (final_equity / 10_000.0 - 1.0)).abs() < 1e-9);
}

#[test]
fn backtest_json_is_byte_identical_across_runs() {
    let first = succeeds(ORCL_SMA_CROSS);
    let second = succeeds(ORCL_SMA_CROSS);
    assert!(first == second, "two runs of the same backtest differ");
}

#[test]
fn backtest_trades_alternate_buy_then_sell_at_the_next_bars_open() {
    let doc = backtest_json(ORCL_SMA_CROSS);
    let trades = doc["trades"].as_array().unwrap();
    let sides: Vec<&str> = trades.iter().map(|t| str_field(t, "side")).collect();
    for (i, side) in sides.iter().enumerate() {
        let expected = if i % 2 == 0 { "buy" } else { "sell" };
        assert_eq!(*side, expected, "trade {i}");
    }
    // A market order fills at the open of the bar after the signal, stamped with its day.
    let opens: std::collections::HashMap<String, Decimal> = read_rows(ORCL)
        .iter()
        .map(|r| (format!("{}T00:00:00Z", r[0]), dec(&r[1])))
        .collect();
    for t in trades {
        let time = str_field(t, "time");
        assert_eq!(
            dec(str_field(t, "price")),
            opens[time],
            "fill price on {time}"
        );
    }
}

/// Cash moves only by fills: every buy costs price × qty + fee, every sell brings in
/// price × qty − fee; equity is cash plus the open position at the last close.
#[track_caller]
fn assert_cash_conserved(doc: &Value, starting_cash: Decimal, last_close: Decimal) {
    let mut cash = starting_cash;
    let mut position = Decimal::ZERO;
    for t in doc["trades"].as_array().unwrap() {
        let qty = dec(str_field(t, "qty"));
        let notional = qty * dec(str_field(t, "price"));
        let fee = dec(str_field(t, "fee"));
        match str_field(t, "side") {
            "buy" => {
                cash -= notional + fee;
                position += qty;
            }
            _ => {
                cash += notional - fee;
                position -= qty;
            }
        }
    }
    assert_eq!(dec(str_field(doc, "final_cash")), cash);
    assert_eq!(
        dec(str_field(doc, "final_equity")),
        cash + position * last_close
    );
}

#[test]
fn backtest_cash_and_equity_follow_from_the_trades() {
    let last_close = dec(&read_rows(ORCL).last().unwrap()[4]);
    let doc = backtest_json(ORCL_SMA_CROSS);
    assert_cash_conserved(&doc, dec("10000"), last_close);
    let with_costs = backtest_json(
        &[
            ORCL_SMA_CROSS,
            &["--commission", "percent:0.1", "--slippage", "ticks:1"],
        ]
        .concat(),
    );
    assert_cash_conserved(&with_costs, dec("10000"), last_close);
}

#[test]
fn backtest_per_unit_commission_charges_every_unit_and_cash_follows() {
    let last_close = dec(&read_rows(ORCL).last().unwrap()[4]);
    let doc = backtest_json(&[ORCL_SMA_CROSS, &["--commission", "per_unit:0.005"]].concat());
    let trades = doc["trades"].as_array().unwrap();
    assert!(!trades.is_empty());
    for t in trades {
        assert_eq!(dec(str_field(t, "fee")), dec("0.5"), "100 units × 0.005");
    }
    assert_cash_conserved(&doc, dec("10000"), last_close);
}

#[test]
fn backtest_commission_and_slippage_lower_final_equity() {
    let free = backtest_json(ORCL_SMA_CROSS);
    let costly = backtest_json(
        &[
            ORCL_SMA_CROSS,
            &["--commission", "percent:0.1", "--slippage", "ticks:1"],
        ]
        .concat(),
    );
    let free_equity = dec(str_field(&free, "final_equity"));
    let costly_equity = dec(str_field(&costly, "final_equity"));
    assert!(
        costly_equity < free_equity,
        "with costs {costly_equity} should be below {free_equity}"
    );
    // Same signals, so the same days; a buy pays one tick more, a sell gets one less,
    // and every fill pays 0.1% of its notional.
    let (a, b) = (
        free["trades"].as_array().unwrap(),
        costly["trades"].as_array().unwrap(),
    );
    assert_eq!(a.len(), b.len());
    for (f, c) in a.iter().zip(b) {
        assert_eq!(f["time"], c["time"]);
        let tick = if f["side"] == "buy" {
            dec("0.01")
        } else {
            dec("-0.01")
        };
        let price = dec(str_field(c, "price"));
        assert_eq!(price, dec(str_field(f, "price")) + tick);
        assert_eq!(
            dec(str_field(c, "fee")),
            price * dec(str_field(c, "qty")) * dec("0.001")
        );
    }
}

#[test]
fn backtest_report_dir_holds_report_json_and_an_svg_chart() {
    let dir = TempPath::new("report");
    let stdout = succeeds(&[
        "backtest",
        "--data",
        ORCL,
        "--symbol",
        "ORCL",
        "--strategy",
        "sma_cross",
        "--param",
        "period=30",
        "--param",
        "size=100",
        "--report-dir",
        dir.as_str(),
    ]);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.0.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["strategy"], "sma_cross");
    assert!(report["trades"].as_array().is_some_and(|t| !t.is_empty()));
    assert!(report["round_trips"].is_array());
    let svg = std::fs::read_to_string(dir.0.join("equity.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "equity.svg starts with {:?}",
        &svg[..svg.len().min(40)]
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    // The summary names both files, and its final equity is the report's.
    assert_mentions(&stdout, &["report.json", "equity.svg"]);
    let final_equity = stdout
        .lines()
        .find_map(|l| l.strip_prefix("final equity"))
        .unwrap()
        .trim();
    assert_eq!(dec(final_equity), dec(str_field(&report, "final_equity")));
}

/// Splits a progress bar's stderr into its frames (each starts with a carriage return).
fn progress_frames(stderr: &str) -> Vec<&str> {
    assert!(stderr.starts_with('\r'), "stderr:\n{stderr:?}");
    assert!(stderr.ends_with('\n'), "the bar ends its line:\n{stderr:?}");
    stderr[1..].trim_end_matches('\n').split('\r').collect()
}

#[test]
fn backtest_progress_always_draws_the_bar_on_stderr_and_leaves_stdout_alone() {
    let plain = succeeds(ORCL_SMA_CROSS);
    let (status, stdout, stderr) = stratus(&[ORCL_SMA_CROSS, &["--progress", "always"]].concat());
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, plain, "the bar never reaches stdout");
    // 5,036 records: fewer than one update (every 65,536), so only the final frame.
    let frames = progress_frames(&stderr);
    assert_eq!(frames.len(), 1, "{frames:?}");
    let frame = frames[0];
    assert!(
        frame.starts_with("[##############################] 100%  5036 records  ")
            && frame.ends_with('s'),
        "{frame:?}"
    );
}

#[test]
fn backtest_progress_always_updates_every_65536_records() {
    // 70,000 one-minute bars: one update on the way, then the final frame.
    let mut csv = String::from("time,open,high,low,close,volume\n");
    for i in 0..70_000u32 {
        let t = NaiveDateTime::parse_from_str("2024-01-01 00:00:00", "%Y-%m-%d %H:%M:%S").unwrap()
            + Duration::minutes(i64::from(i));
        let close = 100 + i % 17;
        csv.push_str(&format!(
            "{},{close}.00,{}.50,{}.50,{close}.25,10\n",
            rfc3339(t),
            close,
            close - 1
        ));
    }
    let file = TempPath::file("progress.csv", &csv);
    let (status, _, stderr) = stratus(&[
        "backtest",
        "--data",
        file.as_str(),
        "--strategy",
        "sma_cross",
        "--json",
        "--progress",
        "always",
    ]);
    assert!(status.success(), "{stderr}");
    let frames = progress_frames(&stderr);
    assert_eq!(frames.len(), 2, "{frames:?}");
    // The file is read ahead in 64 KiB blocks, so the share read is approximate.
    let share: u32 = frames[0][33..36].trim().parse().unwrap();
    assert!(
        frames[0].starts_with('[') && (80..=100).contains(&share),
        "{:?}",
        frames[0]
    );
    assert!(frames[0].contains("%  65536 records  "), "{:?}", frames[0]);
    assert!(
        frames[1].starts_with("[##############################] 100%  70000 records  "),
        "{:?}",
        frames[1]
    );
}

#[test]
fn backtest_draws_no_progress_bar_when_stderr_is_not_a_terminal_or_when_told_not_to() {
    for extra in [&[][..], &["--progress", "auto"], &["--progress", "never"]] {
        let (status, _, stderr) = stratus(&[ORCL_SMA_CROSS, extra].concat());
        assert!(status.success(), "{stderr}");
        assert_eq!(stderr, "", "{extra:?}");
    }
    // A usage error, reported by the argument parser (exit 2) with the valid values.
    let (status, stdout, stderr) =
        stratus(&[ORCL_SMA_CROSS, &["--progress", "sometimes"]].concat());
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stdout.is_empty());
    assert_mentions(&stderr, &["sometimes", "auto", "always", "never"]);
    let help = succeeds(&["backtest", "--help"]);
    assert_mentions(
        &help,
        &["--progress", "auto", "always", "never", "terminal"],
    );
}

#[test]
fn backtest_refuses_an_unknown_strategy_listing_the_valid_ones() {
    let stderr = fails(&["backtest", "--data", ORCL, "--strategy", "foo"]);
    assert_mentions(
        &stderr,
        &[
            "unknown strategy \"foo\"",
            "sma_cross, ema_cross, rsi_reversion, macd_trend, bollinger_breakout",
        ],
    );
}

#[test]
fn backtest_refuses_an_unknown_parameter_listing_the_valid_ones() {
    let stderr = fails(&[
        "backtest",
        "--data",
        ORCL,
        "--strategy",
        "sma_cross",
        "--param",
        "bogus=1",
    ]);
    assert_mentions(
        &stderr,
        &[
            "parameter \"bogus\"",
            "unknown parameter",
            "valid parameters: period",
            "size",
        ],
    );
}

#[test]
fn backtest_refuses_a_parameter_of_the_wrong_type() {
    let stderr = fails(&[
        "backtest",
        "--data",
        ORCL,
        "--strategy",
        "sma_cross",
        "--param",
        "period=abc",
    ]);
    assert_mentions(
        &stderr,
        &["parameter \"period\"", "must be a whole number", "\"abc\""],
    );
}

#[test]
fn backtest_refuses_a_parameter_out_of_range_naming_the_range() {
    let stderr = fails(&[
        "backtest",
        "--data",
        ORCL,
        "--strategy",
        "sma_cross",
        "--param",
        "period=0",
    ]);
    assert_mentions(
        &stderr,
        &["parameter \"period\"", "must be between 1 and 10000, got 0"],
    );
}

#[test]
fn backtest_refuses_a_negative_period_as_out_of_range() {
    let stderr = fails(&[
        "backtest",
        "--data",
        ORCL,
        "--strategy",
        "sma_cross",
        "--param",
        "period=-5",
    ]);
    assert_mentions(
        &stderr,
        &["parameter \"period\"", "must be between 1 and 10000"],
    );
}

#[test]
fn backtest_refuses_a_from_after_the_to() {
    let stderr = fails(&[
        "backtest",
        "--data",
        ORCL,
        "--strategy",
        "sma_cross",
        "--from",
        "2010-01-01",
        "--to",
        "2009-01-01",
    ]);
    assert_mentions(
        &stderr,
        &["--from 2010-01-01", "is not before --to 2009-01-0"],
    );
}

#[test]
fn backtest_refuses_an_empty_data_file() {
    let header_only = TempPath::file("empty-bars.csv", "Date,Open,High,Low,Close,Volume\n");
    let stderr = fails(&[
        "backtest",
        "--data",
        header_only.as_str(),
        "--strategy",
        "sma_cross",
    ]);
    assert_eq!(
        stderr,
        format!(
            "error: {}: file has a header but no bars\n",
            header_only.as_str()
        )
    );

    let zero_bytes = TempPath::file("zero-bytes.csv", "");
    let stderr = fails(&[
        "backtest",
        "--data",
        zero_bytes.as_str(),
        "--strategy",
        "sma_cross",
    ]);
    assert_eq!(
        stderr,
        format!("error: {}: file is empty\n", zero_bytes.as_str())
    );
}

#[test]
fn backtest_refuses_a_bad_commission_listing_the_valid_forms() {
    let stderr = fails(&[
        "backtest",
        "--data",
        ORCL,
        "--strategy",
        "sma_cross",
        "--commission",
        "bogus",
    ]);
    assert!(stderr.starts_with("error: --commission: "), "{stderr}");
    assert_mentions(
        &stderr,
        &[
            "\"bogus\"",
            "0, per_unit:AMOUNT, percent:PCT",
            "fixed:AMOUNT",
        ],
    );

    let stderr = fails(&[
        "backtest",
        "--data",
        ORCL,
        "--strategy",
        "sma_cross",
        "--commission",
        "percent:-1",
    ]);
    assert!(stderr.starts_with("error: --commission: "), "{stderr}");
    assert_mentions(&stderr, &["non-negative", "\"-1\""]);
}

#[test]
fn backtest_refuses_a_timeframe_the_bars_cannot_be_resampled_into() {
    let stderr = fails(&[
        "backtest",
        "--data",
        FIVE_MINUTE,
        "--strategy",
        "sma_cross",
        "--timeframe",
        "7m",
    ]);
    assert_mentions(&stderr, &["5m bars cannot be resampled into 7m"]);
    let stderr = fails(&[
        "backtest",
        "--data",
        ORCL,
        "--strategy",
        "sma_cross",
        "--timeframe",
        "1h",
    ]);
    assert_mentions(&stderr, &["1d bars cannot be resampled into 1h"]);
}

// ---------------------------------------------------------------------------------------
// bench
// ---------------------------------------------------------------------------------------

/// Runs `stratus bench ARGS`: stdout must be exactly one JSON object with exactly `keys`,
/// naming the bench; returns it.
#[track_caller]
fn bench_line(args: &[&str], keys: &[&str]) -> Value {
    let stdout = succeeds(&[&["bench"], args].concat());
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stdout:\n{stdout}");
    let doc: Value = serde_json::from_str(lines[0]).unwrap();
    let got: BTreeSet<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(got, keys.iter().copied().collect::<BTreeSet<_>>());
    assert_eq!(doc["bench"], args[0]);
    doc
}

/// Each of `keys` is a number above zero.
#[track_caller]
fn assert_positive(doc: &Value, keys: &[&str]) {
    for key in keys {
        let x = doc[*key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} should be a number, got {}", doc[*key]));
        assert!(x > 0.0, "{key} = {x}");
    }
}

#[test]
fn bench_matching_prints_exactly_one_json_line_of_figures() {
    let figures = ["ops_per_sec", "p50_ns", "p99_ns", "p999_ns"];
    let doc = bench_line(
        &["matching", "--ops", "20000", "--passes", "1"],
        &[&["bench", "ops"][..], &figures].concat(),
    );
    assert_eq!(doc["ops"].as_u64(), Some(20_000));
    assert_positive(&doc, &figures);
}

#[test]
fn bench_candles_prints_exactly_one_json_line_of_figures() {
    let figures = ["ticks_per_sec_1tf", "ticks_per_sec_6tf"];
    let doc = bench_line(
        &["candles", "--ticks", "3000", "--repeat", "2", "--seed", "4"],
        &[&["bench", "ticks"][..], &figures].concat(),
    );
    assert_eq!(doc["ticks"].as_u64(), Some(6_000), "ticks × repeat");
    assert_positive(&doc, &figures);
}

#[test]
fn bench_indicators_prints_exactly_one_json_line_of_figures() {
    let figures = [
        "sma_updates_per_sec",
        "ema_updates_per_sec",
        "rsi_updates_per_sec",
        "macd_updates_per_sec",
        "bbands_updates_per_sec",
        "atr_updates_per_sec",
    ];
    let doc = bench_line(
        &["indicators", "--updates", "5000"],
        &[&["bench", "updates"][..], &figures].concat(),
    );
    assert_eq!(doc["updates"].as_u64(), Some(5_000));
    assert_positive(&doc, &figures);
}

#[test]
fn bench_backtest_prints_exactly_one_json_line_of_figures() {
    let doc = bench_line(
        &["backtest", "--bars", "3000", "--period", "10"],
        &["bench", "bars", "bars_per_sec", "peak_rss_mb", "fills"],
    );
    assert_eq!(doc["bars"].as_u64(), Some(3_000));
    // A random walk of 3,000 bars crosses its SMA(10) many times; peak memory is read
    // from /proc on Linux, where these tests run.
    assert_positive(&doc, &["bars_per_sec", "peak_rss_mb", "fills"]);
    assert_eq!(
        doc["fills"].as_u64().unwrap() % 2,
        0,
        "long-only: buy, sell, …"
    );
}

#[test]
fn bench_pipeline_prints_exactly_one_json_line_of_figures() {
    let doc = bench_line(
        &[
            "pipeline",
            "--ticks",
            "20000",
            "--passes",
            "2",
            "--ticks-per-second",
            "1",
            "--period",
            "5",
        ],
        &["bench", "ticks", "ticks_per_sec", "fills", "candles"],
    );
    assert_eq!(doc["ticks"].as_u64(), Some(20_000));
    // 20,000 ticks of 4 symbols at one a second each span ~83 minutes: ~330 1m candles,
    // and an SMA(5) of a random walk is crossed many times in them.
    assert_positive(&doc, &["ticks_per_sec", "fills", "candles"]);
}

// ---------------------------------------------------------------------------------------
// stratus data import / export
// ---------------------------------------------------------------------------------------

#[test]
fn data_import_loads_every_sample_file_once_and_exports_it_back() {
    let dir = TempPath::new("history");
    for (file, symbol, summary) in [
        (
            ORCL,
            "ORCL",
            "5036 bars rows of ORCL → 5036 candles (1d), 5036 new or changed",
        ),
        (
            NVDA,
            "NVDA",
            "4012 bars rows of NVDA → 4012 candles (1d), 4012 new or changed",
        ),
        (
            FIVE_MINUTE,
            "ES",
            "2142 bars rows of ES → 2142 candles (5m), 2142 new or changed",
        ),
        (
            DAILY,
            "ES",
            "255 bars rows of ES → 255 candles (1d), 255 new or changed",
        ),
        (
            TICKS,
            "NQ",
            "135 ticks rows of NQ → 12 candles (1m, 5m, 15m, 1h, 4h, 1d), 12 new or changed",
        ),
    ] {
        let out = succeeds(&[
            "data",
            "import",
            file,
            "--symbol",
            symbol,
            "--data-dir",
            dir.as_str(),
        ]);
        assert!(out.contains(summary), "{out}");
    }
    // Again: nothing changes.
    let again = succeeds(&[
        "data",
        "import",
        ORCL,
        "--symbol",
        "orcl",
        "--data-dir",
        dir.as_str(),
    ]);
    assert!(
        again.contains("5036 candles (1d), 0 new or changed"),
        "{again}"
    );

    // Exported 1d bars are the file's bars, and read back as such.
    let csv = TempPath::new("orcl.csv");
    succeeds(&[
        "data",
        "export",
        "--symbol",
        "ORCL",
        "--timeframe",
        "1d",
        "--data-dir",
        dir.as_str(),
        "-o",
        csv.as_str(),
    ]);
    let exported = read_rows(csv.as_str());
    let original = read_rows(ORCL);
    assert_eq!(exported.len(), original.len());
    for (e, o) in exported.iter().zip(&original) {
        assert_eq!(e[0], format!("{}T00:00:00Z", o[0]));
        // Open, high, low, close; volume (the file's 7th column, after Adj Close).
        for (column, want) in [(1, 1), (2, 2), (3, 3), (4, 4), (5, 6)] {
            assert_eq!(dec(&e[column]), dec(&o[want]), "{column}: {e:?} vs {o:?}");
        }
    }
    let back = succeeds(&[
        "data",
        "import",
        csv.as_str(),
        "--symbol",
        "ORCL",
        "--data-dir",
        dir.as_str(),
    ]);
    assert!(back.contains("0 new or changed"), "{back}");
    // A window, to stdout.
    let window = succeeds(&[
        "data",
        "export",
        "--symbol",
        "ES",
        "--timeframe",
        "5m",
        "--from",
        "2006-01-03",
        "--to",
        "2006-01-03",
        "--data-dir",
        dir.as_str(),
    ]);
    let rows = rows(&window);
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|r| r[0].starts_with("2006-01-03T")),
        "{window}"
    );
}

#[test]
fn data_import_of_a_bad_file_names_the_line_and_writes_nothing() {
    let dir = TempPath::new("history");
    let bad = TempPath::file(
        "bad.csv",
        "Date,Open,High,Low,Close,Volume\n2020-01-01,1,2,0.5,1.5,10\n2020-01-02,1,0.5,2,1.5,10\n",
    );
    let err = fails(&[
        "data",
        "import",
        bad.as_str(),
        "--symbol",
        "BAD",
        "--data-dir",
        dir.as_str(),
    ]);
    assert_mentions(
        &err,
        &[&format!("{}:3", bad.as_str()), "High 0.5 is below Low 2"],
    );
    let none = fails(&[
        "data",
        "export",
        "--symbol",
        "BAD",
        "--timeframe",
        "1d",
        "--data-dir",
        dir.as_str(),
    ]);
    assert_mentions(&none, &["no 1d candles of BAD", "recorded: none"]);
    let err = fails(&[
        "data",
        "import",
        "/nonexistent.csv",
        "--symbol",
        "BAD",
        "--data-dir",
        dir.as_str(),
    ]);
    assert_mentions(&err, &["/nonexistent.csv"]);
    let err = fails(&[
        "data",
        "import",
        ORCL,
        "--symbol",
        "not a symbol",
        "--data-dir",
        dir.as_str(),
    ]);
    assert_mentions(&err, &["--symbol"]);
}

// ---------------------------------------------------------------------------------------
// stratus optimize
// ---------------------------------------------------------------------------------------

#[test]
fn optimize_ranks_a_grid_the_same_on_one_thread_and_two_and_each_run_is_its_backtest() {
    let args = |threads: &str| {
        vec![
            "optimize",
            "--data",
            ORCL,
            "--symbol",
            "ORCL",
            "--strategy",
            "sma_cross",
            "--param",
            "size=100",
            "--grid",
            "period=20,30,40",
            "--rank-by",
            "total_return",
            "--json",
            "--progress",
            "never",
            "--threads",
        ]
        .into_iter()
        .map(str::to_owned)
        .chain([threads.to_owned()])
        .collect::<Vec<String>>()
    };
    let run = |threads| {
        let a = args(threads);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        serde_json::from_str::<Value>(&succeeds(&refs)).unwrap()
    };
    let (one, two) = (run("1"), run("2"));
    assert_eq!(one["all"], two["all"]);
    assert_eq!(one["runs"], 3);
    // The period-30 run is the ORCL_SMA_CROSS backtest.
    let backtest: Value = serde_json::from_str(&succeeds(ORCL_SMA_CROSS)).unwrap();
    let thirty = one["all"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["params"]["period"] == 30)
        .unwrap();
    assert_eq!(
        thirty["in_sample"]["final_equity"],
        backtest["final_equity"]
    );
    assert_eq!(thirty["in_sample"]["metrics"], backtest["metrics"]);
    let best = one["best"][0]["in_sample"]["metrics"]["total_return"]
        .as_f64()
        .unwrap();
    for r in one["all"].as_array().unwrap() {
        assert!(r["in_sample"]["metrics"]["total_return"].as_f64().unwrap() <= best);
    }
    // A table with a walk-forward column, and the progress bar when asked.
    let (status, stdout, stderr) = stratus(&[
        "optimize",
        "--data",
        ORCL,
        "--symbol",
        "ORCL",
        "--strategy",
        "sma_cross",
        "--random",
        "period=5..60",
        "--samples",
        "4",
        "--seed",
        "9",
        "--walk-forward",
        "0.7",
        "--top",
        "2",
        "--progress",
        "always",
    ]);
    assert!(status.success(), "{stderr}");
    assert_mentions(
        &stdout,
        &[
            "4 runs over",
            "walk-forward: searched before",
            "out-of-sample",
        ],
    );
    assert!(stderr.contains("6/6 runs"), "{stderr}");
}

#[test]
fn optimize_refuses_bad_searches_before_reading_the_data() {
    let base = [
        "optimize",
        "--data",
        ORCL,
        "--symbol",
        "ORCL",
        "--strategy",
        "sma_cross",
    ];
    fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        base.iter().chain(extra).copied().collect()
    }
    assert_mentions(&fails(&with(&base, &[])), &["--grid", "--random"]);
    assert_mentions(
        &fails(&with(&base, &["--grid", "period=0,-1"])),
        &["period"],
    );
    assert_mentions(&fails(&with(&base, &["--grid", "colour=1,2"])), &["colour"]);
    assert_mentions(
        &fails(&with(&base, &["--grid", "period"])),
        &["--grid", "KEY=VALUE"],
    );
    assert_mentions(
        &fails(&with(&base, &["--random", "period=5-60"])),
        &["MIN..MAX"],
    );
    assert_mentions(
        &fails(&with(&base, &["--grid", "period=10", "--rank-by", "luck"])),
        &["--rank-by", "sharpe"],
    );
    assert_mentions(
        &fails(&with(
            &base,
            &["--grid", "period=10", "--walk-forward", "1.5"],
        )),
        &["--walk-forward"],
    );
    let many: String = (1..=2001)
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let many = format!("period={many}");
    assert_mentions(
        &fails(&with(&base, &["--grid", &many])),
        &["2001 runs", "2000"],
    );
}

// ---------------------------------------------------------------------------------------
// A strategy module of one's own (`--strategy-wasm`)
// ---------------------------------------------------------------------------------------

#[path = "../../engine/tests/support/wasm_examples.rs"]
mod wasm_examples;

#[test]
fn backtest_of_the_sma_cross_module_prints_the_builtins_json_but_its_name() {
    let Some(bytes) = wasm_examples::example("sma_cross") else {
        return;
    };
    // The module's id (and so its strategy name) is the file's stem.
    let dir = std::env::temp_dir().join(format!("stratus-cli-{}-wasm", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let module = dir.join("sma_cross.wasm");
    std::fs::write(&module, bytes).unwrap();
    let mut args = ORCL_SMA_CROSS.to_vec();
    let at = args.iter().position(|a| *a == "--strategy").unwrap();
    args.splice(at..at + 2, ["--strategy-wasm", module.to_str().unwrap()]);
    let theirs: Value = serde_json::from_str(&succeeds(&args)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let mut ours: Value = serde_json::from_str(&succeeds(ORCL_SMA_CROSS)).unwrap();
    assert_eq!(theirs["strategy"], "wasm:sma_cross");
    ours["strategy"] = theirs["strategy"].clone();
    assert_eq!(theirs, ours, "the same trades, cash, equity and metrics");
}

#[test]
fn backtest_of_a_file_that_is_no_module_names_the_file_and_the_reason() {
    let module = TempPath::new("not-a-module.wasm");
    std::fs::write(&module.0, "hello").unwrap();
    let path = module.0.to_str().unwrap();
    let err = fails(&["backtest", "--data", ORCL, "--strategy-wasm", path]);
    assert_mentions(&err, &[path, "not a WebAssembly module"]);
    let err = fails(&[
        "backtest",
        "--data",
        ORCL,
        "--strategy-wasm",
        "/nonexistent/x.wasm",
    ]);
    assert_mentions(&err, &["/nonexistent/x.wasm", "cannot read"]);
    // Both strategies at once is a usage error (clap's exit code 2).
    let (status, _, err) = stratus(&[
        "backtest",
        "--data",
        ORCL,
        "--strategy",
        "sma_cross",
        "--strategy-wasm",
        path,
    ]);
    assert_eq!(status.code(), Some(2));
    assert_mentions(&err, &["--strategy-wasm", "cannot be used with"]);
}

/// A broker feed `stratus up` cannot run is refused before anything starts, saying why.
#[test]
fn up_refuses_a_broker_feed_it_cannot_run() {
    let dir = std::env::temp_dir().join(format!("stratus-cli-feed-{}", std::process::id()));
    let data = dir.to_str().unwrap();
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_stratus"))
            .args(args)
            .args(["--data-dir", data, "--bind", "127.0.0.1:0"])
            .env_remove("APCA_API_KEY_ID")
            .env_remove("APCA_API_SECRET_KEY")
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(!output.status.success(), "{args:?} started");
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    };
    assert_mentions(
        &run(&["up", "--feed", "alpaca", "--symbol", "AAPL"]),
        &["APCA_API_KEY_ID"],
    );
    assert_mentions(
        &run(&["up", "--feed", "binance", "--symbol", "NOPE"]),
        &["--symbol NOPE", "instrument catalog"],
    );
    assert_mentions(&run(&["up", "--symbol", "AAPL"]), &["--symbol goes with"]);
    let _ = std::fs::remove_dir_all(&dir);
}

//! Reading ticks and bars from CSV files.
//!
//! The format is recognised from the header (column names are case-insensitive, spaces
//! ignored):
//!
//! | header | read as | time means |
//! |---|---|---|
//! | `Date,Open,High,Low,Close,Volume[,OpenInterest]` | daily bars | the day (UTC) |
//! | `Date,Open,High,Low,Close,Adj Close,Volume` | daily bars (`Adj Close` unused) | the day |
//! | `Date,Time,Open,High,Low,Close,Volume[,OpenInterest]` | intraday bars | the bar's **close** (a 5-minute bar stamped 09:05 covers 09:00–09:05) |
//! | `Datetime,Open,High,Low,Close,Volume[,OpenInterest]` | ticks: price = Close, size = Volume; each row must have O = H = L = C | the trade |
//! | `Time,Price,Size[,Bid,Ask]` | ticks | the trade |
//! | `Time,Open,High,Low,Close,Volume` | bars (what `stratus candles --csv` writes) | the bar's **start** |
//!
//! Dates are `YYYY-MM-DD`, times `HH:MM:SS[.fff]`, datetimes ISO 8601 with `T` or a space
//! and an optional zone (`Z`, `+02:00`); times without a zone are UTC. The bar period of
//! a bar file is the 1d for daily files, otherwise the smallest gap between consecutive
//! bars (it must be a whole number of seconds).
//!
//! Rules, each an error naming the file and the line: a header with a column not listed
//! above; a row with the wrong number of fields; a number that is not a plain decimal
//! (`NaN`, `1e5`, empty); a price that is zero or negative, a negative volume; a bar whose
//! high is below its low or whose open/close lie outside them; bars not strictly
//! increasing in time, ticks going backwards in time. Blank lines are skipped.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use domain::{Candle, DomainError, Price, Quantity, Symbol, Tick, Timeframe, Timestamp};

/// A problem with a data file, located to the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DataError {
    pub path: PathBuf,
    /// 1-based line number; 0 when the problem is the file as a whole.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
        }
    }
}

/// What a file holds.
#[derive(Debug, Clone, PartialEq)]
pub enum MarketData {
    Ticks(Vec<Tick>),
    /// Bars of one period, oldest first.
    Bars {
        timeframe: Timeframe,
        candles: Vec<Candle>,
    },
}

impl MarketData {
    pub fn len(&self) -> usize {
        match self {
            MarketData::Ticks(t) => t.len(),
            MarketData::Bars { candles, .. } => candles.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Date,
    Time,
    Datetime,
    Open,
    High,
    Low,
    Close,
    AdjClose,
    Volume,
    OpenInterest,
    Price,
    Size,
    Bid,
    Ask,
}

const KNOWN_COLUMNS: &str = "Date, Time, Datetime, Open, High, Low, Close, Adj Close, Volume, OpenInterest, Price, Size, Bid, Ask";

fn column(name: &str) -> Option<Column> {
    let key: String = name
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .collect::<String>()
        .to_ascii_lowercase();
    Some(match key.as_str() {
        "date" => Column::Date,
        "time" => Column::Time,
        "datetime" | "timestamp" => Column::Datetime,
        "open" => Column::Open,
        "high" => Column::High,
        "low" => Column::Low,
        "close" => Column::Close,
        "adjclose" => Column::AdjClose,
        "volume" => Column::Volume,
        "openinterest" => Column::OpenInterest,
        "price" => Column::Price,
        "size" | "qty" | "quantity" => Column::Size,
        "bid" => Column::Bid,
        "ask" => Column::Ask,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    DailyBars,
    /// Intraday bars stamped with their close time.
    CloseStampedBars,
    /// Bars stamped with their start time (our own export).
    StartStampedBars,
    /// `Datetime` + OHLC where O = H = L = C.
    OhlcTicks,
    PriceTicks,
}

struct Header {
    layout: Layout,
    index: Vec<Option<usize>>,
    width: usize,
}

impl Header {
    fn col(&self, c: Column) -> Option<usize> {
        self.index[c as usize]
    }
}

struct Reader<'a> {
    path: &'a Path,
    line: usize,
}

impl Reader<'_> {
    fn err(&self, message: impl Into<String>) -> DataError {
        DataError {
            path: self.path.to_owned(),
            line: self.line,
            message: message.into(),
        }
    }

    fn header(&self, text: &str) -> Result<Header, DataError> {
        let names: Vec<&str> = text.split(',').map(str::trim).collect();
        let mut index = vec![None; 14];
        for (i, name) in names.iter().enumerate() {
            let Some(c) = column(name) else {
                return Err(self.err(format!(
                    "unknown column {name:?}; known columns: {KNOWN_COLUMNS}"
                )));
            };
            if index[c as usize].is_some() {
                return Err(self.err(format!("column {name:?} appears twice")));
            }
            index[c as usize] = Some(i);
        }
        let has = |c: Column| index[c as usize].is_some();
        let ohlc = has(Column::Open) && has(Column::High) && has(Column::Low) && has(Column::Close);
        let layout = if has(Column::Date) && has(Column::Time) && ohlc {
            Layout::CloseStampedBars
        } else if has(Column::Date) && !has(Column::Time) && ohlc {
            Layout::DailyBars
        } else if has(Column::Datetime) && ohlc {
            Layout::OhlcTicks
        } else if has(Column::Time) && has(Column::Price) {
            Layout::PriceTicks
        } else if has(Column::Time) && ohlc {
            Layout::StartStampedBars
        } else {
            return Err(self.err(
                "header matches no known format: need Date[,Time] or Datetime with Open,High,Low,Close, \
                 or Time,Price,Size (see the streaming_core::market_data::csv docs)",
            ));
        };
        if matches!(layout, Layout::PriceTicks) && !has(Column::Size) {
            return Err(self.err("tick files need a Size column"));
        }
        if !matches!(layout, Layout::PriceTicks) && !has(Column::Volume) {
            return Err(self.err("bar files need a Volume column"));
        }
        Ok(Header {
            layout,
            index,
            width: names.len(),
        })
    }

    fn price(&self, name: &str, text: &str) -> Result<Price, DataError> {
        let value = number(text).map_err(|m| self.err(format!("{name}: {m}")))?;
        Price::new(value)
            .map_err(|_| self.err(format!("{name} must be greater than zero, got {text}")))
    }

    fn volume(&self, name: &str, text: &str) -> Result<Quantity, DataError> {
        let value = number(text).map_err(|m| self.err(format!("{name}: {m}")))?;
        Quantity::new(value)
            .map_err(|_| self.err(format!("{name} must not be negative, got {text}")))
    }

    fn date(&self, text: &str) -> Result<NaiveDate, DataError> {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| self.err(format!("date {text:?} is not YYYY-MM-DD")))
    }

    fn time_of_day(&self, text: &str) -> Result<NaiveTime, DataError> {
        NaiveTime::parse_from_str(text, "%H:%M:%S%.f")
            .map_err(|_| self.err(format!("time {text:?} is not HH:MM:SS[.fff]")))
    }

    fn datetime(&self, text: &str) -> Result<Timestamp, DataError> {
        let bad = || {
            self.err(format!(
                "datetime {text:?} is not ISO 8601 (2015-09-23T20:57:42.146[Z])"
            ))
        };
        let ts = if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
            Timestamp::from_datetime(dt.to_utc())
        } else {
            let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
                .map_err(|_| bad())?;
            Timestamp::from_naive_utc(naive)
        };
        ts.map_err(|e: DomainError| self.err(e.to_string()))
    }
}

/// A plain decimal: digits with an optional sign and point, nothing else.
fn number(text: &str) -> Result<domain::Decimal, String> {
    domain::num::parse_decimal("value", text)
        .map_err(|_| format!("{text:?} is not a decimal number"))
}

/// Reads a data file for `symbol`. See the module docs for the formats and rules.
pub fn read_file(path: &Path, symbol: Symbol) -> Result<MarketData, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError {
        path: path.to_owned(),
        line: 0,
        message: format!("cannot read: {e}"),
    })?;
    parse(path, &text, symbol)
}

/// Parses file contents (`path` is for messages only).
pub fn parse(path: &Path, text: &str, symbol: Symbol) -> Result<MarketData, DataError> {
    let mut reader = Reader { path, line: 0 };
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((n, header_line)) = lines.next() else {
        return Err(reader.err("file is empty"));
    };
    reader.line = n + 1;
    let header = reader.header(header_line.trim_start_matches('\u{feff}'))?;

    let mut ticks = Vec::new();
    let mut stamped: Vec<(Timestamp, Candle)> = Vec::new();
    let mut last: Option<Timestamp> = None;
    for (n, line) in lines {
        reader.line = n + 1;
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != header.width {
            return Err(reader.err(format!(
                "expected {} fields, found {}",
                header.width,
                fields.len()
            )));
        }
        let get = |c: Column| header.col(c).map(|i| fields[i]);
        let time = match header.layout {
            Layout::DailyBars => reader
                .date(get(Column::Date).unwrap_or_default())
                .and_then(|d| Timestamp::from_date(d).map_err(|e| reader.err(e.to_string())))?,
            Layout::CloseStampedBars => {
                let d = reader.date(get(Column::Date).unwrap_or_default())?;
                let t = reader.time_of_day(get(Column::Time).unwrap_or_default())?;
                Timestamp::from_naive_utc(d.and_time(t)).map_err(|e| reader.err(e.to_string()))?
            }
            Layout::OhlcTicks => reader.datetime(get(Column::Datetime).unwrap_or_default())?,
            Layout::PriceTicks | Layout::StartStampedBars => {
                reader.datetime(get(Column::Time).unwrap_or_default())?
            }
        };
        let is_tick = matches!(header.layout, Layout::OhlcTicks | Layout::PriceTicks);
        if let Some(prev) = last {
            if time < prev || (!is_tick && time == prev) {
                return Err(reader.err(format!(
                    "time {time} is not after the previous row's {prev}: rows must be in time order"
                )));
            }
        }
        last = Some(time);
        if header.layout == Layout::PriceTicks {
            let price = reader.price("Price", get(Column::Price).unwrap_or_default())?;
            let size = reader.volume("Size", get(Column::Size).unwrap_or_default())?;
            let quote = |c: Column, name: &str| -> Result<Option<Price>, DataError> {
                match get(c) {
                    None | Some("") => Ok(None),
                    Some(text) => reader.price(name, text).map(Some),
                }
            };
            let (bid, ask) = (quote(Column::Bid, "Bid")?, quote(Column::Ask, "Ask")?);
            ticks.push(Tick {
                symbol,
                time,
                price,
                size,
                bid,
                ask,
            });
            continue;
        }
        let open = reader.price("Open", get(Column::Open).unwrap_or_default())?;
        let high = reader.price("High", get(Column::High).unwrap_or_default())?;
        let low = reader.price("Low", get(Column::Low).unwrap_or_default())?;
        let close = reader.price("Close", get(Column::Close).unwrap_or_default())?;
        let volume = reader.volume("Volume", get(Column::Volume).unwrap_or_default())?;
        if header.layout == Layout::OhlcTicks {
            if open != close || high != close || low != close {
                return Err(reader.err(
                    "rows of a Datetime file are ticks: Open, High, Low and Close must be equal (the trade price)",
                ));
            }
            ticks.push(Tick {
                symbol,
                time,
                price: close,
                size: volume,
                bid: None,
                ask: None,
            });
            continue;
        }
        if high < low {
            return Err(reader.err(format!("High {high} is below Low {low}")));
        }
        if open < low || open > high || close < low || close > high {
            return Err(reader.err(format!(
                "Open {open} and Close {close} must lie between Low {low} and High {high}"
            )));
        }
        // Timeframe and start/end are fixed once the bar period is known (below).
        let candle = Candle {
            symbol,
            timeframe: Timeframe::D1,
            start: time,
            end: time,
            open,
            high,
            low,
            close,
            volume,
            trades: 0,
        };
        stamped.push((time, candle));
    }
    reader.line = 0;
    if header.layout == Layout::OhlcTicks || header.layout == Layout::PriceTicks {
        if ticks.is_empty() {
            return Err(reader.err("file has a header but no ticks"));
        }
        return Ok(MarketData::Ticks(ticks));
    }
    if stamped.is_empty() {
        return Err(reader.err("file has a header but no bars"));
    }
    let timeframe = match header.layout {
        Layout::DailyBars => Timeframe::D1,
        _ => infer_period(&stamped).map_err(|m| reader.err(m))?,
    };
    let mut candles = Vec::with_capacity(stamped.len());
    for (time, mut candle) in stamped {
        let start = match header.layout {
            Layout::CloseStampedBars => Timestamp::from_nanos(time.nanos() - timeframe.nanos()),
            _ => time,
        };
        candle.timeframe = timeframe;
        candle.start = start;
        candle.end = timeframe.period_end(start);
        candles.push(candle);
    }
    Ok(MarketData::Bars { timeframe, candles })
}

/// The bar period of a bar file: the smallest gap between consecutive bars.
fn infer_period(bars: &[(Timestamp, Candle)]) -> Result<Timeframe, String> {
    let gap = bars
        .windows(2)
        .map(|w| w[1].0.nanos() - w[0].0.nanos())
        .min();
    let Some(gap) = gap else {
        return Err("cannot tell the bar period from a single intraday bar".into());
    };
    if gap % domain::time::NANOS_PER_SECOND != 0 {
        return Err(format!(
            "the smallest gap between bars ({gap} ns) is not a whole number of seconds"
        ));
    }
    let seconds = u32::try_from(gap / domain::time::NANOS_PER_SECOND)
        .map_err(|_| "bars are too far apart to infer their period".to_owned())?;
    Timeframe::from_seconds(seconds).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym() -> Symbol {
        Symbol::parse("ES").unwrap()
    }

    fn parse_str(text: &str) -> Result<MarketData, DataError> {
        parse(Path::new("t.csv"), text, sym())
    }

    #[test]
    fn daily_bars() {
        let data = parse_str("Date,Open,High,Low,Close,Volume,OpenInterest\n2006-01-02,1,3,0.5,2,10,0\n2006-01-03,2,2,2,2,0,0\n").unwrap();
        let MarketData::Bars { timeframe, candles } = data else {
            panic!("bars expected")
        };
        assert_eq!(timeframe, Timeframe::D1);
        assert_eq!(candles[0].start.to_string(), "2006-01-02T00:00:00Z");
        assert_eq!(candles[0].end.to_string(), "2006-01-03T00:00:00Z");
    }

    #[test]
    fn intraday_bars_are_stamped_at_their_close() {
        let data = parse_str("Date,Time,Open,High,Low,Close,Volume,OpenInterest\n2006-01-02,09:05:00,1,1,1,1,0,0\n2006-01-02,09:10:00,1,1,1,1,0,0\n").unwrap();
        let MarketData::Bars { timeframe, candles } = data else {
            panic!("bars expected")
        };
        assert_eq!(timeframe, Timeframe::M5);
        assert_eq!(candles[0].start.to_string(), "2006-01-02T09:00:00Z");
        assert_eq!(candles[1].end.to_string(), "2006-01-02T09:10:00Z");
    }

    #[test]
    fn datetime_ohlc_rows_are_ticks() {
        let data = parse_str("Datetime,Open,High,Low,Close,Volume,OpenInterest\n2015-09-23T20:57:42.146,3067.00,3067.00,3067.00,3067.00,180,0\n").unwrap();
        let MarketData::Ticks(ticks) = data else {
            panic!("ticks expected")
        };
        assert_eq!(ticks[0].price.to_string(), "3067");
        assert_eq!(ticks[0].time.to_string(), "2015-09-23T20:57:42.146Z");
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let cases = [
            ("", "t.csv: file is empty"),
            (
                "Date,Open,High,Low,Close,Volume,Color\n",
                "t.csv:1: unknown column \"Color\"",
            ),
            (
                "Date,Open,High,Low,Close,Volume\n2006-01-02,1,2,1,1\n",
                "t.csv:2: expected 6 fields, found 5",
            ),
            (
                "Date,Open,High,Low,Close,Volume\n2006-01-02,NaN,2,1,1,0\n",
                "t.csv:2: Open: \"NaN\" is not a decimal number",
            ),
            (
                "Date,Open,High,Low,Close,Volume\n2006-01-02,0,2,1,1,0\n",
                "t.csv:2: Open must be greater than zero",
            ),
            (
                "Date,Open,High,Low,Close,Volume\n2006-01-02,1,2,1,1,-5\n",
                "t.csv:2: Volume must not be negative",
            ),
            (
                "Date,Open,High,Low,Close,Volume\n2006-01-02,1,1,2,1,0\n",
                "t.csv:2: High 1 is below Low 2",
            ),
            (
                "Date,Open,High,Low,Close,Volume\n2006-01-03,1,1,1,1,0\n2006-01-02,1,1,1,1,0\n",
                "t.csv:3: time 2006-01-02T00:00:00Z is not after",
            ),
            (
                "Date,Open,High,Low,Close,Volume\n2006-13-02,1,1,1,1,0\n",
                "t.csv:2: date \"2006-13-02\" is not YYYY-MM-DD",
            ),
            (
                "Time,Price,Size\n2020-01-01T00:00:01Z,5,1\n2020-01-01T00:00:00Z,5,1\n",
                "t.csv:3: time",
            ),
            (
                "Datetime,Open,High,Low,Close,Volume\n2015-09-23T20:57:42,1,2,1,1,1\n",
                "t.csv:2: rows of a Datetime file are ticks",
            ),
            (
                "Date,Open,High,Low,Close,Volume\n",
                "t.csv: file has a header but no bars",
            ),
            ("Open,Close\n", "t.csv:1: header matches no known format"),
        ];
        for (text, expected) in cases {
            let err = parse_str(text).unwrap_err().to_string();
            assert!(
                err.starts_with(expected),
                "{text:?}\n  got:  {err}\n  want: {expected}"
            );
        }
    }

    #[test]
    fn equal_tick_times_are_allowed_but_equal_bar_times_are_not() {
        assert!(
            parse_str("Time,Price,Size\n2020-01-01T00:00:00Z,5,1\n2020-01-01T00:00:00Z,5,1\n")
                .is_ok()
        );
        assert!(
            parse_str(
                "Date,Open,High,Low,Close,Volume\n2006-01-02,1,1,1,1,0\n2006-01-02,1,1,1,1,0\n"
            )
            .is_err()
        );
    }
}

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

use chrono::{DateTime, NaiveDateTime};
use domain::{Candle, DomainError, Price, Quantity, Symbol, Tick, Timeframe, Timestamp};

mod bar_rows;

use bar_rows::BarRowParser;

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

#[derive(Debug)]
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

    fn io_error(&self, line: usize, e: std::io::Error) -> DataError {
        DataError {
            path: self.path.to_owned(),
            line,
            message: format!("cannot read: {e}"),
        }
    }

    /// Parses one row; `last` is the previous row's time (rows must not go back in time;
    /// bars must move forward).
    fn row(
        &self,
        header: &Header,
        text: &str,
        symbol: Symbol,
        last: Option<Timestamp>,
    ) -> Result<Row, DataError> {
        // One pass over the bytes: commas are ASCII, so every cut is a char boundary.
        let mut fields = [""; 14];
        let mut count = 0;
        let mut start = 0;
        for (i, b) in text
            .bytes()
            .enumerate()
            .chain(std::iter::once((text.len(), b',')))
        {
            if b == b',' {
                if count < fields.len() {
                    fields[count] = text[start..i].trim_ascii();
                }
                count += 1;
                start = i + 1;
            }
        }
        if count != header.width {
            return Err(self.err(format!("expected {} fields, found {count}", header.width)));
        }
        let get = |c: Column| header.col(c).map(|i| fields[i]).unwrap_or_default();
        let time = match header.layout {
            Layout::DailyBars => self.date(get(Column::Date))?,
            Layout::CloseStampedBars => {
                let day = self.date(get(Column::Date))?;
                let since_midnight = self.time_of_day(get(Column::Time))?;
                day.checked_add_nanos(since_midnight)
                    .ok_or_else(|| self.err("time out of range"))?
            }
            Layout::OhlcTicks => self.datetime(get(Column::Datetime))?,
            Layout::PriceTicks | Layout::StartStampedBars => self.datetime(get(Column::Time))?,
        };
        let is_tick = matches!(header.layout, Layout::OhlcTicks | Layout::PriceTicks);
        if let Some(prev) = last {
            if time < prev || (!is_tick && time == prev) {
                return Err(self.err(format!(
                    "time {time} is not after the previous row's {prev}: rows must be in time order"
                )));
            }
        }
        if header.layout == Layout::PriceTicks {
            let price = self.price("Price", get(Column::Price))?;
            let size = self.volume("Size", get(Column::Size))?;
            let quote = |c: Column, name: &str| -> Result<Option<Price>, DataError> {
                match header.col(c).map(|i| fields[i]) {
                    None | Some("") => Ok(None),
                    Some(text) => self.price(name, text).map(Some),
                }
            };
            let (bid, ask) = (quote(Column::Bid, "Bid")?, quote(Column::Ask, "Ask")?);
            return Ok(Row::Tick(Tick {
                symbol,
                time,
                price,
                size,
                bid,
                ask,
            }));
        }
        let open = self.price("Open", get(Column::Open))?;
        let high = self.price("High", get(Column::High))?;
        let low = self.price("Low", get(Column::Low))?;
        let close = self.price("Close", get(Column::Close))?;
        let volume = self.volume("Volume", get(Column::Volume))?;
        if header.layout == Layout::OhlcTicks {
            if open != close || high != close || low != close {
                return Err(self.err(
                    "rows of a Datetime file are ticks: Open, High, Low and Close must be equal (the trade price)",
                ));
            }
            return Ok(Row::Tick(Tick {
                symbol,
                time,
                price: close,
                size: volume,
                bid: None,
                ask: None,
            }));
        }
        if high < low {
            return Err(self.err(format!("High {high} is below Low {low}")));
        }
        if open < low || open > high || close < low || close > high {
            return Err(self.err(format!(
                "Open {open} and Close {close} must lie between Low {low} and High {high}"
            )));
        }
        // The period (and so start and end) is fixed once known; see `DataReader::place_bar`.
        Ok(Row::Bar(
            time,
            Candle {
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
            },
        ))
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
                 or Time,Price,Size (see the engine::market_data::csv docs)",
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

    /// `YYYY-MM-DD` as midnight UTC.
    fn date(&self, text: &str) -> Result<Timestamp, DataError> {
        parse_date(text).ok_or_else(|| self.err(format!("date {text:?} is not YYYY-MM-DD")))
    }

    /// `HH:MM:SS[.fff]` as nanoseconds since midnight.
    fn time_of_day(&self, text: &str) -> Result<i64, DataError> {
        parse_time_of_day(text)
            .ok_or_else(|| self.err(format!("time {text:?} is not HH:MM:SS[.fff]")))
    }

    fn datetime(&self, text: &str) -> Result<Timestamp, DataError> {
        if let Some(t) = parse_datetime_fast(text) {
            return Ok(t);
        }
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

fn digits(text: &[u8]) -> Option<i64> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
}

/// `YYYY-MM-DD` → midnight UTC, checking the calendar (no February 30th).
fn parse_date(text: &str) -> Option<Timestamp> {
    parse_date_bytes(text.as_bytes())
}

fn parse_date_bytes(b: &[u8]) -> Option<Timestamp> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (m, d) = (u32::try_from(m).ok()?, u32::try_from(d).ok()?);
    if d < 1 || d > domain::calendar::days_in_month(y, m) {
        return None;
    }
    domain::calendar::days_from_civil(y, m, d)
        .checked_mul(86_400 * domain::time::NANOS_PER_SECOND)
        .map(Timestamp::from_nanos)
}

/// `HH:MM:SS[.f…]` → nanoseconds since midnight.
fn parse_time_of_day(text: &str) -> Option<i64> {
    parse_time_of_day_bytes(text.as_bytes())
}

fn parse_time_of_day_bytes(b: &[u8]) -> Option<i64> {
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, s) = (digits(&b[0..2])?, digits(&b[3..5])?, digits(&b[6..8])?);
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    let mut nanos = 0;
    if b.len() > 8 {
        let frac = &b[9..];
        if b[8] != b'.' || frac.len() > 9 {
            return None;
        }
        nanos = digits(frac)? * 10i64.pow(9 - frac.len() as u32);
    }
    Some(((h * 60 + m) * 60 + s) * domain::time::NANOS_PER_SECOND + nanos)
}

/// The common forms without a zone or with `Z`: `YYYY-MM-DDTHH:MM:SS[.f…][Z]` (also with a
/// space for `T`). Anything else goes to the general parser.
fn parse_datetime_fast(text: &str) -> Option<Timestamp> {
    parse_datetime_fast_bytes(text.as_bytes())
}

fn parse_datetime_fast_bytes(b: &[u8]) -> Option<Timestamp> {
    let b = b.strip_suffix(b"Z").unwrap_or(b);
    if b.len() < 19 || (b[10] != b'T' && b[10] != b' ') {
        return None;
    }
    let day = parse_date_bytes(&b[..10])?;
    let time = parse_time_of_day_bytes(&b[11..])?;
    day.checked_add_nanos(time)
}

/// A plain decimal: digits with an optional sign and point, nothing else.
fn number(text: &str) -> Result<domain::Decimal, String> {
    domain::num::parse_decimal("value", text)
        .map_err(|_| format!("{text:?} is not a decimal number"))
}

/// One row of a data file.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Tick(Tick),
    Bar(Candle),
}

/// Whether a file holds ticks or bars (known from its header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    Ticks,
    Bars,
}

/// How many bars are read ahead to infer an intraday file's bar period.
const PERIOD_LOOKAHEAD: usize = 1_000;

/// Reads a data file row by row, so files larger than memory stream through.
///
/// Yields `Err` once, at the first bad row, and then ends. An intraday bar file's period
/// is the smallest gap between its first 1,000 bars (read ahead and buffered).
#[derive(Debug)]
pub struct DataReader<R> {
    input: R,
    path: PathBuf,
    symbol: Symbol,
    header: Header,
    /// The fast path for plain rows of a bar file (`None` for ticks).
    bar_rows: Option<BarRowParser>,
    line: usize,
    buf: Vec<u8>,
    last: Option<Timestamp>,
    /// Bars read ahead while the period is unknown: (stamp, bar with provisional times).
    ahead: std::collections::VecDeque<(Timestamp, Candle)>,
    /// An error met while reading ahead, reported after the bars before it.
    ahead_error: Option<DataError>,
    timeframe: Option<Timeframe>,
    rows: usize,
    done: bool,
}

impl DataReader<std::io::BufReader<std::fs::File>> {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path, symbol: Symbol) -> Result<Self, DataError> {
        let file = std::fs::File::open(path).map_err(|e| DataError {
            path: path.to_owned(),
            line: 0,
            message: format!("cannot read: {e}"),
        })?;
        DataReader::new(
            std::io::BufReader::with_capacity(1 << 16, file),
            path,
            symbol,
        )
    }
}

impl<R: std::io::BufRead> DataReader<R> {
    /// Reads the header from `input` (`path` names the source in messages).
    pub fn new(mut input: R, path: &Path, symbol: Symbol) -> Result<Self, DataError> {
        let mut buf = String::new();
        let mut line = 0;
        let reader = Reader { path, line: 0 };
        let header = loop {
            buf.clear();
            let n = input
                .read_line(&mut buf)
                .map_err(|e| reader.io_error(line, e))?;
            if n == 0 {
                return Err(reader.err("file is empty"));
            }
            line += 1;
            let text = buf.trim().trim_start_matches('\u{feff}');
            if !text.is_empty() {
                break Reader { path, line }.header(text)?;
            }
        };
        let timeframe = (header.layout == Layout::DailyBars).then_some(Timeframe::D1);
        Ok(DataReader {
            input,
            path: path.to_owned(),
            symbol,
            bar_rows: BarRowParser::new(&header),
            header,
            line,
            buf: buf.into_bytes(),
            last: None,
            ahead: std::collections::VecDeque::new(),
            ahead_error: None,
            timeframe,
            rows: 0,
            done: false,
        })
    }

    pub fn kind(&self) -> DataKind {
        match self.header.layout {
            Layout::OhlcTicks | Layout::PriceTicks => DataKind::Ticks,
            _ => DataKind::Bars,
        }
    }

    /// The bar period of a bar file (reading ahead if needed); `None` for ticks.
    pub fn timeframe(&mut self) -> Result<Option<Timeframe>, DataError> {
        if self.kind() == DataKind::Ticks {
            return Ok(None);
        }
        if self.timeframe.is_none() {
            self.infer_timeframe()?;
        }
        Ok(self.timeframe)
    }

    fn infer_timeframe(&mut self) -> Result<(), DataError> {
        while self.ahead.len() < PERIOD_LOOKAHEAD && self.ahead_error.is_none() {
            match self.read_row() {
                Ok(Some(Row::Bar(time, candle))) => self.ahead.push_back((time, candle)),
                Ok(Some(Row::Tick(_))) | Ok(None) => break,
                Err(e) => self.ahead_error = Some(e),
            }
        }
        let gap = self
            .ahead
            .iter()
            .zip(self.ahead.iter().skip(1))
            .map(|(a, b)| b.0.nanos().saturating_sub(a.0.nanos()))
            .min();
        let whole = Reader {
            path: &self.path,
            line: 0,
        };
        let Some(gap) = gap else {
            if let Some(e) = self.ahead_error.take() {
                return Err(e);
            }
            return Err(whole.err(if self.ahead.is_empty() {
                "file has a header but no bars"
            } else {
                "cannot tell the bar period from a single intraday bar"
            }));
        };
        if gap % domain::time::NANOS_PER_SECOND != 0 {
            return Err(whole.err(format!(
                "the smallest gap between bars ({gap} ns) is not a whole number of seconds"
            )));
        }
        let seconds = u32::try_from(gap / domain::time::NANOS_PER_SECOND)
            .map_err(|_| whole.err("bars are too far apart to infer their period"))?;
        self.timeframe =
            Some(Timeframe::from_seconds(seconds).map_err(|e| whole.err(e.to_string()))?);
        Ok(())
    }

    /// Fixes a bar's start and end once the period is known.
    fn place_bar(&self, time: Timestamp, mut candle: Candle, timeframe: Timeframe) -> Candle {
        let start = match self.header.layout {
            // A close before 1677-09-22 has no start a timestamp holds: the earliest one.
            Layout::CloseStampedBars => {
                Timestamp::from_nanos(time.nanos().saturating_sub(timeframe.nanos()))
            }
            _ => time,
        };
        candle.timeframe = timeframe;
        candle.start = start;
        candle.end = timeframe.period_end(start);
        candle
    }

    /// Reads the next non-blank row.
    fn read_row(&mut self) -> Result<Option<Row>, DataError> {
        // A plain bar row wholly in the buffer is parsed where it lies. A read error here
        // is left to `read_until` below, which retries interrupted reads and reports it.
        if let (Some(rows), Ok(buffered)) = (&mut self.bar_rows, self.input.fill_buf()) {
            if let Some((row, used)) = rows.parse(buffered, false, self.symbol, self.last) {
                self.input.consume(used);
                self.line += 1;
                self.last = Some(row.time());
                self.rows += 1;
                return Ok(Some(row));
            }
        }
        loop {
            self.buf.clear();
            let reader = Reader {
                path: &self.path,
                line: self.line + 1,
            };
            let n = self
                .input
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| reader.io_error(self.line + 1, e))?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            let fast = self
                .bar_rows
                .as_mut()
                .and_then(|rows| rows.parse(self.buf.trim_ascii(), true, self.symbol, self.last));
            if let Some((row, _)) = fast {
                self.last = Some(row.time());
                self.rows += 1;
                return Ok(Some(row));
            }
            let text = std::str::from_utf8(&self.buf)
                .map_err(|_| reader.err("line is not UTF-8 text"))?
                .trim_ascii();
            if text.is_empty() {
                continue;
            }
            let row = reader.row(&self.header, text, self.symbol, self.last)?;
            self.last = Some(row.time());
            self.rows += 1;
            return Ok(Some(row));
        }
    }

    fn next_record(&mut self) -> Result<Option<Record>, DataError> {
        if self.kind() == DataKind::Ticks {
            return Ok(match self.read_row()? {
                Some(Row::Tick(t)) => Some(Record::Tick(t)),
                Some(Row::Bar(..)) | None => None,
            });
        }
        let timeframe = match self.timeframe {
            Some(tf) => tf,
            None => {
                self.infer_timeframe()?;
                self.timeframe.unwrap_or(Timeframe::D1)
            }
        };
        if let Some((time, candle)) = self.ahead.pop_front() {
            return Ok(Some(Record::Bar(self.place_bar(time, candle, timeframe))));
        }
        if let Some(e) = self.ahead_error.take() {
            return Err(e);
        }
        Ok(match self.read_row()? {
            Some(Row::Bar(time, candle)) => {
                Some(Record::Bar(self.place_bar(time, candle, timeframe)))
            }
            Some(Row::Tick(_)) | None => None,
        })
    }
}

/// A parsed row: a tick, or a bar with its stamp and provisional period.
#[derive(Debug, Clone, PartialEq)]
enum Row {
    Tick(Tick),
    Bar(Timestamp, Candle),
}

impl Row {
    fn time(&self) -> Timestamp {
        match self {
            Row::Tick(t) => t.time,
            Row::Bar(time, _) => *time,
        }
    }
}

impl<R: std::io::BufRead> Iterator for DataReader<R> {
    type Item = Result<Record, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_record() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => {
                self.done = true;
                (self.rows == 0).then(|| {
                    Err(Reader {
                        path: &self.path,
                        line: 0,
                    }
                    .err(match self.kind() {
                        DataKind::Ticks => "file has a header but no ticks",
                        DataKind::Bars => "file has a header but no bars",
                    }))
                })
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Reads a whole data file for `symbol`. See the module docs for the formats and rules.
pub fn read_file(path: &Path, symbol: Symbol) -> Result<MarketData, DataError> {
    collect(DataReader::open(path, symbol)?)
}

/// Parses file contents (`path` is for messages only).
pub fn parse(path: &Path, text: &str, symbol: Symbol) -> Result<MarketData, DataError> {
    collect(DataReader::new(text.as_bytes(), path, symbol)?)
}

fn collect<R: std::io::BufRead>(mut reader: DataReader<R>) -> Result<MarketData, DataError> {
    match reader.timeframe()? {
        None => {
            let ticks = reader
                .map(|r| {
                    r.map(|rec| match rec {
                        Record::Tick(t) => Some(t),
                        Record::Bar(_) => None,
                    })
                })
                .filter_map(Result::transpose)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(MarketData::Ticks(ticks))
        }
        Some(timeframe) => {
            let candles = reader
                .map(|r| {
                    r.map(|rec| match rec {
                        Record::Bar(c) => Some(c),
                        Record::Tick(_) => None,
                    })
                })
                .filter_map(Result::transpose)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(MarketData::Bars { timeframe, candles })
        }
    }
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
    fn fast_time_parsing_agrees_with_chrono() {
        for text in [
            "1970-01-01",
            "2000-02-29",
            "2006-01-02",
            "1969-12-31",
            "2262-04-11",
        ] {
            let chrono = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
            assert_eq!(
                parse_date(text),
                Some(Timestamp::from_date(chrono).unwrap()),
                "{text}"
            );
        }
        for bad in [
            "2006-02-29",
            "1900-02-29",
            "2006-13-01",
            "2006-00-10",
            "2006-1-01",
            "2006/01/01",
            "２００６-01-01",
            "1600-03-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        for (text, want) in [
            ("2015-09-23T20:57:42.146", "2015-09-23T20:57:42.146Z"),
            ("2015-09-23 20:57:42", "2015-09-23T20:57:42Z"),
            (
                "2015-09-23T20:57:42.123456789Z",
                "2015-09-23T20:57:42.123456789Z",
            ),
        ] {
            assert_eq!(parse_datetime_fast(text).unwrap().to_string(), want);
        }
        for bad in [
            "2015-09-23T24:00:00",
            "2015-09-23T20:60:00",
            "2015-09-23T20:57:42.",
            "2015-09-23T20:57:42.1234567890",
        ] {
            assert_eq!(parse_datetime_fast(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_reader_streams_rows_and_stops_at_the_first_error() {
        let text = "Time,Price,Size,Bid,Ask\n2020-01-01T00:00:00Z,5,1,4.5,5.5\n2020-01-01T00:00:01Z,x,1,,\n2020-01-01T00:00:02Z,5,1,,\n";
        let mut reader = DataReader::new(text.as_bytes(), Path::new("q.csv"), sym()).unwrap();
        assert_eq!(reader.kind(), DataKind::Ticks);
        let Some(Ok(Record::Tick(first))) = reader.next() else {
            panic!("a tick first")
        };
        assert_eq!(first.bid.map(|p| p.to_string()), Some("4.5".into()));
        let err = reader.next().unwrap().unwrap_err();
        assert_eq!(
            err.to_string(),
            "q.csv:3: Price: \"x\" is not a decimal number"
        );
        assert!(reader.next().is_none(), "nothing after an error");
    }

    #[test]
    fn bar_period_is_the_smallest_gap_even_with_a_missing_first_bar() {
        let text = "Date,Time,Open,High,Low,Close,Volume\n2006-01-02,09:10:00,1,1,1,1,0\n2006-01-02,09:15:00,1,1,1,1,0\n";
        let mut reader = DataReader::new(text.as_bytes(), Path::new("b.csv"), sym()).unwrap();
        assert_eq!(reader.timeframe().unwrap(), Some(Timeframe::M5));
        assert_eq!(reader.count(), 2);
    }

    /// The fast path on one line as `read_row` calls it after `read_until` (trimmed),
    /// checked against itself in a buffer: the line followed by more data parses the same
    /// and reports its length with the line end (a line with spaces around it may be left
    /// to the slow path instead); cut anywhere short of its line end, it is declined.
    fn fast_bar(rows: &mut BarRowParser, line: &[u8], last: Option<Timestamp>) -> Option<Row> {
        let whole = rows
            .parse(line.trim_ascii(), true, sym(), last)
            .map(|(row, _)| row);
        for end in ["\n", "\r\n"] {
            let buffered = [line, end.as_bytes(), b"2006-01-02,1,1,1,1,0\n"].concat();
            let got = rows.parse(&buffered, false, sym(), last);
            if got.is_some() || line.trim_ascii() == line {
                assert_eq!(
                    got,
                    whole.clone().map(|row| (row, line.len() + end.len())),
                    "{:?} in a buffer",
                    String::from_utf8_lossy(line)
                );
            }
            for cut in 0..line.len() + end.len() {
                assert_eq!(rows.parse(&buffered[..cut], false, sym(), last), None);
            }
        }
        whole
    }

    fn header_of(text: &str) -> Header {
        Reader {
            path: Path::new("x"),
            line: 1,
        }
        .header(text)
        .unwrap()
    }

    #[test]
    fn the_fast_bar_path_agrees_with_the_general_one() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data");
        for name in [
            "2006-day-001.txt",
            "2006-min-005.txt",
            "orcl-1995-2014.txt",
            "nvda-1999-2014.txt",
        ] {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).unwrap();
            let mut lines = text.lines();
            let header = header_of(lines.next().unwrap());
            let mut rows = BarRowParser::new(&header).unwrap();
            let mut last = None;
            for (n, line) in lines.enumerate() {
                let fast = fast_bar(&mut rows, line.trim().as_bytes(), last)
                    .unwrap_or_else(|| panic!("{name}:{}: plain row left the fast path", n + 2));
                let general = Reader {
                    path: &path,
                    line: n + 2,
                }
                .row(&header, line.trim(), sym(), last)
                .unwrap();
                assert_eq!(fast, general, "{name}:{}", n + 2);
                last = Some(fast.time());
            }
        }
        // Rows the fast path declines go to the general one, which explains them.
        let header = header_of("Date,Open,High,Low,Close,Volume");
        let mut rows = BarRowParser::new(&header).unwrap();
        for bad in [
            "2006-01-02,1,2,1,1e3,0",
            "2006-01-02, 1,2,1,1,0",
            "2006-01-02,1,1,2,1,0",
            "2006-01-02,0,1,0,1,0",
            "2006-01-02,1,2,1,1",
            "2006-01-02,1,2,1,1,0,",
            "2006-02-30,1,2,1,1,0",
            "\0\0\0\0\0\0\0\0\0\0,1,2,1,1,0",
        ] {
            assert!(fast_bar(&mut rows, bad.as_bytes(), None).is_none(), "{bad}");
        }
    }

    /// Rows in the start-stamped format `stratus candles --csv` and the backtest benchmark
    /// write, and random corruptions of them: whatever the fast path accepts, the general
    /// parser accepts as the same bar.
    #[test]
    fn the_fast_path_accepts_only_what_the_general_one_does() {
        let mut rng = crate::rng::SplitMix64::new(7);
        for format in [
            "Time,Open,High,Low,Close,Volume",
            "Volume,Close,Low,High,Open,Time",
            "Date,Time,Open,High,Low,Close,Volume,OpenInterest",
            "Date,Open,High,Low,Close,Adj Close,Volume",
        ] {
            let header = header_of(format);
            let mut rows = BarRowParser::new(&header).unwrap();
            let (mut accepted, mut declined) = (0, 0);
            for i in 0..4_000i64 {
                let day = 1 + i % 28;
                let (low, high) = (rng.range_i64(1, 20_000), rng.range_i64(0, 300));
                let fields: Vec<String> = format
                    .split(',')
                    .map(|column| match column {
                        "Time" if format.starts_with("Date") => {
                            format!("{:02}:{:02}:00", i % 24, i % 60)
                        }
                        "Time" => format!("2024-02-{day:02}T{:02}:{:02}:00Z", i % 24, i % 60),
                        "Date" => format!("2024-02-{day:02}"),
                        "Open" | "Close" => format!("{}.{:02}", (low + high / 2) / 100, low % 100),
                        "High" => format!("{}.{:02}", (low + high) / 100 + 1, 0),
                        "Low" => format!("{}.{:02}", low / 100, low % 100),
                        _ => rng.below(1_000).to_string(),
                    })
                    .collect();
                let mut line = fields.join(",").into_bytes();
                for _ in 0..rng.below(3) {
                    let at = rng.below(line.len() as u64) as usize;
                    // Anything but a line end, which `read_until` would have cut at.
                    line[at] = b"0123456789.,:-TZ e+\r\t"[rng.below(21) as usize];
                }
                let text = String::from_utf8(line.clone()).unwrap();
                let general = Reader {
                    path: Path::new("x"),
                    line: 2,
                }
                .row(&header, text.trim_ascii(), sym(), None);
                match fast_bar(&mut rows, &line, None) {
                    Some(fast) => {
                        assert_eq!(Ok(fast), general, "{text:?}");
                        accepted += 1;
                    }
                    None => declined += 1,
                }
            }
            assert!(
                accepted > 1_000 && declined > 500,
                "{accepted} / {declined}"
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

//! The fast path for plain bar rows: one pass over the bytes that splits the fields and
//! parses them as it goes, straight out of the reader's buffer when the whole line is in
//! it (no copy, no UTF-8 check).
//!
//! It accepts only what is certainly valid — plain decimals of up to 18 digits, a
//! well-formed date or time, the row after the previous one in time, consistent OHLC, the
//! right number of fields — and builds exactly the bar the general parser would. Anything
//! else (signs, exponents, spaces around a field, a bad row, a line cut by the end of the
//! buffer) is declined with `None`, and the general parser takes the row and explains
//! what is wrong with it.

use domain::{Candle, Price, Quantity, Symbol, Timeframe, Timestamp};

use super::{Column, Header, Layout, Row, parse_date_bytes};

/// What a column of a bar file is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// A column bars do not use (`OpenInterest`, `Adj Close`, …): skipped unread.
    Skip,
    Date,
    TimeOfDay,
    DateTime,
    /// Open, high, low, close or volume: the index into the row's numbers.
    Number(u8),
}

const OPEN: usize = 0;
const HIGH: usize = 1;
const LOW: usize = 2;
const CLOSE: usize = 3;
const VOLUME: usize = 4;

/// Powers of ten that fit in a `u64`, for comparing numbers of different scales.
const POW10: [u64; 19] = {
    let mut table = [1u64; 19];
    let mut i = 1;
    while i < 19 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// Parses the rows of one bar file; see the module docs.
#[derive(Debug)]
pub(super) struct BarRowParser {
    layout: Layout,
    /// What each column is, in file order (`width` of them).
    fields: [Field; 14],
    width: usize,
    /// `Time,Open,High,Low,Close,Volume` in this order (what `stratus candles --csv`
    /// writes): parsed by straight-line code rather than column by column.
    canonical: bool,
    /// The last date read and its midnight: intraday rows of a day share it.
    day: Option<([u8; 10], Timestamp)>,
}

/// The column order of [`BarRowParser::canonical`].
const CANONICAL: [Field; 6] = [
    Field::DateTime,
    Field::Number(OPEN as u8),
    Field::Number(HIGH as u8),
    Field::Number(LOW as u8),
    Field::Number(CLOSE as u8),
    Field::Number(VOLUME as u8),
];

/// A row's time, its five numbers as (mantissa, scale) — open, high, low, close, volume —
/// and the byte offset where the last one ends.
type RowFields = (Timestamp, [(u64, u32); 5], usize);

impl BarRowParser {
    /// The parser for `header`'s rows; `None` for tick files.
    pub(super) fn new(header: &Header) -> Option<Self> {
        if !matches!(
            header.layout,
            Layout::DailyBars | Layout::CloseStampedBars | Layout::StartStampedBars
        ) || header.width > 14
        {
            return None;
        }
        let mut fields = [Field::Skip; 14];
        let mut set = |column: Column, field: Field| {
            if let Some(i) = header.col(column) {
                fields[i] = field;
            }
        };
        match header.layout {
            Layout::DailyBars => set(Column::Date, Field::Date),
            Layout::CloseStampedBars => {
                set(Column::Date, Field::Date);
                set(Column::Time, Field::TimeOfDay);
            }
            _ => set(Column::Time, Field::DateTime),
        }
        set(Column::Open, Field::Number(OPEN as u8));
        set(Column::High, Field::Number(HIGH as u8));
        set(Column::Low, Field::Number(LOW as u8));
        set(Column::Close, Field::Number(CLOSE as u8));
        set(Column::Volume, Field::Number(VOLUME as u8));
        Some(BarRowParser {
            layout: header.layout,
            fields,
            width: header.width,
            canonical: header.width == CANONICAL.len() && fields[..CANONICAL.len()] == CANONICAL,
            day: None,
        })
    }

    /// Parses the row at the start of `bytes`. With `whole_line`, `bytes` is the row and
    /// nothing else; otherwise the row must end in `\n` or `\r\n` within `bytes`. Returns
    /// the row and the number of bytes it took (with its line end), or `None` when the
    /// general parser must judge the row.
    pub(super) fn parse(
        &mut self,
        bytes: &[u8],
        whole_line: bool,
        symbol: Symbol,
        last: Option<Timestamp>,
    ) -> Option<(Row, usize)> {
        let (time, numbers, at) = if self.canonical {
            self.canonical_fields(bytes)?
        } else {
            self.fields(bytes)?
        };
        let used = line_end(bytes, at, whole_line)?;
        if last.is_some_and(|prev| time <= prev) {
            return None;
        }
        let [open, high, low, close, volume] = numbers;
        if !consistent(open, high, low, close) {
            return None;
        }
        let candle = Candle {
            symbol,
            timeframe: Timeframe::D1,
            start: time,
            end: time,
            open: Price::from_mantissa(open.0, open.1)?,
            high: Price::from_mantissa(high.0, high.1)?,
            low: Price::from_mantissa(low.0, low.1)?,
            close: Price::from_mantissa(close.0, close.1)?,
            volume: Quantity::from_mantissa(volume.0, volume.1)?,
            trades: 0,
        };
        Some((Row::Bar(time, candle), used))
    }

    /// The fields of a canonical row: its time, numbers and where the last one ends.
    #[inline(always)]
    fn canonical_fields(&mut self, bytes: &[u8]) -> Option<RowFields> {
        let (time, at) = datetime(&mut self.day, bytes, 0)?;
        let (open, at) = next_number(bytes, at)?;
        let (high, at) = next_number(bytes, at)?;
        let (low, at) = next_number(bytes, at)?;
        let (close, at) = next_number(bytes, at)?;
        let (volume, at) = next_number(bytes, at)?;
        Some((time, [open, high, low, close, volume], at))
    }

    /// The fields of a row column by column, as the header says.
    fn fields(&mut self, bytes: &[u8]) -> Option<RowFields> {
        let mut at = 0;
        let mut day = None;
        let mut since_midnight = None;
        let mut time = None;
        let mut numbers = [(0u64, 0u32); 5];
        for (n, field) in self.fields[..self.width].iter().enumerate() {
            if n > 0 {
                if *bytes.get(at)? != b',' {
                    return None;
                }
                at += 1;
            }
            at = match *field {
                Field::Skip => skip_field(bytes, at),
                Field::Date => {
                    let (midnight, end) = date(&mut self.day, bytes, at)?;
                    day = Some(midnight);
                    end
                }
                Field::TimeOfDay => {
                    let (nanos, end) = time_of_day(bytes, at)?;
                    since_midnight = Some(nanos);
                    end
                }
                Field::DateTime => {
                    let (stamp, end) = datetime(&mut self.day, bytes, at)?;
                    time = Some(stamp);
                    end
                }
                Field::Number(slot) => {
                    let (number, end) = plain_number(bytes, at)?;
                    numbers[usize::from(slot)] = number;
                    end
                }
            };
        }
        let time = match self.layout {
            Layout::DailyBars => day?,
            Layout::CloseStampedBars => day?.checked_add_nanos(since_midnight?)?,
            _ => time?,
        };
        Some((time, numbers, at))
    }
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.f…][Z]` at `at` (the zone, if any, must be UTC): the instant
/// and where it ends.
#[inline(always)]
fn datetime(
    day: &mut Option<([u8; 10], Timestamp)>,
    bytes: &[u8],
    at: usize,
) -> Option<(Timestamp, usize)> {
    let (midnight, end) = date(day, bytes, at)?;
    if !matches!(bytes.get(end), Some(b'T' | b' ')) {
        return None;
    }
    let (nanos, end) = time_of_day(bytes, end + 1)?;
    let end = end + usize::from(bytes.get(end) == Some(&b'Z'));
    Some((midnight.checked_add_nanos(nanos)?, end))
}

/// A comma at `at`, then a plain number: the number and where it ends.
#[inline(always)]
fn next_number(bytes: &[u8], at: usize) -> Option<((u64, u32), usize)> {
    if *bytes.get(at)? != b',' {
        return None;
    }
    plain_number(bytes, at + 1)
}

/// `YYYY-MM-DD` at `at`: its midnight and where it ends. The last date is kept in `day`,
/// so a day's rows parse it once.
fn date(
    day: &mut Option<([u8; 10], Timestamp)>,
    bytes: &[u8],
    at: usize,
) -> Option<(Timestamp, usize)> {
    let text: &[u8; 10] = bytes.get(at..at + 10)?.try_into().ok()?;
    match day {
        Some((seen, midnight)) if seen == text => Some((*midnight, at + 10)),
        _ => {
            let midnight = parse_date_bytes(text)?;
            *day = Some((*text, midnight));
            Some((midnight, at + 10))
        }
    }
}

/// Where the field starting at `at` ends (at a comma, a line end or the end of `bytes`).
fn skip_field(bytes: &[u8], at: usize) -> usize {
    bytes[at.min(bytes.len())..]
        .iter()
        .position(|&b| b == b',' || b == b'\n')
        .map_or(bytes.len(), |n| at + n)
}

/// The bytes the line took if it ends at `at`: `\n` or `\r\n`, or the end of `bytes` for
/// a `whole_line`.
fn line_end(bytes: &[u8], at: usize, whole_line: bool) -> Option<usize> {
    match bytes.get(at..)? {
        [] if whole_line => Some(at),
        [b'\n', ..] => Some(at + 1),
        [b'\r', b'\n', ..] => Some(at + 2),
        _ => None,
    }
}

/// A plain non-negative decimal at `at` (`DIGITS[.DIGITS]`, at most 18 digits) as
/// (mantissa, scale) as written (`100.10` is (10010, 2)), and where it ends.
#[inline(always)]
fn plain_number(bytes: &[u8], at: usize) -> Option<((u64, u32), usize)> {
    if let Some((number, len)) = bytes.get(at..at + 8).and_then(short_number) {
        return Some((number, at + len));
    }
    let (whole, end) = digits(bytes, at);
    let int_digits = end - at;
    if int_digits == 0 {
        return None;
    }
    if bytes.get(end) != Some(&b'.') {
        return (int_digits <= 18).then_some(((whole, 0), end));
    }
    let (fraction, stop) = digits(bytes, end + 1);
    let scale = stop - end - 1;
    if scale == 0 || int_digits + scale > 18 {
        return None;
    }
    Some(((whole * POW10[scale] + fraction, scale as u32), stop))
}

/// Digits from `at` on: their value (wrapping, for the caller to refuse more than 18
/// digits) and where they end.
fn digits(bytes: &[u8], at: usize) -> (u64, usize) {
    let mut value = 0u64;
    let mut end = at;
    for &b in bytes.get(at..).unwrap_or_default() {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        value = value.wrapping_mul(10).wrapping_add(u64::from(digit));
        end += 1;
    }
    (value, end)
}

/// A number of at most seven bytes (`123.45`, `7`) at the start of `eight` bytes, read
/// all at once (SWAR: the bytes as one little-endian `u64`, first byte lowest): the
/// (mantissa, scale) and its length. `None` when it is longer or not plain: the byte loop
/// of [`plain_number`] then judges it.
#[inline(always)]
fn short_number(eight: &[u8]) -> Option<((u64, u32), usize)> {
    let x = digit_values(eight)?;
    let flags = non_digits(x);
    // The first byte that is not a digit: the end, or the decimal point.
    let point = (flags.trailing_zeros() / 8) as usize;
    if point == 0 || point == 8 {
        return None;
    }
    let (digits, count, scale, len) = if (x >> (8 * point)) as u8 == (b'.' ^ b'0') {
        // The next one after the point (its flag is the lowest set bit).
        let rest = flags & (flags - 1);
        let end = (rest.trailing_zeros() / 8) as usize;
        if end == 8 || end == point + 1 {
            return None;
        }
        // The digits after the point moved down over it.
        let below = (1u64 << (8 * point)) - 1;
        (
            (x & below) | ((x >> 8) & !below),
            end - 1,
            end - point - 1,
            end,
        )
    } else {
        (x, point, 0, point)
    };
    // Zeros lead once the digits are moved up to the top bytes.
    let mut v = digits << (8 * (8 - count));
    // Pairs, then quadruples, then all eight (Lemire's eight-digit parse).
    v = v.wrapping_mul(10).wrapping_add(v >> 8);
    v = ((v & 0x0000_00FF_0000_00FF)
        .wrapping_mul(100 + (1_000_000 << 32))
        .wrapping_add(((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32))))
        >> 32;
    Some(((v, scale as u32), len))
}

/// Eight bytes as one little-endian `u64` (first byte lowest) with each byte XORed with
/// `'0'`: a digit becomes its value, every other byte something above 9. No carries.
#[inline(always)]
fn digit_values(eight: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(eight.try_into().ok()?) ^ 0x3030_3030_3030_3030)
}

/// `0x80` in each byte of `x` (from [`digit_values`]) that is not a digit's value (above
/// 9), `0` in the others; exact up to the first byte of `0x8A` or more (adding `0x76` to
/// a byte carries out of it only from there, into later bytes).
#[inline(always)]
fn non_digits(x: u64) -> u64 {
    (x.wrapping_add(0x7676_7676_7676_7676) | x) & 0x8080_8080_8080_8080
}

/// `HH:MM:SS[.f…]` (up to nine fractional digits) at `at`: nanoseconds since midnight and
/// where it ends.
#[inline(always)]
fn time_of_day(bytes: &[u8], at: usize) -> Option<(i64, usize)> {
    // The six digits and the two colons at once: XORed with '0', a colon is 0x0A.
    let x = digit_values(bytes.get(at..at + 8)?)?;
    const DIGITS: u64 = 0xFFFF_00FF_FF00_FFFF;
    if non_digits(x & DIGITS) != 0 || x & !DIGITS != 0x0000_0A00_000A_0000 {
        return None;
    }
    // Each pair as tens × 10 + units in its first byte (no byte exceeds 109: no carries).
    let pairs = x.wrapping_mul(10).wrapping_add(x >> 8);
    let (h, m, s) = (pairs & 0xFF, (pairs >> 24) & 0xFF, (pairs >> 48) & 0xFF);
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    let seconds = ((h * 60 + m) * 60 + s) as i64;
    let mut end = at + 8;
    let mut nanos = 0;
    if bytes.get(end) == Some(&b'.') {
        let (fraction, stop) = digits(bytes, end + 1);
        let len = stop - end - 1;
        if len == 0 || len > 9 {
            return None;
        }
        nanos = fraction as i64 * POW10[9 - len] as i64;
        end = stop;
    }
    Some((seconds * domain::time::NANOS_PER_SECOND + nanos, end))
}

/// Whether the prices, as (mantissa, scale), are above zero and open and close lie
/// between low and high (compared exactly, on mantissas at the largest scale).
#[inline]
fn consistent(open: (u64, u32), high: (u64, u32), low: (u64, u32), close: (u64, u32)) -> bool {
    let scale = open.1.max(high.1).max(low.1).max(close.1);
    // Scales are at most 17, so the factor is in the table and the product fits.
    let up = |(m, s): (u64, u32)| u128::from(m) * u128::from(POW10[(scale - s) as usize]);
    let (open, high, low, close) = (up(open), up(high), up(low), up(close));
    low > 0 && low <= open && open <= high && low <= close && close <= high
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers() {
        let parse = |s: &str| plain_number(s.as_bytes(), 0).map(|(n, end)| (n, end == s.len()));
        assert_eq!(parse("100.10"), Some(((10010, 2), true)));
        assert_eq!(parse("100"), Some(((100, 0), true)));
        assert_eq!(parse("0.000"), Some(((0, 3), true)));
        assert_eq!(
            parse("123456789012345678"),
            Some(((123456789012345678, 0), true))
        );
        assert_eq!(parse("1234567890123456789"), None);
        assert_eq!(parse("12345678901234567.89"), None);
        assert_eq!(parse("99999999999999999999999"), None);
        for bad in ["", ".5", "1.", "-1", "+1", "x"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        // Stops at the first byte that is not part of the number.
        assert_eq!(parse("1.5.2"), Some(((15, 1), false)));
        assert_eq!(parse("1e5"), Some(((1, 0), false)));
    }

    /// Eight bytes at once read what a byte loop reads, or leave the number to it.
    #[test]
    fn short_numbers_agree_with_a_byte_loop() {
        let mut rng = crate::rng::SplitMix64::new(3);
        let alphabet = b"0123456789000999...,,\n\xff\xfa\x2f:";
        let mut short = 0;
        for _ in 0..50_000 {
            let len = rng.below(12) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                .collect();
            let (whole, end) = digits(&bytes, 0);
            let by_bytes = match bytes.get(end) {
                _ if end == 0 => None,
                Some(b'.') => {
                    let (fraction, stop) = digits(&bytes, end + 1);
                    let scale = stop - end - 1;
                    (scale > 0).then(|| ((whole * POW10[scale] + fraction, scale as u32), stop))
                }
                _ => Some(((whole, 0), end)),
            };
            if let Some(fast) = bytes.get(..8).and_then(short_number) {
                assert_eq!(Some(fast), by_bytes, "{bytes:?}");
                short += 1;
            }
            assert_eq!(plain_number(&bytes, 0), by_bytes, "{bytes:?}");
        }
        assert!(short > 5_000, "{short}");
    }

    /// Eight bytes at once read the times the byte-wise parser of the general path reads.
    #[test]
    fn times_of_day_agree_with_the_general_parser() {
        let general = |b: &[u8]| super::super::parse_time_of_day_bytes(b);
        for h in 0..=24 {
            for m in [0, 7, 59, 60] {
                for s in [0, 30, 59, 60, 99] {
                    for frac in ["", ".5", ".123456789", ".1234567890", "."] {
                        let text = format!("{h:02}:{m:02}:{s:02}{frac}");
                        let fast = time_of_day(text.as_bytes(), 0)
                            .filter(|&(_, end)| end == text.len())
                            .map(|(nanos, _)| nanos);
                        assert_eq!(fast, general(text.as_bytes()), "{text}");
                    }
                }
            }
        }
        let mut rng = crate::rng::SplitMix64::new(11);
        let alphabet = b"0123456789::..;9\x0a\xfa\xff";
        for _ in 0..50_000 {
            let text: Vec<u8> = (0..8 + rng.below(3) as usize)
                .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                .collect();
            let fast = time_of_day(&text, 0)
                .filter(|&(_, end)| end == text.len())
                .map(|(nanos, _)| nanos);
            assert_eq!(fast, general(&text), "{text:?}");
        }
    }

    #[test]
    fn consistency_across_scales() {
        let ok = |o, h, l, c| consistent(o, h, l, c);
        assert!(ok((10010, 2), (1002, 1), (100, 0), (1001, 1)));
        assert!(ok((1, 0), (1, 0), (1, 0), (1, 0)));
        assert!(
            !ok((10012, 2), (1001, 1), (100, 0), (100, 0)),
            "open above high"
        );
        assert!(
            !ok((100, 0), (100, 0), (10001, 2), (100, 0)),
            "low above high"
        );
        assert!(!ok((0, 0), (1, 0), (0, 2), (1, 0)), "zero prices");
        let big = (u64::MAX / 10, 0);
        assert!(ok(big, big, (u64::MAX / 10 * 10, 1), big), "no overflow");
    }

    #[test]
    fn line_ends() {
        assert_eq!(line_end(b"x\n", 1, false), Some(2));
        assert_eq!(line_end(b"x\r\ny", 1, false), Some(3));
        assert_eq!(line_end(b"x", 1, false), None, "a line cut by the buffer");
        assert_eq!(line_end(b"x", 1, true), Some(1));
        assert_eq!(line_end(b"x\r", 1, false), None);
        assert_eq!(line_end(b"x,", 1, true), None);
    }
}

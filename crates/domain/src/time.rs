//! `Timestamp` (UTC nanoseconds) and `Timeframe` (a candle period aligned to UTC).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;

pub const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// A point in time: nanoseconds since the Unix epoch, UTC.
///
/// An `i64` rather than a `DateTime` because the candle aggregator does integer arithmetic
/// on it for every tick; on the wire it is RFC 3339 (`2026-11-22T09:30:00.25Z`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(i64);

impl Timestamp {
    pub const EPOCH: Timestamp = Timestamp(0);
    pub const MAX: Timestamp = Timestamp(i64::MAX);

    pub const fn from_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(NANOS_PER_SECOND))
    }

    pub const fn nanos(self) -> i64 {
        self.0
    }

    pub fn from_datetime(dt: DateTime<Utc>) -> Result<Self, DomainError> {
        dt.timestamp_nanos_opt()
            .map(Timestamp)
            .ok_or(DomainError::OutOfRange {
                field: "time",
                reason: "outside 1677-09-21 .. 2262-04-11".into(),
            })
    }

    pub fn from_naive_utc(dt: NaiveDateTime) -> Result<Self, DomainError> {
        Self::from_datetime(dt.and_utc())
    }

    pub fn from_date(date: NaiveDate) -> Result<Self, DomainError> {
        Self::from_naive_utc(date.and_time(chrono::NaiveTime::MIN))
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.0)
    }

    /// Parses RFC 3339 (`2026-11-22T09:30:00Z`, with any offset).
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let dt = DateTime::parse_from_rfc3339(input).map_err(|e| DomainError::Invalid {
            field: "time",
            reason: format!("expected RFC 3339 such as 2026-11-22T09:30:00Z ({e})"),
        })?;
        Self::from_datetime(dt.with_timezone(&Utc))
    }

    /// A window's bound as people write it: a date (`2006-01-15`, the start of the day,
    /// or with `end_of_day` the end of it, so a `to` date includes its day) or an RFC 3339
    /// time.
    pub fn parse_bound(text: &str, end_of_day: bool) -> Result<Self, DomainError> {
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(date) => {
                let day = Timestamp::from_date(date)?;
                Ok(if end_of_day {
                    Timeframe::D1.period_end(day)
                } else {
                    day
                })
            }
            Err(_) => Timestamp::parse(text),
        }
    }

    pub fn checked_add_nanos(self, nanos: i64) -> Option<Timestamp> {
        self.0.checked_add(nanos).map(Timestamp)
    }
}

impl FromStr for Timestamp {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

impl TryFrom<String> for Timestamp {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Timestamp::parse(&value)
    }
}

impl From<Timestamp> for String {
    fn from(t: Timestamp) -> String {
        t.to_string()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            &self
                .to_datetime()
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
        )
    }
}

/// A candle period: a whole number of seconds from one second to several weeks.
///
/// Periods are aligned to UTC: a `1h` candle starts on the hour, a `1d` candle at midnight
/// UTC, and `Nw` candles on Mondays (1970-01-05 is the first Monday after the epoch).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timeframe {
    seconds: u32,
}

const MINUTE: u32 = 60;
const HOUR: u32 = 60 * MINUTE;
const DAY: u32 = 24 * HOUR;
const WEEK: u32 = 7 * DAY;
/// The epoch was a Thursday; weekly periods are counted from Monday 1970-01-05.
const WEEK_ANCHOR_NANOS: i64 = 4 * DAY as i64 * NANOS_PER_SECOND;

impl Timeframe {
    pub const S1: Timeframe = Timeframe { seconds: 1 };
    pub const M1: Timeframe = Timeframe { seconds: MINUTE };
    pub const M5: Timeframe = Timeframe {
        seconds: 5 * MINUTE,
    };
    pub const M15: Timeframe = Timeframe {
        seconds: 15 * MINUTE,
    };
    pub const H1: Timeframe = Timeframe { seconds: HOUR };
    pub const H4: Timeframe = Timeframe { seconds: 4 * HOUR };
    pub const D1: Timeframe = Timeframe { seconds: DAY };
    pub const W1: Timeframe = Timeframe { seconds: WEEK };

    /// The longest period accepted: 52 weeks.
    pub const MAX_SECONDS: u32 = 52 * WEEK;

    pub fn from_seconds(seconds: u32) -> Result<Self, DomainError> {
        if seconds == 0 || seconds > Self::MAX_SECONDS {
            return Err(DomainError::OutOfRange {
                field: "timeframe",
                reason: format!("must be between 1s and 52w, got {seconds}s"),
            });
        }
        Ok(Timeframe { seconds })
    }

    /// Parses `<N><unit>` with unit `s`, `m`, `h`, `d` or `w`: `1s`, `15s`, `1m`, `5m`,
    /// `1h`, `4h`, `1d`, `1w`, `90m`, …
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let invalid = || DomainError::Invalid {
            field: "timeframe",
            reason: format!(
                "{input:?} is not a timeframe; use a number and a unit s, m, h, d or w (1m, 4h, 1d)"
            ),
        };
        // By characters, not bytes: the last one may be any character a client sends.
        let mut chars = input.chars();
        let unit = chars.next_back().ok_or_else(invalid)?;
        let digits = chars.as_str();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 7 {
            return Err(invalid());
        }
        let n: u32 = digits.parse().map_err(|_| invalid())?;
        let unit_seconds = match unit {
            's' => 1,
            'm' => MINUTE,
            'h' => HOUR,
            'd' => DAY,
            'w' => WEEK,
            _ => return Err(invalid()),
        };
        let seconds = n.checked_mul(unit_seconds).ok_or_else(invalid)?;
        Self::from_seconds(seconds)
    }

    pub fn seconds(self) -> u32 {
        self.seconds
    }

    pub fn nanos(self) -> i64 {
        i64::from(self.seconds) * NANOS_PER_SECOND
    }

    /// Whether periods are counted from the Monday anchor (whole weeks) or the epoch.
    fn anchor_nanos(self) -> i64 {
        if self.seconds % WEEK == 0 {
            WEEK_ANCHOR_NANOS
        } else {
            0
        }
    }

    /// The start of the period that contains `t`.
    /// Within a period of either end of the timestamp range (1677, 2262), the result
    /// saturates instead of overflowing.
    pub fn period_start(self, t: Timestamp) -> Timestamp {
        let len = self.nanos();
        let anchor = self.anchor_nanos();
        let offset = t.nanos().saturating_sub(anchor);
        Timestamp::from_nanos(
            offset
                .div_euclid(len)
                .saturating_mul(len)
                .saturating_add(anchor),
        )
    }

    /// The (exclusive) end of the period that starts at `start`.
    pub fn period_end(self, start: Timestamp) -> Timestamp {
        Timestamp::from_nanos(start.nanos().saturating_add(self.nanos()))
    }

    /// Whether periods of `self` tile periods of `higher` exactly, so that bars of `self`
    /// can be resampled into bars of `higher` (5m → 1h yes, 7m → 1h no, 1d → 1w yes).
    pub fn divides(self, higher: Timeframe) -> bool {
        higher.seconds % self.seconds == 0
            && (higher.anchor_nanos() - self.anchor_nanos()) % self.nanos() == 0
    }
}

impl FromStr for Timeframe {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timeframe::parse(s)
    }
}

impl TryFrom<String> for Timeframe {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Timeframe::parse(&value)
    }
}

impl From<Timeframe> for String {
    fn from(t: Timeframe) -> String {
        t.to_string()
    }
}

impl fmt::Display for Timeframe {
    /// The largest unit that divides the period: `3600` seconds prints as `1h`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.seconds;
        for (unit, len) in [("w", WEEK), ("d", DAY), ("h", HOUR), ("m", MINUTE)] {
            if s % len == 0 {
                return write!(f, "{}{unit}", s / len);
            }
        }
        write!(f, "{s}s")
    }
}

impl fmt::Debug for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timeframe({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeframes_parse_and_print() {
        for (text, secs) in [
            ("1s", 1),
            ("15s", 15),
            ("1m", 60),
            ("5m", 300),
            ("1h", 3600),
            ("4h", 14400),
            ("1d", 86400),
            ("1w", 604800),
        ] {
            let tf = Timeframe::parse(text).unwrap();
            assert_eq!(tf.seconds(), secs);
            assert_eq!(tf.to_string(), text);
        }
        assert_eq!(Timeframe::parse("60m").unwrap().to_string(), "1h");
        assert_eq!(Timeframe::parse("90m").unwrap().to_string(), "90m");
    }

    #[test]
    fn bad_timeframes_are_errors() {
        for bad in [
            "",
            "m",
            "0m",
            "1x",
            "-1m",
            "1.5h",
            "99999999s",
            "53w",
            "1 m",
            "1M",
        ] {
            let err = Timeframe::parse(bad).unwrap_err();
            assert_eq!(err.field(), Some("timeframe"), "{bad:?}");
        }
    }

    #[test]
    fn periods_align_to_utc_and_weeks_start_monday() {
        let t = Timestamp::parse("2026-11-19T13:47:12.5Z").unwrap(); // a Thursday
        let at = |tf: &str| Timeframe::parse(tf).unwrap().period_start(t).to_string();
        assert_eq!(at("1m"), "2026-11-19T13:47:00Z");
        assert_eq!(at("15m"), "2026-11-19T13:45:00Z");
        assert_eq!(at("4h"), "2026-11-19T12:00:00Z");
        assert_eq!(at("1d"), "2026-11-19T00:00:00Z");
        assert_eq!(at("1w"), "2026-11-16T00:00:00Z");
        let before_epoch = Timestamp::parse("1969-12-31T23:59:30Z").unwrap();
        assert_eq!(
            Timeframe::M1.period_start(before_epoch).to_string(),
            "1969-12-31T23:59:00Z"
        );
    }

    #[test]
    fn divisibility_for_resampling() {
        assert!(Timeframe::M5.divides(Timeframe::H1));
        assert!(Timeframe::D1.divides(Timeframe::W1));
        assert!(!Timeframe::parse("7m").unwrap().divides(Timeframe::H1));
        assert!(Timeframe::H4.divides(Timeframe::W1));
        // 3-day periods are counted from the epoch (a Thursday), so they do not tile weeks.
        assert!(
            Timeframe::parse("3d")
                .unwrap()
                .divides(Timeframe::parse("6d").unwrap())
        );
        assert!(!Timeframe::parse("3d").unwrap().divides(Timeframe::W1));
    }

    #[test]
    fn timestamps_round_trip_rfc3339() {
        let t = Timestamp::parse("2015-09-23T20:57:42.146Z").unwrap();
        assert_eq!(t.to_string(), "2015-09-23T20:57:42.146Z");
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2015-09-23T20:57:42.146Z\""
        );
        assert!(Timestamp::parse("2015-09-23 20:57").is_err());
    }

    #[test]
    fn periods_at_the_ends_of_the_range_saturate() {
        for tf in [
            Timeframe::M1,
            Timeframe::D1,
            Timeframe::W1,
            Timeframe::from_seconds(7 * 86_400 + 1).unwrap(),
        ] {
            for t in [i64::MIN, i64::MIN + 1, i64::MAX - 1, i64::MAX] {
                let start = tf.period_start(Timestamp::from_nanos(t));
                let _ = tf.period_end(start);
            }
        }
        // Epoch-anchored periods reach the very first instant.
        for tf in [Timeframe::M1, Timeframe::D1] {
            assert_eq!(
                tf.period_start(Timestamp::from_nanos(i64::MIN)),
                Timestamp::from_nanos(i64::MIN)
            );
        }
    }
}

//! Calendar arithmetic for the time axis: UTC civil dates from nanoseconds, and date ticks
//! on round calendar boundaries (years, months, weeks, days, hours, minutes, seconds).
//!
//! The calendar itself is `domain::calendar` (the workspace's one); the axis arithmetic
//! is in `i128` nanoseconds, which no `Timestamp` can overflow.

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const SECONDS_PER_DAY: i128 = 86_400;
const NANOS_PER_DAY: i128 = SECONDS_PER_DAY * NANOS_PER_SECOND;
/// 1970-01-05, the first Monday after the epoch, counted in days.
const FIRST_MONDAY: i128 = 4;
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Year, month and day of a day counted from 1970-01-01 (`domain::calendar`, in the
/// chart's `i128`; every day a `Timestamp` can name fits `i64`).
pub(crate) fn civil_from_days(days: i128) -> (i128, u32, u32) {
    let days = i64::try_from(days).unwrap_or(if days < 0 { i64::MIN / 2 } else { i64::MAX / 2 });
    let (year, month, day) = domain::calendar::civil_from_days(days);
    (i128::from(year), month, day)
}

/// Days from 1970-01-01 to the civil date; the inverse of [`civil_from_days`].
pub(crate) fn days_from_civil(year: i128, month: u32, day: u32) -> i128 {
    let year = i64::try_from(year).unwrap_or(if year < 0 {
        i64::MIN / 800
    } else {
        i64::MAX / 800
    });
    i128::from(domain::calendar::days_from_civil(year, month, day))
}

/// A UTC instant split into its calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i128,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Civil {
    pub(crate) fn at(nanos: i128) -> Civil {
        let days = nanos.div_euclid(NANOS_PER_DAY);
        let second_of_day = nanos.rem_euclid(NANOS_PER_DAY) / NANOS_PER_SECOND;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (second_of_day / 3600) as u32,
            minute: (second_of_day / 60 % 60) as u32,
            second: (second_of_day % 60) as u32,
        }
    }

    fn month_name(self) -> &'static str {
        MONTHS[(self.month as usize).saturating_sub(1) % 12]
    }

    /// `Mar 14, 2024`
    pub(crate) fn date(self) -> String {
        format!("{} {}, {}", self.month_name(), self.day, self.year)
    }

    /// `09:30`
    fn hour_minute(self) -> String {
        format!("{:02}:{:02}", self.hour, self.minute)
    }
}

/// How far apart date ticks are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Seconds(i128),
    Days(i128),
    /// Weeks start on Mondays.
    Weeks(i128),
    Months(i128),
    Years(i128),
}

impl Step {
    /// Rough length in seconds, to skip steps that would give far too many ticks.
    fn approx_seconds(self) -> i128 {
        match self {
            Step::Seconds(n) => n,
            Step::Days(n) => n * SECONDS_PER_DAY,
            Step::Weeks(n) => 7 * n * SECONDS_PER_DAY,
            Step::Months(n) => n * 2_629_746,
            Step::Years(n) => n * 31_556_952,
        }
    }
}

/// Candidate steps from the finest to the coarsest.
const STEPS: [Step; 40] = [
    Step::Seconds(1),
    Step::Seconds(2),
    Step::Seconds(3),
    Step::Seconds(5),
    Step::Seconds(10),
    Step::Seconds(15),
    Step::Seconds(30),
    Step::Seconds(60),
    Step::Seconds(2 * 60),
    Step::Seconds(3 * 60),
    Step::Seconds(5 * 60),
    Step::Seconds(10 * 60),
    Step::Seconds(15 * 60),
    Step::Seconds(30 * 60),
    Step::Seconds(3600),
    Step::Seconds(2 * 3600),
    Step::Seconds(3 * 3600),
    Step::Seconds(4 * 3600),
    Step::Seconds(6 * 3600),
    Step::Seconds(12 * 3600),
    Step::Days(1),
    Step::Days(2),
    Step::Days(3),
    Step::Days(4),
    Step::Weeks(1),
    Step::Weeks(2),
    Step::Months(1),
    Step::Months(2),
    Step::Months(3),
    Step::Months(6),
    Step::Years(1),
    Step::Years(2),
    Step::Years(4),
    Step::Years(5),
    Step::Years(10),
    Step::Years(20),
    Step::Years(25),
    Step::Years(50),
    Step::Years(100),
    Step::Years(200),
];

/// The number of date labels the axis aims for; 5 to 8 is readable at 900 px.
const MIN_TICKS: usize = 5;
const MAX_TICKS: usize = 8;
const IDEAL_TICKS: usize = 6;

/// A labelled tick on the time axis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TimeTick {
    pub nanos: i128,
    pub label: String,
}

/// Ticks on round calendar boundaries within `[start, end]`, the step chosen by the span:
/// the one giving 5–8 ticks closest to 6 (the coarser on a tie), or, if none does, the one
/// whose count is nearest that range, counting a missing tick twice as bad as an extra one.
pub(crate) fn time_ticks(start: i128, end: i128) -> Vec<TimeTick> {
    let (start, end) = (start.min(end), start.max(end));
    let span_seconds = (end - start) / NANOS_PER_SECOND;
    let mut best: Option<(usize, usize, Step, Vec<i128>)> = None;
    for step in STEPS {
        if span_seconds / step.approx_seconds() > 3 * MAX_TICKS as i128 {
            continue;
        }
        let ticks = ticks_for(step, start, end);
        let count = ticks.len();
        // Too few labels reads worse than one too many.
        let outside = 2 * MIN_TICKS.saturating_sub(count) + count.saturating_sub(MAX_TICKS);
        let off_ideal = count.abs_diff(IDEAL_TICKS);
        let better = match &best {
            None => true,
            Some((o, i, ..)) => (outside, off_ideal) <= (*o, *i),
        };
        if better && count >= 2 {
            best = Some((outside, off_ideal, step, ticks));
        }
    }
    let Some((_, _, step, ticks)) = best else {
        return [start, end]
            .into_iter()
            .map(|nanos| {
                let c = Civil::at(nanos);
                let label = format!("{}:{:02}", c.hour_minute(), c.second);
                TimeTick { nanos, label }
            })
            .collect();
    };
    ticks
        .into_iter()
        .map(|nanos| TimeTick {
            nanos,
            label: label(step, nanos),
        })
        .collect()
}

/// Every boundary of `step` in `[start, end]`.
fn ticks_for(step: Step, start: i128, end: i128) -> Vec<i128> {
    let mut ticks = Vec::new();
    let mut push = |nanos: i128| {
        if (start..=end).contains(&nanos) {
            ticks.push(nanos);
        }
    };
    let first_day = start.div_euclid(NANOS_PER_DAY);
    let last_day = end.div_euclid(NANOS_PER_DAY);
    match step {
        Step::Seconds(n) => {
            let size = n * NANOS_PER_SECOND;
            let first = start.div_euclid(size) + i128::from(start.rem_euclid(size) != 0);
            let mut k = first;
            while k * size <= end {
                push(k * size);
                k += 1;
            }
        }
        Step::Days(n) | Step::Weeks(n) => {
            let (size, anchor) = match step {
                Step::Weeks(_) => (7 * n, FIRST_MONDAY),
                _ => (n, 0),
            };
            let mut day = first_day + (anchor - first_day).rem_euclid(size);
            while day <= last_day {
                push(day * NANOS_PER_DAY);
                day += size;
            }
        }
        Step::Months(n) => {
            let (year, month, _) = civil_from_days(first_day);
            let (last_year, last_month, _) = civil_from_days(last_day);
            let last_index = last_year * 12 + i128::from(last_month) - 1;
            let mut index = year * 12 + i128::from(month) - 1;
            index += (-index).rem_euclid(n);
            while index <= last_index {
                let (y, m) = (index.div_euclid(12), (index.rem_euclid(12) + 1) as u32);
                push(days_from_civil(y, m, 1) * NANOS_PER_DAY);
                index += n;
            }
        }
        Step::Years(n) => {
            let (first_year, ..) = civil_from_days(first_day);
            let (last_year, ..) = civil_from_days(last_day);
            let mut year = first_year + (-first_year).rem_euclid(n);
            while year <= last_year {
                push(days_from_civil(year, 1, 1) * NANOS_PER_DAY);
                year += n;
            }
        }
    }
    ticks
}

/// The label of a tick: `2024`, `Mar 2024`, `Mar 14`, `09:30`, `09:30:15`. Intraday ticks
/// that fall on midnight show the date instead, so a multi-day intraday axis still says
/// which day is which.
fn label(step: Step, nanos: i128) -> String {
    let c = Civil::at(nanos);
    match step {
        Step::Years(_) => c.year.to_string(),
        Step::Months(_) => format!("{} {}", c.month_name(), c.year),
        Step::Days(_) | Step::Weeks(_) => format!("{} {}", c.month_name(), c.day),
        Step::Seconds(_) if c.hour == 0 && c.minute == 0 && c.second == 0 => {
            format!("{} {}", c.month_name(), c.day)
        }
        Step::Seconds(n) if n < 60 => format!("{}:{:02}", c.hour_minute(), c.second),
        Step::Seconds(_) => c.hour_minute(),
    }
}

/// The period a chart covers, for its subtitle: dates for spans of a week or more, dates
/// and times (UTC) for shorter ones.
pub(crate) fn period_label(start: i128, end: i128) -> String {
    let (a, b) = (Civil::at(start), Civil::at(end));
    if end - start >= 7 * NANOS_PER_DAY {
        format!("{} – {}", a.date(), b.date())
    } else if (a.year, a.month, a.day) == (b.year, b.month, b.day) {
        format!("{}, {}–{} UTC", a.date(), a.hour_minute(), b.hour_minute())
    } else {
        format!(
            "{} {} – {} {} UTC",
            a.date(),
            a.hour_minute(),
            b.date(),
            b.hour_minute()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(year: i128, month: u32, day: u32, hour: i128, minute: i128) -> i128 {
        days_from_civil(year, month, day) * NANOS_PER_DAY
            + (hour * 3600 + minute * 60) * NANOS_PER_SECOND
    }

    fn labels(start: i128, end: i128) -> Vec<String> {
        time_ticks(start, end)
            .into_iter()
            .map(|t| t.label)
            .collect()
    }

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for days in (-200_000..200_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(Civil::at(at(2024, 3, 14, 9, 30)).hour_minute(), "09:30");
    }

    #[test]
    fn multi_year_spans_label_years() {
        assert_eq!(
            labels(at(2019, 6, 1, 0, 0), at(2025, 3, 1, 0, 0)),
            ["2020", "2021", "2022", "2023", "2024", "2025"]
        );
        let decades = labels(at(1900, 1, 1, 0, 0), at(2200, 1, 1, 0, 0));
        assert_eq!(
            decades,
            ["1900", "1950", "2000", "2050", "2100", "2150", "2200"]
        );
    }

    #[test]
    fn a_year_labels_months() {
        assert_eq!(
            labels(at(2023, 1, 1, 0, 0), at(2023, 12, 31, 0, 0)),
            [
                "Jan 2023", "Mar 2023", "May 2023", "Jul 2023", "Sep 2023", "Nov 2023"
            ]
        );
    }

    #[test]
    fn weeks_label_mondays_and_days_label_days() {
        // 2024-03-04 is a Monday.
        let weeks = labels(at(2024, 3, 1, 0, 0), at(2024, 4, 12, 0, 0));
        assert_eq!(
            weeks,
            ["Mar 4", "Mar 11", "Mar 18", "Mar 25", "Apr 1", "Apr 8"]
        );
        let days = labels(at(2024, 3, 1, 0, 0), at(2024, 3, 7, 12, 0));
        assert_eq!(
            days,
            [
                "Mar 1", "Mar 2", "Mar 3", "Mar 4", "Mar 5", "Mar 6", "Mar 7"
            ]
        );
    }

    #[test]
    fn a_session_labels_hours() {
        assert_eq!(
            labels(at(2024, 3, 14, 9, 30), at(2024, 3, 14, 16, 0)),
            [
                "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00"
            ]
        );
        let overnight = labels(at(2024, 3, 14, 20, 0), at(2024, 3, 15, 8, 0));
        assert!(overnight.contains(&"Mar 15".to_string()), "{overnight:?}");
        let minute = labels(at(2024, 3, 14, 9, 30), at(2024, 3, 14, 9, 31));
        assert!(
            minute.iter().all(|l| l.starts_with("09:3") && l.len() == 8),
            "{minute:?}"
        );
    }

    #[test]
    fn every_span_gets_a_readable_axis() {
        let start = at(2020, 1, 1, 0, 0);
        let mut span = 3 * NANOS_PER_SECOND;
        while span < 250 * 365 * NANOS_PER_DAY {
            let ticks = time_ticks(start, start + span);
            assert!(
                (4..=9).contains(&ticks.len()),
                "span {}s: {ticks:?}",
                span / NANOS_PER_SECOND
            );
            assert!(ticks.windows(2).all(|w| w[0].nanos < w[1].nanos));
            span = span * 13 / 10;
        }
    }

    #[test]
    fn periods() {
        assert_eq!(
            period_label(at(2020, 1, 2, 0, 0), at(2024, 12, 31, 0, 0)),
            "Jan 2, 2020 – Dec 31, 2024"
        );
        assert_eq!(
            period_label(at(2024, 3, 14, 9, 30), at(2024, 3, 14, 16, 0)),
            "Mar 14, 2024, 09:30–16:00 UTC"
        );
        assert_eq!(
            period_label(at(2024, 3, 14, 9, 30), at(2024, 3, 16, 16, 0)),
            "Mar 14, 2024 09:30 – Mar 16, 2024 16:00 UTC"
        );
    }
}

//! The proleptic Gregorian calendar as day counts: civil dates to days since
//! 1970-01-01 and back (Howard Hinnant's `days_from_civil` / `civil_from_days`), and month
//! lengths. The one calendar of the workspace: the CSV reader turns dates into times
//! with it, the chart puts its date ticks on round calendar boundaries with it. (chrono
//! is at the edges; these run per CSV row and per tick, where a division-free integer
//! formula is measurably cheaper.)

/// Days from 1970-01-01 to `year-month-day` (month 1–12, day 1–31; not checked: see
/// [`days_in_month`]).
#[inline]
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Year, month (1–12) and day (1–31) of a day counted from 1970-01-01; the inverse of
/// [`days_from_civil`].
#[inline]
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both in range by construction: day 1–31, month 1–12.
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days in `month` (1–12) of `year`; 0 for a month outside 1–12.
#[inline]
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates_and_round_trips() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for days in -800_000..800_000 {
            let (y, m, d) = civil_from_days(days);
            assert!(d >= 1 && d <= days_in_month(y, m), "{y}-{m}-{d}");
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn agrees_with_chrono() {
        for (y, m, d) in [
            (1, 1, 1),
            (1600, 2, 29),
            (1900, 2, 28),
            (2024, 12, 31),
            (9999, 6, 15),
        ] {
            let date = chrono::NaiveDate::from_ymd_opt(y, m, d).expect("date");
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
            assert_eq!(
                days_from_civil(i64::from(y), m, d),
                (date - epoch).num_days()
            );
        }
    }
}

//! The shipped NYSE calendar against `exchange_calendars` itself: every session of five
//! years and every early close of all years, as that package computes them
//! (`tests/data/xnys_sessions.csv`, written by `scripts/gen-calendars`).

use domain::trading_calendar::SessionLookup;
use domain::{CalendarCode, NaiveDate, Timestamp};

#[test]
fn every_session_opens_and_closes_when_exchange_calendars_says() {
    let calendar = CalendarCode::Xnys.calendar();
    let text = include_str!("data/xnys_sessions.csv");
    let mut checked = 0;
    for (n, line) in text.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let date: NaiveDate = fields[0].parse().unwrap();
        let open = Timestamp::parse(fields[1]).unwrap();
        let close = Timestamp::parse(fields[2]).unwrap();
        match calendar.session(date) {
            SessionLookup::Session(s) => {
                assert_eq!((s.open, s.close), (open, close), "line {}: {date}", n + 1);
                assert_eq!(calendar.is_open(open), Some(true), "{date} open");
                assert_eq!(calendar.day_order_expiry(open), close, "{date} expiry");
            }
            other => panic!("line {}: {date} is {other:?}, not a session", n + 1),
        }
        checked += 1;
    }
    assert!(checked > 1_000, "{checked} sessions");
}

#[test]
fn the_years_of_the_vector_have_no_other_sessions() {
    let calendar = CalendarCode::Xnys.calendar();
    let text = include_str!("data/xnys_sessions.csv");
    for year in [2001, 2012, 2024, 2026, 2027] {
        let from = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
        let to = NaiveDate::from_ymd_opt(year, 12, 31).unwrap();
        let (sessions, _) = calendar.schedule(from, to);
        let expected = text
            .lines()
            .filter(|l| l.starts_with(&format!("{year}-")))
            .count();
        assert_eq!(sessions.len(), expected, "{year}");
    }
}

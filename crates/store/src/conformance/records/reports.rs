//! `ReportRecords`: one row per account and day, replaced when saved again, read by an
//! inclusive range of days.

use super::*;
use domain::{NaiveDate, ReportRow};

fn day(text: &str) -> NaiveDate {
    text.parse().expect("day")
}

pub async fn report_rows_are_kept_per_account_and_day<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn RecordStore>>,
{
    let s = factory().await;
    s.create_account(&account(1, 10)).await.expect("create");
    s.create_account(&account(2, 20)).await.expect("create");
    for d in ["2026-11-20", "2026-11-21", "2026-11-22"] {
        let row = ReportRow {
            account_id: AccountId::from_u128(1),
            day: day(d),
            body: serde_json::json!({"equity": "100"}),
        };
        s.save_report(&row).await.expect("save");
    }
    let updated = ReportRow {
        account_id: AccountId::from_u128(1),
        day: day("2026-11-21"),
        body: serde_json::json!({"equity": "90"}),
    };
    s.save_report(&updated).await.expect("replace");
    let rows = s
        .reports(
            AccountId::from_u128(1),
            day("2026-11-21"),
            day("2026-11-22"),
        )
        .await
        .expect("reports");
    assert_eq!(
        rows.iter().map(|r| r.day).collect::<Vec<_>>(),
        [day("2026-11-21"), day("2026-11-22")]
    );
    assert_eq!(rows[0], updated);
    assert!(
        s.reports(
            AccountId::from_u128(2),
            day("2000-01-01"),
            day("2100-01-01")
        )
        .await
        .expect("none")
        .is_empty(),
        "another account's"
    );
    assert!(
        s.reports(
            AccountId::from_u128(1),
            day("2026-11-22"),
            day("2026-11-20")
        )
        .await
        .expect("reversed")
        .is_empty(),
        "a reversed range is empty"
    );
    // Ranges reaching past the years a store keys by still find every row on that side.
    let all = s
        .reports(AccountId::from_u128(1), NaiveDate::MIN, NaiveDate::MAX)
        .await
        .expect("widest");
    assert_eq!(all.len(), 3);
}

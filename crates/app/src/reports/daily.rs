//! The daily job (an EventBridge schedule in the cloud, a timer in `stratus up`): after a
//! UTC day ends, every account's report row for that day — its equity, cash, P&L as the
//! day closed — and the P&L baseline of the new day, which the daily-loss limit is
//! measured from. Rows are upserted by (account, day), so running the job twice for a
//! day rewrites the same row.

use crate::AppResult;
use crate::display::{Plain, derived_money};
use crate::portfolio;
use crate::state::AppState;
use domain::{NaiveDate, ReportRow, Timestamp};
use serde::Serialize;

/// Accounts read per page.
const PAGE: usize = 200;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DailyOutcome {
    /// The day the rows are for.
    pub day: NaiveDate,
    pub accounts: usize,
    /// Accounts whose valuation failed (logged; the others are still reported).
    pub failed: usize,
}

/// Writes the rows of the day that ended last before `now` (run shortly after midnight
/// UTC, that is yesterday) and today's baselines.
pub async fn run(state: &AppState, now: Timestamp) -> AppResult<DailyOutcome> {
    let today = now.to_datetime().date_naive();
    let ended = today.pred_opt().unwrap_or(today);
    let mut outcome = DailyOutcome {
        day: ended,
        ..DailyOutcome::default()
    };
    let mut after = None;
    loop {
        let page = state.accounts.all_accounts(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for account in &page {
            match report(state, account, ended, today, now).await {
                Ok(()) => outcome.accounts += 1,
                Err(e) => {
                    tracing::error!(account_id = %account.id, error = %e, "daily report failed");
                    outcome.failed += 1;
                }
            }
        }
    }
    tracing::info!(day = %ended, accounts = outcome.accounts, failed = outcome.failed, "daily reports written");
    Ok(outcome)
}

async fn report(
    state: &AppState,
    account: &domain::Account,
    day: NaiveDate,
    today: NaiveDate,
    now: Timestamp,
) -> AppResult<()> {
    let v = portfolio::value(state, account).await?;
    let currency = account.base_currency;
    let unix = now.nanos().div_euclid(1_000_000_000);
    // The day that ended had its baseline recorded at its start (or first use).
    let baseline = state
        .risk
        .day_baseline(account.id, &day.to_string(), v.total_pnl, unix)
        .await?;
    let day_pnl = v
        .total_pnl
        .checked_sub(baseline)
        .map_err(crate::AppError::from)?;
    let row = ReportRow {
        account_id: account.id,
        day,
        body: serde_json::json!({
            "as_of": now,
            "equity": derived_money(v.equity, currency),
            "cash": v.cash.plain(),
            "positions_value": derived_money(v.positions_value, currency),
            "realized_pnl": derived_money(v.realized_pnl, currency),
            "unrealized_pnl": derived_money(v.unrealized_pnl, currency),
            "fees": v.fees.plain(),
            "total_pnl": derived_money(v.total_pnl, currency),
            "day_pnl": derived_money(day_pnl, currency),
            "exposed": !v.positions.is_empty(),
        }),
    };
    state.reports.save_report(&row).await?;
    state
        .risk
        .day_baseline(account.id, &today.to_string(), v.total_pnl, unix)
        .await?;
    Ok(())
}

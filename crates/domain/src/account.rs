//! Accounts, their cash ledger (every movement of their cash) and their daily report rows.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, EventId, UserId};
use crate::num::Money;
use crate::symbol::Currency;
use crate::time::Timestamp;

/// Whose fills an account trades on: the platform's paper matching, or a connected broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    Paper,
    Broker,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Paper => "paper",
            AccountKind::Broker => "broker",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "paper" => Some(AccountKind::Paper),
            "broker" => Some(AccountKind::Broker),
            _ => None,
        }
    }
}

/// A trading account of one user, with cash in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub user_id: UserId,
    pub name: String,
    pub kind: AccountKind,
    pub base_currency: Currency,
    /// Cash as the ledger has it (the sum of its entries).
    pub cash: Money,
    pub created_at: Timestamp,
}

/// Why cash moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    /// Cash paid in by the user.
    Deposit,
    /// Cash paid out to the user.
    Withdrawal,
    /// A fill's cash: a purchase's cost or a sale's proceeds, net of its fee.
    Trade,
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Deposit => "deposit",
            LedgerKind::Withdrawal => "withdrawal",
            LedgerKind::Trade => "trade",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "deposit" => Some(LedgerKind::Deposit),
            "withdrawal" => Some(LedgerKind::Withdrawal),
            "trade" => Some(LedgerKind::Trade),
            _ => None,
        }
    }
}

impl std::fmt::Display for LedgerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One movement of cash. Its id is deterministic (derived from what caused it), so posting
/// the same entry twice applies it once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub id: EventId,
    pub account_id: AccountId,
    pub kind: LedgerKind,
    /// Signed: deposits and sale proceeds positive, withdrawals and purchases negative.
    pub amount: Money,
    pub reference: String,
    pub time: Timestamp,
}

/// A ledger entry as stored, with the balance it left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostedEntry {
    pub entry: LedgerEntry,
    pub balance_after: Money,
}

/// One day's report row of an account (metrics as the daily report job computed them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    pub account_id: AccountId,
    /// The UTC day the row reports on (`YYYY-MM-DD` in JSON and in the stores).
    pub day: NaiveDate,
    pub body: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in [AccountKind::Paper, AccountKind::Broker] {
            assert_eq!(AccountKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        for kind in [
            LedgerKind::Deposit,
            LedgerKind::Withdrawal,
            LedgerKind::Trade,
        ] {
            assert_eq!(LedgerKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
        }
        assert_eq!(AccountKind::parse("Paper"), None);
        assert_eq!(LedgerKind::parse("fee"), None);
    }
}

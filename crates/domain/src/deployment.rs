//! A strategy deployment: a built-in strategy running for an account on some symbols and
//! timeframes.

use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, StrategyId};
use crate::symbol::Symbol;
use crate::time::{Timeframe, Timestamp};

/// A strategy deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyRecord {
    pub id: StrategyId,
    pub account_id: AccountId,
    /// The built-in strategy's name (`sma_cross`, …).
    pub strategy: String,
    pub symbols: Vec<Symbol>,
    pub timeframes: Vec<Timeframe>,
    pub params: serde_json::Value,
    pub status: StrategyStatus,
    pub created_at: Timestamp,
}

/// Where a deployment is in its life: running and paused ones are restored when the core
/// starts; a stopped one never runs again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyStatus {
    Running,
    Paused,
    Stopped,
}

impl StrategyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyStatus::Running => "running",
            StrategyStatus::Paused => "paused",
            StrategyStatus::Stopped => "stopped",
        }
    }
}

//! A strategy deployment: a built-in strategy or a user's module running for an account
//! on some symbols and timeframes.

use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, StrategyId};
use crate::symbol::Symbol;
use crate::time::{Timeframe, Timestamp};

/// A strategy deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyRecord {
    pub id: StrategyId,
    pub account_id: AccountId,
    /// The built-in strategy's name (`sma_cross`, …), or `wasm:<module id>`.
    pub strategy: String,
    pub symbols: Vec<Symbol>,
    pub timeframes: Vec<Timeframe>,
    pub params: serde_json::Value,
    pub status: StrategyStatus,
    pub created_at: Timestamp,
    /// Why the core stopped it, when it did (a module that faulted or could not be
    /// loaded, parameters the engine refused); `None` for a deployment its owner stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
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

//! A research job: a backtest or an optimisation one user submitted, run by a worker over
//! the stored candle history. Its request and result are JSON documents the research
//! function defines; the system of record keeps them with the job's state.

use serde::{Deserialize, Serialize};

use crate::ids::{JobId, UserId};
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Backtest,
    Optimization,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Backtest => "backtest",
            JobKind::Optimization => "optimization",
        }
    }
}

/// Queued → running → succeeded or failed. A job running when its process stopped is
/// failed (with that reason) when a worker starts again, never left running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed)
    }
}

/// See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResearchJob {
    pub id: JobId,
    pub user_id: UserId,
    pub kind: JobKind,
    pub status: JobStatus,
    /// What was asked (the research function's request document).
    pub request: serde_json::Value,
    /// Share done, 0 to 1.
    pub progress: f64,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// Why it failed.
    pub error: Option<String>,
    /// What it found (when it succeeded).
    pub result: Option<serde_json::Value>,
}

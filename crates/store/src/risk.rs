//! Per-account risk settings and state, written once over [`KvTable`] (the `accounts`
//! table): the limits an account's owner set, the halt that a breached daily-loss limit
//! puts on new orders, and each day's P&L baseline that the daily loss is measured from.
//!
//! The store keeps values; deciding what breaches a limit is the account and orders
//! functions' business.

use std::collections::BTreeMap;
use std::sync::Arc;

use domain::{AccountId, Decimal, Money, Symbol};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, StoreResult};
use crate::kv::{Condition, KvTable, UnixSeconds};

/// What an account may do; `None` is "no limit".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskLimits {
    /// The largest notional (quantity × price) of one order.
    pub max_order_notional: Option<Money>,
    /// The largest absolute position in any one symbol, in units, counting open orders.
    pub max_position: Option<Decimal>,
    /// Per-symbol overrides of `max_position`.
    #[serde(default)]
    pub max_position_by_symbol: BTreeMap<Symbol, Decimal>,
    /// The largest loss in one UTC day before new orders are refused for the rest of it.
    pub max_daily_loss: Option<Money>,
}

impl RiskLimits {
    /// The position limit that applies to `symbol`.
    pub fn max_position_for(&self, symbol: Symbol) -> Option<Decimal> {
        self.max_position_by_symbol
            .get(&symbol)
            .copied()
            .or(self.max_position)
    }
}

/// New orders are refused for the rest of `day`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Halt {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub reason: String,
    pub at: UnixSeconds,
}

/// See the module docs.
#[derive(Clone)]
pub struct RiskStore {
    kv: Arc<dyn KvTable>,
}

impl std::fmt::Debug for RiskStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RiskStore")
    }
}

fn pk(account: AccountId) -> String {
    format!("account#{account}")
}

/// Baselines are needed for their day only; keep them a little longer for inspection.
const BASELINE_TTL_SECONDS: i64 = 3 * 86_400;

impl RiskStore {
    pub fn new(kv: Arc<dyn KvTable>) -> Self {
        RiskStore { kv }
    }

    pub async fn limits(&self, account: AccountId) -> StoreResult<RiskLimits> {
        match self.kv.get(&pk(account), "risk-limits").await? {
            Some(item) => Ok(serde_json::from_value(item.body)?),
            None => Ok(RiskLimits::default()),
        }
    }

    pub async fn set_limits(&self, account: AccountId, limits: &RiskLimits) -> StoreResult<()> {
        self.kv
            .put(
                &pk(account),
                "risk-limits",
                serde_json::to_value(limits)?,
                None,
                Condition::Always,
            )
            .await
            .map(|_| ())
    }

    /// Halts new orders for the rest of `halt.day` (the first halt of a day is kept).
    pub async fn halt(&self, account: AccountId, halt: &Halt) -> StoreResult<Halt> {
        let key = pk(account);
        loop {
            let current = self.kv.get(&key, "halt").await?;
            if let Some(item) = &current {
                let existing: Halt = serde_json::from_value(item.body.clone())?;
                if existing.day == halt.day {
                    return Ok(existing);
                }
            }
            let condition = current
                .as_ref()
                .map_or(Condition::IfAbsent, |c| Condition::IfVersion(c.version));
            match self
                .kv
                .put(&key, "halt", serde_json::to_value(halt)?, None, condition)
                .await
            {
                Ok(_) => return Ok(halt.clone()),
                Err(e) if e.kind() == ErrorKind::ConditionFailed => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The halt in force on `day`, if any.
    pub async fn halted(&self, account: AccountId, day: &str) -> StoreResult<Option<Halt>> {
        let Some(item) = self.kv.get(&pk(account), "halt").await? else {
            return Ok(None);
        };
        let halt: Halt = serde_json::from_value(item.body)?;
        Ok((halt.day == day).then_some(halt))
    }

    /// The P&L baseline of `day`: the first value recorded for it wins (racing writers
    /// agree on one), and that value is returned.
    pub async fn day_baseline(
        &self,
        account: AccountId,
        day: &str,
        candidate: Money,
        now: UnixSeconds,
    ) -> StoreResult<Money> {
        let key = pk(account);
        let sk = format!("baseline#{day}");
        let body = serde_json::json!({ "pnl": candidate });
        match self
            .kv
            .put(
                &key,
                &sk,
                body,
                Some(now + BASELINE_TTL_SECONDS),
                Condition::IfAbsent,
            )
            .await
        {
            Ok(_) => Ok(candidate),
            Err(e) if e.kind() == ErrorKind::ConditionFailed => {
                match self.kv.get(&key, &sk).await? {
                    Some(item) => Ok(serde_json::from_value(item.body["pnl"].clone())?),
                    // Expired in between: the candidate is as good a baseline as any.
                    None => Ok(candidate),
                }
            }
            Err(e) => Err(e),
        }
    }
}

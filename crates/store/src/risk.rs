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

/// See the module docs. Reads are cached in the process (every order reads them): limits
/// for a second (and dropped at once when this process sets them), a day's baseline for
/// good (it never changes), a day's halt for good once placed.
#[derive(Clone)]
pub struct RiskStore {
    kv: Arc<dyn KvTable>,
    cache: Arc<std::sync::Mutex<RiskCache>>,
}

#[derive(Default)]
struct RiskCache {
    limits: std::collections::HashMap<AccountId, (std::time::Instant, RiskLimits)>,
    baselines: std::collections::HashMap<(AccountId, String), Money>,
    halts: std::collections::HashMap<(AccountId, String), (std::time::Instant, Option<Halt>)>,
}

/// How long a cached limit or a "not halted" answer is used.
const CACHE_FOR: std::time::Duration = std::time::Duration::from_secs(1);
/// Entries kept before the cache is emptied (it only ever holds hot accounts).
const CACHE_ENTRIES: usize = 10_000;

impl RiskStore {
    fn cached<T>(&self, f: impl FnOnce(&mut RiskCache) -> T) -> T {
        let mut guard = match self.cache.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if guard.limits.len() + guard.baselines.len() + guard.halts.len() > CACHE_ENTRIES {
            *guard = RiskCache::default();
        }
        f(&mut guard)
    }
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
        RiskStore {
            kv,
            cache: Arc::default(),
        }
    }

    pub async fn limits(&self, account: AccountId) -> StoreResult<RiskLimits> {
        let hit = self.cached(|c| {
            c.limits
                .get(&account)
                .filter(|(at, _)| at.elapsed() < CACHE_FOR)
                .map(|(_, l)| l.clone())
        });
        if let Some(limits) = hit {
            return Ok(limits);
        }
        let limits = match self.kv.get(&pk(account), "risk-limits").await? {
            Some(item) => serde_json::from_value(item.body)?,
            None => RiskLimits::default(),
        };
        self.cached(|c| {
            c.limits
                .insert(account, (std::time::Instant::now(), limits.clone()))
        });
        Ok(limits)
    }

    pub async fn set_limits(&self, account: AccountId, limits: &RiskLimits) -> StoreResult<()> {
        self.cached(|c| c.limits.remove(&account));
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
                Ok(_) => {
                    self.cached(|c| {
                        c.halts.insert(
                            (account, halt.day.clone()),
                            (std::time::Instant::now(), Some(halt.clone())),
                        )
                    });
                    return Ok(halt.clone());
                }
                Err(e) if e.kind() == ErrorKind::ConditionFailed => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The halt in force on `day`, if any.
    pub async fn halted(&self, account: AccountId, day: &str) -> StoreResult<Option<Halt>> {
        let key = (account, day.to_owned());
        let hit = self.cached(|c| {
            c.halts
                .get(&key)
                .filter(|(at, h)| h.is_some() || at.elapsed() < CACHE_FOR)
                .map(|(_, h)| h.clone())
        });
        if let Some(halt) = hit {
            return Ok(halt);
        }
        let halt = match self.kv.get(&pk(account), "halt").await? {
            Some(item) => {
                let halt: Halt = serde_json::from_value(item.body)?;
                (halt.day == day).then_some(halt)
            }
            None => None,
        };
        self.cached(|c| {
            c.halts
                .insert(key, (std::time::Instant::now(), halt.clone()))
        });
        Ok(halt)
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
        let cache_key = (account, day.to_owned());
        if let Some(b) = self.cached(|c| c.baselines.get(&cache_key).copied()) {
            return Ok(b);
        }
        let key = pk(account);
        let sk = format!("baseline#{day}");
        // Read first: after the day's first valuation every call finds it.
        if let Some(item) = self.kv.get(&key, &sk).await? {
            let b: Money = serde_json::from_value(item.body["pnl"].clone())?;
            self.cached(|c| c.baselines.insert(cache_key, b));
            return Ok(b);
        }
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
            Ok(_) => {
                self.cached(|c| c.baselines.insert(cache_key, candidate));
                Ok(candidate)
            }
            Err(e) if e.kind() == ErrorKind::ConditionFailed => {
                match self.kv.get(&key, &sk).await? {
                    Some(item) => {
                        let b: Money = serde_json::from_value(item.body["pnl"].clone())?;
                        self.cached(|c| c.baselines.insert(cache_key, b));
                        Ok(b)
                    }
                    // Expired in between: the candidate is as good a baseline as any.
                    None => Ok(candidate),
                }
            }
            Err(e) => Err(e),
        }
    }
}

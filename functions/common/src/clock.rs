//! Time for the functions, passed in so tests can move it (token expiry, lockouts, TTLs).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use domain::Timestamp;

/// A source of the current time. See the module docs.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    pub fn system() -> Self {
        Clock(Arc::new(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            Timestamp::from_nanos(nanos)
        }))
    }

    /// A clock that reads `time`, which the caller moves.
    pub fn manual(time: Arc<AtomicI64>) -> Self {
        Clock(Arc::new(move || {
            Timestamp::from_nanos(time.load(Ordering::SeqCst))
        }))
    }

    pub fn now(&self) -> Timestamp {
        (self.0)()
    }

    /// Unix seconds, as the key-value TTLs count.
    pub fn unix_seconds(&self) -> i64 {
        self.now().nanos().div_euclid(1_000_000_000)
    }

    /// The same clock for the store adapters (their TTL checks).
    pub fn for_store(&self) -> store::kv::Clock {
        let clock = self.clone();
        store::kv::Clock::from_fn(move || clock.unix_seconds())
    }

    /// Today's UTC date, `YYYY-MM-DD`.
    pub fn today(&self) -> String {
        self.now().to_datetime().format("%Y-%m-%d").to_string()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

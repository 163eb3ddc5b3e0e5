//! [`Clock`]: the one source of the current time, passed in so tests can move it (token
//! expiry, lockouts, TTLs, day boundaries). The engine takes its time from its inputs,
//! not from a clock; the edges — functions, the core's runner, store adapters checking
//! expiry — read one of these. Only [`Clock::system`] reads the machine's clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::time::Timestamp;

/// See the module docs.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    /// The machine's clock.
    #[allow(clippy::disallowed_methods)] // the one place that reads the machine's clock
    pub fn system() -> Self {
        Clock(Arc::new(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            Timestamp::from_nanos(nanos)
        }))
    }

    /// A clock that reads `nanos`, which the caller moves.
    pub fn manual(nanos: Arc<AtomicI64>) -> Self {
        Clock(Arc::new(move || {
            Timestamp::from_nanos(nanos.load(Ordering::SeqCst))
        }))
    }

    /// A clock that asks `f`.
    pub fn from_fn(f: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        Clock(Arc::new(f))
    }

    pub fn now(&self) -> Timestamp {
        (self.0)()
    }

    /// Whole seconds since the epoch (key-value TTLs count these).
    pub fn unix_seconds(&self) -> i64 {
        self.now().nanos().div_euclid(1_000_000_000)
    }

    /// Today's UTC date, `YYYY-MM-DD`.
    pub fn today(&self) -> String {
        self.now().to_datetime().format("%Y-%m-%d").to_string()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

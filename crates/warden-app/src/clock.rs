//! The one place that reads the real clock. Everything else takes `now` from a [`Clock`].

use std::sync::atomic::{AtomicI64, Ordering};

use warden_domain::time::Timestamp;

/// A source of the current time.
pub trait Clock: std::fmt::Debug + Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The real clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp(ms)
    }
}

/// The real clock shifted by a settable offset: benchmarks replay a schedule armed for a
/// fixed epoch in real time.
#[derive(Debug, Default)]
pub struct ShiftedClock {
    shift: AtomicI64,
}

impl ShiftedClock {
    /// Makes the clock read `at` now.
    pub fn set_now(&self, at: Timestamp) {
        self.shift
            .store(at.0 - SystemClock.now().0, Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> Timestamp {
        Timestamp(SystemClock.now().0 + self.shift.load(Ordering::SeqCst))
    }
}

/// A clock tests move by hand.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock showing `ms`.
    pub fn new(ms: i64) -> Self {
        ManualClock(AtomicI64::new(ms))
    }

    /// Moves the clock forward.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

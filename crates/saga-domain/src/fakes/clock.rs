//! A clock tests set and advance by hand.

use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};

use super::lock;
use crate::ports::Clock;

/// A clock that reads what it was last set to.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock reading `now`.
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(now),
        }
    }

    /// A clock reading the RFC 3339 instant `rfc3339`; panics on a bad literal
    /// (test code only).
    pub fn at_rfc3339(rfc3339: &str) -> Self {
        let now = DateTime::parse_from_rfc3339(rfc3339)
            .unwrap_or_else(|error| panic!("bad test instant {rfc3339:?}: {error}"))
            .with_timezone(&Utc);
        Self::at(now)
    }

    /// Sets the time.
    pub fn set(&self, now: DateTime<Utc>) {
        *lock(&self.now) = now;
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: TimeDelta) {
        let mut now = lock(&self.now);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.now)
    }
}

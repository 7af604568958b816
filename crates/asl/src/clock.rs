//! Time as a parameter. Wait states, retry back-off, task timeouts and
//! heartbeats all go through a [`Clock`], so tests run hours of workflow
//! time in microseconds and the local endpoint runs on the wall clock.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A source of the current time and of delays.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
    /// Completes after `duration` of this clock's time.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
}

/// The wall clock, with tokio timers.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Virtual time: a fixed starting instant plus tokio's timer clock.
///
/// Run it on a runtime whose time is paused (`#[tokio::test(start_paused =
/// true)]`, or `tokio::runtime::Builder::start_paused(true)`): tokio then
/// jumps straight to the next timer whenever every task is idle, so a
/// one-hour back-off completes at once, deterministically, and `now()`
/// reports the virtual time that passed. `tokio::time::advance` moves it
/// by hand.
#[derive(Debug, Clone, Copy)]
pub struct VirtualClock {
    epoch: DateTime<Utc>,
    origin: tokio::time::Instant,
}

impl VirtualClock {
    /// Starts virtual time at `epoch`. Must be called inside a runtime.
    pub fn starting_at(epoch: DateTime<Utc>) -> Self {
        Self {
            epoch,
            origin: tokio::time::Instant::now(),
        }
    }

    /// Virtual time elapsed since the clock was created.
    pub fn elapsed(&self) -> Duration {
        tokio::time::Instant::now().saturating_duration_since(self.origin)
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed =
            chrono::Duration::from_std(self.elapsed()).unwrap_or(chrono::Duration::zero());
        self.epoch + elapsed
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn virtual_time_advances_without_waiting() {
        let epoch = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = VirtualClock::starting_at(epoch);
        clock.sleep(Duration::from_secs(3600)).await;
        assert_eq!(clock.now(), epoch + chrono::Duration::hours(1));
    }
}

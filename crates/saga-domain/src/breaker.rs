//! A circuit breaker for the payment provider, shared by every instance of
//! the charge function through one stored record ([`BreakerStore`]).
//!
//! The seed's breaker (opossum: open at 50% errors, try again after 30 s)
//! lives in one process; a Lambda function is many processes, each of
//! which would have to find out on its own that the provider is down. Here
//! the state is one item every instance reads before a provider call and
//! updates conditionally after it:
//!
//! - **closed**: calls go through and are counted in fixed windows of
//!   [`BreakerSettings::window_seconds`] (aligned to the epoch, so every
//!   instance agrees which window a call falls in). When a window holds at
//!   least [`BreakerSettings::minimum_calls`] calls and at least
//!   [`BreakerSettings::failure_percent`] of them failed, the breaker opens.
//! - **open**: calls fail at once with `PortError::Unavailable`, without
//!   reaching the provider, until `retry_at` (opened + reset).
//! - after `retry_at` exactly one caller wins the conditional write that
//!   makes it the **probe** (half-open); the others keep failing fast. The
//!   probe's success closes the breaker, its failure opens it for another
//!   reset period. A probe that never reports (its function died) is
//!   replaced after [`BreakerSettings::probe_lease_seconds`].
//!
//! A failure is a call the provider did not answer usefully
//! (`PortError::Unavailable`: network errors, timeouts, 5xx, rate limits).
//! A decline or a refused request is an answer: the provider is up.
//!
//! The breaker protects the provider and the saga's time; it is not what
//! keeps money right (idempotency keys and reconciliation do that). So when
//! the store itself cannot be read or written, the call goes through
//! unguarded and the error is logged: an outage of the breaker's table
//! never stops payments on its own.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::error::PortError;
use crate::ids::OrderId;
use crate::ports::{
    CancelOutcome, CancelRequest, ChargeOutcome, ChargeRequest, Clock, PaymentProvider,
    ProviderCharge, RefundReceipt, RefundRequest,
};

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls go through and are counted.
    Closed,
    /// Calls fail fast until `retry_at`.
    Open,
    /// One probe call is out; the others fail fast.
    HalfOpen,
}

impl BreakerState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "CLOSED",
            BreakerState::Open => "OPEN",
            BreakerState::HalfOpen => "HALF_OPEN",
        }
    }

    /// Parses the stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            BreakerState::Closed,
            BreakerState::Open,
            BreakerState::HalfOpen,
        ]
        .into_iter()
        .find(|state| state.as_str() == name)
    }
}

/// The stored breaker. Times are epoch seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerRecord {
    /// Where the breaker is.
    pub state: BreakerState,
    /// Bumped by every state change; state changes are conditional on it.
    /// Counting calls does not bump it.
    pub version: u64,
    /// The start of the window `calls` and `failures` count.
    pub window_start: i64,
    /// Calls counted in the window (closed only).
    pub calls: u32,
    /// Failed calls among them.
    pub failures: u32,
    /// When it last opened.
    pub opened_at: i64,
    /// When an open breaker lets a probe through.
    pub retry_at: i64,
    /// Until when the current probe holds the half-open breaker.
    pub probe_until: i64,
}

impl BreakerRecord {
    /// A closed breaker that has never counted a call (no item yet).
    pub fn fresh() -> Self {
        Self {
            state: BreakerState::Closed,
            version: 0,
            window_start: 0,
            calls: 0,
            failures: 0,
            opened_at: 0,
            retry_at: 0,
            probe_until: 0,
        }
    }

    /// When new orders should be tried again: `retry_at` while the breaker
    /// is open and that is still ahead of `now`, else `None` (closed, a
    /// probe out, or due for one).
    pub fn refuses_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        (self.state == BreakerState::Open && now.timestamp() < self.retry_at)
            .then(|| DateTime::from_timestamp(self.retry_at, 0))
            .flatten()
    }
}

/// Where the breaker is kept: one record, read strongly consistent and
/// changed only conditionally.
pub trait BreakerStore: Send + Sync {
    /// The record; `None` when it was never written (a closed breaker).
    fn load(&self) -> impl Future<Output = Result<Option<BreakerRecord>, PortError>> + Send;

    /// Counts one call (`failed` or not) in the window starting at
    /// `window_start`, if the breaker is closed: added to the stored
    /// counters when they count that window, else the window restarts with
    /// this call (never going back to an older window). Returns the record
    /// after the count, or `None` when the breaker is not closed (nothing
    /// counted).
    fn count_call(
        &self,
        window_start: i64,
        failed: bool,
    ) -> impl Future<Output = Result<Option<BreakerRecord>, PortError>> + Send;

    /// Writes `record` if the stored version is still `expected_version`
    /// (0: no record yet, or one only counting has written). `true` when
    /// it did; `false` when another instance changed the state first.
    fn replace(
        &self,
        expected_version: u64,
        record: &BreakerRecord,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
}

impl<T: BreakerStore + ?Sized> BreakerStore for &T {
    fn load(&self) -> impl Future<Output = Result<Option<BreakerRecord>, PortError>> + Send {
        (**self).load()
    }

    fn count_call(
        &self,
        window_start: i64,
        failed: bool,
    ) -> impl Future<Output = Result<Option<BreakerRecord>, PortError>> + Send {
        (**self).count_call(window_start, failed)
    }

    fn replace(
        &self,
        expected_version: u64,
        record: &BreakerRecord,
    ) -> impl Future<Output = Result<bool, PortError>> + Send {
        (**self).replace(expected_version, record)
    }
}

impl<T: BreakerStore + ?Sized> BreakerStore for Arc<T> {
    fn load(&self) -> impl Future<Output = Result<Option<BreakerRecord>, PortError>> + Send {
        (**self).load()
    }

    fn count_call(
        &self,
        window_start: i64,
        failed: bool,
    ) -> impl Future<Output = Result<Option<BreakerRecord>, PortError>> + Send {
        (**self).count_call(window_start, failed)
    }

    fn replace(
        &self,
        expected_version: u64,
        record: &BreakerRecord,
    ) -> impl Future<Output = Result<bool, PortError>> + Send {
        (**self).replace(expected_version, record)
    }
}

/// The breaker's thresholds; [`BreakerSettings::default`] is the seed's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Opens when at least this share of a window's calls failed (percent).
    pub failure_percent: u32,
    /// ... and the window holds at least this many calls. opossum's
    /// `volumeThreshold` defaults to 0, which lets one timeout in one
    /// process stop every instance's payments for the reset period; five
    /// calls is still a few seconds of traffic.
    pub minimum_calls: u32,
    /// The counting window (opossum's `rollingCountTimeout`: 10 s).
    pub window_seconds: i64,
    /// How long it stays open before a probe (opossum's `resetTimeout`).
    pub reset_seconds: i64,
    /// How long a probe holds the half-open breaker before another caller
    /// may take over (longer than a charge takes: the function timeout).
    pub probe_lease_seconds: i64,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failure_percent: 50,
            minimum_calls: 5,
            window_seconds: 10,
            reset_seconds: 30,
            probe_lease_seconds: 10,
        }
    }
}

/// What the breaker did, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerEvent {
    /// It opened (from closed, or a failed probe) until `retry_at`.
    Opened {
        /// Calls and failures of the window that opened it (0, 1 for a
        /// failed probe).
        calls: u32,
        /// Failures among them.
        failures: u32,
        /// Epoch seconds when a probe may go.
        retry_at: i64,
    },
    /// A probe went out.
    HalfOpened,
    /// A probe succeeded: closed.
    Closed,
    /// A call was refused without reaching the provider.
    Rejected,
    /// A provider call failed (counted).
    CallFailed,
}

/// What [`CircuitBreaker::admit`] let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Closed: an ordinary counted call.
    Counted,
    /// This call is the probe of a half-open breaker (the record's version
    /// after it became the probe).
    Probe {
        /// The version that made it the probe.
        version: u64,
    },
    /// The store failed: the call goes through unguarded.
    Unguarded,
}

/// The breaker: thresholds, the shared record, a clock, and who hears
/// about its changes.
pub struct CircuitBreaker<S, K> {
    store: S,
    clock: K,
    settings: BreakerSettings,
    events: Arc<dyn Fn(BreakerEvent) + Send + Sync>,
}

impl<S: BreakerStore, K: Clock> CircuitBreaker<S, K> {
    /// A breaker over `store` with `settings`; `events` hears every change.
    pub fn new(
        store: S,
        clock: K,
        settings: BreakerSettings,
        events: Arc<dyn Fn(BreakerEvent) + Send + Sync>,
    ) -> Self {
        Self {
            store,
            clock,
            settings,
            events,
        }
    }

    /// The settings.
    pub fn settings(&self) -> BreakerSettings {
        self.settings
    }

    /// Runs `call` through the breaker: refused without running while open
    /// (`PortError::Unavailable` naming the retry time), else run and its
    /// outcome recorded.
    pub async fn guard<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, PortError>>,
    ) -> Result<T, PortError> {
        let admission = self.admit(operation).await?;
        let result = call.await;
        let failed = matches!(result, Err(PortError::Unavailable { .. }));
        self.record(admission, failed).await;
        result
    }

    /// Decides whether a call may go: `Err` (fail fast) while open and
    /// before the retry time, or while another caller's probe is out.
    pub async fn admit(&self, operation: &'static str) -> Result<Admission, PortError> {
        let record = match self.store.load().await {
            Ok(record) => record.unwrap_or_else(BreakerRecord::fresh),
            Err(error) => {
                tracing::warn!(%error, "the circuit breaker's record cannot be read; calling the provider unguarded");
                return Ok(Admission::Unguarded);
            }
        };
        let now = self.clock.now().timestamp();
        let probe_due = match record.state {
            BreakerState::Closed => return Ok(Admission::Counted),
            BreakerState::Open => now >= record.retry_at,
            BreakerState::HalfOpen => now >= record.probe_until,
        };
        if probe_due {
            let probe = BreakerRecord {
                state: BreakerState::HalfOpen,
                version: record.version + 1,
                probe_until: now + self.settings.probe_lease_seconds,
                ..record.clone()
            };
            match self.store.replace(record.version, &probe).await {
                Ok(true) => {
                    tracing::info!(
                        breaker = "payment-provider",
                        "circuit breaker half-open: one probe call goes to the provider"
                    );
                    (self.events)(BreakerEvent::HalfOpened);
                    return Ok(Admission::Probe {
                        version: probe.version,
                    });
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, "the circuit breaker's record cannot be written; calling the provider unguarded");
                    return Ok(Admission::Unguarded);
                }
            }
        }
        (self.events)(BreakerEvent::Rejected);
        let retry_at = DateTime::from_timestamp(record.retry_at.max(now), 0).unwrap_or_default();
        Err(PortError::unavailable(
            operation,
            format!(
                "the payment provider's circuit breaker is {} (retry after {}); the provider was not called",
                record.state.as_str(),
                retry_at.to_rfc3339()
            ),
        ))
    }

    /// Records the outcome of an admitted call: counts it (closed), opens
    /// the breaker when the window crosses the threshold, and closes or
    /// re-opens it after a probe.
    pub async fn record(&self, admission: Admission, failed: bool) {
        if failed {
            (self.events)(BreakerEvent::CallFailed);
        }
        let result = match admission {
            Admission::Unguarded => return,
            Admission::Probe { version } => self.finish_probe(version, failed).await,
            Admission::Counted => self.count(failed).await,
        };
        if let Err(error) = result {
            tracing::warn!(%error, "the circuit breaker's record cannot be written; the call is not counted");
        }
    }

    async fn count(&self, failed: bool) -> Result<(), PortError> {
        let now = self.clock.now().timestamp();
        let window = self.settings.window_seconds.max(1);
        let window_start = now - now.rem_euclid(window);
        let Some(record) = self.store.count_call(window_start, failed).await? else {
            return Ok(());
        };
        let over = failed
            && record.calls >= self.settings.minimum_calls
            && u64::from(record.failures) * 100
                >= u64::from(self.settings.failure_percent) * u64::from(record.calls);
        if over {
            self.open(&record, now, record.calls, record.failures)
                .await?;
        }
        Ok(())
    }

    /// Closes or re-opens the breaker after the probe that `version` made,
    /// conditional on that version: a probe that outlived its lease (another
    /// caller took over) changes nothing, so no read is needed first.
    async fn finish_probe(&self, version: u64, failed: bool) -> Result<(), PortError> {
        let now = self.clock.now().timestamp();
        let probing = BreakerRecord {
            state: BreakerState::HalfOpen,
            version,
            ..BreakerRecord::fresh()
        };
        if failed {
            return self.open(&probing, now, 1, 1).await;
        }
        let closed = BreakerRecord {
            state: BreakerState::Closed,
            version: version + 1,
            ..BreakerRecord::fresh()
        };
        if self.store.replace(version, &closed).await? {
            tracing::info!(
                breaker = "payment-provider",
                "circuit breaker closed: the probe call succeeded"
            );
            (self.events)(BreakerEvent::Closed);
        }
        Ok(())
    }

    async fn open(
        &self,
        record: &BreakerRecord,
        now: i64,
        calls: u32,
        failures: u32,
    ) -> Result<(), PortError> {
        let retry_at = now + self.settings.reset_seconds;
        let opened = BreakerRecord {
            state: BreakerState::Open,
            version: record.version + 1,
            opened_at: now,
            retry_at,
            probe_until: 0,
            ..record.clone()
        };
        if self.store.replace(record.version, &opened).await? {
            tracing::warn!(
                breaker = "payment-provider",
                calls,
                failures,
                retry_at = %DateTime::from_timestamp(retry_at, 0).unwrap_or_default().to_rfc3339(),
                "circuit breaker open: the payment provider is failing; calls fail fast until the retry time"
            );
            (self.events)(BreakerEvent::Opened {
                calls,
                failures,
                retry_at,
            });
        }
        Ok(())
    }
}

/// A payment provider whose every call goes through a [`CircuitBreaker`].
pub struct GuardedProvider<P, S, K> {
    provider: P,
    breaker: CircuitBreaker<S, K>,
}

impl<P, S, K> GuardedProvider<P, S, K> {
    /// `provider` behind `breaker`.
    pub fn new(provider: P, breaker: CircuitBreaker<S, K>) -> Self {
        Self { provider, breaker }
    }

    /// The provider behind the breaker.
    pub fn inner(&self) -> &P {
        &self.provider
    }
}

impl<P: PaymentProvider, S: BreakerStore, K: Clock> PaymentProvider for GuardedProvider<P, S, K> {
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, PortError> {
        self.breaker
            .guard("charge", self.provider.charge(request))
            .await
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundReceipt, PortError> {
        self.breaker
            .guard("refund", self.provider.refund(request))
            .await
    }

    async fn cancel(&self, request: &CancelRequest) -> Result<CancelOutcome, PortError> {
        self.breaker
            .guard("cancel", self.provider.cancel(request))
            .await
    }

    async fn find_charges(&self, order_id: &OrderId) -> Result<Vec<ProviderCharge>, PortError> {
        self.breaker
            .guard("find_charges", self.provider.find_charges(order_id))
            .await
    }
}

/// A [`BreakerStore`] in memory, for tests.
#[cfg(any(test, feature = "fakes"))]
#[derive(Debug, Default)]
pub struct InMemoryBreakerStore {
    record: std::sync::Mutex<Option<BreakerRecord>>,
    calls: std::sync::Mutex<Vec<&'static str>>,
}

#[cfg(any(test, feature = "fakes"))]
impl InMemoryBreakerStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<BreakerRecord>> {
        self.record
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The record as stored.
    pub fn snapshot(&self) -> Option<BreakerRecord> {
        self.lock().clone()
    }

    /// Every store call made so far, in order (`load`, `count_call`,
    /// `replace`), so a test can count the Breaker table requests.
    pub fn calls(&self) -> Vec<&'static str> {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn log(&self, operation: &'static str) {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(operation);
    }
}

#[cfg(any(test, feature = "fakes"))]
impl BreakerStore for InMemoryBreakerStore {
    async fn load(&self) -> Result<Option<BreakerRecord>, PortError> {
        self.log("load");
        Ok(self.lock().clone())
    }

    async fn count_call(
        &self,
        window_start: i64,
        failed: bool,
    ) -> Result<Option<BreakerRecord>, PortError> {
        self.log("count_call");
        let mut stored = self.lock();
        let record = stored.get_or_insert_with(BreakerRecord::fresh);
        if record.state != BreakerState::Closed {
            return Ok(None);
        }
        if record.window_start < window_start {
            record.window_start = window_start;
            record.calls = 0;
            record.failures = 0;
        }
        if record.window_start == window_start {
            record.calls += 1;
            record.failures += u32::from(failed);
        }
        Ok(Some(record.clone()))
    }

    async fn replace(
        &self,
        expected_version: u64,
        record: &BreakerRecord,
    ) -> Result<bool, PortError> {
        self.log("replace");
        let mut stored = self.lock();
        let version = stored.as_ref().map_or(0, |record| record.version);
        if version != expected_version {
            return Ok(false);
        }
        *stored = Some(record.clone());
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    use chrono::TimeDelta;

    use super::*;
    use crate::fakes::ManualClock;

    struct Counted<'a> {
        calls: &'a AtomicU32,
    }

    fn breaker<'a>(
        store: &'a InMemoryBreakerStore,
        clock: &'a ManualClock,
        events: Arc<Mutex<Vec<BreakerEvent>>>,
    ) -> CircuitBreaker<&'a InMemoryBreakerStore, &'a ManualClock> {
        CircuitBreaker::new(
            store,
            clock,
            BreakerSettings::default(),
            Arc::new(move |event| events.lock().unwrap().push(event)),
        )
    }

    impl Counted<'_> {
        async fn call(&self, fail: bool) -> Result<(), PortError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if fail {
                Err(PortError::unavailable("charge", "503 from the provider"))
            } else {
                Ok(())
            }
        }
    }

    #[tokio::test]
    async fn opens_after_the_threshold_fails_fast_probes_once_and_closes() {
        let store = InMemoryBreakerStore::default();
        let clock = ManualClock::at_rfc3339("2026-01-01T00:00:00Z");
        let events = Arc::new(Mutex::new(Vec::new()));
        let breaker = breaker(&store, &clock, events.clone());
        let calls = AtomicU32::new(0);
        let provider = Counted { calls: &calls };

        // Minimum calls 5 at 50%: four failures leave it closed, the fifth opens it.
        for _ in 0..5 {
            assert!(breaker.guard("charge", provider.call(true)).await.is_err());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 5);
        assert_eq!(store.snapshot().unwrap().state, BreakerState::Open);

        // Open: refused without a call, until the reset.
        for _ in 0..10 {
            let refused = breaker.guard("charge", provider.call(false)).await;
            assert!(refused.unwrap_err().to_string().contains("unavailable"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 5, "no call while open");
        let record = store.snapshot().unwrap();
        assert_eq!(
            record.refuses_until(clock.now()).unwrap().timestamp(),
            clock.now().timestamp() + 30
        );

        // After the reset one probe goes; a failed probe reopens.
        clock.advance(TimeDelta::seconds(30));
        assert!(breaker.guard("charge", provider.call(true)).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 6, "one probe");
        assert_eq!(store.snapshot().unwrap().state, BreakerState::Open);
        assert!(breaker.guard("charge", provider.call(false)).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 6);

        // A successful probe closes it; calls flow again.
        clock.advance(TimeDelta::seconds(30));
        breaker.guard("charge", provider.call(false)).await.unwrap();
        assert_eq!(store.snapshot().unwrap().state, BreakerState::Closed);
        breaker.guard("charge", provider.call(false)).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 8);
        assert_eq!(store.snapshot().unwrap().refuses_until(clock.now()), None);

        let events = events.lock().unwrap();
        let opened = events
            .iter()
            .filter(|event| matches!(event, BreakerEvent::Opened { .. }))
            .count();
        assert_eq!(opened, 2, "{events:?}");
        assert_eq!(
            events
                .iter()
                .filter(|e| **e == BreakerEvent::Closed)
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn only_one_caller_becomes_the_probe() {
        let store = InMemoryBreakerStore::default();
        let clock = ManualClock::at_rfc3339("2026-01-01T00:00:00Z");
        let breaker = breaker(&store, &clock, Arc::new(Mutex::new(Vec::new())));
        for _ in 0..5 {
            breaker.record(Admission::Counted, true).await;
        }
        clock.advance(TimeDelta::seconds(31));
        let first = breaker.admit("charge").await.unwrap();
        assert!(matches!(first, Admission::Probe { .. }));
        assert!(breaker.admit("charge").await.is_err(), "probe already out");
        // The probe's holder died: after its lease another caller probes.
        clock.advance(TimeDelta::seconds(10));
        assert!(matches!(
            breaker.admit("charge").await.unwrap(),
            Admission::Probe { .. }
        ));
        // The first probe reporting late changes nothing.
        breaker.record(first, false).await;
        assert_eq!(store.snapshot().unwrap().state, BreakerState::HalfOpen);
    }

    #[tokio::test]
    async fn successes_and_declines_keep_it_closed_and_windows_restart() {
        let store = InMemoryBreakerStore::default();
        let clock = ManualClock::at_rfc3339("2026-01-01T00:00:00Z");
        let breaker = breaker(&store, &clock, Arc::new(Mutex::new(Vec::new())));
        // 4 failures then 5 successes: 4/9 < 50%.
        for failed in [true, true, true, true, false, false, false, false, false] {
            breaker.record(Admission::Counted, failed).await;
        }
        assert_eq!(store.snapshot().unwrap().state, BreakerState::Closed);
        // A new window forgets the old failures.
        clock.advance(TimeDelta::seconds(10));
        for _ in 0..4 {
            breaker.record(Admission::Counted, true).await;
        }
        let record = store.snapshot().unwrap();
        assert_eq!((record.calls, record.failures), (4, 4));
        assert_eq!(record.state, BreakerState::Closed);
        let rejected: Result<(), PortError> = Err(PortError::rejected("charge", "bad request"));
        let outcome = breaker.guard("charge", async { rejected }).await;
        assert!(matches!(outcome, Err(PortError::Rejected { .. })));
        assert_eq!(
            store.snapshot().unwrap().state,
            BreakerState::Closed,
            "a refused request is an answer, not a failure"
        );
    }
}

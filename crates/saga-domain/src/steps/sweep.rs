//! `sweeper`: start the orders written PENDING whose execution nobody
//! started.
//!
//! `POST /orders` writes the order, then starts its execution. When the api
//! dies between the two, or StartExecution fails and the client never
//! retries (or retries with another body, a 422), the order would wait
//! PENDING forever. The sweep runs on a schedule, lists the orders still
//! awaiting their start that were placed at least a grace period ago (long
//! enough for a POST in progress to have finished), and starts each the way
//! a replayed POST does ([`start_order_execution`]): under the start lease,
//! with the stored input. So a sweep that meets a POST in progress, or
//! another sweep, starts nothing twice.

use chrono::{SubsecRound, TimeDelta};
use tracing::Instrument;

use crate::error::{InvalidValue, StepError};
use crate::ids::OrderId;
use crate::ports::{Clock, ExecutionStarter, OrderStore, StoppedExecutions};
use crate::step_io::{SweepReport, WatchOutcome};
use crate::steps::start::{ExecutionStart, start_order_execution};
use crate::steps::watch::record_execution_stop;

/// How the sweep chooses its orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepSettings {
    grace: TimeDelta,
    batch_size: usize,
}

impl SweepSettings {
    /// The default grace period in seconds (`SWEEPER_GRACE_SECONDS`): a POST
    /// lasts at most the api's 10 s timeout, and its start lease 30 s.
    pub const DEFAULT_GRACE_SECONDS: u64 = 120;
    /// The default number of orders one run starts (`SWEEPER_BATCH_SIZE`).
    pub const DEFAULT_BATCH_SIZE: usize = 100;
    const MAX_BATCH_SIZE: usize = 1000;
    const MAX_GRACE_SECONDS: i64 = 86_400;

    /// Orders placed at least `grace` ago (positive), `batch_size` (1..=1000)
    /// of them per run.
    pub fn new(grace: TimeDelta, batch_size: usize) -> Result<Self, InvalidValue> {
        if grace <= TimeDelta::zero() {
            return Err(InvalidValue::new(
                "sweeperGraceSeconds",
                format!("must be positive, got {} s", grace.num_seconds()),
            ));
        }
        if !(1..=Self::MAX_BATCH_SIZE).contains(&batch_size) {
            return Err(InvalidValue::new(
                "sweeperBatchSize",
                format!(
                    "must be between 1 and {}, got {batch_size}",
                    Self::MAX_BATCH_SIZE
                ),
            ));
        }
        Ok(Self { grace, batch_size })
    }

    /// [`SweepSettings::new`] with the grace period in whole seconds
    /// (1..=86400, a day: an order is not left waiting longer).
    pub fn from_secs(grace_seconds: u64, batch_size: usize) -> Result<Self, InvalidValue> {
        let grace = i64::try_from(grace_seconds)
            .ok()
            .filter(|seconds| *seconds <= Self::MAX_GRACE_SECONDS)
            .ok_or_else(|| {
                InvalidValue::new(
                    "sweeperGraceSeconds",
                    format!(
                        "must be at most {} s, got {grace_seconds} s",
                        Self::MAX_GRACE_SECONDS
                    ),
                )
            })?;
        Self::new(TimeDelta::seconds(grace), batch_size)
    }

    /// How old an order must be before the sweep starts it.
    pub fn grace(&self) -> TimeDelta {
        self.grace
    }

    /// Orders one run starts at most.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }
}

impl Default for SweepSettings {
    fn default() -> Self {
        Self {
            grace: TimeDelta::seconds(Self::DEFAULT_GRACE_SECONDS as i64),
            batch_size: Self::DEFAULT_BATCH_SIZE,
        }
    }
}

/// Starts up to a batch of the orders placed at least the grace period
/// before `clock.now()` whose execution is not recorded as started, oldest
/// first.
///
/// Errors: `TransientError` when the orders cannot be listed, or when some
/// could not be started (after trying every one of the batch: their leases
/// are given back and the next run tries them again).
pub async fn sweep_unstarted(
    orders: &impl OrderStore,
    executions: &impl ExecutionStarter,
    clock: &impl Clock,
    settings: SweepSettings,
) -> Result<SweepReport, StepError> {
    let placed_by = clock.now().trunc_subsecs(3) - settings.grace;
    let waiting = orders
        .orders_awaiting_start(placed_by, settings.batch_size)
        .await?;
    let mut report = SweepReport {
        found: waiting.len() as u64,
        started: 0,
        stalled: 0,
        recovered: 0,
    };
    let mut failed = 0_u64;
    for order_id in &waiting {
        let span = tracing::info_span!("sweep_order", %order_id);
        match sweep_one(orders, executions, clock, order_id)
            .instrument(span)
            .await
        {
            Swept::Started => report.started += 1,
            Swept::Skipped => {}
            Swept::Failed => failed += 1,
        }
    }
    if failed > 0 {
        return Err(StepError::transient(format!(
            "{failed} of {} orders awaiting their start could not be started ({} started); the next run retries them",
            report.found, report.started
        )));
    }
    Ok(report)
}

/// The most stalled orders [`count_stalled`] counts: beyond it the alarm is
/// long up, and the exact count no longer matters to anyone.
pub const STALLED_COUNT_LIMIT: usize = 1_000;

/// How many orders carry a stall (up to [`STALLED_COUNT_LIMIT`]): orders
/// whose execution stopped before they were final, each waiting for an
/// operator's redrive. Logs the oldest few so the operator knows where to
/// start.
///
/// Errors: `TransientError` when the orders cannot be listed.
pub async fn count_stalled(orders: &impl OrderStore) -> Result<u64, StepError> {
    let stalled = orders.stalled_orders(STALLED_COUNT_LIMIT).await?;
    if !stalled.is_empty() {
        let oldest: Vec<&str> = stalled.iter().take(10).map(OrderId::as_str).collect();
        tracing::warn!(
            stalled = stalled.len(),
            ?oldest,
            "orders whose execution stopped before they were final: redrive their executions"
        );
    }
    Ok(stalled.len() as u64)
}

/// How far back the sweeper looks for stopped executions no status-change
/// event recorded: an hour of runs, each a chance to catch a lost event.
pub const MISSED_STOP_LOOKBACK: TimeDelta = TimeDelta::hours(1);

/// The most stopped executions of each status one run looks at.
const MISSED_STOP_LIMIT: usize = 100;

/// Records the stall of every order whose execution stopped in the last
/// [`MISSED_STOP_LOOKBACK`] and that no status-change event recorded (AWS
/// delivers those events on a best-effort basis). An order already final,
/// or already carrying the stall of that attempt or a later one, is left
/// as it is, so the event's error and cause are kept. Returns how many
/// stalls this run recorded.
///
/// Errors: `TransientError` when the executions or an order cannot be read
/// or written (the next run tries again).
pub async fn record_missed_stops(
    orders: &impl OrderStore,
    executions: &impl StoppedExecutions,
    clock: &impl Clock,
) -> Result<u64, StepError> {
    let stopped = executions
        .stopped_since(clock.now() - MISSED_STOP_LOOKBACK, MISSED_STOP_LIMIT)
        .await?;
    let mut recorded = 0;
    for change in &stopped {
        let Ok(order_id) = change.name.parse::<OrderId>() else {
            continue;
        };
        let Some(order) = orders.get_order(&order_id).await? else {
            continue;
        };
        let known = order
            .stall
            .as_ref()
            .is_some_and(|stall| stall.redrive_count >= change.redrive_count);
        if order.status.is_final() || known {
            continue;
        }
        let report = record_execution_stop(orders, change).await?;
        if report.outcome == WatchOutcome::Recorded {
            tracing::warn!(%order_id, status = %change.status, "a stopped execution no status-change event recorded: stall recorded by the sweeper");
            recorded += 1;
        }
    }
    Ok(recorded)
}

/// What the sweep did with one order.
enum Swept {
    Started,
    Skipped,
    Failed,
}

async fn sweep_one(
    orders: &impl OrderStore,
    executions: &impl ExecutionStarter,
    clock: &impl Clock,
    order_id: &OrderId,
) -> Swept {
    let order = match orders.get_order(order_id).await {
        Ok(Some(order)) => order,
        Ok(None) => {
            tracing::warn!("listed as awaiting its start but not found; skipped");
            return Swept::Skipped;
        }
        Err(error) => {
            tracing::warn!(error = %error, "could not read the order");
            return Swept::Failed;
        }
    };
    if order.execution_started_at.is_some() {
        // The index lags behind the table.
        return Swept::Skipped;
    }
    match start_order_execution(orders, executions, clock, &order).await {
        Ok(ExecutionStart::Started(outcome)) => {
            tracing::info!(?outcome, created_at = %order.created_at, "an order nobody started: execution started");
            Swept::Started
        }
        Ok(ExecutionStart::HeldByAnother { .. } | ExecutionStart::AlreadyStarted) => Swept::Skipped,
        Err(_) => Swept::Failed,
    }
}

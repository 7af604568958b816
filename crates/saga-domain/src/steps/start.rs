//! Starting an order's execution under its start lease: the one way an
//! execution is started, shared by `POST /orders` (the first request and
//! every replay) and the sweep of orders nobody started.
//!
//! Whoever finds the start not recorded claims the lease
//! ([`OrderStore::claim_execution_start`], [`START_LEASE`]); only the holder
//! calls StartExecution with the order's stored input, then records
//! `executionStartedAt`. A caller that loses the claim calls nothing: the
//! holder is starting it. When StartExecution fails the holder gives the
//! lease back, so the next caller starts it at once; when the holder
//! crashes, the lease expires and the next caller takes it over. Should two
//! calls still happen (a holder slower than its lease), Step Functions is
//! idempotent by name for the same input and `ExecutionAlreadyExists`
//! counts as started, so the saga runs once.

use crate::error::PortError;
use crate::ports::{
    Clock, ExecutionStarter, OrderRecord, OrderStore, START_LEASE, StartClaim, StartOutcome,
};

/// What [`start_order_execution`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionStart {
    /// This caller held the lease and called StartExecution: the execution
    /// exists now (started now, or found with `outcome`).
    Started(StartOutcome),
    /// Another caller holds a live lease until `until`: it is starting the
    /// execution, this one called nothing.
    HeldByAnother {
        /// When that lease expires and the start can be taken over.
        until: chrono::DateTime<chrono::Utc>,
    },
    /// The start was already recorded: nothing to do.
    AlreadyStarted,
}

/// Starts `order`'s execution if this caller wins the start lease.
///
/// Errors: the claim could not be made, or StartExecution failed (the lease
/// is then released, so a retry can start it at once). Failing to record
/// the start after StartExecution succeeded is only logged: it costs a
/// redundant, idempotent StartExecution by a later caller.
pub async fn start_order_execution(
    orders: &impl OrderStore,
    executions: &impl ExecutionStarter,
    clock: &impl Clock,
    order: &OrderRecord,
) -> Result<ExecutionStart, PortError> {
    let claim = orders
        .claim_execution_start(&order.order_id, clock.now(), START_LEASE)
        .await
        .inspect_err(
            |error| tracing::warn!(error = %error, "could not claim the execution start"),
        )?;
    let lease = match claim {
        StartClaim::Claimed(lease) => lease,
        StartClaim::HeldByAnother { until } => {
            tracing::info!(lease_until = %until, "another caller is starting the execution");
            return Ok(ExecutionStart::HeldByAnother { until });
        }
        StartClaim::AlreadyStarted => {
            tracing::info!("the execution was started meanwhile");
            return Ok(ExecutionStart::AlreadyStarted);
        }
    };
    let outcome = match executions
        .start_execution(&order.order_id, &order.execution_input)
        .await
    {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::warn!(error = %error, "StartExecution failed; the order stays PENDING until a retry or the sweep");
            // Let the next caller start it now rather than after the lease.
            if let Err(error) = orders.release_execution_start(&lease).await {
                tracing::warn!(error = %error, "could not release the start lease; the next caller after it expires starts the execution");
            }
            return Err(error);
        }
    };
    tracing::info!(outcome = ?outcome, "execution started");
    if let Err(error) = orders
        .mark_execution_started(&order.order_id, clock.now())
        .await
    {
        tracing::warn!(error = %error, "could not record the execution start");
    }
    Ok(ExecutionStart::Started(outcome))
}

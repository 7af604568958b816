//! Starting the order saga: one Step Functions Standard execution per order,
//! named by the order id.
//!
//! Step Functions makes StartExecution idempotent by name: the same name with
//! the same input returns the running execution, and once that execution has
//! closed (or for other input) the service answers `ExecutionAlreadyExists`.
//! Either way the order's execution exists, so both are success for the api.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::error::PortError;
use crate::ids::OrderId;
use crate::step_io::ExecutionStatusChange;

/// What [`ExecutionStarter::start_execution`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StartOutcome {
    /// The execution was started now, or it was already running with the
    /// same input (the service does not tell the two apart).
    Started,
    /// An execution with this name exists and is closed, or has other input
    /// (`ExecutionAlreadyExists`).
    AlreadyExists,
}

/// The order saga's executions that stopped: ListExecutions with a status
/// filter. The sweeper's backstop for status-change events, which AWS
/// delivers on a best-effort basis.
pub trait StoppedExecutions: Send + Sync {
    /// Up to `limit` executions of each stopped status (FAILED, TIMED_OUT,
    /// ABORTED) among the newest, that stopped at or after `since`, each as
    /// the status-change event would have told it (without error and cause,
    /// which only DescribeExecution gives).
    fn stopped_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ExecutionStatusChange>, PortError>> + Send;
}

/// StartExecution on the order saga's state machine.
pub trait ExecutionStarter: Send + Sync {
    /// Starts the execution `name` with `input` (a JSON document).
    fn start_execution(
        &self,
        name: &OrderId,
        input: &str,
    ) -> impl Future<Output = Result<StartOutcome, PortError>> + Send;
}

//! Starting the order saga: one Step Functions Standard execution per order,
//! named by the order id.
//!
//! Step Functions makes StartExecution idempotent by name: the same name with
//! the same input returns the running execution, and once that execution has
//! closed (or for other input) the service answers `ExecutionAlreadyExists`.
//! Either way the order's execution exists, so both are success for the api.

use std::future::Future;

use crate::error::PortError;
use crate::ids::OrderId;

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

/// StartExecution on the order saga's state machine.
pub trait ExecutionStarter: Send + Sync {
    /// Starts the execution `name` with `input` (a JSON document).
    fn start_execution(
        &self,
        name: &OrderId,
        input: &str,
    ) -> impl Future<Output = Result<StartOutcome, PortError>> + Send;
}

//! Reporting the outcome of a `.waitForTaskToken` task back to Step Functions.

use std::future::Future;

use crate::error::PortError;
use crate::ids::TaskToken;

/// What became of a report that Step Functions answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportOutcome {
    /// The task took the report.
    Reported,
    /// The task takes no more reports: it has already completed, failed or
    /// timed out (Step Functions answers `TaskTimedOut` or
    /// `TaskDoesNotExist`). A fact about the task, like a failed condition:
    /// the execution has moved on without this report.
    TokenSpent {
        /// Step Functions' answer, e.g. `TaskTimedOut: ...`.
        detail: String,
    },
}

/// SendTaskSuccess / SendTaskFailure. A spent token is
/// [`ReportOutcome::TokenSpent`]; a malformed token (`InvalidToken`), a
/// missing permission or an invalid request is `PortError::Rejected`, and
/// throttling or an unreachable service `PortError::Unavailable`.
pub trait TaskReporter: Send + Sync {
    /// Completes the task with `output` as its result.
    fn send_task_success(
        &self,
        token: &TaskToken,
        output: &serde_json::Value,
    ) -> impl Future<Output = Result<ReportOutcome, PortError>> + Send;

    /// Fails the task with `error` (a step error name) and `cause` (a message).
    fn send_task_failure(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> impl Future<Output = Result<ReportOutcome, PortError>> + Send;
}

//! Reporting the outcome of a `.waitForTaskToken` task back to Step Functions.

use std::future::Future;

use crate::error::PortError;
use crate::ids::TaskToken;

/// SendTaskSuccess / SendTaskFailure. A token the service no longer knows
/// (task timed out, execution stopped) is `PortError::Rejected`.
pub trait TaskReporter: Send + Sync {
    /// Completes the task with `output` as its result.
    fn send_task_success(
        &self,
        token: &TaskToken,
        output: &serde_json::Value,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Fails the task with `error` (a step error name) and `cause` (a message).
    fn send_task_failure(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

//! A task reporter that records what it was told, and can play a spent token.

use std::collections::HashSet;
use std::sync::Mutex;

use super::{Faults, lock};
use crate::error::PortError;
use crate::ids::TaskToken;
use crate::ports::TaskReporter;

/// One SendTaskSuccess or SendTaskFailure call.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskReport {
    /// SendTaskSuccess.
    Success {
        /// The task token.
        token: TaskToken,
        /// The output.
        output: serde_json::Value,
    },
    /// SendTaskFailure.
    Failure {
        /// The task token.
        token: TaskToken,
        /// The error name.
        error: String,
        /// The cause.
        cause: String,
    },
}

/// Records reports. Like Step Functions, a token can be completed once: a
/// second report for it is `PortError::Rejected` (TaskTimedOut).
#[derive(Debug, Default)]
pub struct RecordingTaskReporter {
    reports: Mutex<Vec<TaskReport>>,
    spent: Mutex<HashSet<TaskToken>>,
    /// Fault injection for every operation.
    pub faults: Faults,
}

impl RecordingTaskReporter {
    /// A reporter with no reports.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every accepted report, in order.
    pub fn reports(&self) -> Vec<TaskReport> {
        lock(&self.reports).clone()
    }

    fn accept(&self, token: &TaskToken, report: TaskReport) -> Result<(), PortError> {
        if !lock(&self.spent).insert(token.clone()) {
            return Err(PortError::rejected(
                "report_task",
                "TaskTimedOut: the task token is already completed",
            ));
        }
        lock(&self.reports).push(report);
        Ok(())
    }
}

impl TaskReporter for RecordingTaskReporter {
    async fn send_task_success(
        &self,
        token: &TaskToken,
        output: &serde_json::Value,
    ) -> Result<(), PortError> {
        self.faults.check("send_task_success")?;
        self.accept(
            token,
            TaskReport::Success {
                token: token.clone(),
                output: output.clone(),
            },
        )
    }

    async fn send_task_failure(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> Result<(), PortError> {
        self.faults.check("send_task_failure")?;
        self.accept(
            token,
            TaskReport::Failure {
                token: token.clone(),
                error: error.to_owned(),
                cause: cause.to_owned(),
            },
        )
    }
}

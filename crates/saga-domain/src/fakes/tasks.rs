//! A task reporter that records what it was told, and can play a spent token
//! or a refused report.

use std::collections::HashSet;
use std::sync::Mutex;

use super::{Faults, lock};
use crate::error::PortError;
use crate::ids::TaskToken;
use crate::ports::{ReportOutcome, TaskReporter};

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
/// second report for it, or one for a task that timed out, is
/// [`ReportOutcome::TokenSpent`] (TaskTimedOut).
#[derive(Debug, Default)]
pub struct RecordingTaskReporter {
    reports: Mutex<Vec<TaskReport>>,
    spent: Mutex<HashSet<TaskToken>>,
    refusal: Mutex<Option<String>>,
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

    /// The task behind `token` timed out before anyone reported: from now on
    /// it is answered like a completed one.
    pub fn time_out(&self, token: &TaskToken) {
        lock(&self.spent).insert(token.clone());
    }

    /// Every report is refused with `detail` (say `AccessDeniedException`),
    /// a refusal that says nothing about the token; `None` lifts it.
    pub fn refuse_reports(&self, detail: Option<&str>) {
        *lock(&self.refusal) = detail.map(str::to_owned);
    }

    fn accept(&self, token: &TaskToken, report: TaskReport) -> Result<ReportOutcome, PortError> {
        if let Some(detail) = lock(&self.refusal).clone() {
            return Err(PortError::rejected("report_task", detail));
        }
        if !lock(&self.spent).insert(token.clone()) {
            return Ok(ReportOutcome::TokenSpent {
                detail: "TaskTimedOut: Task Timed Out: 'Provided task does not exist anymore'"
                    .to_owned(),
            });
        }
        lock(&self.reports).push(report);
        Ok(ReportOutcome::Reported)
    }
}

impl TaskReporter for RecordingTaskReporter {
    async fn send_task_success(
        &self,
        token: &TaskToken,
        output: &serde_json::Value,
    ) -> Result<ReportOutcome, PortError> {
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
    ) -> Result<ReportOutcome, PortError> {
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

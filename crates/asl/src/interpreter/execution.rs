//! A whole execution: who it is ([`ExecutionInfo`]), how it starts or is
//! redriven, its overall `TimeoutSeconds`, and the event that closes it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::journal::ResumePointHandle;
use super::runtime::Runtime;
use super::{Frame, json_text, lock, run_machine};
use crate::definition::Definition;
use crate::history::{EventDetails, EventType, JsonText};
use crate::scope::{Failure, Variables};

/// Identity of an execution, as the context object and events show it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionInfo {
    /// Execution ARN.
    pub execution_arn: String,
    /// Execution name.
    pub name: String,
    /// State machine ARN.
    pub state_machine_arn: String,
    /// State machine name.
    pub state_machine_name: String,
    /// The role the execution runs as.
    pub role_arn: String,
    /// Region, for task events.
    pub region: String,
    /// The execution input.
    pub input: Value,
    /// When the execution started.
    pub start_time: DateTime<Utc>,
    /// How often it was redriven.
    pub redrive_count: u32,
}

impl ExecutionInfo {
    /// Identity in the default local account and region.
    pub fn local(
        state_machine_name: &str,
        execution_name: &str,
        input: Value,
        start_time: DateTime<Utc>,
    ) -> Self {
        let prefix = "arn:aws:states:us-east-1:000000000000";
        Self {
            execution_arn: format!("{prefix}:execution:{state_machine_name}:{execution_name}"),
            name: execution_name.to_owned(),
            state_machine_arn: format!("{prefix}:stateMachine:{state_machine_name}"),
            state_machine_name: state_machine_name.to_owned(),
            role_arn: "arn:aws:iam::000000000000:role/StepFunctionsLocal".to_owned(),
            region: "us-east-1".to_owned(),
            input,
            start_time,
            redrive_count: 0,
        }
    }
}

/// Execution status, as `DescribeExecution` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl ExecutionStatus {
    /// `RUNNING`, `SUCCEEDED`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        }
    }
}

/// How a finished run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Final status.
    pub status: ExecutionStatus,
    /// Output when it succeeded.
    pub output: Option<Value>,
    /// Error name when it failed.
    pub error: Option<String>,
    /// Cause when it failed.
    pub cause: Option<String>,
}

/// Runs a whole execution (or continues a redriven one) to its end and
/// records the closing event.
pub async fn drive(
    rt: &Runtime,
    definition: &Definition,
    resume: Option<ResumePointHandle>,
) -> Outcome {
    let (start, input, mut frame) = begin(rt, definition, resume);
    let run = run_machine(rt, &definition.machine, start, input, &mut frame);
    let result = match definition.timeout_seconds {
        Some(seconds) => {
            // The budget counts from `start_time`, which a redrive does not
            // move.
            let started = lock(&rt.info).start_time;
            let elapsed = (rt.clock.now() - started).to_std().unwrap_or_default();
            let remaining = Duration::from_secs(seconds).saturating_sub(elapsed);
            tokio::select! {
                biased;
                r = run => Some(r),
                () = rt.clock.sleep(remaining) => None,
            }
        }
        None => Some(run.await),
    };
    finish_execution(rt, result, frame.cursor, frame.carried.take())
}

/// Records `ExecutionStarted` (or `ExecutionRedriven`) and says where the
/// main thread starts: `StartAt` with the execution input, or the resume
/// point with the input and variables the failed state saw.
fn begin(
    rt: &Runtime,
    definition: &Definition,
    resume: Option<ResumePointHandle>,
) -> (String, Value, Frame) {
    match resume {
        None => {
            let input = lock(&rt.info).input.clone();
            rt.emit_raw(
                0,
                EventType::ExecutionStarted,
                EventDetails::ExecutionStarted {
                    input: json_text(&input),
                    role_arn: lock(&rt.info).role_arn.clone().into_boxed_str(),
                },
            );
            (
                definition.machine.start_at.clone(),
                input,
                Frame::main(Variables::default(), 0),
            )
        }
        Some(ResumePointHandle(point, count)) => {
            // The redrive continues the same history: its first event
            // follows the last event of the failed run.
            let last = rt.last_event_id();
            let id = rt.emit_raw(
                last,
                EventType::ExecutionRedriven,
                EventDetails::Redriven {
                    redrive_count: count,
                },
            );
            lock(&rt.journal).reuse = true;
            (point.state, point.input, Frame::main(point.variables, id))
        }
    }
}

/// Records the closing event: success and failure follow the main
/// thread's last event; a timeout cuts the run off wherever it was, so it
/// follows the last event recorded by any thread.
fn finish_execution(
    rt: &Runtime,
    result: Option<Result<Value, Failure>>,
    cursor: u64,
    carried: Option<JsonText>,
) -> Outcome {
    match result {
        Some(Ok(output)) => {
            lock(&rt.journal).completed.clear();
            rt.emit_raw(
                cursor,
                EventType::ExecutionSucceeded,
                EventDetails::Output {
                    output: carried.unwrap_or_else(|| json_text(&output)),
                },
            );
            Outcome {
                status: ExecutionStatus::Succeeded,
                output: Some(output),
                error: None,
                cause: None,
            }
        }
        Some(Err(failure)) => {
            // A Fail state without `Error` fails with an empty name.
            let error = (!failure.error.is_empty()).then(|| failure.error.clone());
            rt.emit_raw(
                cursor,
                EventType::ExecutionFailed,
                EventDetails::Error {
                    error: error.clone().map(String::into_boxed_str),
                    cause: failure.cause.clone().map(String::into_boxed_str),
                },
            );
            Outcome {
                status: ExecutionStatus::Failed,
                output: None,
                error,
                cause: failure.cause,
            }
        }
        None => {
            let last = rt.last_event_id();
            rt.emit_raw(
                last,
                EventType::ExecutionTimedOut,
                EventDetails::Error {
                    error: None,
                    cause: None,
                },
            );
            Outcome {
                status: ExecutionStatus::TimedOut,
                output: None,
                error: None,
                cause: None,
            }
        }
    }
}

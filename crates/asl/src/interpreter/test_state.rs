//! The TestState API: one state run on its own, with its work and context
//! object optionally mocked, reporting how the state ended instead of
//! recording an execution.

use serde_json::Value;

use super::data_flow::with_state_prefix;
use super::recovery::{RETRIABLE_MARK, Recovery, run_with_recovery};
use super::runtime::Runtime;
use super::{Frame, Step, emit_entered, run_state};
use crate::definition::{State, StateKind};
use crate::scope::Variables;
use crate::task::TaskError;

/// Mocked results for the TestState API.
#[derive(Debug, Clone, Default)]
pub struct TestStateMock {
    /// Replaces the work of a Task, Parallel or Map state.
    pub result: Option<Result<Value, TaskError>>,
    /// Replaces the context object.
    pub context: Option<Value>,
}

/// The TestState API's verdict on one state.
#[derive(Debug, Clone, PartialEq)]
pub struct TestStateOutcome {
    /// `SUCCEEDED`, `FAILED`, `CAUGHT_ERROR` or `RETRIABLE`.
    pub status: &'static str,
    /// The state's output.
    pub output: Option<Value>,
    /// The next state, when there is one.
    pub next_state: Option<String>,
    /// Error name.
    pub error: Option<String>,
    /// Cause.
    pub cause: Option<String>,
}

/// Runs one state on its own, as the TestState API does.
pub async fn test_state(
    rt: &Runtime,
    state: &State,
    input: Value,
    variables: Variables,
) -> TestStateOutcome {
    let mut frame = Frame::main(variables, 0);
    let entered_id = emit_entered(rt, &mut frame, state, &input);
    let entered = rt.clock.now();
    let result = match &state.kind {
        StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_) => {
            run_with_recovery(rt, state, &input, entered_id, entered, &mut frame).await
        }
        _ => run_state(rt, state, &input, entered_id, &mut frame)
            .await
            .map(|s| (s, Recovery::None)),
    };
    match result {
        Ok((step, recovery)) => {
            let (output, next) = match step {
                Step::Next(next, output) => (output, Some(next)),
                Step::End(output) => (output, None),
            };
            TestStateOutcome {
                status: if recovery == Recovery::Caught {
                    "CAUGHT_ERROR"
                } else {
                    "SUCCEEDED"
                },
                output: Some(output),
                next_state: next,
                error: None,
                cause: None,
            }
        }
        Err(failure) => {
            let failure = with_state_prefix(failure, &state.name, entered_id);
            match failure.error.strip_prefix(RETRIABLE_MARK) {
                Some(error) => TestStateOutcome {
                    status: "RETRIABLE",
                    output: None,
                    next_state: None,
                    error: Some(error.to_owned()),
                    cause: failure.cause,
                },
                None => TestStateOutcome {
                    status: "FAILED",
                    output: None,
                    next_state: None,
                    error: (!failure.error.is_empty()).then_some(failure.error),
                    cause: failure.cause,
                },
            }
        }
    }
}

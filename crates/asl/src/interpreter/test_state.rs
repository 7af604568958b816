//! The TestState API: one state run on its own, with its work and context
//! object optionally mocked, reporting how the state ended instead of
//! recording an execution.

use serde_json::Value;

use super::data_flow::with_state_prefix;
use super::recovery::{Recovery, run_with_recovery};
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
            // A retriable failure keeps its error name as raised; a failed
            // one without a name (a Fail state without `Error`) has none.
            let (status, error) = if failure.retriable {
                ("RETRIABLE", Some(failure.error))
            } else {
                (
                    "FAILED",
                    (!failure.error.is_empty()).then_some(failure.error),
                )
            };
            TestStateOutcome {
                status,
                output: None,
                next_state: None,
                error,
                cause: failure.cause,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use serde_json::json;

    use crate::task::{TaskHandler, TaskRequest};
    use crate::{Clock, TestStateMock, VirtualClock};

    use super::*;

    /// Fails every task with `Flaky`.
    struct AlwaysFlaky;

    #[async_trait]
    impl TaskHandler for AlwaysFlaky {
        async fn invoke(&self, _request: TaskRequest) -> Result<Value, TaskError> {
            Err(TaskError::new("Flaky", "try again"))
        }
    }

    async fn run(state: Value, mock: TestStateMock) -> TestStateOutcome {
        let clock: Arc<dyn Clock> = Arc::new(VirtualClock::starting_at(chrono::Utc::now()));
        crate::test_state(&state, json!({}), mock, Arc::new(AlwaysFlaky), clock)
            .await
            .expect("a valid state")
    }

    /// A failure a retrier would retry is reported `RETRIABLE` under its own
    /// name, and where it is caught further out the error output carries
    /// that name too (the flag never leaks into a name).
    #[tokio::test(start_paused = true)]
    async fn retriable_failures_keep_their_error_name() {
        let task = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
                          "Retry": [{"ErrorEquals": ["Flaky"]}]});
        let outcome = run(task.clone(), TestStateMock::default()).await;
        assert_eq!(
            (outcome.status, outcome.error.as_deref()),
            ("RETRIABLE", Some("Flaky"))
        );

        let parallel = json!({"Type": "Parallel", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handle"}],
            "Branches": [{"StartAt": "T", "States": {"T": task}}]});
        let outcome = run(parallel, TestStateMock::default()).await;
        assert_eq!(outcome.status, "CAUGHT_ERROR");
        assert_eq!(
            outcome.output,
            Some(json!({"Error": "Flaky", "Cause": "try again"}))
        );
    }
}

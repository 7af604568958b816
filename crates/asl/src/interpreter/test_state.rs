//! The TestState API: one state run on its own, reporting how the state
//! ended instead of recording an execution.
//!
//! Besides running a single state, a TestState run differs from an
//! execution only in its work, so it plugs [`MockedWork`] into the
//! runtime's work seam (see `work`): a mocked result replaces what a Task,
//! Parallel or Map state would do, a mocked context replaces `$$`, and a
//! failure a retrier would retry is reported `RETRIABLE` instead of being
//! retried. The code that runs states is the executions' own.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::data_flow::with_state_prefix;
use super::execution::ExecutionInfo;
use super::recovery::{Recovery, run_with_recovery};
use super::runtime::Runtime;
use super::task::{TaskCall, TaskEnd};
use super::work::StateWork;
use super::{Frame, StateFacts, emit_entered, map, run_state};
use crate::clock::Clock;
use crate::definition::{MapSpec, State, StateKind, StateMachine};
use crate::scope::{Failure, Variables};
use crate::task::{TaskError, TaskHandler};
use crate::tokens::TaskTokens;

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

/// Runs `state` on its own with `input`, as the TestState API does: the
/// runtime of a throwaway execution, with `mock` in front of `handler`.
pub(crate) async fn run_test_state(
    state: &State,
    input: Value,
    mock: TestStateMock,
    handler: Arc<dyn TaskHandler>,
    clock: Arc<dyn Clock>,
) -> TestStateOutcome {
    let info = ExecutionInfo::local("TestStateMachine", "test-state", input.clone(), clock.now());
    let runtime =
        Runtime::new(info, clock, handler, Arc::new(TaskTokens::default())).with_mock(mock);
    test_state(&runtime, state, input, Variables::default()).await
}

impl Runtime {
    /// Puts TestState mocks in front of this runtime's work.
    pub fn with_mock(mut self, mock: TestStateMock) -> Self {
        self.work = Arc::new(MockedWork {
            mock,
            live: self.work,
        });
        self
    }
}

/// The TestState API's work: the mocked result when there is one, else
/// the live work; never a retry.
struct MockedWork {
    mock: TestStateMock,
    live: Arc<dyn StateWork>,
}

impl MockedWork {
    fn mocked_failure(error: TaskError) -> Failure {
        Failure::new(error.error, error.cause)
    }
}

#[async_trait]
impl StateWork for MockedWork {
    async fn call_task(&self, rt: &Runtime, call: TaskCall, frame: &mut Frame) -> TaskEnd {
        match &self.mock.result {
            // A mocked answer needs no callback, so a task token issued for
            // it is simply dropped.
            Some(result) => TaskEnd::Done(result.clone()),
            None => self.live.call_task(rt, call, frame).await,
        }
    }

    async fn run_branches(
        &self,
        rt: &Runtime,
        state: &State,
        branches: &[Arc<StateMachine>],
        input: Value,
        frame: &mut Frame,
    ) -> Result<Value, Failure> {
        match &self.mock.result {
            Some(result) => result.clone().map_err(Self::mocked_failure),
            None => {
                self.live
                    .run_branches(rt, state, branches, input, frame)
                    .await
            }
        }
    }

    async fn run_map(
        &self,
        rt: &Runtime,
        state: &State,
        spec: &MapSpec,
        effective: Value,
        facts: &StateFacts<'_>,
        frame: &mut Frame,
    ) -> Result<Value, Failure> {
        // The items are read (and must be an array) even when the result
        // is mocked; TestState reports a non-array without the state prefix.
        let items = map::lookup_items(rt, spec, &effective, facts, frame)?;
        let items = map::item_array(items, spec).map_err(|failure| Failure {
            state_prefix: false,
            ..failure
        })?;
        match &self.mock.result {
            Some(result) => result.clone().map_err(Self::mocked_failure),
            None => map::run_map(rt, state, spec, items, &effective, facts, frame).await,
        }
    }

    async fn wait_to_retry(&self, _rt: &Runtime, _delay: Duration) -> bool {
        // TestState runs a single attempt.
        false
    }

    fn context_object(&self) -> Option<Value> {
        self.mock.context.clone()
    }
}

/// Runs one state on its own, as the TestState API does.
pub async fn test_state(
    rt: &Runtime,
    state: &State,
    mut input: Value,
    variables: Variables,
) -> TestStateOutcome {
    let mut frame = Frame::main(variables, 0);
    let entered_id = emit_entered(rt, &mut frame, state, &input);
    let entered = rt.clock.now();
    let result = match &state.kind {
        StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_) => {
            run_with_recovery(rt, state, &mut input, entered_id, entered, &mut frame).await
        }
        _ => run_state(rt, state, &mut input, entered_id, &mut frame)
            .await
            .map(|s| (s, Recovery::None)),
    };
    match result {
        Ok((step, recovery)) => {
            let (next, output) = step.into_parts(input);
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

//! Amazon States Language interpreter.
//!
//! Parse and validate a definition with [`Definition::parse`], then run it:
//! [`execute`] runs one execution to its end and returns its outcome and
//! AWS-shaped history; [`Engine`] runs many as tokio tasks with the
//! operations a Step Functions endpoint needs (start by name, describe,
//! history, stop, redrive, task-token callbacks). Tasks go through the
//! [`TaskHandler`] port and time through the [`Clock`] port, so the crate
//! knows nothing about Lambda, the saga, or the wall clock.
//!
//! Supported: every state type (Map inline; distributed Map runs inline
//! and is recorded as a map run), the JSONPath data flow, the 18 intrinsic
//! functions, workflow variables, Retry/Catch with AWS's error names, task
//! timeouts and heartbeats, `.waitForTaskToken`. JSONata is rejected with
//! [`definition::UNSUPPORTED_JSONATA`].

pub mod choice;
pub mod clock;
pub mod definition;
pub mod engine;
pub mod errors;
pub mod history;
pub mod interpreter;
pub mod intrinsics;
pub mod path;
pub mod resource;
pub mod scope;
pub mod task;
pub mod template;
pub mod tokens;

use std::sync::Arc;

use serde_json::Value;

pub use clock::{Clock, SystemClock, VirtualClock};
pub use definition::{Definition, DefinitionError};
pub use engine::{Engine, EngineError, ExecutionDescription, StateMachineRef};
pub use history::{EventType, HistoryEvent};
pub use interpreter::{ExecutionInfo, ExecutionStatus, Outcome, TestStateMock, TestStateOutcome};
pub use resource::{ActivityArn, IntegrationPattern, LambdaFunctionArn, Resource, ResourceTarget};
pub use task::{EchoHandler, TaskError, TaskHandler, TaskRequest};

/// A finished execution: how it ended and its history.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Status, output, error and cause.
    pub outcome: Outcome,
    /// Every event, in order.
    pub history: Vec<HistoryEvent>,
}

/// Runs one execution of `definition` to its end on the current task.
pub async fn execute(
    definition: &Definition,
    info: ExecutionInfo,
    handler: Arc<dyn TaskHandler>,
    clock: Arc<dyn Clock>,
) -> Finished {
    let runtime = interpreter::Runtime::new(
        info,
        clock,
        handler,
        Arc::new(tokens::TaskTokens::default()),
    );
    let outcome = interpreter::drive(&runtime, definition, None).await;
    Finished {
        outcome,
        history: runtime.take_history(),
    }
}

/// Runs one state on its own, as the TestState API does. `document` is the
/// state; `mock` replaces its work and context object.
pub async fn test_state(
    document: &Value,
    input: Value,
    mock: TestStateMock,
    handler: Arc<dyn TaskHandler>,
    clock: Arc<dyn Clock>,
) -> Result<TestStateOutcome, DefinitionError> {
    let state = definition::parse_single_state("TestState", document)?;
    Ok(interpreter::run_test_state(&state, input, mock, handler, clock).await)
}

/// Runs one named state of a full definition (searching branches and
/// processors too), as the TestState API does with `stateName`.
pub async fn test_state_in_definition(
    definition: &Definition,
    state_name: &str,
    input: Value,
    mock: TestStateMock,
    handler: Arc<dyn TaskHandler>,
    clock: Arc<dyn Clock>,
) -> Result<TestStateOutcome, DefinitionError> {
    let Some(state) = definition.machine.find_state(state_name).cloned() else {
        return Err(DefinitionError {
            problems: vec![definition::Problem {
                code: "INVALID_STATE_NAME",
                location: "/States".into(),
                message: format!("state '{state_name}' is not in the definition"),
            }],
        });
    };
    Ok(interpreter::run_test_state(&state, input, mock, handler, clock).await)
}

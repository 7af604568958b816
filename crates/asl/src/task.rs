//! The port through which Task states do their work. The interpreter knows
//! nothing about Lambda or any service: it hands the resource (parsed once,
//! see [`Resource`]), the effective parameters and the context object to a
//! [`TaskHandler`] and gets a result or an error name and cause back.

use async_trait::async_trait;
use serde_json::Value;

pub use crate::resource::{Resource, ResourceTarget};

/// What a Task state asks its handler to do.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRequest {
    /// The `Resource`: its ARN as written (including `.sync` /
    /// `.waitForTaskToken`) and what it names.
    pub resource: Resource,
    /// The effective parameters (after `InputPath` and `Parameters`).
    pub parameters: Value,
    /// The context object (`$$`), including `Task.Token` for callbacks.
    pub context: Value,
    /// The task token when the resource uses `.waitForTaskToken`; the
    /// handler passes it on (e.g. in a queue message) and the work reports
    /// back through the engine's `send_task_success` / `send_task_failure`.
    pub task_token: Option<String>,
    /// The state's name.
    pub state_name: String,
}

/// A task's failure: an error name that `Retry`/`Catch` match, and a cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {}", cause.as_deref().unwrap_or(""))]
pub struct TaskError {
    /// Error name, e.g. `OutOfStock` or `Lambda.ServiceException`.
    pub error: String,
    /// Free-text cause (often JSON).
    pub cause: Option<String>,
}

impl TaskError {
    /// Builds an error with a cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: Some(cause.into()),
        }
    }
}

/// Does the work of Task states.
#[async_trait]
pub trait TaskHandler: Send + Sync + 'static {
    /// Runs one attempt of a task. For `.waitForTaskToken` resources the
    /// returned value is ignored (the callback carries the result) but an
    /// error still fails the attempt.
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskError>;
}

/// A handler that returns its parameters unchanged: the benchmark's echo
/// Lambda, and a convenient default in tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoHandler;

#[async_trait]
impl TaskHandler for EchoHandler {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskError> {
        Ok(request.parameters)
    }
}

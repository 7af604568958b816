//! A Step Functions stand-in for StartExecution that records every call and
//! keeps Step Functions' idempotency rules.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Faults, lock};
use crate::error::PortError;
use crate::ids::OrderId;
use crate::ports::{ExecutionStarter, StartOutcome};

/// One StartExecution call as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartCall {
    /// The execution name.
    pub name: OrderId,
    /// The input document.
    pub input: String,
}

/// Executions by name. The same name with the same input is the same
/// execution (`Started`, nothing new); another input for a known name is
/// `AlreadyExists`, as Step Functions answers.
#[derive(Debug, Default)]
pub struct RecordingExecutions {
    state: Mutex<ExecutionsState>,
    /// Fault injection: a failed call is recorded as not received.
    pub faults: Faults,
}

#[derive(Debug, Default)]
struct ExecutionsState {
    calls: Vec<StartCall>,
    executions: HashMap<OrderId, String>,
    stopped: Vec<crate::step_io::ExecutionStatusChange>,
}

impl RecordingExecutions {
    /// No executions, no calls.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every call that reached the service, in order.
    pub fn calls(&self) -> Vec<StartCall> {
        lock(&self.state).calls.clone()
    }

    /// The executions that exist, with their input.
    pub fn executions(&self) -> HashMap<OrderId, String> {
        lock(&self.state).executions.clone()
    }

    /// Adds a stopped execution for [`StoppedExecutions::stopped_since`].
    pub fn add_stopped(&self, change: crate::step_io::ExecutionStatusChange) {
        lock(&self.state).stopped.push(change);
    }
}

impl crate::ports::StoppedExecutions for RecordingExecutions {
    async fn stopped_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<Vec<crate::step_io::ExecutionStatusChange>, PortError> {
        self.faults.check("stopped_since")?;
        let since = since.timestamp_millis();
        Ok(lock(&self.state)
            .stopped
            .iter()
            .filter(|change| change.stop_date.is_some_and(|stop| stop >= since))
            .take(limit)
            .cloned()
            .collect())
    }
}

impl ExecutionStarter for RecordingExecutions {
    async fn start_execution(
        &self,
        name: &OrderId,
        input: &str,
    ) -> Result<StartOutcome, PortError> {
        self.faults.check("start_execution")?;
        let mut state = lock(&self.state);
        state.calls.push(StartCall {
            name: name.clone(),
            input: input.to_owned(),
        });
        match state.executions.get(name) {
            Some(existing) if existing == input => Ok(StartOutcome::Started),
            Some(_) => Ok(StartOutcome::AlreadyExists),
            None => {
                state.executions.insert(name.clone(), input.to_owned());
                Ok(StartOutcome::Started)
            }
        }
    }
}

//! The seam between the state loop and the work that Task, Parallel and
//! Map states do.
//!
//! The loop never asks what kind of run it is in: it hands the work to the
//! runtime's [`StateWork`]. An execution uses [`LiveWork`], which calls the
//! [`TaskHandler`], runs branches and iterations, and sleeps before a
//! retry. The TestState API puts its own implementation in front of it
//! (see `test_state`), which answers with mocked results and context and
//! reports a retry instead of making it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::runtime::Runtime;
use super::task::{TaskCall, TaskEnd, call_resource};
use super::{Frame, StateFacts, map, parallel};
use crate::definition::{MapSpec, State, StateMachine};
use crate::scope::Failure;
use crate::task::TaskHandler;

/// How the work of Task, Parallel and Map states gets done.
#[async_trait]
pub(super) trait StateWork: Send + Sync {
    /// Calls a Task's resource and, for `.waitForTaskToken`, waits for its
    /// callback; the task's events around the call are the caller's.
    async fn call_task(&self, rt: &Runtime, call: TaskCall, frame: &mut Frame) -> TaskEnd;

    /// Runs a Parallel state's branches over `input`.
    async fn run_branches(
        &self,
        rt: &Runtime,
        state: &State,
        branches: &[Arc<StateMachine>],
        input: Value,
        frame: &mut Frame,
    ) -> Result<Value, Failure>;

    /// Runs a Map state over its effective input.
    async fn run_map(
        &self,
        rt: &Runtime,
        state: &State,
        spec: &MapSpec,
        effective: Value,
        facts: &StateFacts<'_>,
        frame: &mut Frame,
    ) -> Result<Value, Failure>;

    /// Waits out the delay before a retry. False when this run makes no
    /// further attempt, so the failure is reported as retriable instead.
    async fn wait_to_retry(&self, rt: &Runtime, delay: Duration) -> bool;

    /// A context object (`$$`) that replaces the one built from the
    /// execution.
    fn context_object(&self) -> Option<Value>;
}

/// The work of a real execution.
pub(super) struct LiveWork {
    handler: Arc<dyn TaskHandler>,
}

impl LiveWork {
    pub(super) fn new(handler: Arc<dyn TaskHandler>) -> Self {
        Self { handler }
    }
}

#[async_trait]
impl StateWork for LiveWork {
    async fn call_task(&self, rt: &Runtime, call: TaskCall, frame: &mut Frame) -> TaskEnd {
        call_resource(rt, &*self.handler, call, frame).await
    }

    async fn run_branches(
        &self,
        rt: &Runtime,
        state: &State,
        branches: &[Arc<StateMachine>],
        input: Value,
        frame: &mut Frame,
    ) -> Result<Value, Failure> {
        parallel::run_parallel(rt, state, branches, input, frame).await
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
        let items = map::lookup_items(rt, spec, &effective, facts, frame)?;
        let items = map::item_array(items, spec)?;
        map::run_map(rt, state, spec, items, &effective, facts, frame).await
    }

    async fn wait_to_retry(&self, rt: &Runtime, delay: Duration) -> bool {
        rt.clock.sleep(delay).await;
        true
    }

    fn context_object(&self) -> Option<Value> {
        None
    }
}

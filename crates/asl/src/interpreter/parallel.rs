//! The Parallel state: every branch runs concurrently on its own frame,
//! and the output is the array of branch outputs, in branch order.
//!
//! Events: `ParallelStateStarted`, then each branch's events chained from
//! it, then `ParallelStateSucceeded`. The first branch to fail fails the
//! state; the other branches are dropped (cancelled) with it.

use std::sync::Arc;

use serde_json::Value;

use super::runtime::Runtime;
use super::{Frame, run_machine};
use crate::definition::{State, StateMachine};
use crate::history::{EventDetails, EventType};
use crate::scope::Failure;

pub(super) async fn run_parallel(
    rt: &Runtime,
    state: &State,
    branches: &[Arc<StateMachine>],
    input: Value,
    frame: &mut Frame,
) -> Result<Value, Failure> {
    let started = rt.emit(frame, EventType::ParallelStateStarted, EventDetails::None);
    let base = frame.clone();
    let futures = branches.iter().enumerate().map(|(i, branch)| {
        let key = format!("{}/{}#{i}", base.key, state.name);
        let mut child = base.child(key.clone(), started, base.silent);
        let input = input.clone();
        async move {
            // On a redrive, a branch that succeeded last time is not run
            // again (and records no events).
            if let Some(done) = rt.reuse(&key) {
                return Ok((done, child.cursor));
            }
            match run_machine(rt, branch, branch.start_at.clone(), input, &mut child).await {
                Ok(output) => {
                    rt.remember(key, &output);
                    Ok((output, child.cursor))
                }
                Err(failure) => Err((failure, child.cursor)),
            }
        }
    });
    match futures::future::try_join_all(futures).await {
        Ok(results) => {
            // The state goes on from the branch event with the highest id,
            // i.e. the last one recorded.
            let last = results.iter().map(|(_, c)| *c).max().unwrap_or(started);
            frame.cursor = last;
            rt.emit_aside(frame, EventType::ParallelStateSucceeded, EventDetails::None);
            Ok(Value::Array(results.into_iter().map(|(v, _)| v).collect()))
        }
        Err((failure, cursor)) => {
            // ParallelStateFailed is recorded by the caller once no retry follows.
            frame.cursor = cursor;
            Err(failure)
        }
    }
}

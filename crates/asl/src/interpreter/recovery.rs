//! `Retry` and `Catch` around the states that do work (Task, Parallel,
//! Map).
//!
//! After a failed attempt, the first retrier whose `ErrorEquals` matches
//! decides: if it has attempts left, the state waits and runs again;
//! otherwise (or with no matching retrier) the first matching catcher
//! sends the error output to its `Next` state; otherwise the state fails.
//! Each retrier counts its own attempts (`MaxAttempts` is per retrier),
//! while `$$.State.RetryCount` counts every retry of the state.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::{Map, Value};

use super::data_flow::{apply_result_path, assign, with_state_prefix};
use super::runtime::Runtime;
use super::{Frame, StateFacts, Step, attempt_state, emit_exited, exit_finished};
use crate::definition::{Catcher, Retrier, State, StateKind};
use crate::errors;
use crate::history::{AssignedVariables, EventDetails, EventType};
use crate::scope::Failure;

/// How a state recovered from an error (reported by the TestState API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recovery {
    None,
    Caught,
}

impl Failure {
    /// Marks a failure that a retrier would retry, for the TestState API.
    fn into_retriable(mut self) -> Self {
        self.state_prefix = false;
        self.retriable = true;
        self
    }
}

/// Runs a Task, Parallel or Map state with its Retry and Catch.
/// Returns the step and, for the TestState API, how the state ended.
pub(super) async fn run_with_recovery(
    rt: &Runtime,
    state: &State,
    raw_input: &mut Value,
    entered_id: u64,
    entered: DateTime<Utc>,
    frame: &mut Frame,
) -> Result<(Step, Recovery), Failure> {
    let mut attempts = vec![0u64; state.retry.len()];
    let mut retry_count = 0u64;
    loop {
        let facts = StateFacts::of(state, entered, retry_count);
        let failure = match attempt_state(rt, state, raw_input, &facts, frame).await {
            Ok(exit) => return Ok((exit_finished(rt, frame, state, exit), Recovery::None)),
            Err(failure) => with_state_prefix(failure, &state.name, entered_id),
        };
        let retrier = state
            .retry
            .iter()
            .position(|r| errors::matches(&r.error_equals, &failure.error))
            .filter(|&i| attempts[i] < state.retry[i].max_attempts);
        if retrier.is_none() && frame_started_work(state, &failure) {
            // Recorded only when no retry follows (and before a catcher's
            // exit event): a retried attempt goes straight to the next.
            let failed = match state.kind {
                StateKind::Parallel { .. } => EventType::ParallelStateFailed,
                _ => EventType::MapStateFailed,
            };
            rt.emit(frame, failed, EventDetails::None);
        }
        if let Some(index) = retrier {
            let delay = delay_before_retry(&state.retry[index], attempts[index]);
            if !rt.work.wait_to_retry(rt, delay).await {
                return Err(failure.into_retriable());
            }
            attempts[index] += 1;
            retry_count += 1;
            continue;
        }
        let facts = StateFacts::of(state, entered, retry_count);
        return catch(rt, state, &facts, raw_input, failure, frame);
    }
}

/// Whether a Parallel or Map state got as far as starting its branches
/// or iterations (so AWS records `ParallelStateFailed` / `MapStateFailed`).
fn frame_started_work(state: &State, failure: &Failure) -> bool {
    match state.kind {
        StateKind::Parallel { .. } => failure.error != errors::RESULT_PATH_MATCH_FAILURE,
        StateKind::Map(_) => {
            failure.error != errors::RUNTIME && failure.error != errors::RESULT_PATH_MATCH_FAILURE
        }
        _ => false,
    }
}

/// The wait before retry number `attempt` (0-based) of `retrier`.
fn delay_before_retry(retrier: &Retrier, attempt: u64) -> Duration {
    retry_delay(
        retrier.interval_seconds,
        retrier.backoff_rate,
        attempt,
        retrier.max_delay_seconds,
        retrier.full_jitter,
    )
}

/// `IntervalSeconds × BackoffRate^attempt`, capped by `MaxDelaySeconds`.
///
/// The result is then clamped to 31,622,400 s (366 days), which also
/// turns an overflow to infinity into a finite delay, so that
/// `Duration::from_secs_f64` cannot panic. With `JitterStrategy: FULL`
/// the delay is drawn uniformly from `[0, capped delay]`: the jitter
/// spreads retries out but never waits longer than the cap.
fn retry_delay(
    interval: u64,
    backoff: f64,
    attempt: u64,
    max_delay: Option<u64>,
    full_jitter: bool,
) -> Duration {
    let exponent = i32::try_from(attempt).unwrap_or(i32::MAX);
    #[allow(clippy::cast_precision_loss)]
    let mut seconds = interval as f64 * backoff.powi(exponent);
    if let Some(max) = max_delay {
        #[allow(clippy::cast_precision_loss)]
        let max = max as f64;
        seconds = seconds.min(max);
    }
    if !seconds.is_finite() || seconds > 31_622_400.0 {
        seconds = 31_622_400.0;
    }
    if full_jitter {
        seconds = rand::rng().random_range(0.0..=seconds);
    }
    Duration::from_secs_f64(seconds.max(0.0))
}

/// Hands `failure` to the first matching catcher, or fails the state.
fn catch(
    rt: &Runtime,
    state: &State,
    facts: &StateFacts<'_>,
    raw_input: &Value,
    failure: Failure,
    frame: &mut Frame,
) -> Result<(Step, Recovery), Failure> {
    let Some(catcher) = state
        .catch
        .iter()
        .find(|c| errors::matches(&c.error_equals, &failure.error))
    else {
        return Err(failure);
    };
    let (output, assigned) = catch_output(rt, frame, facts, catcher, raw_input, &failure)?;
    emit_exited(rt, frame, state, &output, assigned);
    Ok((Step::Next(catcher.next.clone(), output), Recovery::Caught))
}

/// The error output `{Error, Cause}`, assigned from and placed by the
/// catcher's `Assign` and `ResultPath`.
fn catch_output(
    rt: &Runtime,
    frame: &mut Frame,
    facts: &StateFacts<'_>,
    catcher: &Catcher,
    raw_input: &Value,
    failure: &Failure,
) -> Result<(Value, Option<AssignedVariables>), Failure> {
    let error_output = error_output(failure);
    let assigned = assign(rt, frame, facts, catcher.assign.as_ref(), &error_output)?;
    let output = apply_result_path(&catcher.result_path, raw_input, error_output)?;
    Ok((output, assigned))
}

/// `{"Error": ..., "Cause": ...}` (no `Cause` when there is none): what a
/// catcher passes on and what a tolerated Map iteration leaves in the
/// results.
pub(super) fn error_output(failure: &Failure) -> Value {
    let mut error_output = Map::new();
    error_output.insert("Error".into(), Value::String(failure.error.clone()));
    if let Some(cause) = &failure.cause {
        error_output.insert("Cause".into(), Value::String(cause.clone()));
    }
    Value::Object(error_output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_back_off_and_cap() {
        assert_eq!(retry_delay(3, 2.0, 0, None, false), Duration::from_secs(3));
        assert_eq!(retry_delay(3, 2.0, 2, None, false), Duration::from_secs(12));
        assert_eq!(
            retry_delay(3, 2.0, 2, Some(5), false),
            Duration::from_secs(5)
        );
        assert!(retry_delay(3, 2.0, 2, Some(5), true) <= Duration::from_secs(5));
    }
}

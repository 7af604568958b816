//! The Wait state: how long it waits (`Seconds`, `Timestamp` or their
//! path forms), on the runtime's clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::data_flow::{assign, lookup_failure, select_ref};
use super::runtime::Runtime;
use super::{Frame, StateFacts, Step, exit_with, next_name, select_on};
use crate::choice::parse_timestamp;
use crate::definition::{State, WaitSpec};
use crate::intrinsics::render_plain;
use crate::scope::Failure;

pub(super) async fn run_wait(
    rt: &Runtime,
    state: &State,
    spec: &WaitSpec,
    raw_input: &Value,
    facts: &StateFacts<'_>,
    frame: &mut Frame,
) -> Result<Step, Failure> {
    let effective = select_ref(rt, frame, facts, raw_input, &state.input_path)?;
    let delay = wait_delay(rt, frame, facts, &effective, spec)?;
    if !delay.is_zero() {
        rt.clock.sleep(delay).await;
    }
    let assigned = assign(rt, frame, facts, state.assign.as_ref(), &effective)?;
    let output = select_on(rt, frame, facts, effective, &state.output_path)?;
    Ok(exit_with(
        rt,
        frame,
        state,
        raw_input,
        output,
        assigned,
        next_name(state),
    ))
}

/// How long to wait. A timestamp in the past waits not at all; one more
/// than `i32::MAX` seconds ahead is a runtime error.
fn wait_delay(
    rt: &Runtime,
    frame: &Frame,
    facts: &StateFacts<'_>,
    effective: &Value,
    spec: &WaitSpec,
) -> Result<Duration, Failure> {
    let until = |target: DateTime<chrono::FixedOffset>| -> Result<Duration, Failure> {
        let seconds = (target.with_timezone(&Utc) - rt.clock.now()).num_milliseconds();
        if seconds > i64::from(i32::MAX) * 1000 {
            return Err(Failure::runtime("Wait state delay is too long."));
        }
        Ok(Duration::from_millis(u64::try_from(seconds).unwrap_or(0)))
    };
    match spec {
        WaitSpec::Seconds(s) => Ok(Duration::from_secs(*s)),
        WaitSpec::Timestamp(t) => until(*t),
        WaitSpec::SecondsPath(path) => {
            let value = rt
                .with_scope(frame, facts, effective, |s| {
                    s.lookup(path).map(std::borrow::Cow::into_owned)
                })
                .map_err(|e| lookup_failure(path, e))?;
            match value.as_i64() {
                Some(s) if s >= 0 => Ok(Duration::from_secs(s.unsigned_abs())),
                Some(_) => Err(Failure::runtime(format!(
                    "The SecondsPath parameter references a negative value: {path} == {value}"
                ))),
                None => Err(Failure::runtime(format!(
                    "The SecondsPath parameter cannot be parsed as a long value: {path} == {}",
                    render_plain(&value)
                ))),
            }
        }
        WaitSpec::TimestampPath(path) => {
            let value = rt
                .with_scope(frame, facts, effective, |s| {
                    s.lookup(path).map(std::borrow::Cow::into_owned)
                })
                .map_err(|e| lookup_failure(path, e))?;
            match value.as_str().and_then(parse_timestamp) {
                Some(t) => until(t),
                None => Err(Failure::runtime(format!(
                    "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {path} == {}",
                    render_plain(&value)
                ))),
            }
        }
    }
}

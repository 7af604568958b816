//! The JSONPath data flow of a state: `InputPath` and `OutputPath`
//! ([`select`]), `ResultPath`, `Assign`, the payload size limit, the
//! numbers some fields read from paths, and the `An error occurred while
//! executing the state ...` prefix of runtime errors.
//!
//! The order AWS applies them in, for a state that produces a result:
//! `InputPath` → (`Parameters` → work → `ResultSelector`) → `Assign` (on
//! the result) → `ResultPath` (merging the result into the raw input) →
//! `OutputPath` → size check; see [`finish`].

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::runtime::Runtime;
use super::{Frame, StateFacts, json_text};
use crate::definition::{FailText, NumberSource, ResultPath, Selector, State};
use crate::errors;
use crate::history::{AssignedVariables, JsonText};
use crate::intrinsics::render_plain;
use crate::path::{JsonPath, PathRoot};
use crate::scope::{Failure, LookupError, Scope};
use crate::template::Template;

/// Adds AWS's `An error occurred while executing the state ...` prefix to
/// runtime failures raised by a state's fields.
pub(super) fn with_state_prefix(mut failure: Failure, state: &str, entered_id: u64) -> Failure {
    if failure.state_prefix {
        failure.cause = Some(format!(
            "An error occurred while executing the state '{state}' (entered at the event id #{entered_id}). {}",
            failure.cause.as_deref().unwrap_or("")
        ));
        failure.state_prefix = false;
    }
    failure
}

/// The `States.Runtime` failure of a path that found nothing.
pub(super) fn lookup_failure(path: &JsonPath, error: LookupError) -> Failure {
    Failure::runtime(format!("Invalid path '{path}' : {}", error.describe()))
}

/// `InputPath` / `OutputPath`: the whole value, `{}` for `null`, or what
/// the path finds (a miss is a runtime error).
pub(super) fn select(scope: &Scope<'_>, selector: &Selector) -> Result<Value, Failure> {
    match selector {
        Selector::Whole => Ok(scope.data.clone()),
        Selector::Discard => Ok(Value::Object(Map::new())),
        Selector::Path(path) => scope
            .lookup(path)
            .map(std::borrow::Cow::into_owned)
            .map_err(|e| lookup_failure(path, e)),
    }
}

/// `InputPath` / `OutputPath` over borrowed data: the data itself (not a
/// copy), `{}` for `null`, or what the path finds (a miss is a runtime
/// error). A definite path on `$` borrows too.
pub(super) fn select_ref<'v>(
    rt: &Runtime,
    frame: &Frame,
    facts: &StateFacts<'_>,
    data: &'v Value,
    selector: &Selector,
) -> Result<Cow<'v, Value>, Failure> {
    match selector {
        Selector::Whole => Ok(Cow::Borrowed(data)),
        Selector::Discard => Ok(Cow::Owned(Value::Object(Map::new()))),
        // What `Scope::lookup` does for a `$` path, without the scope.
        Selector::Path(path) if matches!(path.root(), PathRoot::Data) => path
            .select(data)
            .map_err(|miss| lookup_failure(path, LookupError::Miss(miss))),
        Selector::Path(_) => rt
            .with_scope(frame, facts, data, |s| select(s, selector))
            .map(Cow::Owned),
    }
}

/// [`select_ref`] on data the caller owns: the whole value moves through.
pub(super) fn select_owned(
    rt: &Runtime,
    frame: &Frame,
    facts: &StateFacts<'_>,
    data: Value,
    selector: &Selector,
) -> Result<Value, Failure> {
    match selector {
        Selector::Whole => Ok(data),
        _ => select_ref(rt, frame, facts, &data, selector).map(Cow::into_owned),
    }
}

/// Whether `output` is `input` itself (borrowed through by
/// [`select_ref`], not rebuilt), so the state passes its input on
/// unchanged.
pub(super) fn is_same(output: &Value, input: &Value) -> bool {
    std::ptr::eq(output, input)
}

/// `ResultPath`: the result replaces the input, is dropped, or is written
/// into a copy of the raw input (`States.ResultPathMatchFailure` when the
/// path cannot be written, e.g. through a number).
pub(super) fn apply_result_path(
    result_path: &ResultPath,
    raw_input: &Value,
    result: Value,
) -> Result<Value, Failure> {
    match result_path {
        ResultPath::Replace => Ok(result),
        ResultPath::Discard => Ok(raw_input.clone()),
        ResultPath::Path(path) => {
            let mut combined = raw_input.clone();
            path.write(&mut combined, result)
                .map_err(|_| result_path_failure(path, raw_input))?;
            Ok(combined)
        }
    }
}

/// Approximate serialized size, without allocating. Numbers count as 8
/// bytes whatever their text, so this can be off by a little either way;
/// it only guards the 256 KiB limit.
fn json_size(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Bool(_) => 5,
        Value::Number(_) => 8,
        Value::String(s) => s.len() + 2,
        Value::Array(a) => 2 + a.iter().map(|v| json_size(v) + 1).sum::<usize>(),
        Value::Object(o) => {
            2 + o
                .iter()
                .map(|(k, v)| k.len() + 4 + json_size(v))
                .sum::<usize>()
        }
    }
}

/// `States.DataLimitExceeded` when a state's output is over 256 KiB.
pub(super) fn check_size(state: &str, value: &Value) -> Result<(), Failure> {
    if json_size(value) > errors::MAX_PAYLOAD_BYTES {
        return Err(Failure::new(
            errors::DATA_LIMIT_EXCEEDED,
            Some(format!(
                "The state/task '{state}' returned a result with a size exceeding the maximum number of bytes service limit."
            )),
        ));
    }
    Ok(())
}

/// Evaluates `Assign` and applies it to the frame; returns what the exit
/// event records.
pub(super) fn assign(
    rt: &Runtime,
    frame: &mut Frame,
    facts: &StateFacts<'_>,
    template: Option<&Template>,
    data: &Value,
) -> Result<Option<AssignedVariables>, Failure> {
    let Some(template) = template else {
        return Ok(None);
    };
    let values = rt.with_scope(frame, facts, data, |scope| template.evaluate(scope))?;
    let Value::Object(values) = values else {
        return Ok(None);
    };
    // Every value is evaluated against the same scope before any is
    // assigned, so `Assign` entries cannot see each other.
    let mut recorded = Vec::with_capacity(values.len());
    // Copy on write: a branch or iteration shares its parent's variables
    // until it assigns, and its assignments stay its own.
    let variables = Arc::make_mut(&mut frame.variables);
    for (name, value) in values {
        recorded.push((name.clone().into_boxed_str(), json_text(&value)));
        variables.insert(name, value);
    }
    if recorded.is_empty() {
        return Ok(None);
    }
    // The exit event lists the variables by name.
    recorded.sort();
    Ok(Some(recorded.into_boxed_slice()))
}

/// A state's output as `finish` leaves it: the value, the variables it
/// assigned, and the exit event's JSON text (serialised once, while
/// checking the size limit; `None` in a frame that records no events).
pub(super) struct Exit {
    pub(super) output: Value,
    pub(super) assigned: Option<AssignedVariables>,
    pub(super) text: Option<JsonText>,
}

/// ResultSelector (already applied by callers that have one), Assign,
/// ResultPath, OutputPath and the size limit.
///
/// `ResultPath` writes the result into the raw input itself rather than
/// into a copy (the copy was most of a state's cost): when this succeeds
/// the raw input may have been moved into the output (it is left `null`),
/// and when it fails the raw input is exactly as it was, so a retry, a
/// catcher or a redrive still sees it.
pub(super) fn finish(
    rt: &Runtime,
    state: &State,
    frame: &mut Frame,
    facts: &StateFacts<'_>,
    raw_input: &mut Value,
    result: Value,
) -> Result<Exit, Failure> {
    let assigned = assign(rt, frame, facts, state.assign.as_ref(), &result)?;
    let (output, text) = match &state.result_path {
        ResultPath::Replace => {
            let output = select_owned(rt, frame, facts, result, &state.output_path)?;
            let text = checked_text(state, frame, &output)?;
            (output, text)
        }
        ResultPath::Discard => output_from_input(rt, frame, facts, state, raw_input)?,
        ResultPath::Path(path) => {
            let undo = path
                .write_in_place(raw_input, result)
                .map_err(|_| result_path_failure(path, raw_input))?;
            match output_from_input(rt, frame, facts, state, raw_input) {
                Ok(output) => output,
                Err(failure) => {
                    path.undo_write(raw_input, undo);
                    return Err(failure);
                }
            }
        }
    };
    Ok(Exit {
        output,
        assigned,
        text,
    })
}

/// The size limit, and the exit event's text of `output` in a frame that
/// records events. [`json_size`] never exceeds 8 bytes per byte of the
/// text (a number counts 8 and takes at least 1, everything else counts
/// no more than it takes), so a text of at most 1/8 of the limit proves
/// the estimate within it and the estimate is skipped.
fn checked_text(state: &State, frame: &Frame, output: &Value) -> Result<Option<JsonText>, Failure> {
    if frame.silent {
        check_size(&state.name, output)?;
        return Ok(None);
    }
    let text = json_text(output);
    if text.len() > errors::MAX_PAYLOAD_BYTES / 8 {
        check_size(&state.name, output)?;
    }
    Ok(Some(text))
}

/// `OutputPath` and the size limit over the raw input (which `ResultPath`
/// has written to): a whole selection moves it out, only once it passed.
fn output_from_input(
    rt: &Runtime,
    frame: &Frame,
    facts: &StateFacts<'_>,
    state: &State,
    raw_input: &mut Value,
) -> Result<(Value, Option<JsonText>), Failure> {
    if matches!(state.output_path, Selector::Whole) {
        let text = checked_text(state, frame, raw_input)?;
        return Ok((std::mem::take(raw_input), text));
    }
    let output = select_ref(rt, frame, facts, raw_input, &state.output_path)?.into_owned();
    let text = checked_text(state, frame, &output)?;
    Ok((output, text))
}

/// `States.ResultPathMatchFailure`: `path` cannot be written into `input`.
fn result_path_failure(path: &JsonPath, input: &Value) -> Failure {
    Failure::new(
        errors::RESULT_PATH_MATCH_FAILURE,
        Some(format!(
            "Unable to apply ReferencePath {path} to input '{input}'"
        )),
    )
}

/// A Fail state's error or cause: literal, intrinsic call or path (`field`
/// names the path field in the error).
pub(super) fn fail_text(
    rt: &Runtime,
    frame: &Frame,
    facts: &StateFacts<'_>,
    raw_input: &Value,
    text: &FailText,
    field: &str,
) -> Result<Option<String>, Failure> {
    match text {
        FailText::Absent => Ok(None),
        FailText::Literal(s) => Ok(Some(s.clone())),
        FailText::Call(call) => rt
            .with_scope(frame, facts, raw_input, |s| call.evaluate(s))
            .map(|v| Some(render_plain(&v))),
        FailText::Path(path) => rt.with_scope(frame, facts, raw_input, |scope| match scope.lookup(path) {
            Ok(v) => Ok(Some(render_plain(&v))),
            Err(LookupError::Miss(_)) => Err(Failure::runtime(format!(
                "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{}'",
                scope.data
            ))),
            Err(e) => Err(Failure::runtime(e.describe())),
        }),
    }
}

/// Reads a number that may arrive as a numeric string (variables often
/// hold `"1"`).
fn numeric(value: Value) -> Value {
    match &value {
        Value::String(s) => serde_json::from_str::<Value>(s.trim())
            .ok()
            .filter(Value::is_number)
            .unwrap_or(value),
        _ => value,
    }
}

/// A number field's value: the literal, or what its path finds in `data`.
pub(super) fn number_value(
    rt: &Runtime,
    frame: &Frame,
    facts: &StateFacts<'_>,
    data: &Value,
    source: &NumberSource,
) -> Result<Value, Failure> {
    match source {
        NumberSource::Literal(v) => Ok(v.clone()),
        NumberSource::Path(path) => rt
            .with_scope(frame, facts, data, |s| {
                s.lookup(path).map(std::borrow::Cow::into_owned)
            })
            .map(numeric)
            .map_err(|e| lookup_failure(path, e)),
    }
}

/// `TimeoutSeconds` / `HeartbeatSeconds` (`field`): a positive integer when
/// given.
pub(super) fn seconds_value(
    rt: &Runtime,
    frame: &Frame,
    facts: &StateFacts<'_>,
    data: &Value,
    source: Option<&NumberSource>,
    field: &str,
) -> Result<Option<u64>, Failure> {
    let Some(source) = source else {
        return Ok(None);
    };
    let value = number_value(rt, frame, facts, data, source)?;
    match value.as_u64().filter(|s| *s > 0) {
        Some(s) => Ok(Some(s)),
        None => Err(Failure::runtime(format!(
            "The {field}Path field refers to value \"{}\" which is not a valid positive integer",
            render_plain(&value)
        ))),
    }
}

/// A number source as error messages show it.
pub(super) fn source_path(source: &NumberSource) -> String {
    match source {
        NumberSource::Path(p) => p.to_string(),
        NumberSource::Literal(v) => v.to_string(),
    }
}

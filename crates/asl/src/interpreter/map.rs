//! The Map state: reads the items, evaluates its limits, builds each
//! iteration's input, runs the iterations through the item processor and
//! decides whether the failures it saw are tolerated.
//!
//! Tolerated failures: without `ToleratedFailureCount` or
//! `ToleratedFailurePercentage`, the first failed iteration fails the
//! state with its own error and the iterations still running are
//! cancelled. With either, every iteration runs and a failed one leaves
//! its `{Error, Cause}` in its slot of the output; the state then fails
//! with `States.ExceedToleratedFailureThreshold` only if the number of
//! failures is greater than the count, or their share of all items (in
//! percent) is greater than the percentage. So a count of 0 tolerates
//! nothing, but still reports the threshold error.
//!
//! A distributed Map runs the same way, inline, but as AWS records a map
//! run: `MapRunStarted` / `MapRunSucceeded` / `MapRunFailed` in the
//! execution's history and no iteration events (the iterations' frames
//! are silent).

use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use serde_json::Value;

use super::data_flow::{lookup_failure, number_value, source_path};
use super::recovery::error_output;
use super::runtime::Runtime;
use super::{Frame, StateFacts, lock, run_machine};
use crate::definition::{MapSpec, NumberSource, State, StateMachine};
use crate::errors;
use crate::history::{EventDetails, EventType};
use crate::intrinsics::render_plain;
use crate::path::{JsonPath, PathRoot};
use crate::scope::Failure;

/// Runs the Map over `items` (read from `effective` by [`lookup_items`]
/// and [`item_array`]).
pub(super) async fn run_map(
    rt: &Runtime,
    state: &State,
    spec: &MapSpec,
    items: Vec<Value>,
    effective: &Value,
    facts: &StateFacts<'_>,
    frame: &mut Frame,
) -> Result<Value, Failure> {
    // `MaxConcurrency` is read before `MapStateStarted` is recorded, the
    // tolerances after it (so a bad tolerance leaves a started Map in the
    // history).
    let max_concurrency = max_concurrency(rt, spec, effective, facts, frame)?;
    rt.emit(
        frame,
        EventType::MapStateStarted,
        EventDetails::MapStarted {
            length: items.len(),
        },
    );
    let tolerance = Tolerance {
        count: tolerated_count(rt, spec, effective, facts, frame)?,
        percentage: tolerated_percentage(rt, spec, effective, facts, frame)?,
    };
    if spec.distributed {
        emit_map_run_started(rt, state, frame);
    }
    let inputs = iteration_inputs(rt, spec, &items, effective, facts, frame)?;
    let run = run_iterations(rt, state, spec, inputs, max_concurrency, &tolerance, frame).await;
    conclude(rt, spec, &tolerance, run, items.len(), frame)
}

/// The items: the effective input, or what `ItemsPath` finds in it.
pub(super) fn lookup_items(
    rt: &Runtime,
    spec: &MapSpec,
    effective: &Value,
    facts: &StateFacts<'_>,
    frame: &Frame,
) -> Result<Value, Failure> {
    match &spec.items_path {
        None => Ok(effective.clone()),
        Some(path) => rt
            .with_scope(frame, facts, effective, |s| {
                s.lookup(path).map(std::borrow::Cow::into_owned)
            })
            .map_err(|e| lookup_failure(path, e)),
    }
}

/// The items as an array; anything else is a runtime error (with the
/// state prefix, which the TestState API drops).
pub(super) fn item_array(items: Value, spec: &MapSpec) -> Result<Vec<Value>, Failure> {
    let Value::Array(items) = items else {
        let shown = spec
            .items_path
            .as_ref()
            .map_or_else(|| "$".to_owned(), path_text_for_array_error);
        return Err(Failure::runtime(format!(
            "Reference path \"{shown}\" must point to array."
        )));
    };
    Ok(items)
}

/// The path as AWS's "must point to array" error shows it: a context path
/// loses one `$` (`$.Execution.Input`, not `$$.Execution.Input`).
fn path_text_for_array_error(path: &JsonPath) -> String {
    let text = path.as_str();
    match path.root() {
        PathRoot::Context => text[1..].to_owned(),
        _ => text.to_owned(),
    }
}

/// `MaxConcurrency` (0, the default, means no limit).
fn max_concurrency(
    rt: &Runtime,
    spec: &MapSpec,
    effective: &Value,
    facts: &StateFacts<'_>,
    frame: &Frame,
) -> Result<usize, Failure> {
    let Some(source) = &spec.max_concurrency else {
        return Ok(0);
    };
    let value = number_value(rt, frame, facts, effective, source)?;
    match value.as_u64() {
        Some(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        None => Err(not_a_number(
            "MaxConcurrencyPath",
            "integer",
            &value,
            source,
        )),
    }
}

fn tolerated_count(
    rt: &Runtime,
    spec: &MapSpec,
    effective: &Value,
    facts: &StateFacts<'_>,
    frame: &Frame,
) -> Result<Option<u64>, Failure> {
    let Some(source) = &spec.tolerated_failure_count else {
        return Ok(None);
    };
    let value = number_value(rt, frame, facts, effective, source)?;
    match value.as_i64() {
        Some(n) if n < 0 => Err(Failure::runtime(
            "ToleratedFailureCount cannot be negative.",
        )),
        Some(n) => Ok(Some(n.unsigned_abs())),
        None => Err(not_a_number(
            "ToleratedFailureCountPath",
            "integer",
            &value,
            source,
        )),
    }
}

fn tolerated_percentage(
    rt: &Runtime,
    spec: &MapSpec,
    effective: &Value,
    facts: &StateFacts<'_>,
    frame: &Frame,
) -> Result<Option<f64>, Failure> {
    let Some(source) = &spec.tolerated_failure_percentage else {
        return Ok(None);
    };
    let value = number_value(rt, frame, facts, effective, source)?;
    match value.as_f64() {
        Some(p) if !(0.0..=100.0).contains(&p) => Err(Failure::runtime(
            "ToleratedFailurePercentage must be between 0 and 100.",
        )),
        Some(p) => Ok(Some(p)),
        None => Err(not_a_number(
            "ToleratedFailurePercentagePath",
            "float",
            &value,
            source,
        )),
    }
}

fn not_a_number(field: &str, kind: &str, value: &Value, source: &NumberSource) -> Failure {
    Failure::runtime(format!(
        "The {field} field refers to value \"{}\" which is not a valid {kind}: {}",
        render_plain(value),
        source_path(source)
    ))
}

/// `MapRunStarted`, naming a fresh map run.
fn emit_map_run_started(rt: &Runtime, state: &State, frame: &mut Frame) {
    let info = lock(&rt.info).clone();
    let arn = format!(
        "{}/{}:{}",
        info.state_machine_arn.replace(":stateMachine:", ":mapRun:"),
        state.name,
        uuid::Uuid::new_v4()
    );
    rt.emit(
        frame,
        EventType::MapRunStarted,
        EventDetails::MapRunStarted {
            map_run_arn: arn.into_boxed_str(),
        },
    );
}

/// The input of every iteration: the item itself, or `ItemSelector`
/// evaluated over the Map's effective input with `$$.Map.Item` set.
fn iteration_inputs(
    rt: &Runtime,
    spec: &MapSpec,
    items: &[Value],
    effective: &Value,
    facts: &StateFacts<'_>,
    frame: &Frame,
) -> Result<Vec<Value>, Failure> {
    let Some(template) = &spec.item_selector else {
        return Ok(items.to_vec());
    };
    let mut inputs = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let item_facts = StateFacts {
            token: None,
            map_item: Some((index, item)),
            ..*facts
        };
        inputs.push(rt.with_scope(frame, &item_facts, effective, |s| template.evaluate(s))?);
    }
    Ok(inputs)
}

/// `ToleratedFailureCount` and `ToleratedFailurePercentage`, as evaluated.
struct Tolerance {
    count: Option<u64>,
    percentage: Option<f64>,
}

impl Tolerance {
    /// Whether any failure is tolerated at all (then every iteration runs).
    fn is_set(&self) -> bool {
        self.count.is_some() || self.percentage.is_some()
    }

    /// Whether `failures` of `total` iterations fail the state.
    #[allow(clippy::cast_precision_loss)]
    fn exceeded(&self, failures: usize, total: usize) -> bool {
        failures > 0
            && (!self.is_set()
                || self.count.is_some_and(|c| failures as u64 > c)
                || self
                    .percentage
                    .is_some_and(|p| (failures as f64) * 100.0 / (total as f64) > p))
    }
}

/// What the iterations left: every output (or error output) in item
/// order, the failures, and where the Map's frame goes on from.
struct Iterations {
    outputs: Vec<Value>,
    failures: usize,
    /// The first failure in item order, with the id of its iteration's last
    /// inner event.
    first_failure: Option<(Failure, u64)>,
    /// The end event of the iteration that finished last (0: none ran).
    last_end: u64,
}

/// What every iteration shares.
struct Processor<'a> {
    rt: &'a Runtime,
    machine: &'a StateMachine,
    /// The Map's frame, whose variables each iteration starts from.
    parent: Frame,
    /// The journal key prefix: `<parent key>/<Map name>`.
    base_key: String,
    name: Box<str>,
    silent: bool,
    /// Where the next iteration to start chains from: the Map's cursor at
    /// first, then the last inner event of whichever iteration finished
    /// last. Iterations that start together (up to `MaxConcurrency`) chain
    /// from the same event.
    next_start: AtomicU64,
    /// The `MapIterationSucceeded` / `MapIterationFailed` event of the
    /// iteration that finished last.
    last_end: AtomicU64,
}

/// Runs the iterations, at most `max_concurrency` at a time (0: all).
async fn run_iterations(
    rt: &Runtime,
    state: &State,
    spec: &MapSpec,
    inputs: Vec<Value>,
    max_concurrency: usize,
    tolerance: &Tolerance,
    frame: &Frame,
) -> Iterations {
    let total = inputs.len();
    let limit = if max_concurrency == 0 {
        total.max(1)
    } else {
        max_concurrency
    };
    let processor = Processor {
        rt,
        machine: &spec.processor,
        parent: frame.clone(),
        base_key: format!("{}/{}", frame.key, state.name),
        name: state.name.clone().into_boxed_str(),
        silent: frame.silent || spec.distributed,
        next_start: AtomicU64::new(frame.cursor),
        last_end: AtomicU64::new(0),
    };
    // `buffered` yields results in item order while running up to `limit`
    // iterations at once, so the first failure seen is that of the lowest
    // failed index, and dropping the stream cancels those still running.
    let mut results = futures::stream::iter(inputs.into_iter().enumerate())
        .map(|(index, input)| run_iteration(&processor, index, input))
        .buffered(limit);
    let mut run = Iterations {
        outputs: vec![Value::Null; total],
        failures: 0,
        first_failure: None,
        last_end: 0,
    };
    while let Some((index, result)) = results.next().await {
        match result {
            Ok(output) => run.outputs[index] = output,
            Err((failure, cursor)) => {
                run.failures += 1;
                run.outputs[index] = error_output(&failure);
                if run.first_failure.is_none() {
                    run.first_failure = Some((failure, cursor));
                }
                if !tolerance.is_set() {
                    break;
                }
            }
        }
    }
    drop(results);
    run.last_end = processor.last_end.load(Ordering::SeqCst);
    run
}

/// One iteration: `MapIterationStarted`, the processor's states, then
/// `MapIterationSucceeded` or `MapIterationFailed`.
async fn run_iteration(
    p: &Processor<'_>,
    index: usize,
    input: Value,
) -> (usize, Result<Value, (Failure, u64)>) {
    let key = format!("{}#{index}", p.base_key);
    // On a redrive, an iteration that succeeded last time is not run again
    // (and records no events).
    if let Some(done) = p.rt.reuse(&key) {
        return (index, Ok(done));
    }
    let start = p.next_start.load(Ordering::SeqCst);
    let mut child = p.parent.child(key.clone(), start, p.silent);
    p.rt.emit(
        &mut child,
        EventType::MapIterationStarted,
        EventDetails::MapIteration {
            name: p.name.clone(),
            index,
        },
    );
    let outcome = run_machine(
        p.rt,
        p.machine,
        p.machine.start_at.clone(),
        input,
        &mut child,
    )
    .await;
    let inner_last = child.cursor;
    let event_type = if outcome.is_ok() {
        EventType::MapIterationSucceeded
    } else {
        EventType::MapIterationFailed
    };
    // Aside: the next iteration chains from the last inner event, not from
    // this end event.
    let end = p.rt.emit_aside(
        &child,
        event_type,
        EventDetails::MapIteration {
            name: p.name.clone(),
            index,
        },
    );
    p.next_start.store(inner_last, Ordering::SeqCst);
    p.last_end
        .store(if p.silent { inner_last } else { end }, Ordering::SeqCst);
    match outcome {
        Ok(output) => {
            p.rt.remember(key, &output);
            (index, Ok(output))
        }
        Err(failure) => (index, Err((failure, inner_last))),
    }
}

/// The Map's verdict on its iterations, and its closing events.
fn conclude(
    rt: &Runtime,
    spec: &MapSpec,
    tolerance: &Tolerance,
    run: Iterations,
    total: usize,
    frame: &mut Frame,
) -> Result<Value, Failure> {
    if tolerance.exceeded(run.failures, total) {
        let (failure, cursor) = run
            .first_failure
            .unwrap_or((Failure::new(errors::RUNTIME, None), frame.cursor));
        let failure = if tolerance.is_set() {
            Failure::new(
                errors::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                Some("The specified tolerance threshold was exceeded".to_owned()),
            )
        } else {
            failure
        };
        if spec.distributed {
            rt.emit(
                frame,
                EventType::MapRunFailed,
                EventDetails::Error {
                    error: Some(failure.error.clone().into_boxed_str()),
                    cause: failure.cause.clone().map(String::into_boxed_str),
                },
            );
        } else {
            // Inline, the state's failure follows the failed iteration's
            // last inner event.
            frame.cursor = cursor;
        }
        // MapStateFailed is recorded by the caller once no retry follows.
        return Err(failure);
    }
    if spec.distributed {
        rt.emit(frame, EventType::MapRunSucceeded, EventDetails::None);
    } else if run.last_end != 0 {
        frame.cursor = run.last_end;
    }
    rt.emit_aside(frame, EventType::MapStateSucceeded, EventDetails::None);
    Ok(Value::Array(run.outputs))
}

//! Running a definition: the state loop, the JSONPath data flow of each
//! state, Retry and Catch, Parallel branches and Map iterations, and the
//! history events AWS records for them.
//!
//! Invariants:
//! - one [`Runtime`] per execution holds its history, journal and ports;
//! - each thread of control (the execution, a branch, an iteration) has a
//!   `Frame` with its own variables and `previousEventId` cursor;
//! - `States.Runtime` and `States.DataLimitExceeded` are never retried or
//!   caught;
//! - the journal remembers the last attempt's successful branches and
//!   iterations, so a redrive runs only what failed.
//!
//! Code map: this module holds the frames and the state loop
//! (`run_machine` runs states one after the other, `run_state` runs one
//! state); `runtime` the per-execution state and how events are recorded;
//! `execution` a whole execution's start, redrive and end; `journal` what
//! a redrive resumes from; `data_flow` the JSONPath fields and `Assign`;
//! `recovery` Retry and Catch; `task`, `parallel`, `map` and `wait` the
//! states that do work or wait; `work` the seam through which the loop
//! hands over that work; `test_state` the TestState API, which mocks it.
//!
//! How history events chain: every event gets the next id of the
//! execution's history, and its `previousEventId` is the cursor of the
//! frame that records it, i.e. the last event of the same thread of
//! control. Parallel branches start from `ParallelStateStarted`, Map
//! iterations from `MapStateStarted` (or from the last event of an
//! iteration that finished before they started), and each chains on its
//! own, so events of concurrent branches interleave in id order while each
//! branch stays a chain. When the state goes on, its cursor moves to the
//! last event of its children; `ParallelStateSucceeded` and
//! `MapStateSucceeded` follow that event but are recorded aside (nothing
//! chains to them), so the state's exit event follows it too.

mod data_flow;
mod execution;
mod journal;
mod map;
mod parallel;
mod recovery;
mod runtime;
mod task;
mod test_state;
mod wait;
mod work;

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::choice::ChoiceRule;
use crate::definition::{FailText, State, StateKind, StateMachine, Transition};
use crate::errors;
use crate::history::{AssignedVariables, EventDetails, EventType, JsonText, StateType};
use crate::scope::{Failure, Variables};

pub use execution::{ExecutionInfo, ExecutionStatus, Outcome, drive};
use journal::ResumePoint;
pub use journal::ResumePointHandle;
pub use runtime::Runtime;
pub(crate) use test_state::run_test_state;
pub use test_state::{TestStateMock, TestStateOutcome, test_state};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked while holding it;
    // the data (append-only history) is still consistent.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Compact JSON text.
pub(crate) fn json_text(value: &Value) -> JsonText {
    thread_local! {
        /// Reused for every payload on the thread, so serialising costs one
        /// allocation (the shared text) instead of a growing buffer each time.
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    // `serde_json::to_writer` writes through `io::Write` into bytes, much
    // faster than `Display` (`to_string()`), which goes through
    // `fmt::Formatter` for every fragment; the text is the same.
    // Serialising a `Value` cannot fail (its keys are strings) and always
    // gives UTF-8; the fallbacks only keep this free of panics.
    BUFFER.with(|buffer| {
        let Ok(mut buffer) = buffer.try_borrow_mut() else {
            return value.to_string().into();
        };
        buffer.clear();
        if serde_json::to_writer(&mut *buffer, value).is_err() {
            return value.to_string().into();
        }
        let text = match std::str::from_utf8(&buffer) {
            Ok(text) => text.into(),
            Err(_) => value.to_string().into(),
        };
        // Payloads are at most 256 KiB, but do not keep a rare huge one.
        if buffer.capacity() > 1 << 20 {
            *buffer = Vec::new();
        }
        text
    })
}

fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A thread of control.
#[derive(Clone)]
pub(crate) struct Frame {
    /// Where this thread sits in the execution, e.g. `/P#1/M#3` for the
    /// fourth iteration of Map `M` in the second branch of Parallel `P`;
    /// the journal's keys for branch and iteration outputs extend it.
    key: String,
    variables: Variables,
    /// The id of this thread's last event: the next event's
    /// `previousEventId`.
    cursor: u64,
    /// Records no events (the iterations of a distributed Map, which AWS
    /// records in the map run, not in the execution's history).
    silent: bool,
    /// The execution's own thread, the only one whose failures leave a
    /// resume point for a redrive.
    main: bool,
    /// The JSON text of the last exit event's output, which the next
    /// entered event (or the execution's end) carries too.
    carried: Option<JsonText>,
    /// The JSON text of the current state's input, as its entered event
    /// recorded it: the exit event of a state that passes its input on
    /// unchanged records the same text.
    entered_input: Option<JsonText>,
}

impl Frame {
    pub(crate) fn main(variables: Variables, cursor: u64) -> Self {
        Self {
            key: String::new(),
            variables,
            cursor,
            silent: false,
            main: true,
            carried: None,
            entered_input: None,
        }
    }

    /// The frame of a branch or iteration with journal key `key`, starting
    /// after the event `cursor`.
    fn child(&self, key: String, cursor: u64, silent: bool) -> Self {
        Self {
            key,
            variables: self.variables.clone(),
            cursor,
            silent,
            main: false,
            carried: None,
            entered_input: None,
        }
    }
}

/// What a state does next.
enum Step {
    Next(String, Value),
    End(Value),
    /// The state passed its input on unchanged, to the named state or (with
    /// `None`) out of the machine: the caller still owns that input, so it
    /// is not copied.
    Unchanged(Option<String>),
}

impl Step {
    /// The next state's name and the output, given the state's input.
    fn into_parts(self, input: Value) -> (Option<String>, Value) {
        match self {
            Step::Next(next, output) => (Some(next), output),
            Step::End(output) => (None, output),
            Step::Unchanged(next) => (next, input),
        }
    }
}

/// Per-state facts the context object shows.
#[derive(Clone, Copy)]
struct StateFacts<'a> {
    name: &'a str,
    entered: DateTime<Utc>,
    retry_count: u64,
    token: Option<&'a str>,
    map_item: Option<(usize, &'a Value)>,
}

impl<'a> StateFacts<'a> {
    /// The facts of `state`, entered at `entered`, on its `retry_count`th
    /// retry.
    fn of(state: &'a State, entered: DateTime<Utc>, retry_count: u64) -> Self {
        Self {
            name: &state.name,
            entered,
            retry_count,
            token: None,
            map_item: None,
        }
    }
}

fn state_type(kind: &StateKind) -> StateType {
    match kind {
        StateKind::Pass { .. } => StateType::Pass,
        StateKind::Task(_) => StateType::Task,
        StateKind::Choice { .. } => StateType::Choice,
        StateKind::Wait(_) => StateType::Wait,
        StateKind::Succeed => StateType::Succeed,
        StateKind::Fail { .. } => StateType::Fail,
        StateKind::Parallel { .. } => StateType::Parallel,
        StateKind::Map(_) => StateType::Map,
    }
}

fn transition_step(state: &State, output: Value) -> Step {
    match &state.transition {
        Transition::Next(next) => Step::Next(next.clone(), output),
        Transition::End => Step::End(output),
    }
}

/// The step of a state whose `output` (borrowed from or built out of its
/// `input`) goes on: [`Step::Unchanged`] when it is the input itself.
/// Records the exit event, reusing the input's text in that case.
fn exit_with(
    rt: &Runtime,
    frame: &mut Frame,
    state: &State,
    input: &Value,
    output: Cow<'_, Value>,
    assigned: Option<AssignedVariables>,
    next: Option<&String>,
) -> Step {
    if data_flow::is_same(&output, input) {
        let text = match frame.entered_input.clone() {
            Some(text) => text,
            None => json_text(input),
        };
        emit_exited_text(rt, frame, state, text, assigned);
        return Step::Unchanged(next.cloned());
    }
    let output = output.into_owned();
    emit_exited(rt, frame, state, &output, assigned);
    match next {
        Some(next) => Step::Next(next.clone(), output),
        None => Step::End(output),
    }
}

/// The name of the state `state` transitions to, if any.
fn next_name(state: &State) -> Option<&String> {
    match &state.transition {
        Transition::Next(next) => Some(next),
        Transition::End => None,
    }
}

/// Records `state`'s `*StateExited` event.
fn emit_exited(
    rt: &Runtime,
    frame: &mut Frame,
    state: &State,
    output: &Value,
    assigned: Option<AssignedVariables>,
) {
    emit_exited_text(rt, frame, state, json_text(output), assigned);
}

/// Records the exit event of a state that went through `finish` and says
/// where it goes.
fn exit_finished(rt: &Runtime, frame: &mut Frame, state: &State, exit: data_flow::Exit) -> Step {
    let data_flow::Exit {
        output,
        assigned,
        text,
    } = exit;
    match text {
        Some(text) => emit_exited_text(rt, frame, state, text, assigned),
        None => emit_exited(rt, frame, state, &output, assigned),
    }
    transition_step(state, output)
}

/// Records `state`'s `*StateExited` event with an output already
/// serialised.
fn emit_exited_text(
    rt: &Runtime,
    frame: &mut Frame,
    state: &State,
    output: JsonText,
    assigned: Option<AssignedVariables>,
) {
    rt.emit(
        frame,
        EventType::StateExited(state_type(&state.kind)),
        EventDetails::StateExited {
            name: state.name.clone().into_boxed_str(),
            output,
            assigned,
        },
    );
}

/// Records `state`'s `*StateEntered` event; returns its id.
fn emit_entered(rt: &Runtime, frame: &mut Frame, state: &State, input: &Value) -> u64 {
    let input_text = match frame.carried.take() {
        Some(text) => text,
        // A silent frame records nothing, so skip serialising.
        None if frame.silent => Arc::from(""),
        None => json_text(input),
    };
    frame.entered_input = Some(Arc::clone(&input_text));
    rt.emit(
        frame,
        EventType::StateEntered(state_type(&state.kind)),
        EventDetails::StateEntered {
            name: state.name.clone().into_boxed_str(),
            input: input_text,
        },
    )
}

/// Runs a state machine (or branch, or processor) from `start` to its end.
pub(crate) fn run_machine<'a>(
    rt: &'a Runtime,
    machine: &'a StateMachine,
    start: String,
    input: Value,
    frame: &'a mut Frame,
) -> BoxFuture<'a, Result<Value, Failure>> {
    // Boxed because it recurses: a Parallel or Map state runs machines.
    Box::pin(async move {
        let mut name = start;
        let mut input = input;
        let mut first = true;
        loop {
            let Some(state) = machine.state(&name).cloned() else {
                return Err(Failure::new(
                    errors::RUNTIME,
                    Some(format!("The state '{name}' does not exist")),
                ));
            };
            if frame.main && !first {
                // Redrive reuse applies to the resumed state only, and the
                // journal only ever describes the current state.
                lock(&rt.journal).reuse = false;
                rt.clear_journal_for_new_state();
            }
            first = false;
            let entered_id = emit_entered(rt, frame, &state, &input);
            match run_state(rt, &state, &mut input, entered_id, frame).await {
                Ok(Step::Next(next, output)) => {
                    name = next;
                    input = output;
                }
                Ok(Step::End(output)) => return Ok(output),
                Ok(Step::Unchanged(Some(next))) => name = next,
                Ok(Step::Unchanged(None)) => return Ok(input),
                Err(failure) => {
                    if frame.main {
                        // The state a redrive starts again from, with the
                        // input and variables it saw this time.
                        lock(&rt.journal).resume = Some(ResumePoint {
                            state: name.clone(),
                            input,
                            variables: frame.variables.clone(),
                        });
                    }
                    return Err(data_flow::with_state_prefix(failure, &name, entered_id));
                }
            }
        }
    })
}

/// Runs one state whose entered event has id `entered_id`. When it goes on
/// to a new output, `raw_input` may have been moved into it; when it fails
/// or passes its input on unchanged, `raw_input` is as it was.
async fn run_state(
    rt: &Runtime,
    state: &State,
    raw_input: &mut Value,
    entered_id: u64,
    frame: &mut Frame,
) -> Result<Step, Failure> {
    let entered = rt.clock.now();
    let facts = StateFacts::of(state, entered, 0);
    match &state.kind {
        StateKind::Pass { result } => {
            run_pass(rt, state, result.as_ref(), raw_input, &facts, frame)
        }
        StateKind::Succeed => run_succeed(rt, state, raw_input, &facts, frame),
        StateKind::Fail { error, cause } => run_fail(rt, raw_input, error, cause, &facts, frame),
        StateKind::Choice { rules, default } => {
            let choice = Choice {
                rules,
                default: default.as_ref(),
                entered_id,
            };
            run_choice(rt, state, &choice, raw_input, &facts, frame)
        }
        StateKind::Wait(spec) => wait::run_wait(rt, state, spec, raw_input, &facts, frame).await,
        StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_) => {
            recovery::run_with_recovery(rt, state, raw_input, entered_id, entered, frame)
                .await
                .map(|(step, _)| step)
        }
    }
}

fn run_pass(
    rt: &Runtime,
    state: &State,
    result: Option<&Value>,
    raw_input: &mut Value,
    facts: &StateFacts<'_>,
    frame: &mut Frame,
) -> Result<Step, Failure> {
    let effective = data_flow::select_ref(rt, frame, facts, raw_input, &state.input_path)?;
    // `Result` wins over `Parameters`; with neither, the input passes on.
    let result = match (result, &state.parameters) {
        (Some(result), _) => result.clone(),
        (None, Some(template)) => {
            rt.with_scope(frame, facts, &effective, |s| template.evaluate(s))?
        }
        (None, None) => effective.into_owned(),
    };
    let exit = data_flow::finish(rt, state, frame, facts, raw_input, result)?;
    Ok(exit_finished(rt, frame, state, exit))
}

fn run_succeed(
    rt: &Runtime,
    state: &State,
    raw_input: &Value,
    facts: &StateFacts<'_>,
    frame: &mut Frame,
) -> Result<Step, Failure> {
    let effective = data_flow::select_ref(rt, frame, facts, raw_input, &state.input_path)?;
    let output = select_on(rt, frame, facts, effective, &state.output_path)?;
    Ok(exit_with(rt, frame, state, raw_input, output, None, None))
}

fn run_fail(
    rt: &Runtime,
    raw_input: &Value,
    error: &FailText,
    cause: &FailText,
    facts: &StateFacts<'_>,
    frame: &Frame,
) -> Result<Step, Failure> {
    let error = data_flow::fail_text(rt, frame, facts, raw_input, error, "ErrorPath")?;
    let cause = data_flow::fail_text(rt, frame, facts, raw_input, cause, "CausePath")?;
    // Without `Error` the failure has an empty name, which the execution's
    // end and the TestState API report as no error at all.
    Err(Failure::new(error.unwrap_or_default(), cause))
}

/// A Choice state's own fields, and its entered event for the error text.
struct Choice<'a> {
    rules: &'a [ChoiceRule],
    default: Option<&'a String>,
    entered_id: u64,
}

fn run_choice(
    rt: &Runtime,
    state: &State,
    choice: &Choice<'_>,
    raw_input: &Value,
    facts: &StateFacts<'_>,
    frame: &mut Frame,
) -> Result<Step, Failure> {
    let effective = data_flow::select_ref(rt, frame, facts, raw_input, &state.input_path)?;
    let chosen = rt.with_scope(frame, facts, &effective, |scope| {
        choice.rules.iter().find(|rule| rule.condition.holds(scope))
    });
    let (next, rule_assign) = match (chosen, choice.default) {
        (Some(rule), _) => (rule.next.clone(), rule.assign.as_ref()),
        (None, Some(default)) => (default.clone(), None),
        (None, None) => {
            return Err(Failure::new(
                errors::NO_CHOICE_MATCHED,
                Some(format!(
                    "An error occurred while executing the state '{}' (entered at the event id #{}). No Choice Rules matched and no Default was specified",
                    state.name, choice.entered_id
                )),
            ));
        }
    };
    // The matched rule's `Assign` applies first, then the state's; the exit
    // event lists both.
    let mut assigned = data_flow::assign(rt, frame, facts, rule_assign, &effective)?;
    if let Some(more) = data_flow::assign(rt, frame, facts, state.assign.as_ref(), &effective)? {
        let mut all: Vec<_> = assigned.map(Vec::from).unwrap_or_default();
        all.extend(more.into_vec());
        assigned = Some(all.into_boxed_slice());
    }
    let output = select_on(rt, frame, facts, effective, &state.output_path)?;
    Ok(exit_with(
        rt,
        frame,
        state,
        raw_input,
        output,
        assigned,
        Some(&next),
    ))
}

/// `OutputPath` over a state's effective input: still borrowed from the
/// raw input when it was, so an unchanged input is never copied.
fn select_on<'v>(
    rt: &Runtime,
    frame: &Frame,
    facts: &StateFacts<'_>,
    effective: Cow<'v, Value>,
    selector: &crate::definition::Selector,
) -> Result<Cow<'v, Value>, Failure> {
    match effective {
        Cow::Borrowed(data) => data_flow::select_ref(rt, frame, facts, data, selector),
        Cow::Owned(data) => {
            data_flow::select_owned(rt, frame, facts, data, selector).map(Cow::Owned)
        }
    }
}

/// One attempt of a Task, Parallel or Map state, through `finish` (see
/// there for what becomes of `raw_input`).
async fn attempt_state(
    rt: &Runtime,
    state: &State,
    raw_input: &mut Value,
    facts: &StateFacts<'_>,
    frame: &mut Frame,
) -> Result<data_flow::Exit, Failure> {
    let effective = data_flow::select_ref(rt, frame, facts, raw_input, &state.input_path)?;
    let result = match &state.kind {
        StateKind::Task(spec) => {
            // With neither `InputPath` nor `Parameters` changing it, the
            // task's input is the state's, whose text is known already.
            let input_text =
                if state.parameters.is_none() && data_flow::is_same(&effective, raw_input) {
                    frame.entered_input.clone()
                } else {
                    None
                };
            task::attempt_task(rt, state, spec, effective, input_text, facts, frame).await?
        }
        StateKind::Parallel { branches } => {
            let input = match &state.parameters {
                Some(t) => rt.with_scope(frame, facts, &effective, |s| t.evaluate(s))?,
                None => effective.into_owned(),
            };
            rt.work
                .run_branches(rt, state, branches, input, frame)
                .await?
        }
        StateKind::Map(spec) => {
            rt.work
                .run_map(rt, state, spec, effective.into_owned(), facts, frame)
                .await?
        }
        _ => effective.into_owned(),
    };
    let result = match &state.result_selector {
        Some(t) => rt.with_scope(frame, facts, &result, |s| t.evaluate(s))?,
        None => result,
    };
    data_flow::finish(rt, state, frame, facts, raw_input, result)
}

//! Running a definition: the state loop, the JSONPath data flow of each
//! state, Retry and Catch, Parallel branches and Map iterations, and the
//! history events AWS records for them.
//!
//! Invariants:
//! - one [`Runtime`] per execution holds its history, journal and ports;
//! - each thread of control (the execution, a branch, an iteration) has a
//!   [`Frame`] with its own variables and `previousEventId` cursor;
//! - `States.Runtime` and `States.DataLimitExceeded` are never retried or
//!   caught;
//! - the journal remembers the last attempt's successful branches and
//!   iterations, so a redrive runs only what failed.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use rand::Rng;
use serde_json::{Map, Value, json};

use crate::choice::parse_timestamp;
use crate::clock::Clock;
use crate::definition::{
    Catcher, Definition, FailText, IntegrationPattern, MapSpec, NumberSource, ResultPath, Selector,
    State, StateKind, StateMachine, TaskSpec, Transition, WaitSpec,
};
use crate::errors;
use crate::history::{
    AssignedVariables, EventDetails, EventType, HistoryEvent, JsonText, StateType, TaskResource,
};
use crate::intrinsics::render_plain;
use crate::path::{JsonPath, PathRoot};
use crate::scope::{Failure, LazyContext, LookupError, Scope, Variables};
use crate::task::{TaskError, TaskHandler, TaskRequest};
use crate::tokens::{IssuedToken, TaskTokens, TokenMessage};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Identity of an execution, as the context object and events show it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionInfo {
    /// Execution ARN.
    pub execution_arn: String,
    /// Execution name.
    pub name: String,
    /// State machine ARN.
    pub state_machine_arn: String,
    /// State machine name.
    pub state_machine_name: String,
    /// The role the execution runs as.
    pub role_arn: String,
    /// Region, for task events.
    pub region: String,
    /// The execution input.
    pub input: Value,
    /// When the execution started.
    pub start_time: DateTime<Utc>,
    /// How often it was redriven.
    pub redrive_count: u32,
}

impl ExecutionInfo {
    /// Identity in the default local account and region.
    pub fn local(
        state_machine_name: &str,
        execution_name: &str,
        input: Value,
        start_time: DateTime<Utc>,
    ) -> Self {
        let prefix = "arn:aws:states:us-east-1:000000000000";
        Self {
            execution_arn: format!("{prefix}:execution:{state_machine_name}:{execution_name}"),
            name: execution_name.to_owned(),
            state_machine_arn: format!("{prefix}:stateMachine:{state_machine_name}"),
            state_machine_name: state_machine_name.to_owned(),
            role_arn: "arn:aws:iam::000000000000:role/StepFunctionsLocal".to_owned(),
            region: "us-east-1".to_owned(),
            input,
            start_time,
            redrive_count: 0,
        }
    }
}

/// Execution status, as `DescribeExecution` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl ExecutionStatus {
    /// `RUNNING`, `SUCCEEDED`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        }
    }
}

/// How a finished run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Final status.
    pub status: ExecutionStatus,
    /// Output when it succeeded.
    pub output: Option<Value>,
    /// Error name when it failed.
    pub error: Option<String>,
    /// Cause when it failed.
    pub cause: Option<String>,
}

/// Where a redrive picks up: the main thread's failed state, its input and
/// the variables it saw.
#[derive(Debug, Clone)]
pub(crate) struct ResumePoint {
    pub state: String,
    pub input: Value,
    pub variables: Variables,
}

#[derive(Debug, Default)]
pub(crate) struct Journal {
    /// Outputs of branches and iterations that succeeded during the main
    /// thread's current state.
    completed: HashMap<String, Value>,
    /// Whether those outputs may be reused (only while redriving the
    /// failed state).
    reuse: bool,
    pub resume: Option<ResumePoint>,
}

/// Mocked results for the TestState API.
#[derive(Debug, Clone, Default)]
pub struct TestStateMock {
    /// Replaces the work of a Task, Parallel or Map state.
    pub result: Option<Result<Value, TaskError>>,
    /// Replaces the context object.
    pub context: Option<Value>,
}

/// Everything one execution needs while it runs.
pub struct Runtime {
    pub(crate) info: Mutex<ExecutionInfo>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) handler: Arc<dyn TaskHandler>,
    pub(crate) tokens: Arc<TaskTokens>,
    pub(crate) history: Mutex<Vec<HistoryEvent>>,
    pub(crate) journal: Mutex<Journal>,
    pub(crate) mock: Option<TestStateMock>,
    /// Cached for context objects: execution part of `$$`.
    execution_context: Mutex<Option<Arc<Value>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked while holding it;
    // the data (append-only history) is still consistent.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Compact JSON text.
pub(crate) fn json_text(value: &Value) -> JsonText {
    value.to_string().into()
}

fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A thread of control.
#[derive(Clone)]
pub(crate) struct Frame {
    key: String,
    variables: Variables,
    cursor: u64,
    silent: bool,
    main: bool,
    /// The JSON text of the last exit event's output, which the next
    /// entered event (or the execution's end) carries too.
    carried: Option<JsonText>,
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
        }
    }
}

/// What a state does next.
enum Step {
    Next(String, Value),
    End(Value),
}

/// Per-state facts the context object shows.
struct StateFacts<'a> {
    name: &'a str,
    entered: DateTime<Utc>,
    retry_count: u64,
    token: Option<&'a str>,
    map_item: Option<(usize, &'a Value)>,
}

impl Runtime {
    /// A runtime for one execution.
    pub fn new(
        info: ExecutionInfo,
        clock: Arc<dyn Clock>,
        handler: Arc<dyn TaskHandler>,
        tokens: Arc<TaskTokens>,
    ) -> Self {
        Self {
            info: Mutex::new(info),
            clock,
            handler,
            tokens,
            history: Mutex::new(Vec::new()),
            journal: Mutex::new(Journal::default()),
            mock: None,
            execution_context: Mutex::new(None),
        }
    }

    /// Sets TestState mocks.
    pub fn with_mock(mut self, mock: TestStateMock) -> Self {
        self.mock = Some(mock);
        self
    }

    /// A copy of the history so far.
    pub fn history(&self) -> Vec<HistoryEvent> {
        lock(&self.history).clone()
    }

    /// Takes the history out (for storing a finished execution compactly).
    pub fn take_history(&self) -> Vec<HistoryEvent> {
        let mut history = std::mem::take(&mut *lock(&self.history));
        history.shrink_to_fit();
        history
    }

    fn emit_raw(&self, previous: u64, event_type: EventType, details: EventDetails) -> u64 {
        let mut history = lock(&self.history);
        let id = history.len() as u64 + 1;
        history.push(HistoryEvent {
            id,
            previous_event_id: previous,
            timestamp: self.clock.now(),
            event_type,
            details,
        });
        id
    }

    /// Records an event in `frame`'s thread and moves its cursor.
    fn emit(&self, frame: &mut Frame, event_type: EventType, details: EventDetails) -> u64 {
        if frame.silent {
            return frame.cursor;
        }
        if let EventDetails::StateExited { output, .. } = &details {
            frame.carried = Some(Arc::clone(output));
        }
        let id = self.emit_raw(frame.cursor, event_type, details);
        frame.cursor = id;
        id
    }

    /// Records an event without moving the cursor (the `*StateSucceeded`
    /// events, which AWS does not chain the exit event to).
    fn emit_aside(&self, frame: &Frame, event_type: EventType, details: EventDetails) -> u64 {
        if frame.silent {
            return frame.cursor;
        }
        self.emit_raw(frame.cursor, event_type, details)
    }

    fn last_event_id(&self) -> u64 {
        lock(&self.history).len() as u64
    }

    fn context_object(&self, facts: &StateFacts<'_>) -> Value {
        if let Some(mock) = self.mock.as_ref().and_then(|m| m.context.clone()) {
            return mock;
        }
        let execution = {
            let mut cached = lock(&self.execution_context);
            match &*cached {
                Some(v) => Arc::clone(v),
                None => {
                    let info = lock(&self.info);
                    let v = Arc::new(json!({
                        "Execution": {
                            "Id": info.execution_arn,
                            "Input": info.input,
                            "Name": info.name,
                            "RoleArn": info.role_arn,
                            "StartTime": iso(info.start_time),
                            "RedriveCount": info.redrive_count,
                        },
                        "StateMachine": {"Id": info.state_machine_arn, "Name": info.state_machine_name},
                    }));
                    *cached = Some(Arc::clone(&v));
                    v
                }
            }
        };
        let mut context = (*execution).clone();
        context["State"] = json!({
            "EnteredTime": iso(facts.entered),
            "Name": facts.name,
            "RetryCount": facts.retry_count,
        });
        if let Some(token) = facts.token {
            context["Task"] = json!({"Token": token});
        }
        if let Some((index, value)) = facts.map_item {
            context["Map"] = json!({"Item": {"Index": index, "Value": value}});
        }
        context
    }

    /// Runs `f` with a scope over `data`.
    fn with_scope<T>(
        &self,
        frame: &Frame,
        facts: &StateFacts<'_>,
        data: &Value,
        f: impl FnOnce(&Scope<'_>) -> T,
    ) -> T {
        let build = || self.context_object(facts);
        let context = LazyContext::new(&build);
        let scope = Scope {
            data,
            context: &context,
            variables: &frame.variables,
        };
        f(&scope)
    }

    fn clear_journal_for_new_state(&self) {
        let mut journal = lock(&self.journal);
        if !journal.completed.is_empty() {
            journal.completed.clear();
        }
    }

    fn reuse(&self, key: &str) -> Option<Value> {
        let journal = lock(&self.journal);
        if journal.reuse {
            journal.completed.get(key).cloned()
        } else {
            None
        }
    }

    fn remember(&self, key: String, output: &Value) {
        lock(&self.journal).completed.insert(key, output.clone());
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

/// Adds AWS's `An error occurred while executing the state ...` prefix to
/// runtime failures raised by a state's fields.
fn with_state_prefix(mut failure: Failure, state: &str, entered_id: u64) -> Failure {
    if failure.state_prefix {
        failure.cause = Some(format!(
            "An error occurred while executing the state '{state}' (entered at the event id #{entered_id}). {}",
            failure.cause.as_deref().unwrap_or("")
        ));
        failure.state_prefix = false;
    }
    failure
}

fn lookup_failure(path: &JsonPath, error: LookupError) -> Failure {
    Failure::runtime(format!("Invalid path '{path}' : {}", error.describe()))
}

fn select(scope: &Scope<'_>, selector: &Selector) -> Result<Value, Failure> {
    match selector {
        Selector::Whole => Ok(scope.data.clone()),
        Selector::Discard => Ok(Value::Object(Map::new())),
        Selector::Path(path) => scope
            .lookup(path)
            .map(std::borrow::Cow::into_owned)
            .map_err(|e| lookup_failure(path, e)),
    }
}

fn apply_result_path(
    result_path: &ResultPath,
    raw_input: &Value,
    result: Value,
) -> Result<Value, Failure> {
    match result_path {
        ResultPath::Replace => Ok(result),
        ResultPath::Discard => Ok(raw_input.clone()),
        ResultPath::Path(path) => {
            let mut combined = raw_input.clone();
            path.write(&mut combined, result).map_err(|_| {
                Failure::new(
                    errors::RESULT_PATH_MATCH_FAILURE,
                    Some(format!(
                        "Unable to apply ReferencePath {path} to input '{raw_input}'"
                    )),
                )
            })?;
            Ok(combined)
        }
    }
}

/// Approximate serialized size, without allocating.
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

fn check_size(state: &str, value: &Value) -> Result<(), Failure> {
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
fn assign(
    rt: &Runtime,
    frame: &mut Frame,
    facts: &StateFacts<'_>,
    template: Option<&crate::template::Template>,
    data: &Value,
) -> Result<Option<AssignedVariables>, Failure> {
    let Some(template) = template else {
        return Ok(None);
    };
    let values = rt.with_scope(frame, facts, data, |scope| template.evaluate(scope))?;
    let Value::Object(values) = values else {
        return Ok(None);
    };
    let mut recorded = Vec::with_capacity(values.len());
    let variables = Arc::make_mut(&mut frame.variables);
    for (name, value) in values {
        recorded.push((name.clone().into_boxed_str(), json_text(&value)));
        variables.insert(name, value);
    }
    if recorded.is_empty() {
        return Ok(None);
    }
    recorded.sort();
    Ok(Some(recorded.into_boxed_slice()))
}

fn transition_step(state: &State, output: Value) -> Step {
    match &state.transition {
        Transition::Next(next) => Step::Next(next.clone(), output),
        Transition::End => Step::End(output),
    }
}

/// Runs a state machine (or branch, or processor) from `start` to its end.
pub(crate) fn run_machine<'a>(
    rt: &'a Runtime,
    machine: &'a StateMachine,
    start: String,
    input: Value,
    frame: &'a mut Frame,
) -> BoxFuture<'a, Result<Value, Failure>> {
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
            let input_text = match frame.carried.take() {
                Some(text) => text,
                None if frame.silent => Arc::from(""),
                None => json_text(&input),
            };
            let entered_id = rt.emit(
                frame,
                EventType::StateEntered(state_type(&state.kind)),
                EventDetails::StateEntered {
                    name: name.clone().into_boxed_str(),
                    input: input_text,
                },
            );
            match run_state(rt, &state, &input, entered_id, frame).await {
                Ok(Step::Next(next, output)) => {
                    name = next;
                    input = output;
                }
                Ok(Step::End(output)) => return Ok(output),
                Err(failure) => {
                    if frame.main {
                        lock(&rt.journal).resume = Some(ResumePoint {
                            state: name.clone(),
                            input,
                            variables: frame.variables.clone(),
                        });
                    }
                    return Err(with_state_prefix(failure, &name, entered_id));
                }
            }
        }
    })
}

async fn run_state(
    rt: &Runtime,
    state: &State,
    raw_input: &Value,
    entered_id: u64,
    frame: &mut Frame,
) -> Result<Step, Failure> {
    let entered = rt.clock.now();
    let facts = StateFacts {
        name: &state.name,
        entered,
        retry_count: 0,
        token: None,
        map_item: None,
    };
    let exit_type = EventType::StateExited(state_type(&state.kind));
    match &state.kind {
        StateKind::Pass { result } => {
            let (output, assigned) = {
                let effective =
                    rt.with_scope(frame, &facts, raw_input, |s| select(s, &state.input_path))?;
                let result = match (result, &state.parameters) {
                    (Some(result), _) => result.clone(),
                    (None, Some(template)) => {
                        rt.with_scope(frame, &facts, &effective, |s| template.evaluate(s))?
                    }
                    (None, None) => effective,
                };
                finish(rt, state, frame, &facts, raw_input, result)?
            };
            rt.emit(frame, exit_type, exited(state, &output, assigned));
            Ok(transition_step(state, output))
        }
        StateKind::Succeed => {
            let effective =
                rt.with_scope(frame, &facts, raw_input, |s| select(s, &state.input_path))?;
            let output =
                rt.with_scope(frame, &facts, &effective, |s| select(s, &state.output_path))?;
            rt.emit(frame, exit_type, exited(state, &output, None));
            Ok(Step::End(output))
        }
        StateKind::Fail { error, cause } => {
            let error = fail_text(rt, frame, &facts, raw_input, error, "ErrorPath")?;
            let cause = fail_text(rt, frame, &facts, raw_input, cause, "CausePath")?;
            Err(Failure::new(error.unwrap_or_default(), cause).with_optional_error())
        }
        StateKind::Choice { rules, default } => {
            let effective =
                rt.with_scope(frame, &facts, raw_input, |s| select(s, &state.input_path))?;
            let chosen = rt.with_scope(frame, &facts, &effective, |scope| {
                rules.iter().find(|rule| rule.condition.holds(scope))
            });
            let (next, rule_assign) = match (chosen, default) {
                (Some(rule), _) => (rule.next.clone(), rule.assign.as_ref()),
                (None, Some(default)) => (default.clone(), None),
                (None, None) => {
                    return Err(Failure::new(
                        errors::NO_CHOICE_MATCHED,
                        Some(format!(
                            "An error occurred while executing the state '{}' (entered at the event id #{entered_id}). No Choice Rules matched and no Default was specified",
                            state.name
                        )),
                    ));
                }
            };
            let mut assigned = assign(rt, frame, &facts, rule_assign, &effective)?;
            if let Some(more) = assign(rt, frame, &facts, state.assign.as_ref(), &effective)? {
                let mut all: Vec<_> = assigned.map(Vec::from).unwrap_or_default();
                all.extend(more.into_vec());
                assigned = Some(all.into_boxed_slice());
            }
            let output =
                rt.with_scope(frame, &facts, &effective, |s| select(s, &state.output_path))?;
            rt.emit(frame, exit_type, exited(state, &output, assigned));
            Ok(Step::Next(next, output))
        }
        StateKind::Wait(spec) => {
            let effective =
                rt.with_scope(frame, &facts, raw_input, |s| select(s, &state.input_path))?;
            let delay = wait_delay(rt, frame, &facts, &effective, spec)?;
            if !delay.is_zero() {
                rt.clock.sleep(delay).await;
            }
            let assigned = assign(rt, frame, &facts, state.assign.as_ref(), &effective)?;
            let output =
                rt.with_scope(frame, &facts, &effective, |s| select(s, &state.output_path))?;
            rt.emit(frame, exit_type, exited(state, &output, assigned));
            Ok(transition_step(state, output))
        }
        StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_) => {
            run_with_recovery(rt, state, raw_input, entered_id, entered, frame)
                .await
                .map(|(step, _)| step)
        }
    }
}

impl Failure {
    /// A Fail state without `Error` reports no error name at all.
    fn with_optional_error(self) -> Self {
        self
    }
}

fn exited(state: &State, output: &Value, assigned: Option<AssignedVariables>) -> EventDetails {
    EventDetails::StateExited {
        name: state.name.clone().into_boxed_str(),
        output: json_text(output),
        assigned,
    }
}

/// ResultSelector (already applied by callers that have one), Assign,
/// ResultPath, OutputPath and the size limit.
fn finish(
    rt: &Runtime,
    state: &State,
    frame: &mut Frame,
    facts: &StateFacts<'_>,
    raw_input: &Value,
    result: Value,
) -> Result<(Value, Option<AssignedVariables>), Failure> {
    let assigned = assign(rt, frame, facts, state.assign.as_ref(), &result)?;
    let combined = apply_result_path(&state.result_path, raw_input, result)?;
    let output = rt.with_scope(frame, facts, &combined, |s| select(s, &state.output_path))?;
    check_size(&state.name, &output)?;
    Ok((output, assigned))
}

fn fail_text(
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

/// Runs a Task, Parallel or Map state with its Retry and Catch.
/// Returns the step and, for the TestState API, how the state ended.
async fn run_with_recovery(
    rt: &Runtime,
    state: &State,
    raw_input: &Value,
    entered_id: u64,
    entered: DateTime<Utc>,
    frame: &mut Frame,
) -> Result<(Step, Recovery), Failure> {
    let mut attempts = vec![0u64; state.retry.len()];
    let mut retry_count = 0u64;
    loop {
        let facts = StateFacts {
            name: &state.name,
            entered,
            retry_count,
            token: None,
            map_item: None,
        };
        let attempt = attempt_state(rt, state, raw_input, &facts, frame).await;
        let failure = match attempt {
            Ok((output, assigned)) => {
                rt.emit(
                    frame,
                    EventType::StateExited(state_type(&state.kind)),
                    exited(state, &output, assigned),
                );
                return Ok((transition_step(state, output), Recovery::None));
            }
            Err(failure) => with_state_prefix(failure, &state.name, entered_id),
        };
        let will_retry = state
            .retry
            .iter()
            .position(|r| errors::matches(&r.error_equals, &failure.error))
            .is_some_and(|i| attempts[i] < state.retry[i].max_attempts);
        if !will_retry && frame_started_work(state, &failure) {
            let failed = match state.kind {
                StateKind::Parallel { .. } => EventType::ParallelStateFailed,
                _ => EventType::MapStateFailed,
            };
            rt.emit(frame, failed, EventDetails::None);
        }
        if let Some(index) = state
            .retry
            .iter()
            .position(|r| errors::matches(&r.error_equals, &failure.error))
        {
            let retrier = &state.retry[index];
            if attempts[index] < retrier.max_attempts {
                if rt.mock.is_some() {
                    return Err(Failure {
                        state_prefix: false,
                        ..failure
                    }
                    .retriable());
                }
                let delay = retry_delay(
                    retrier.interval_seconds,
                    retrier.backoff_rate,
                    attempts[index],
                    retrier.max_delay_seconds,
                    retrier.full_jitter,
                );
                attempts[index] += 1;
                retry_count += 1;
                rt.clock.sleep(delay).await;
                continue;
            }
        }
        if let Some(catcher) = state
            .catch
            .iter()
            .find(|c| errors::matches(&c.error_equals, &failure.error))
        {
            let output = catch_output(
                rt,
                frame,
                &facts_for(state, entered, retry_count),
                catcher,
                raw_input,
                &failure,
            )?;
            let (output, assigned) = output;
            rt.emit(
                frame,
                EventType::StateExited(state_type(&state.kind)),
                exited(state, &output, assigned),
            );
            return Ok((Step::Next(catcher.next.clone(), output), Recovery::Caught));
        }
        return Err(failure);
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

fn facts_for(state: &State, entered: DateTime<Utc>, retry_count: u64) -> StateFacts<'_> {
    StateFacts {
        name: &state.name,
        entered,
        retry_count,
        token: None,
        map_item: None,
    }
}

/// How a state recovered from an error (reported by the TestState API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recovery {
    None,
    Caught,
}

impl Failure {
    fn retriable(mut self) -> Self {
        self.state_prefix = false;
        self.error = format!("{RETRIABLE_MARK}{}", self.error);
        self
    }
}

/// Marks a failure that a retrier would retry, for the TestState API.
pub(crate) const RETRIABLE_MARK: &str = "\u{1}retriable:";

fn catch_output(
    rt: &Runtime,
    frame: &mut Frame,
    facts: &StateFacts<'_>,
    catcher: &Catcher,
    raw_input: &Value,
    failure: &Failure,
) -> Result<(Value, Option<AssignedVariables>), Failure> {
    let mut error_output = Map::new();
    error_output.insert("Error".into(), Value::String(failure.error.clone()));
    if let Some(cause) = &failure.cause {
        error_output.insert("Cause".into(), Value::String(cause.clone()));
    }
    let error_output = Value::Object(error_output);
    let assigned = assign(rt, frame, facts, catcher.assign.as_ref(), &error_output)?;
    let output = apply_result_path(&catcher.result_path, raw_input, error_output)?;
    Ok((output, assigned))
}

/// One attempt of a Task, Parallel or Map state, through `finish`.
async fn attempt_state(
    rt: &Runtime,
    state: &State,
    raw_input: &Value,
    facts: &StateFacts<'_>,
    frame: &mut Frame,
) -> Result<(Value, Option<AssignedVariables>), Failure> {
    let effective = rt.with_scope(frame, facts, raw_input, |s| select(s, &state.input_path))?;
    let result = match &state.kind {
        StateKind::Task(spec) => {
            // The token exists before Parameters run, so `$$.Task.Token`
            // can pass it on.
            let issued =
                (spec.pattern == IntegrationPattern::WaitForTaskToken).then(|| rt.tokens.issue());
            let token_facts = StateFacts {
                name: facts.name,
                entered: facts.entered,
                retry_count: facts.retry_count,
                token: issued.as_ref().map(|t| t.token.as_str()),
                map_item: None,
            };
            let parameters = match &state.parameters {
                Some(t) => rt.with_scope(frame, &token_facts, &effective, |s| t.evaluate(s)),
                None => Ok(effective),
            };
            let parameters = match parameters {
                Ok(p) => p,
                Err(e) => {
                    if let Some(issued) = &issued {
                        rt.tokens.retire(&issued.token);
                    }
                    return Err(e);
                }
            };
            run_task(rt, state, spec, parameters, facts, issued, frame).await?
        }
        StateKind::Parallel { branches } => {
            let input = match &state.parameters {
                Some(t) => rt.with_scope(frame, facts, &effective, |s| t.evaluate(s))?,
                None => effective,
            };
            run_parallel(rt, state, branches, input, frame).await?
        }
        StateKind::Map(spec) => run_map(rt, state, spec, effective, facts, frame).await?,
        _ => effective,
    };
    let result = match &state.result_selector {
        Some(t) => rt.with_scope(frame, facts, &result, |s| t.evaluate(s))?,
        None => result,
    };
    finish(rt, state, frame, facts, raw_input, result)
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

fn number_value(
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

fn seconds_value(
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

/// Splits a service integration ARN into its event resource type and name.
fn task_resource(resource: &str) -> TaskResource {
    let tail = resource.rsplit(":::").next().unwrap_or(resource);
    let (resource_type, name) = match resource.split_once(":::") {
        Some(_) => tail.split_once(':').unwrap_or((tail, "")),
        None => {
            let mut parts = resource.split(':');
            let service = parts.nth(2).unwrap_or("unknown");
            (service, resource.rsplit(':').next().unwrap_or(resource))
        }
    };
    TaskResource {
        resource_type: resource_type.into(),
        resource: name.into(),
    }
}

fn is_lambda_function_arn(resource: &str) -> bool {
    resource.starts_with("arn:") && resource.contains(":lambda:") && resource.contains(":function:")
}

enum TaskEnd {
    Done(Result<Value, TaskError>),
    TimedOut(&'static str),
}

async fn run_task(
    rt: &Runtime,
    state: &State,
    spec: &TaskSpec,
    parameters: Value,
    facts: &StateFacts<'_>,
    token: Option<IssuedToken>,
    frame: &mut Frame,
) -> Result<Value, Failure> {
    let limits = seconds_value(
        rt,
        frame,
        facts,
        &parameters,
        spec.timeout.as_ref(),
        "TimeoutSeconds",
    )
    .and_then(|t| {
        seconds_value(
            rt,
            frame,
            facts,
            &parameters,
            spec.heartbeat.as_ref(),
            "HeartbeatSeconds",
        )
        .map(|h| (t, h))
    });
    let (timeout, heartbeat) = match limits {
        Ok(limits) => limits,
        Err(e) => {
            if let Some(issued) = &token {
                rt.tokens.retire(&issued.token);
            }
            return Err(e);
        }
    };
    let lambda = is_lambda_function_arn(&spec.resource);
    let task = task_resource(&spec.resource);
    let region = lock(&rt.info).region.clone();
    if lambda {
        rt.emit(
            frame,
            EventType::LambdaFunctionScheduled,
            EventDetails::LambdaScheduled {
                resource: spec.resource.clone().into_boxed_str(),
                input: json_text(&parameters),
                timeout_seconds: timeout,
            },
        );
        rt.emit(frame, EventType::LambdaFunctionStarted, EventDetails::None);
    } else {
        rt.emit(
            frame,
            EventType::TaskScheduled,
            EventDetails::TaskScheduled(Box::new(crate::history::TaskScheduledDetails {
                task: task.clone(),
                region: region.into_boxed_str(),
                parameters: json_text(&parameters),
                timeout_seconds: timeout,
                heartbeat_seconds: heartbeat,
            })),
        );
        rt.emit(
            frame,
            EventType::TaskStarted,
            EventDetails::Task { task: task.clone() },
        );
    }

    let token_text = token.as_ref().map(|t| t.token.clone());
    let context = rt.context_object(&StateFacts {
        name: facts.name,
        entered: facts.entered,
        retry_count: facts.retry_count,
        token: token_text.as_deref(),
        map_item: None,
    });
    let request = TaskRequest {
        resource: spec.resource.clone(),
        parameters: parameters.clone(),
        context,
        task_token: token_text.clone(),
        state_name: state.name.clone(),
    };
    let end = if let Some(mock) = rt.mock.as_ref().and_then(|m| m.result.clone()) {
        TaskEnd::Done(mock)
    } else {
        let timeout_sleep = timeout.map(|t| rt.clock.sleep(Duration::from_secs(t)));
        match token {
            None => {
                let call = rt.handler.invoke(request);
                match timeout_sleep {
                    Some(sleep) => tokio::select! {
                        biased;
                        r = call => TaskEnd::Done(r),
                        () = sleep => TaskEnd::TimedOut(errors::TIMEOUT),
                    },
                    None => TaskEnd::Done(call.await),
                }
            }
            Some(mut issued) => {
                let waited = async {
                    if let Err(e) = rt.handler.invoke(request).await {
                        return TaskEnd::Done(Err(e));
                    }
                    if !lambda {
                        rt.emit(
                            frame,
                            EventType::TaskSubmitted,
                            EventDetails::Task { task: task.clone() },
                        );
                    }
                    loop {
                        let next = match heartbeat {
                            Some(h) => tokio::select! {
                                biased;
                                m = issued.receiver.recv() => m,
                                () = rt.clock.sleep(Duration::from_secs(h)) => {
                                    return TaskEnd::TimedOut(errors::HEARTBEAT_TIMEOUT);
                                }
                            },
                            None => issued.receiver.recv().await,
                        };
                        match next {
                            Some(TokenMessage::Success(v)) => return TaskEnd::Done(Ok(v)),
                            Some(TokenMessage::Failure(e)) => return TaskEnd::Done(Err(e)),
                            Some(TokenMessage::Heartbeat) => {}
                            None => {
                                return TaskEnd::Done(Err(TaskError::new(
                                    errors::TASK_FAILED,
                                    "The task token was dropped",
                                )));
                            }
                        }
                    }
                };
                let end = match timeout_sleep {
                    Some(sleep) => tokio::select! {
                        biased;
                        r = waited => r,
                        () = sleep => TaskEnd::TimedOut(errors::TIMEOUT),
                    },
                    None => waited.await,
                };
                if let Some(token) = &token_text {
                    rt.tokens.retire(token);
                }
                end
            }
        }
    };
    match end {
        TaskEnd::Done(Ok(output)) => {
            if lambda {
                rt.emit(
                    frame,
                    EventType::LambdaFunctionSucceeded,
                    EventDetails::Output {
                        output: json_text(&output),
                    },
                );
            } else {
                rt.emit(
                    frame,
                    EventType::TaskSucceeded,
                    EventDetails::TaskSucceeded {
                        task,
                        output: json_text(&output),
                    },
                );
            }
            Ok(output)
        }
        TaskEnd::Done(Err(error)) => {
            let (event_type, details) = if lambda {
                (
                    EventType::LambdaFunctionFailed,
                    EventDetails::Error {
                        error: Some(error.error.clone().into_boxed_str()),
                        cause: error.cause.clone().map(String::into_boxed_str),
                    },
                )
            } else {
                (
                    EventType::TaskFailed,
                    EventDetails::TaskFailed {
                        task,
                        error: Some(error.error.clone().into_boxed_str()),
                        cause: error.cause.clone().map(String::into_boxed_str),
                    },
                )
            };
            rt.emit(frame, event_type, details);
            Err(Failure::new(error.error, error.cause))
        }
        TaskEnd::TimedOut(name) => {
            let (event_type, details) = if lambda {
                (
                    EventType::LambdaFunctionTimedOut,
                    EventDetails::Error {
                        error: Some(name.into()),
                        cause: None,
                    },
                )
            } else {
                (
                    EventType::TaskTimedOut,
                    EventDetails::TaskFailed {
                        task,
                        error: Some(name.into()),
                        cause: None,
                    },
                )
            };
            rt.emit(frame, event_type, details);
            Err(Failure::new(name, None))
        }
    }
}

async fn run_parallel(
    rt: &Runtime,
    state: &State,
    branches: &[Arc<StateMachine>],
    input: Value,
    frame: &mut Frame,
) -> Result<Value, Failure> {
    if let Some(mock) = rt.mock.as_ref().and_then(|m| m.result.clone()) {
        return mock.map_err(|e| Failure::new(e.error, e.cause));
    }
    let started = rt.emit(frame, EventType::ParallelStateStarted, EventDetails::None);
    let base = frame.clone();
    let futures = branches.iter().enumerate().map(|(i, branch)| {
        let key = format!("{}/{}#{i}", base.key, state.name);
        let mut child = Frame {
            key: key.clone(),
            variables: base.variables.clone(),
            cursor: started,
            silent: base.silent,
            main: false,
            carried: None,
        };
        let input = input.clone();
        async move {
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

fn path_text_for_array_error(path: &JsonPath) -> String {
    let text = path.as_str();
    match path.root() {
        PathRoot::Context => text[1..].to_owned(),
        _ => text.to_owned(),
    }
}

async fn run_map(
    rt: &Runtime,
    state: &State,
    spec: &MapSpec,
    effective: Value,
    facts: &StateFacts<'_>,
    frame: &mut Frame,
) -> Result<Value, Failure> {
    let items = match &spec.items_path {
        None => effective.clone(),
        Some(path) => rt
            .with_scope(frame, facts, &effective, |s| {
                s.lookup(path).map(std::borrow::Cow::into_owned)
            })
            .map_err(|e| lookup_failure(path, e))?,
    };
    let Value::Array(items) = items else {
        let shown = spec
            .items_path
            .as_ref()
            .map_or_else(|| "$".to_owned(), path_text_for_array_error);
        return Err(Failure {
            state_prefix: rt.mock.is_none(),
            ..Failure::runtime(format!("Reference path \"{shown}\" must point to array."))
        });
    };
    if let Some(mock) = rt.mock.as_ref().and_then(|m| m.result.clone()) {
        return mock.map_err(|e| Failure::new(e.error, e.cause));
    }
    let max_concurrency = match &spec.max_concurrency {
        None => 0,
        Some(source) => {
            let value = number_value(rt, frame, facts, &effective, source)?;
            match value.as_u64() {
                Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
                None => {
                    return Err(Failure::runtime(format!(
                        "The MaxConcurrencyPath field refers to value \"{}\" which is not a valid integer: {}",
                        render_plain(&value),
                        source_path(source)
                    )));
                }
            }
        }
    };
    rt.emit(
        frame,
        EventType::MapStateStarted,
        EventDetails::MapStarted {
            length: items.len(),
        },
    );
    let tolerated_count = match &spec.tolerated_failure_count {
        None => None,
        Some(source) => {
            let value = number_value(rt, frame, facts, &effective, source)?;
            match value.as_i64() {
                Some(n) if n < 0 => {
                    return Err(Failure::runtime(
                        "ToleratedFailureCount cannot be negative.",
                    ));
                }
                Some(n) => Some(n.unsigned_abs()),
                None => {
                    return Err(Failure::runtime(format!(
                        "The ToleratedFailureCountPath field refers to value \"{}\" which is not a valid integer: {}",
                        render_plain(&value),
                        source_path(source)
                    )));
                }
            }
        }
    };
    let tolerated_percentage = match &spec.tolerated_failure_percentage {
        None => None,
        Some(source) => {
            let value = number_value(rt, frame, facts, &effective, source)?;
            match value.as_f64() {
                Some(p) if !(0.0..=100.0).contains(&p) => {
                    return Err(Failure::runtime(
                        "ToleratedFailurePercentage must be between 0 and 100.",
                    ));
                }
                Some(p) => Some(p),
                None => {
                    return Err(Failure::runtime(format!(
                        "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: {}",
                        render_plain(&value),
                        source_path(source)
                    )));
                }
            }
        }
    };
    if spec.distributed {
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
    // Inputs of every iteration, from ItemSelector (or the item itself).
    let mut inputs = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let input = match &spec.item_selector {
            None => item.clone(),
            Some(template) => {
                let item_facts = StateFacts {
                    name: facts.name,
                    entered: facts.entered,
                    retry_count: facts.retry_count,
                    token: None,
                    map_item: Some((index, item)),
                };
                rt.with_scope(frame, &item_facts, &effective, |s| template.evaluate(s))?
            }
        };
        inputs.push(input);
    }
    let tolerant = tolerated_count.is_some() || tolerated_percentage.is_some();
    let map_cursor = AtomicU64::new(frame.cursor);
    let last_end = AtomicU64::new(0);
    let limit = if max_concurrency == 0 {
        inputs.len().max(1)
    } else {
        max_concurrency
    };
    let child_silent = frame.silent || spec.distributed;
    let base_key = format!("{}/{}", frame.key, state.name);
    let variables = frame.variables.clone();
    let name: Box<str> = state.name.clone().into_boxed_str();
    let map_cursor_ref = &map_cursor;
    let last_end_ref = &last_end;
    let base_key_ref = &base_key;
    let variables_ref = &variables;
    let name_ref = &name;
    let processor = &spec.processor;
    let mut results = futures::stream::iter(inputs.into_iter().enumerate())
        .map(|(index, input)| async move {
            let key = format!("{base_key_ref}#{index}");
            if let Some(done) = rt.reuse(&key) {
                return (index, Ok(done));
            }
            let mut child = Frame {
                key: key.clone(),
                variables: variables_ref.clone(),
                cursor: map_cursor_ref.load(Ordering::SeqCst),
                silent: child_silent,
                main: false,
                carried: None,
            };
            rt.emit(
                &mut child,
                EventType::MapIterationStarted,
                EventDetails::MapIteration {
                    name: name_ref.clone(),
                    index,
                },
            );
            let outcome =
                run_machine(rt, processor, processor.start_at.clone(), input, &mut child).await;
            let inner_last = child.cursor;
            let event_type = if outcome.is_ok() {
                EventType::MapIterationSucceeded
            } else {
                EventType::MapIterationFailed
            };
            let end = rt.emit_aside(
                &child,
                event_type,
                EventDetails::MapIteration {
                    name: name_ref.clone(),
                    index,
                },
            );
            map_cursor_ref.store(inner_last, Ordering::SeqCst);
            last_end_ref.store(
                if child_silent { inner_last } else { end },
                Ordering::SeqCst,
            );
            match outcome {
                Ok(output) => {
                    rt.remember(key, &output);
                    (index, Ok(output))
                }
                Err(failure) => (index, Err((failure, inner_last))),
            }
        })
        .buffered(limit);
    let total = items.len();
    let mut outputs: Vec<Value> = vec![Value::Null; total];
    let mut failures = 0usize;
    let mut first_failure: Option<(Failure, u64)> = None;
    while let Some((index, result)) = results.next().await {
        match result {
            Ok(output) => outputs[index] = output,
            Err((failure, cursor)) => {
                failures += 1;
                let mut error_output = Map::new();
                error_output.insert("Error".into(), Value::String(failure.error.clone()));
                if let Some(cause) = &failure.cause {
                    error_output.insert("Cause".into(), Value::String(cause.clone()));
                }
                outputs[index] = Value::Object(error_output);
                if first_failure.is_none() {
                    first_failure = Some((failure, cursor));
                }
                if !tolerant {
                    break;
                }
            }
        }
    }
    drop(results);
    #[allow(clippy::cast_precision_loss)]
    let exceeded = failures > 0
        && (!tolerant
            || tolerated_count.is_some_and(|c| failures as u64 > c)
            || tolerated_percentage
                .is_some_and(|p| (failures as f64) * 100.0 / (total as f64) > p));
    if exceeded {
        let (failure, cursor) =
            first_failure.unwrap_or((Failure::new(errors::RUNTIME, None), frame.cursor));
        let failure = if tolerant {
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
            frame.cursor = cursor;
        }
        // MapStateFailed is recorded by the caller once no retry follows.
        return Err(failure);
    }
    if spec.distributed {
        rt.emit(frame, EventType::MapRunSucceeded, EventDetails::None);
    } else {
        let end = last_end.load(Ordering::SeqCst);
        if end != 0 {
            frame.cursor = end;
        }
    }
    rt.emit_aside(frame, EventType::MapStateSucceeded, EventDetails::None);
    Ok(Value::Array(outputs))
}

fn source_path(source: &NumberSource) -> String {
    match source {
        NumberSource::Path(p) => p.to_string(),
        NumberSource::Literal(v) => v.to_string(),
    }
}

/// Runs a whole execution (or continues a redriven one) to its end and
/// records the closing event.
pub async fn drive(
    rt: &Runtime,
    definition: &Definition,
    resume: Option<ResumePointHandle>,
) -> Outcome {
    let (start, input, mut frame) = match resume {
        None => {
            let input = lock(&rt.info).input.clone();
            rt.emit_raw(
                0,
                EventType::ExecutionStarted,
                EventDetails::ExecutionStarted {
                    input: json_text(&input),
                    role_arn: lock(&rt.info).role_arn.clone().into_boxed_str(),
                },
            );
            (
                definition.machine.start_at.clone(),
                input,
                Frame::main(Variables::default(), 0),
            )
        }
        Some(ResumePointHandle(point, count)) => {
            let last = rt.last_event_id();
            let id = rt.emit_raw(
                last,
                EventType::ExecutionRedriven,
                EventDetails::Redriven {
                    redrive_count: count,
                },
            );
            lock(&rt.journal).reuse = true;
            (point.state, point.input, Frame::main(point.variables, id))
        }
    };
    let run = run_machine(rt, &definition.machine, start, input, &mut frame);
    let result = match definition.timeout_seconds {
        Some(seconds) => {
            let started = lock(&rt.info).start_time;
            let elapsed = (rt.clock.now() - started).to_std().unwrap_or_default();
            let remaining = Duration::from_secs(seconds).saturating_sub(elapsed);
            tokio::select! {
                biased;
                r = run => Some(r),
                () = rt.clock.sleep(remaining) => None,
            }
        }
        None => Some(run.await),
    };
    finish_execution(rt, result, frame.cursor, frame.carried.take())
}

fn finish_execution(
    rt: &Runtime,
    result: Option<Result<Value, Failure>>,
    cursor: u64,
    carried: Option<JsonText>,
) -> Outcome {
    match result {
        Some(Ok(output)) => {
            lock(&rt.journal).completed.clear();
            rt.emit_raw(
                cursor,
                EventType::ExecutionSucceeded,
                EventDetails::Output {
                    output: carried.unwrap_or_else(|| json_text(&output)),
                },
            );
            Outcome {
                status: ExecutionStatus::Succeeded,
                output: Some(output),
                error: None,
                cause: None,
            }
        }
        Some(Err(failure)) => {
            let error = (!failure.error.is_empty()).then(|| failure.error.clone());
            rt.emit_raw(
                cursor,
                EventType::ExecutionFailed,
                EventDetails::Error {
                    error: error.clone().map(String::into_boxed_str),
                    cause: failure.cause.clone().map(String::into_boxed_str),
                },
            );
            Outcome {
                status: ExecutionStatus::Failed,
                output: None,
                error,
                cause: failure.cause,
            }
        }
        None => {
            let last = rt.last_event_id();
            rt.emit_raw(
                last,
                EventType::ExecutionTimedOut,
                EventDetails::Error {
                    error: None,
                    cause: None,
                },
            );
            Outcome {
                status: ExecutionStatus::TimedOut,
                output: None,
                error: None,
                cause: None,
            }
        }
    }
}

/// A resume point and the redrive count it runs under.
pub struct ResumePointHandle(pub(crate) ResumePoint, pub(crate) u32);

/// The TestState API's verdict on one state.
#[derive(Debug, Clone, PartialEq)]
pub struct TestStateOutcome {
    /// `SUCCEEDED`, `FAILED`, `CAUGHT_ERROR` or `RETRIABLE`.
    pub status: &'static str,
    /// The state's output.
    pub output: Option<Value>,
    /// The next state, when there is one.
    pub next_state: Option<String>,
    /// Error name.
    pub error: Option<String>,
    /// Cause.
    pub cause: Option<String>,
}

/// Runs one state on its own, as the TestState API does.
pub async fn test_state(
    rt: &Runtime,
    state: &State,
    input: Value,
    variables: Variables,
) -> TestStateOutcome {
    let mut frame = Frame::main(variables, 0);
    let entered_id = rt.emit(
        &mut frame,
        EventType::StateEntered(state_type(&state.kind)),
        EventDetails::StateEntered {
            name: state.name.clone().into_boxed_str(),
            input: json_text(&input),
        },
    );
    let entered = rt.clock.now();
    let result = match &state.kind {
        StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_) => {
            run_with_recovery(rt, state, &input, entered_id, entered, &mut frame).await
        }
        _ => run_state(rt, state, &input, entered_id, &mut frame)
            .await
            .map(|s| (s, Recovery::None)),
    };
    match result {
        Ok((step, recovery)) => {
            let (output, next) = match step {
                Step::Next(next, output) => (output, Some(next)),
                Step::End(output) => (output, None),
            };
            TestStateOutcome {
                status: if recovery == Recovery::Caught {
                    "CAUGHT_ERROR"
                } else {
                    "SUCCEEDED"
                },
                output: Some(output),
                next_state: next,
                error: None,
                cause: None,
            }
        }
        Err(failure) => {
            let failure = with_state_prefix(failure, &state.name, entered_id);
            match failure.error.strip_prefix(RETRIABLE_MARK) {
                Some(error) => TestStateOutcome {
                    status: "RETRIABLE",
                    output: None,
                    next_state: None,
                    error: Some(error.to_owned()),
                    cause: failure.cause,
                },
                None => TestStateOutcome {
                    status: "FAILED",
                    output: None,
                    next_state: None,
                    error: (!failure.error.is_empty()).then_some(failure.error),
                    cause: failure.cause,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_resources_split_like_aws() {
        for (arn, kind, name) in [
            ("arn:aws:states:::lambda:invoke", "lambda", "invoke"),
            (
                "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "sqs",
                "sendMessage.waitForTaskToken",
            ),
            ("arn:aws:states:us-east-1:1:activity:work", "states", "work"),
        ] {
            let r = task_resource(arn);
            assert_eq!((&*r.resource_type, &*r.resource), (kind, name), "{arn}");
        }
    }

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

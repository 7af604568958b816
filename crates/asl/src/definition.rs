//! Parsing and validating a state machine definition into a closed model.
//!
//! [`Definition::parse`] checks what AWS's `ValidateStateMachineDefinition`
//! checks: the document shape, that `StartAt` and every `Next`, `Default`
//! and `Catch` target exist in the same scope, that every state is
//! reachable, that non-terminal states say where to go, that Choice states
//! have rules, and that every path, template and intrinsic call parses.
//! Every problem names the state and field (`/States/Foo/Next`), and all of
//! them are reported at once. After parsing, the interpreter never meets an
//! unknown state, a dangling transition or an unparsed path.
//!
//! `QueryLanguage: JSONata` is rejected with its own error code; the model
//! keeps JSONPath-specific fields on the states so that a JSONata variant
//! can be added beside them.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};

use crate::choice::{ChoiceRule, parse_timestamp};
use crate::intrinsics::{self, Call};
use crate::path::JsonPath;
use crate::template::Template;

/// One problem found in a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// AWS-style diagnostic code, e.g. `MISSING_TRANSITION_TARGET`.
    pub code: &'static str,
    /// JSON pointer-like location, e.g. `/States/Foo/Next`.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} at {}", self.code, self.message, self.location)
    }
}

/// A definition that cannot run, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DefinitionError {
    /// The problems, in document order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let texts: Vec<String> = self.problems.iter().map(ToString::to_string).collect();
        write!(f, "invalid state machine definition: {}", texts.join("; "))
    }
}

impl DefinitionError {
    /// Whether the definition was rejected only because it uses JSONata.
    pub fn is_jsonata(&self) -> bool {
        !self.problems.is_empty() && self.problems.iter().all(|p| p.code == UNSUPPORTED_JSONATA)
    }
}

/// Diagnostic code for a JSONata definition or state.
pub const UNSUPPORTED_JSONATA: &str = "UNSUPPORTED_QUERY_LANGUAGE";
const SCHEMA: &str = "SCHEMA_VALIDATION_FAILED";
const MISSING_TARGET: &str = "MISSING_TRANSITION_TARGET";
const UNREACHABLE: &str = "UNREACHABLE_STATE";
const INVALID_PATH: &str = "INVALID_JSON_PATH";

/// Where `InputPath` / `OutputPath` point.
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    /// Absent: the whole value (`$`).
    Whole,
    /// `null`: the empty object.
    Discard,
    /// A path.
    Path(JsonPath),
}

/// Where `ResultPath` puts the result.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultPath {
    /// Absent or `$`: the result replaces the input.
    Replace,
    /// `null`: the result is discarded and the input passes through.
    Discard,
    /// A reference path into the input.
    Path(JsonPath),
}

/// Where a state goes when it completes.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// `Next`.
    Next(String),
    /// `End: true`, or a terminal state type.
    End,
}

/// A number given literally or read from a path (`TimeoutSeconds` /
/// `TimeoutSecondsPath` and friends).
#[derive(Debug, Clone, PartialEq)]
pub enum NumberSource {
    /// A literal.
    Literal(Value),
    /// A reference path into the effective input.
    Path(JsonPath),
}

/// A `Fail` state's `Error` or `Cause`.
#[derive(Debug, Clone, PartialEq)]
pub enum FailText {
    /// Not given.
    Absent,
    /// `Error` / `Cause`.
    Literal(String),
    /// `ErrorPath` / `CausePath` holding a path.
    Path(JsonPath),
    /// `ErrorPath` / `CausePath` holding an intrinsic call.
    Call(Call),
}

/// A `Retry` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrier {
    /// Error names this retrier handles.
    pub error_equals: Vec<String>,
    /// Seconds before the first retry (default 1).
    pub interval_seconds: u64,
    /// Retries allowed (default 3; 0 means never).
    pub max_attempts: u64,
    /// Multiplier per retry (default 2.0).
    pub backoff_rate: f64,
    /// Upper bound on one delay.
    pub max_delay_seconds: Option<u64>,
    /// `JitterStrategy: FULL` randomises each delay in `[0, delay]`.
    pub full_jitter: bool,
}

/// A `Catch` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Catcher {
    /// Error names this catcher handles.
    pub error_equals: Vec<String>,
    /// The fallback state.
    pub next: String,
    /// Where the error output goes in the state input (default `$`).
    pub result_path: ResultPath,
    /// Variables assigned when caught (`$` is the error output).
    pub assign: Option<Template>,
}

/// How a Task waits for its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrationPattern {
    /// Call and take the response.
    RequestResponse,
    /// `.sync`: the handler runs the job to completion.
    Sync,
    /// `.waitForTaskToken`: pause until a token callback.
    WaitForTaskToken,
}

/// A Task state's own fields.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    /// The resource ARN as written.
    pub resource: String,
    /// Derived from the resource suffix.
    pub pattern: IntegrationPattern,
    /// `TimeoutSeconds` / `TimeoutSecondsPath`.
    pub timeout: Option<NumberSource>,
    /// `HeartbeatSeconds` / `HeartbeatSecondsPath`.
    pub heartbeat: Option<NumberSource>,
}

/// A Wait state's delay.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitSpec {
    /// `Seconds`.
    Seconds(u64),
    /// `Timestamp`.
    Timestamp(DateTime<FixedOffset>),
    /// `SecondsPath`.
    SecondsPath(JsonPath),
    /// `TimestampPath`.
    TimestampPath(JsonPath),
}

/// A Map state's own fields.
#[derive(Debug, Clone)]
pub struct MapSpec {
    /// The states each item runs through.
    pub processor: Arc<StateMachine>,
    /// `ProcessorConfig.Mode: DISTRIBUTED` (run inline here, recorded as a
    /// map run without child events, as AWS records it).
    pub distributed: bool,
    /// `ItemsPath` (default `$`).
    pub items_path: Option<JsonPath>,
    /// `ItemSelector` (or the legacy `Parameters`).
    pub item_selector: Option<Template>,
    /// `MaxConcurrency` / `MaxConcurrencyPath` (0 = unlimited).
    pub max_concurrency: Option<NumberSource>,
    /// `ToleratedFailureCount` / `...Path`.
    pub tolerated_failure_count: Option<NumberSource>,
    /// `ToleratedFailurePercentage` / `...Path`.
    pub tolerated_failure_percentage: Option<NumberSource>,
}

/// What kind of state, with its type-specific fields.
#[derive(Debug, Clone)]
pub enum StateKind {
    /// Passes its input (or `Result`) on.
    Pass {
        /// `Result`.
        result: Option<Value>,
    },
    /// Calls a [`crate::TaskHandler`].
    Task(TaskSpec),
    /// Branches on rules.
    Choice {
        /// `Choices`.
        rules: Vec<ChoiceRule>,
        /// `Default`.
        default: Option<String>,
    },
    /// Waits.
    Wait(WaitSpec),
    /// Ends successfully.
    Succeed,
    /// Ends with an error.
    Fail {
        /// `Error` / `ErrorPath`.
        error: FailText,
        /// `Cause` / `CausePath`.
        cause: FailText,
    },
    /// Runs branches concurrently.
    Parallel {
        /// `Branches`.
        branches: Vec<Arc<StateMachine>>,
    },
    /// Runs the processor for each item.
    Map(Box<MapSpec>),
}

impl StateKind {
    /// The `Type` name, as used in event names (`PassStateEntered`).
    pub fn type_name(&self) -> &'static str {
        match self {
            StateKind::Pass { .. } => "Pass",
            StateKind::Task(_) => "Task",
            StateKind::Choice { .. } => "Choice",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail { .. } => "Fail",
            StateKind::Parallel { .. } => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }
}

/// One state.
#[derive(Debug, Clone)]
pub struct State {
    /// Its name (key in `States`).
    pub name: String,
    /// Type and type-specific fields.
    pub kind: StateKind,
    /// `InputPath`.
    pub input_path: Selector,
    /// `OutputPath`.
    pub output_path: Selector,
    /// `Parameters`.
    pub parameters: Option<Template>,
    /// `ResultSelector`.
    pub result_selector: Option<Template>,
    /// `ResultPath`.
    pub result_path: ResultPath,
    /// `Next` / `End`.
    pub transition: Transition,
    /// `Retry`.
    pub retry: Vec<Retrier>,
    /// `Catch`.
    pub catch: Vec<Catcher>,
    /// `Assign`.
    pub assign: Option<Template>,
}

/// A set of states with a start: the whole machine, a Parallel branch or a
/// Map processor.
#[derive(Debug, Clone)]
pub struct StateMachine {
    /// `StartAt`.
    pub start_at: String,
    /// `States`, by name.
    pub states: HashMap<String, Arc<State>>,
}

impl StateMachine {
    /// Looks a state up by name.
    pub fn state(&self, name: &str) -> Option<&Arc<State>> {
        self.states.get(name)
    }

    /// Finds a state by name here or in any nested branch or processor.
    pub fn find_state(&self, name: &str) -> Option<&Arc<State>> {
        if let Some(state) = self.states.get(name) {
            return Some(state);
        }
        self.states.values().find_map(|s| match &s.kind {
            StateKind::Parallel { branches } => branches.iter().find_map(|b| b.find_state(name)),
            StateKind::Map(spec) => spec.processor.find_state(name),
            _ => None,
        })
    }
}

/// A validated definition.
#[derive(Debug, Clone)]
pub struct Definition {
    /// The top-level machine.
    pub machine: Arc<StateMachine>,
    /// Top-level `TimeoutSeconds`.
    pub timeout_seconds: Option<u64>,
    /// The document as given.
    pub source: Arc<Value>,
}

impl Definition {
    /// Parses and validates a definition document.
    pub fn parse(document: &Value) -> Result<Self, DefinitionError> {
        let mut problems = Vec::new();
        let machine = parse_machine(document, "", &mut problems, true);
        let timeout_seconds = match document.get("TimeoutSeconds") {
            None => None,
            Some(v) => match v.as_u64().filter(|s| *s > 0) {
                Some(s) => Some(s),
                None => {
                    problems.push(problem(
                        SCHEMA,
                        "/TimeoutSeconds",
                        "must be a positive integer",
                    ));
                    None
                }
            },
        };
        match machine {
            Some(machine) if problems.is_empty() => Ok(Self {
                machine: Arc::new(machine),
                timeout_seconds,
                source: Arc::new(document.clone()),
            }),
            _ => Err(DefinitionError { problems }),
        }
    }

    /// Parses a JSON text.
    pub fn parse_str(text: &str) -> Result<Self, DefinitionError> {
        let document: Value = serde_json::from_str(text).map_err(|e| DefinitionError {
            problems: vec![problem(SCHEMA, "/", &format!("not valid JSON: {e}"))],
        })?;
        Self::parse(&document)
    }
}

/// Parses one state on its own, as the TestState API does: transitions are
/// not resolved because the rest of the machine is not there.
pub fn parse_single_state(name: &str, document: &Value) -> Result<Arc<State>, DefinitionError> {
    let mut problems = Vec::new();
    let state = parse_state(
        name,
        document,
        &format!("/States/{name}"),
        &mut problems,
        false,
    );
    match state {
        Some(state) if problems.is_empty() => Ok(Arc::new(state)),
        _ => Err(DefinitionError { problems }),
    }
}

fn problem(code: &'static str, location: &str, message: &str) -> Problem {
    Problem {
        code,
        location: if location.is_empty() {
            "/".into()
        } else {
            location.into()
        },
        message: message.into(),
    }
}

fn is_jsonata(value: Option<&Value>) -> bool {
    value.and_then(Value::as_str) == Some("JSONata")
}

fn parse_machine(
    document: &Value,
    at: &str,
    problems: &mut Vec<Problem>,
    top: bool,
) -> Option<StateMachine> {
    let Some(object) = document.as_object() else {
        problems.push(problem(SCHEMA, at, "a state machine must be a JSON object"));
        return None;
    };
    if is_jsonata(object.get("QueryLanguage")) {
        problems.push(problem(
            UNSUPPORTED_JSONATA,
            &format!("{at}/QueryLanguage"),
            "QueryLanguage 'JSONata' is not supported by this interpreter; use JSONPath",
        ));
        return None;
    }
    let allowed: &[&str] = if top {
        &[
            "StartAt",
            "States",
            "Comment",
            "Version",
            "TimeoutSeconds",
            "QueryLanguage",
        ]
    } else {
        &[
            "StartAt",
            "States",
            "Comment",
            "ProcessorConfig",
            "QueryLanguage",
        ]
    };
    for key in object.keys() {
        if !allowed.contains(&key.as_str()) {
            problems.push(problem(
                SCHEMA,
                &format!("{at}/{key}"),
                &format!("the field '{key}' is not supported by Step Functions"),
            ));
        }
    }
    let start_at = match object.get("StartAt") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            problems.push(problem(
                SCHEMA,
                &format!("{at}/StartAt"),
                "'StartAt' must be a string",
            ));
            None
        }
        None => {
            problems.push(problem(SCHEMA, at, "the field 'StartAt' is required"));
            None
        }
    };
    let Some(states_value) = object.get("States") else {
        problems.push(problem(SCHEMA, at, "the field 'States' is required"));
        return None;
    };
    let Some(states_object) = states_value.as_object().filter(|o| !o.is_empty()) else {
        problems.push(problem(
            SCHEMA,
            &format!("{at}/States"),
            "'States' must be a non-empty object",
        ));
        return None;
    };
    let mut states = HashMap::new();
    for (name, value) in states_object {
        if name.is_empty() || name.chars().count() > 80 {
            problems.push(problem(
                SCHEMA,
                &format!("{at}/States/{name}"),
                "a state name must be 1 to 80 characters",
            ));
        }
        if let Some(state) =
            parse_state(name, value, &format!("{at}/States/{name}"), problems, true)
        {
            states.insert(name.clone(), Arc::new(state));
        }
    }
    let start_at = start_at?;
    if !states_object.contains_key(&start_at) {
        problems.push(problem(
            MISSING_TARGET,
            &format!("{at}/StartAt"),
            &format!("Missing 'Next' target: {start_at}"),
        ));
        return None;
    }
    if states.len() != states_object.len() {
        return None;
    }
    // Every target must exist in this scope; then every state must be
    // reachable from StartAt.
    let mut names: Vec<&String> = states_object.keys().collect();
    names.sort();
    let mut ok = true;
    for name in &names {
        let state = &states[*name];
        for (field, target) in targets(state) {
            if !states.contains_key(target) {
                ok = false;
                problems.push(problem(
                    MISSING_TARGET,
                    &format!("{at}/States/{name}/{field}"),
                    &format!("Missing 'Next' target: {target}"),
                ));
            }
        }
    }
    if !ok {
        return None;
    }
    let mut seen = HashSet::new();
    let mut queue = VecDeque::from([start_at.as_str()]);
    while let Some(name) = queue.pop_front() {
        if !seen.insert(name) {
            continue;
        }
        if let Some(state) = states.get(name) {
            queue.extend(targets(state).into_iter().map(|(_, t)| t));
        }
    }
    for name in &names {
        if !seen.contains(name.as_str()) {
            problems.push(problem(
                UNREACHABLE,
                &format!("{at}/States/{name}"),
                &format!("State '{name}' is not reachable"),
            ));
        }
    }
    Some(StateMachine { start_at, states })
}

fn targets(state: &State) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    if let Transition::Next(next) = &state.transition {
        out.push(("Next".to_owned(), next.as_str()));
    }
    if let StateKind::Choice { rules, default } = &state.kind {
        for (i, rule) in rules.iter().enumerate() {
            out.push((format!("Choices/{i}/Next"), rule.next.as_str()));
        }
        if let Some(default) = default {
            out.push(("Default".to_owned(), default.as_str()));
        }
    }
    for (i, catcher) in state.catch.iter().enumerate() {
        out.push((format!("Catch/{i}/Next"), catcher.next.as_str()));
    }
    out
}

const COMMON_FIELDS: &[&str] = &["Type", "Comment", "QueryLanguage"];

fn allowed_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pass" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultPath",
            "Result",
            "Assign",
        ],
        "Task" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "Resource",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
            "Assign",
        ],
        "Choice" => &["InputPath", "OutputPath", "Choices", "Default", "Assign"],
        "Wait" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Seconds",
            "Timestamp",
            "SecondsPath",
            "TimestampPath",
            "Assign",
        ],
        "Succeed" => &["InputPath", "OutputPath"],
        "Fail" => &["Error", "Cause", "ErrorPath", "CausePath"],
        "Parallel" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "Branches",
            "Assign",
        ],
        "Map" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "Iterator",
            "ItemProcessor",
            "ItemsPath",
            "ItemSelector",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "Label",
            "Assign",
        ],
        _ => &[],
    }
}

struct Fields<'a> {
    object: &'a Map<String, Value>,
    at: &'a str,
    problems: &'a mut Vec<Problem>,
}

impl Fields<'_> {
    fn report(&mut self, code: &'static str, field: &str, message: &str) {
        let location = if field.is_empty() {
            self.at.to_owned()
        } else {
            format!("{}/{field}", self.at)
        };
        self.problems.push(problem(code, &location, message));
    }

    fn string(&mut self, field: &str) -> Option<String> {
        match self.object.get(field) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.report(SCHEMA, field, &format!("'{field}' must be a string"));
                None
            }
        }
    }

    fn path(&mut self, field: &str) -> Option<JsonPath> {
        let text = self.string(field)?;
        match JsonPath::parse(&text) {
            Ok(p) => Some(p),
            Err(e) => {
                self.report(INVALID_PATH, field, &e.to_string());
                None
            }
        }
    }

    fn reference_path(&mut self, field: &str) -> Option<JsonPath> {
        let path = self.path(field)?;
        if path.is_definite() {
            Some(path)
        } else {
            self.report(
                INVALID_PATH,
                field,
                &format!("'{path}' is not a reference path (only names and indices are allowed)"),
            );
            None
        }
    }

    fn selector(&mut self, field: &str) -> Selector {
        match self.object.get(field) {
            None => Selector::Whole,
            Some(Value::Null) => Selector::Discard,
            Some(_) => self.path(field).map_or(Selector::Whole, Selector::Path),
        }
    }

    fn result_path(&mut self, field: &str) -> ResultPath {
        match self.object.get(field) {
            None => ResultPath::Replace,
            Some(Value::Null) => ResultPath::Discard,
            Some(_) => match self.reference_path(field) {
                Some(p) if p.as_str() == "$" => ResultPath::Replace,
                Some(p) => ResultPath::Path(p),
                None => ResultPath::Replace,
            },
        }
    }

    fn template(&mut self, field: &str) -> Option<Template> {
        let value = self.object.get(field)?;
        match Template::compile(value) {
            Ok(t) => Some(t),
            Err(e) => {
                self.report(SCHEMA, field, &e);
                None
            }
        }
    }

    fn object_template(&mut self, field: &str) -> Option<Template> {
        if self.object.get(field).is_some_and(|v| !v.is_object()) {
            self.report(SCHEMA, field, &format!("'{field}' must be an object"));
            return None;
        }
        self.template(field)
    }

    fn number_source(
        &mut self,
        field: &str,
        check: fn(&Value) -> bool,
        rule: &str,
    ) -> Option<NumberSource> {
        let path_field = format!("{field}Path");
        match (
            self.object.get(field),
            self.object.contains_key(&path_field),
        ) {
            (Some(_), true) => {
                self.report(
                    SCHEMA,
                    field,
                    &format!("'{field}' and '{path_field}' are mutually exclusive"),
                );
                None
            }
            (Some(v), false) => {
                if check(v) {
                    Some(NumberSource::Literal(v.clone()))
                } else {
                    self.report(SCHEMA, field, &format!("'{field}' {rule}"));
                    None
                }
            }
            (None, true) => self.reference_path(&path_field).map(NumberSource::Path),
            (None, false) => None,
        }
    }
}

fn parse_state(
    name: &str,
    value: &Value,
    at: &str,
    problems: &mut Vec<Problem>,
    resolve: bool,
) -> Option<State> {
    let Some(object) = value.as_object() else {
        problems.push(problem(SCHEMA, at, "a state must be a JSON object"));
        return None;
    };
    if is_jsonata(object.get("QueryLanguage")) {
        problems.push(problem(
            UNSUPPORTED_JSONATA,
            &format!("{at}/QueryLanguage"),
            "QueryLanguage 'JSONata' is not supported by this interpreter; use JSONPath",
        ));
        return None;
    }
    let mut f = Fields {
        object,
        at,
        problems,
    };
    let type_name = match object.get("Type") {
        Some(Value::String(t)) => t.as_str(),
        Some(_) => {
            f.report(SCHEMA, "Type", "'Type' must be a string");
            return None;
        }
        None => {
            f.report(SCHEMA, "", "the field 'Type' is required");
            return None;
        }
    };
    let allowed = allowed_fields(type_name);
    if allowed.is_empty() {
        f.report(SCHEMA, "Type", &format!("unknown state type '{type_name}'"));
        return None;
    }
    let start = f.problems.len();
    for key in object.keys() {
        if !COMMON_FIELDS.contains(&key.as_str()) && !allowed.contains(&key.as_str()) {
            let message = if ["Arguments", "Output", "Items"].contains(&key.as_str()) {
                format!("the field '{key}' is JSONata; this interpreter supports JSONPath only")
            } else {
                format!(
                    "the field '{key}' is not supported by Step Functions for a {type_name} state"
                )
            };
            f.report(SCHEMA, key, &message);
        }
    }
    let terminal = matches!(type_name, "Choice" | "Succeed" | "Fail");
    let transition = if terminal {
        Transition::End
    } else {
        match (object.get("Next"), object.get("End")) {
            (Some(Value::String(next)), None | Some(Value::Bool(false))) => {
                Transition::Next(next.clone())
            }
            (None, Some(Value::Bool(true))) => Transition::End,
            (Some(_), Some(Value::Bool(true))) => {
                f.report(SCHEMA, "End", "'Next' and 'End' are mutually exclusive");
                Transition::End
            }
            (Some(v), _) if !v.is_string() => {
                f.report(SCHEMA, "Next", "'Next' must be a string");
                Transition::End
            }
            _ => {
                f.report(
                    SCHEMA,
                    "",
                    "a non-terminal state needs 'Next' or 'End: true'",
                );
                Transition::End
            }
        }
    };
    let input_path = f.selector("InputPath");
    let output_path = f.selector("OutputPath");
    let result_path = f.result_path("ResultPath");
    let parameters = if type_name == "Map" {
        None
    } else {
        f.object_template("Parameters")
    };
    let result_selector = f.object_template("ResultSelector");
    let assign = f.object_template("Assign");
    let retry = parse_retry(&mut f);
    let catch = parse_catch(&mut f);
    let kind = match type_name {
        "Pass" => StateKind::Pass {
            result: object.get("Result").cloned(),
        },
        "Task" => parse_task(&mut f)?,
        "Choice" => parse_choice(&mut f),
        "Wait" => parse_wait(&mut f)?,
        "Succeed" => StateKind::Succeed,
        "Fail" => StateKind::Fail {
            error: fail_text(&mut f, "Error"),
            cause: fail_text(&mut f, "Cause"),
        },
        "Parallel" => parse_parallel(&mut f, resolve)?,
        _ => parse_map(&mut f, resolve)?,
    };
    if f.problems.len() != start {
        return None;
    }
    Some(State {
        name: name.to_owned(),
        kind,
        input_path,
        output_path,
        parameters,
        result_selector,
        result_path,
        transition,
        retry,
        catch,
        assign,
    })
}

fn error_equals(f: &mut Fields<'_>, value: &Value, at: &str) -> Vec<String> {
    let Some(list) = value
        .get("ErrorEquals")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
    else {
        f.report(
            SCHEMA,
            at,
            "'ErrorEquals' must be a non-empty array of strings",
        );
        return Vec::new();
    };
    let names: Vec<String> = list
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    if names.len() != list.len() {
        f.report(
            SCHEMA,
            &format!("{at}/ErrorEquals"),
            "'ErrorEquals' must hold strings",
        );
    }
    if names.len() > 1 && names.iter().any(|n| n == crate::errors::ALL) {
        f.report(
            SCHEMA,
            &format!("{at}/ErrorEquals"),
            "'States.ALL' must appear alone in 'ErrorEquals'",
        );
    }
    names
}

fn parse_retry(f: &mut Fields<'_>) -> Vec<Retrier> {
    let Some(value) = f.object.get("Retry") else {
        return Vec::new();
    };
    let Some(list) = value.as_array() else {
        f.report(SCHEMA, "Retry", "'Retry' must be an array");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let at = format!("Retry/{i}");
        if !entry.is_object() {
            f.report(SCHEMA, &at, "a retrier must be an object");
            continue;
        }
        let error_equals = error_equals(f, entry, &at);
        let uint = |f: &mut Fields<'_>, key: &str, default: u64, min: u64| -> u64 {
            match entry.get(key) {
                None => default,
                Some(v) => match v.as_u64().filter(|n| *n >= min && *n <= 99_999_999) {
                    Some(n) => n,
                    None => {
                        f.report(
                            SCHEMA,
                            &format!("{at}/{key}"),
                            &format!("'{key}' must be an integer >= {min}"),
                        );
                        default
                    }
                },
            }
        };
        let interval_seconds = uint(f, "IntervalSeconds", 1, 1);
        let max_attempts = uint(f, "MaxAttempts", 3, 0);
        let max_delay_seconds = entry
            .get("MaxDelaySeconds")
            .map(|_| uint(f, "MaxDelaySeconds", 1, 1));
        let backoff_rate = match entry.get("BackoffRate") {
            None => 2.0,
            Some(v) => match v.as_f64().filter(|r| *r >= 1.0) {
                Some(r) => r,
                None => {
                    f.report(
                        SCHEMA,
                        &format!("{at}/BackoffRate"),
                        "'BackoffRate' must be a number >= 1.0",
                    );
                    2.0
                }
            },
        };
        let full_jitter = match entry.get("JitterStrategy").map(|v| v.as_str()) {
            None | Some(Some("NONE")) => false,
            Some(Some("FULL")) => true,
            Some(_) => {
                f.report(
                    SCHEMA,
                    &format!("{at}/JitterStrategy"),
                    "'JitterStrategy' must be FULL or NONE",
                );
                false
            }
        };
        if let Some(key) = entry.as_object().and_then(|o| {
            o.keys().find(|k| {
                ![
                    "ErrorEquals",
                    "IntervalSeconds",
                    "MaxAttempts",
                    "BackoffRate",
                    "MaxDelaySeconds",
                    "JitterStrategy",
                    "Comment",
                ]
                .contains(&k.as_str())
            })
        }) {
            f.report(
                SCHEMA,
                &format!("{at}/{key}"),
                &format!("the field '{key}' is not supported in a retrier"),
            );
        }
        out.push(Retrier {
            error_equals,
            interval_seconds,
            max_attempts,
            backoff_rate,
            max_delay_seconds,
            full_jitter,
        });
    }
    out
}

fn parse_catch(f: &mut Fields<'_>) -> Vec<Catcher> {
    let Some(value) = f.object.get("Catch") else {
        return Vec::new();
    };
    let Some(list) = value.as_array() else {
        f.report(SCHEMA, "Catch", "'Catch' must be an array");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let at = format!("Catch/{i}");
        let Some(object) = entry.as_object() else {
            f.report(SCHEMA, &at, "a catcher must be an object");
            continue;
        };
        let error_equals = error_equals(f, entry, &at);
        let Some(next) = object.get("Next").and_then(Value::as_str) else {
            f.report(SCHEMA, &at, "a catcher needs 'Next'");
            continue;
        };
        let mut inner = Fields {
            object,
            at: &format!("{}/{at}", f.at),
            problems: f.problems,
        };
        let result_path = inner.result_path("ResultPath");
        let assign = inner.object_template("Assign");
        if let Some(key) = object.keys().find(|k| {
            ![
                "ErrorEquals",
                "Next",
                "ResultPath",
                "Assign",
                "Comment",
                "Output",
            ]
            .contains(&k.as_str())
        }) {
            f.report(
                SCHEMA,
                &format!("{at}/{key}"),
                &format!("the field '{key}' is not supported in a catcher"),
            );
        }
        out.push(Catcher {
            error_equals,
            next: next.to_owned(),
            result_path,
            assign,
        });
    }
    out
}

fn positive_integer(v: &Value) -> bool {
    v.as_u64().is_some_and(|n| n > 0 && n <= 99_999_999)
}

fn parse_task(f: &mut Fields<'_>) -> Option<StateKind> {
    let Some(resource) = f.string("Resource") else {
        f.report(SCHEMA, "", "a Task state needs 'Resource'");
        return None;
    };
    if !resource.starts_with("arn:") {
        f.report(SCHEMA, "Resource", &format!("'{resource}' is not an ARN"));
    }
    let pattern = if resource.ends_with(".waitForTaskToken") {
        IntegrationPattern::WaitForTaskToken
    } else if resource.ends_with(".sync") || resource.contains(".sync:") {
        IntegrationPattern::Sync
    } else {
        IntegrationPattern::RequestResponse
    };
    let timeout = f.number_source(
        "TimeoutSeconds",
        positive_integer,
        "must be a positive integer",
    );
    let heartbeat = f.number_source(
        "HeartbeatSeconds",
        positive_integer,
        "must be a positive integer",
    );
    if let (Some(NumberSource::Literal(t)), Some(NumberSource::Literal(h))) = (&timeout, &heartbeat)
        && h.as_u64() >= t.as_u64()
    {
        f.report(
            SCHEMA,
            "HeartbeatSeconds",
            "'HeartbeatSeconds' must be smaller than 'TimeoutSeconds'",
        );
    }
    Some(StateKind::Task(TaskSpec {
        resource,
        pattern,
        timeout,
        heartbeat,
    }))
}

fn parse_choice(f: &mut Fields<'_>) -> StateKind {
    let mut rules = Vec::new();
    match f.object.get("Choices").and_then(Value::as_array) {
        Some(list) if !list.is_empty() => {
            for (i, rule) in list.iter().enumerate() {
                match ChoiceRule::parse(rule) {
                    Ok(r) => rules.push(r),
                    Err(e) => {
                        let code = if e.contains("JSONata") {
                            UNSUPPORTED_JSONATA
                        } else {
                            SCHEMA
                        };
                        f.report(code, &format!("Choices/{i}"), &e);
                    }
                }
            }
        }
        _ => f.report(
            SCHEMA,
            "Choices",
            "a Choice state needs a non-empty 'Choices' array",
        ),
    }
    let default = f.string("Default");
    StateKind::Choice { rules, default }
}

fn parse_wait(f: &mut Fields<'_>) -> Option<StateKind> {
    let given: Vec<&str> = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"]
        .into_iter()
        .filter(|k| f.object.contains_key(*k))
        .collect();
    if given.len() != 1 {
        f.report(
            SCHEMA,
            "",
            "a Wait state needs exactly one of 'Seconds', 'Timestamp', 'SecondsPath', 'TimestampPath'",
        );
        return None;
    }
    let spec = match given[0] {
        "Seconds" => match f
            .object
            .get("Seconds")
            .and_then(Value::as_u64)
            .filter(|s| *s <= 99_999_999)
        {
            Some(s) => WaitSpec::Seconds(s),
            None => {
                f.report(
                    SCHEMA,
                    "Seconds",
                    "'Seconds' must be a non-negative integer",
                );
                return None;
            }
        },
        "Timestamp" => match f
            .object
            .get("Timestamp")
            .and_then(Value::as_str)
            .and_then(parse_timestamp)
        {
            Some(t) => WaitSpec::Timestamp(t),
            None => {
                f.report(
                    SCHEMA,
                    "Timestamp",
                    "'Timestamp' must be an RFC 3339 timestamp",
                );
                return None;
            }
        },
        "SecondsPath" => WaitSpec::SecondsPath(f.reference_path("SecondsPath")?),
        _ => WaitSpec::TimestampPath(f.reference_path("TimestampPath")?),
    };
    Some(StateKind::Wait(spec))
}

fn fail_text(f: &mut Fields<'_>, field: &str) -> FailText {
    let path_field = format!("{field}Path");
    match (f.object.get(field), f.object.get(&path_field)) {
        (Some(_), Some(_)) => {
            f.report(
                SCHEMA,
                field,
                &format!("'{field}' and '{path_field}' are mutually exclusive"),
            );
            FailText::Absent
        }
        (Some(Value::String(s)), None) => FailText::Literal(s.clone()),
        (Some(_), None) => {
            f.report(SCHEMA, field, &format!("'{field}' must be a string"));
            FailText::Absent
        }
        (None, Some(Value::String(text))) => {
            if intrinsics::looks_like_call(text) {
                match Call::parse(text) {
                    Ok(call) => FailText::Call(call),
                    Err(e) => {
                        f.report(SCHEMA, &path_field, &e.to_string());
                        FailText::Absent
                    }
                }
            } else {
                f.path(&path_field).map_or(FailText::Absent, FailText::Path)
            }
        }
        (None, Some(_)) => {
            f.report(
                SCHEMA,
                &path_field,
                &format!("'{path_field}' must be a string"),
            );
            FailText::Absent
        }
        (None, None) => FailText::Absent,
    }
}

fn parse_parallel(f: &mut Fields<'_>, _resolve: bool) -> Option<StateKind> {
    let Some(list) = f
        .object
        .get("Branches")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
    else {
        f.report(
            SCHEMA,
            "Branches",
            "a Parallel state needs a non-empty 'Branches' array",
        );
        return None;
    };
    let mut branches = Vec::new();
    for (i, branch) in list.iter().enumerate() {
        let at = format!("{}/Branches/{i}", f.at);
        if let Some(machine) = parse_machine(branch, &at, f.problems, false) {
            branches.push(Arc::new(machine));
        }
    }
    (branches.len() == list.len()).then_some(StateKind::Parallel { branches })
}

fn parse_map(f: &mut Fields<'_>, _resolve: bool) -> Option<StateKind> {
    let (field, processor_value) = match (f.object.get("ItemProcessor"), f.object.get("Iterator")) {
        (Some(p), None) => ("ItemProcessor", p),
        (None, Some(i)) => ("Iterator", i),
        (Some(_), Some(_)) => {
            f.report(
                SCHEMA,
                "Iterator",
                "'ItemProcessor' and 'Iterator' are mutually exclusive",
            );
            return None;
        }
        (None, None) => {
            f.report(SCHEMA, "", "a Map state needs 'ItemProcessor'");
            return None;
        }
    };
    let distributed = processor_value
        .pointer("/ProcessorConfig/Mode")
        .and_then(Value::as_str)
        == Some("DISTRIBUTED");
    if f.object.contains_key("ItemReader") {
        f.report(
            SCHEMA,
            "ItemReader",
            "'ItemReader' (reading items from S3) is not supported by this interpreter",
        );
    }
    let at = format!("{}/{field}", f.at);
    let processor = parse_machine(processor_value, &at, f.problems, false)?;
    let items_path = if f.object.contains_key("ItemsPath") {
        Some(f.reference_path("ItemsPath")?)
    } else {
        None
    };
    let item_selector = match (
        f.object.contains_key("ItemSelector"),
        f.object.contains_key("Parameters"),
    ) {
        (true, true) => {
            f.report(
                SCHEMA,
                "ItemSelector",
                "'ItemSelector' and 'Parameters' are mutually exclusive",
            );
            None
        }
        (true, false) => f.object_template("ItemSelector"),
        (false, true) => f.object_template("Parameters"),
        (false, false) => None,
    };
    let non_negative = |v: &Value| v.as_u64().is_some();
    let max_concurrency = f.number_source(
        "MaxConcurrency",
        non_negative,
        "must be a non-negative integer",
    );
    let tolerated_failure_count = f.number_source(
        "ToleratedFailureCount",
        non_negative,
        "must be a non-negative integer",
    );
    let tolerated_failure_percentage = f.number_source(
        "ToleratedFailurePercentage",
        |v| v.as_f64().is_some_and(|p| (0.0..=100.0).contains(&p)),
        "must be a number between 0 and 100",
    );
    Some(StateKind::Map(Box::new(MapSpec {
        processor: Arc::new(processor),
        distributed,
        items_path,
        item_selector,
        max_concurrency,
        tolerated_failure_count,
        tolerated_failure_percentage,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(document: Value) -> Vec<String> {
        match Definition::parse(&document) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn accepts_a_valid_machine() {
        let ok = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "C"}], "Default": "D"},
            "C": {"Type": "Succeed"},
            "D": {"Type": "Fail", "Error": "E"}
        }});
        assert_eq!(problems(ok), Vec::<String>::new());
    }

    #[test]
    fn names_the_state_and_field() {
        let cases = [
            (
                json!({"States": {"A": {"Type": "Succeed"}}}),
                "SCHEMA_VALIDATION_FAILED: the field 'StartAt' is required at /",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nope"}}}),
                "MISSING_TRANSITION_TARGET: Missing 'Next' target: Nope at /States/A/Next",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}}}),
                "UNREACHABLE_STATE: State 'B' is not reachable at /States/B",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": []}}}),
                "SCHEMA_VALIDATION_FAILED: a Choice state needs a non-empty 'Choices' array at /States/A/Choices",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "x", "End": true}}}),
                "INVALID_JSON_PATH: invalid JSONPath 'x': a path must start with '$' at /States/A/InputPath",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "ResultPath": "$.a[*]", "End": true}}}),
                "INVALID_JSON_PATH: '$.a[*]' is not a reference path (only names and indices are allowed) at /States/A/ResultPath",
            ),
            (
                json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
                "UNSUPPORTED_QUERY_LANGUAGE: QueryLanguage 'JSONata' is not supported by this interpreter; use JSONPath at /QueryLanguage",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}),
                "SCHEMA_VALIDATION_FAILED: a non-terminal state needs 'Next' or 'End: true' at /States/A",
            ),
            (
                json!({"StartAt": "A", "States": {"A": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "X", "States": {"Y": {"Type": "Succeed"}}}]}}}),
                "MISSING_TRANSITION_TARGET: Missing 'Next' target: X at /States/A/Branches/0/StartAt",
            ),
        ];
        for (document, expected) in cases {
            let found = problems(document.clone());
            assert!(found.iter().any(|p| p == expected), "{document}: {found:?}");
        }
    }

    #[test]
    fn jsonata_is_recognised() {
        let error = Definition::parse(&json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "QueryLanguage": "JSONata", "End": true}}}))
            .unwrap_err();
        assert!(error.is_jsonata());
    }
}

//! The closed model a definition parses into: a [`Definition`] holds a
//! [`StateMachine`] of [`State`]s, each with its common JSONPath fields and a
//! [`StateKind`] carrying the type-specific ones.
//!
//! Invariant: a value of these types only comes out of the parser, so every
//! path and template in it has parsed and every transition names a state of
//! the same machine (except for a single state parsed for the TestState API,
//! whose transitions point outside it).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use crate::choice::ChoiceRule;
use crate::intrinsics::Call;
use crate::path::JsonPath;
pub use crate::resource::IntegrationPattern;
use crate::resource::Resource;
use crate::template::Template;

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

/// A Task state's own fields.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    /// The resource: its ARN as written, what it names, and the
    /// integration pattern its suffix asks for.
    pub resource: Resource,
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

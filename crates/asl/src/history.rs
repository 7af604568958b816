//! Execution history as AWS records it: typed events with ids, the id of
//! the event that led to each one (`previousEventId`), timestamps and
//! details. Payloads are kept as compact JSON text, as AWS returns them,
//! which also keeps ten thousand finished histories small.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

/// The state types, as they prefix state event names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateType {
    Pass,
    Task,
    Choice,
    Wait,
    Succeed,
    Fail,
    Parallel,
    Map,
}

impl StateType {
    /// `Pass`, `Task`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            StateType::Pass => "Pass",
            StateType::Task => "Task",
            StateType::Choice => "Choice",
            StateType::Wait => "Wait",
            StateType::Succeed => "Succeed",
            StateType::Fail => "Fail",
            StateType::Parallel => "Parallel",
            StateType::Map => "Map",
        }
    }
}

/// History event types (the subset this interpreter produces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    ExecutionStarted,
    ExecutionSucceeded,
    ExecutionFailed,
    ExecutionAborted,
    ExecutionTimedOut,
    ExecutionRedriven,
    StateEntered(StateType),
    StateExited(StateType),
    LambdaFunctionScheduled,
    LambdaFunctionStarted,
    LambdaFunctionSucceeded,
    LambdaFunctionFailed,
    LambdaFunctionTimedOut,
    TaskScheduled,
    TaskStarted,
    TaskSubmitted,
    TaskSucceeded,
    TaskFailed,
    TaskTimedOut,
    MapStateStarted,
    MapStateSucceeded,
    MapStateFailed,
    MapStateAborted,
    MapIterationStarted,
    MapIterationSucceeded,
    MapIterationFailed,
    MapIterationAborted,
    MapRunStarted,
    MapRunSucceeded,
    MapRunFailed,
    ParallelStateStarted,
    ParallelStateSucceeded,
    ParallelStateFailed,
    ParallelStateAborted,
}

impl EventType {
    /// The AWS name, e.g. `TaskStateEntered`.
    pub fn name(self) -> &'static str {
        use EventType as E;
        use StateType as S;
        match self {
            E::ExecutionStarted => "ExecutionStarted",
            E::ExecutionSucceeded => "ExecutionSucceeded",
            E::ExecutionFailed => "ExecutionFailed",
            E::ExecutionAborted => "ExecutionAborted",
            E::ExecutionTimedOut => "ExecutionTimedOut",
            E::ExecutionRedriven => "ExecutionRedriven",
            E::StateEntered(s) => match s {
                S::Pass => "PassStateEntered",
                S::Task => "TaskStateEntered",
                S::Choice => "ChoiceStateEntered",
                S::Wait => "WaitStateEntered",
                S::Succeed => "SucceedStateEntered",
                S::Fail => "FailStateEntered",
                S::Parallel => "ParallelStateEntered",
                S::Map => "MapStateEntered",
            },
            E::StateExited(s) => match s {
                S::Pass => "PassStateExited",
                S::Task => "TaskStateExited",
                S::Choice => "ChoiceStateExited",
                S::Wait => "WaitStateExited",
                S::Succeed => "SucceedStateExited",
                S::Fail => "FailStateExited",
                S::Parallel => "ParallelStateExited",
                S::Map => "MapStateExited",
            },
            E::LambdaFunctionScheduled => "LambdaFunctionScheduled",
            E::LambdaFunctionStarted => "LambdaFunctionStarted",
            E::LambdaFunctionSucceeded => "LambdaFunctionSucceeded",
            E::LambdaFunctionFailed => "LambdaFunctionFailed",
            E::LambdaFunctionTimedOut => "LambdaFunctionTimedOut",
            E::TaskScheduled => "TaskScheduled",
            E::TaskStarted => "TaskStarted",
            E::TaskSubmitted => "TaskSubmitted",
            E::TaskSucceeded => "TaskSucceeded",
            E::TaskFailed => "TaskFailed",
            E::TaskTimedOut => "TaskTimedOut",
            E::MapStateStarted => "MapStateStarted",
            E::MapStateSucceeded => "MapStateSucceeded",
            E::MapStateFailed => "MapStateFailed",
            E::MapStateAborted => "MapStateAborted",
            E::MapIterationStarted => "MapIterationStarted",
            E::MapIterationSucceeded => "MapIterationSucceeded",
            E::MapIterationFailed => "MapIterationFailed",
            E::MapIterationAborted => "MapIterationAborted",
            E::MapRunStarted => "MapRunStarted",
            E::MapRunSucceeded => "MapRunSucceeded",
            E::MapRunFailed => "MapRunFailed",
            E::ParallelStateStarted => "ParallelStateStarted",
            E::ParallelStateSucceeded => "ParallelStateSucceeded",
            E::ParallelStateFailed => "ParallelStateFailed",
            E::ParallelStateAborted => "ParallelStateAborted",
        }
    }
}

/// Compact JSON text of a payload, shared between the exit event of one
/// state and the entered event of the next (they carry the same payload).
pub type JsonText = Arc<str>;

/// Variables a state assigned: name and JSON text of the value.
pub type AssignedVariables = Box<[(Box<str>, JsonText)]>;

/// An integration task's service and action (`lambda` / `invoke`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskResource {
    /// `resourceType`, e.g. `lambda`, `sqs`.
    pub resource_type: Box<str>,
    /// `resource`, e.g. `invoke`, `sendMessage.waitForTaskToken`.
    pub resource: Box<str>,
}

/// `TaskScheduled` details.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskScheduledDetails {
    /// Service and action.
    pub task: TaskResource,
    /// Region.
    pub region: Box<str>,
    /// Effective parameters.
    pub parameters: JsonText,
    /// `TimeoutSeconds`.
    pub timeout_seconds: Option<u64>,
    /// `HeartbeatSeconds`.
    pub heartbeat_seconds: Option<u64>,
}

/// Event details, by family.
#[derive(Debug, Clone, PartialEq)]
pub enum EventDetails {
    /// No details (e.g. `LambdaFunctionStarted`).
    None,
    /// `ExecutionStarted`.
    ExecutionStarted { input: JsonText, role_arn: Box<str> },
    /// `ExecutionSucceeded`, `LambdaFunctionSucceeded`.
    Output { output: JsonText },
    /// Failures, aborts and timeouts.
    Error {
        error: Option<Box<str>>,
        cause: Option<Box<str>>,
    },
    /// `*StateEntered`.
    StateEntered { name: Box<str>, input: JsonText },
    /// `*StateExited`, with the variables the state assigned.
    StateExited {
        name: Box<str>,
        output: JsonText,
        assigned: Option<AssignedVariables>,
    },
    /// `LambdaFunctionScheduled`.
    LambdaScheduled {
        resource: Box<str>,
        input: JsonText,
        timeout_seconds: Option<u64>,
    },
    /// `TaskScheduled` (boxed: the largest and rarest details).
    TaskScheduled(Box<TaskScheduledDetails>),
    /// `TaskStarted`, `TaskSubmitted`.
    Task { task: TaskResource },
    /// `TaskSucceeded`.
    TaskSucceeded {
        task: TaskResource,
        output: JsonText,
    },
    /// `TaskFailed`, `TaskTimedOut`.
    TaskFailed {
        task: TaskResource,
        error: Option<Box<str>>,
        cause: Option<Box<str>>,
    },
    /// `MapStateStarted`.
    MapStarted { length: usize },
    /// `MapIteration*`.
    MapIteration { name: Box<str>, index: usize },
    /// `MapRunStarted`.
    MapRunStarted { map_run_arn: Box<str> },
    /// `ExecutionRedriven`.
    Redriven { redrive_count: u32 },
}

/// One history event.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    /// 1-based id.
    pub id: u64,
    /// The event this one follows from (0 for none).
    pub previous_event_id: u64,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// Its type.
    pub event_type: EventType,
    /// Its details.
    pub details: EventDetails,
}

fn text(t: &str) -> Value {
    Value::String(t.to_owned())
}

fn opt(t: Option<&str>) -> Option<Value> {
    t.map(text)
}

impl HistoryEvent {
    /// The state or map name the event is about.
    pub fn name(&self) -> Option<&str> {
        match &self.details {
            EventDetails::StateEntered { name, .. }
            | EventDetails::StateExited { name, .. }
            | EventDetails::MapIteration { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The input payload (state input, execution input, task parameters).
    pub fn input(&self) -> Option<&str> {
        match &self.details {
            EventDetails::ExecutionStarted { input, .. }
            | EventDetails::StateEntered { input, .. }
            | EventDetails::LambdaScheduled { input, .. } => Some(input),
            EventDetails::TaskScheduled(details) => Some(&details.parameters),
            _ => None,
        }
    }

    /// The output payload.
    pub fn output(&self) -> Option<&str> {
        match &self.details {
            EventDetails::Output { output }
            | EventDetails::StateExited { output, .. }
            | EventDetails::TaskSucceeded { output, .. } => Some(output),
            _ => None,
        }
    }

    /// The error name of a failure event.
    pub fn error(&self) -> Option<&str> {
        match &self.details {
            EventDetails::Error { error, .. } | EventDetails::TaskFailed { error, .. } => {
                error.as_deref()
            }
            _ => None,
        }
    }

    /// The cause of a failure event.
    pub fn cause(&self) -> Option<&str> {
        match &self.details {
            EventDetails::Error { cause, .. } | EventDetails::TaskFailed { cause, .. } => {
                cause.as_deref()
            }
            _ => None,
        }
    }

    /// The event in the shape `GetExecutionHistory` returns.
    pub fn to_aws_json(&self) -> Value {
        let mut event = Map::new();
        event.insert(
            "timestamp".into(),
            text(&self.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        event.insert("type".into(), text(self.event_type.name()));
        event.insert("id".into(), json!(self.id));
        event.insert("previousEventId".into(), json!(self.previous_event_id));
        if let Some((key, details)) = self.details_json() {
            event.insert(key, details);
        }
        Value::Object(event)
    }

    /// The `<type>EventDetails` member: its key and its value; `None` for
    /// events that have none. Payloads are never truncated here, so every
    /// `*Details` object says `{"truncated": false}`.
    fn details_json(&self) -> Option<(String, Value)> {
        let key = || details_key(self.event_type);
        let details = match &self.details {
            EventDetails::None => return None,
            EventDetails::ExecutionStarted { input, role_arn } => (
                "executionStartedEventDetails".into(),
                json!({"input": &**input, "inputDetails": not_truncated(), "roleArn": &**role_arn}),
            ),
            EventDetails::Output { output } => (
                key(),
                json!({"output": &**output, "outputDetails": not_truncated()}),
            ),
            EventDetails::Error { error, cause } => (
                key(),
                error_json(Map::new(), error.as_deref(), cause.as_deref()),
            ),
            EventDetails::StateEntered { name, input } => (
                "stateEnteredEventDetails".into(),
                json!({"name": &**name, "input": &**input, "inputDetails": not_truncated()}),
            ),
            EventDetails::StateExited {
                name,
                output,
                assigned,
            } => (
                "stateExitedEventDetails".into(),
                state_exited_json(name, output, assigned.as_deref()),
            ),
            EventDetails::MapStarted { length } => (
                "mapStateStartedEventDetails".into(),
                json!({"length": length}),
            ),
            EventDetails::MapIteration { name, index } => {
                (key(), json!({"name": &**name, "index": index}))
            }
            EventDetails::MapRunStarted { map_run_arn } => (
                "mapRunStartedEventDetails".into(),
                json!({"mapRunArn": &**map_run_arn}),
            ),
            EventDetails::Redriven { redrive_count } => (
                "executionRedrivenEventDetails".into(),
                json!({"redriveCount": redrive_count}),
            ),
            task_details => return self.task_details_json(task_details),
        };
        Some(details)
    }

    /// The details of the Lambda and service-integration task events.
    fn task_details_json(&self, details: &EventDetails) -> Option<(String, Value)> {
        let resource = |task: &TaskResource| {
            let mut d = Map::new();
            d.insert("resourceType".into(), text(&task.resource_type));
            d.insert("resource".into(), text(&task.resource));
            d
        };
        let details = match details {
            EventDetails::LambdaScheduled {
                resource,
                input,
                timeout_seconds,
            } => {
                let mut d = json!({"resource": &**resource, "input": &**input, "inputDetails": not_truncated()});
                if let Some(t) = timeout_seconds {
                    d["timeoutInSeconds"] = json!(t);
                }
                ("lambdaFunctionScheduledEventDetails".into(), d)
            }
            EventDetails::TaskScheduled(details) => (
                "taskScheduledEventDetails".into(),
                task_scheduled_json(details),
            ),
            EventDetails::Task { task } => {
                (details_key(self.event_type), Value::Object(resource(task)))
            }
            EventDetails::TaskSucceeded { task, output } => {
                let mut d = resource(task);
                d.insert("output".into(), text(output));
                d.insert("outputDetails".into(), not_truncated());
                ("taskSucceededEventDetails".into(), Value::Object(d))
            }
            EventDetails::TaskFailed { task, error, cause } => (
                details_key(self.event_type),
                error_json(resource(task), error.as_deref(), cause.as_deref()),
            ),
            _ => return None,
        };
        Some(details)
    }
}

fn not_truncated() -> Value {
    json!({"truncated": false})
}

/// `details` with `error` and `cause` added when present.
fn error_json(mut details: Map<String, Value>, error: Option<&str>, cause: Option<&str>) -> Value {
    if let Some(e) = opt(error) {
        details.insert("error".into(), e);
    }
    if let Some(c) = opt(cause) {
        details.insert("cause".into(), c);
    }
    Value::Object(details)
}

fn state_exited_json(name: &str, output: &str, assigned: Option<&[(Box<str>, JsonText)]>) -> Value {
    let mut d = json!({"name": name, "output": output, "outputDetails": not_truncated()});
    if let Some(assigned) = assigned {
        let vars: Map<String, Value> = assigned
            .iter()
            .map(|(k, v)| (k.to_string(), text(v)))
            .collect();
        d["assignedVariables"] = Value::Object(vars);
        d["assignedVariablesDetails"] = not_truncated();
    }
    d
}

fn task_scheduled_json(details: &TaskScheduledDetails) -> Value {
    let TaskScheduledDetails {
        task,
        region,
        parameters,
        timeout_seconds,
        heartbeat_seconds,
    } = details;
    let mut d = json!({"resourceType": &*task.resource_type, "resource": &*task.resource,
                       "region": &**region, "parameters": &**parameters});
    if let Some(t) = timeout_seconds {
        d["timeoutInSeconds"] = json!(t);
    }
    if let Some(h) = heartbeat_seconds {
        d["heartbeatInSeconds"] = json!(h);
    }
    d
}

/// `executionFailedEventDetails` from `ExecutionFailed`, and so on.
fn details_key(event_type: EventType) -> String {
    let name = event_type.name();
    let mut chars = name.chars();
    let first = chars
        .next()
        .map(|c| c.to_ascii_lowercase())
        .unwrap_or_default();
    format!("{first}{}EventDetails", chars.as_str())
}

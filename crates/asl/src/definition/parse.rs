//! Parsing a definition document: the machine (`StartAt`, `States`) and
//! each state's common fields and transition. The type-specific fields are
//! read by [`super::kinds`], `Retry` and `Catch` by [`super::recovery`];
//! the checks that need the whole machine run in [`super::validate`].
//!
//! Parsing never stops at the first problem: a bad field is reported and
//! parsing goes on, and a state (or machine) with any problem is dropped at
//! the end, so every problem is reported at once.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::field_table::{
    COMMON_FIELDS, JSONATA_FIELDS, NESTED_MACHINE_FIELDS, TOP_MACHINE_FIELDS, allowed_fields,
};
use super::fields::Fields;
use super::kinds::{fail_text, parse_choice, parse_map, parse_parallel, parse_task, parse_wait};
use super::model::{Definition, State, StateKind, StateMachine, Transition};
use super::recovery::{parse_catch, parse_retry};
use super::validate::{
    DefinitionError, Problem, SCHEMA, UNSUPPORTED_JSONATA, check_transitions, problem,
};

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

fn is_jsonata(value: Option<&Value>) -> bool {
    value.and_then(Value::as_str) == Some("JSONata")
}

/// Reports a JSONata `QueryLanguage` on a machine or state; such an object
/// is not parsed further.
fn rejects_jsonata(object: &Map<String, Value>, at: &str, problems: &mut Vec<Problem>) -> bool {
    if !is_jsonata(object.get("QueryLanguage")) {
        return false;
    }
    problems.push(problem(
        UNSUPPORTED_JSONATA,
        &format!("{at}/QueryLanguage"),
        "QueryLanguage 'JSONata' is not supported by this interpreter; use JSONPath",
    ));
    true
}

/// Parses a machine: the top level (`top`), a Parallel branch or a Map
/// processor. `at` is its location, empty for the top level.
pub(super) fn parse_machine(
    document: &Value,
    at: &str,
    problems: &mut Vec<Problem>,
    top: bool,
) -> Option<StateMachine> {
    let Some(object) = document.as_object() else {
        problems.push(problem(SCHEMA, at, "a state machine must be a JSON object"));
        return None;
    };
    if rejects_jsonata(object, at, problems) {
        return None;
    }
    let allowed = if top {
        TOP_MACHINE_FIELDS
    } else {
        NESTED_MACHINE_FIELDS
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
    let start_at = start_at(object, at, problems);
    let declared = declared_states(object, at, problems)?;
    let states = parse_states(declared, at, problems);
    let start_at = start_at?;
    check_transitions(at, &start_at, &states, declared, problems)
        .then_some(StateMachine { start_at, states })
}

/// `StartAt`, which must be a string (whether it names a state is checked
/// once the states are parsed).
fn start_at(object: &Map<String, Value>, at: &str, problems: &mut Vec<Problem>) -> Option<String> {
    match object.get("StartAt") {
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
    }
}

/// `States`, which must be a non-empty object.
fn declared_states<'a>(
    object: &'a Map<String, Value>,
    at: &str,
    problems: &mut Vec<Problem>,
) -> Option<&'a Map<String, Value>> {
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
    Some(states_object)
}

/// Parses every state of `declared`; those with problems are left out of
/// the map (and reported).
fn parse_states(
    declared: &Map<String, Value>,
    at: &str,
    problems: &mut Vec<Problem>,
) -> HashMap<String, Arc<State>> {
    let mut states = HashMap::new();
    for (name, value) in declared {
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
    states
}

/// Parses one state. `resolve` is false for a state parsed on its own (the
/// TestState API), whose branches and processors are parsed all the same.
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
    if rejects_jsonata(object, at, problems) {
        return None;
    }
    let mut f = Fields {
        object,
        at,
        problems,
    };
    let type_name = state_type_name(&mut f)?;
    // Problems found from here on belong to this state: any of them drops it.
    let start = f.problems.len();
    check_state_fields(&mut f, type_name);
    let transition = parse_transition(&mut f, type_name);
    let input_path = f.selector("InputPath");
    let output_path = f.selector("OutputPath");
    let result_path = f.result_path("ResultPath");
    // A Map's `Parameters` is its legacy `ItemSelector`, read with the
    // Map's own fields.
    let parameters = if type_name == "Map" {
        None
    } else {
        f.object_template("Parameters")
    };
    let result_selector = f.object_template("ResultSelector");
    let assign = f.object_template("Assign");
    let retry = parse_retry(&mut f);
    let catch = parse_catch(&mut f);
    let kind = parse_kind(&mut f, type_name, resolve)?;
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

/// `Type`, which must name a known state type.
fn state_type_name<'a>(f: &mut Fields<'a>) -> Option<&'a str> {
    let type_name = match f.object.get("Type") {
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
    if allowed_fields(type_name).is_empty() {
        f.report(SCHEMA, "Type", &format!("unknown state type '{type_name}'"));
        return None;
    }
    Some(type_name)
}

/// Reports every field the state type does not accept.
fn check_state_fields(f: &mut Fields<'_>, type_name: &str) {
    let allowed = allowed_fields(type_name);
    let object = f.object;
    for key in object.keys() {
        if !COMMON_FIELDS.contains(&key.as_str()) && !allowed.contains(&key.as_str()) {
            let message = if JSONATA_FIELDS.contains(&key.as_str()) {
                format!("the field '{key}' is JSONata; this interpreter supports JSONPath only")
            } else {
                format!(
                    "the field '{key}' is not supported by Step Functions for a {type_name} state"
                )
            };
            f.report(SCHEMA, key, &message);
        }
    }
}

/// `Next` / `End`; Choice, Succeed and Fail states end by their type.
fn parse_transition(f: &mut Fields<'_>, type_name: &str) -> Transition {
    if matches!(type_name, "Choice" | "Succeed" | "Fail") {
        return Transition::End;
    }
    match (f.object.get("Next"), f.object.get("End")) {
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
}

/// The type-specific fields.
fn parse_kind(f: &mut Fields<'_>, type_name: &str, resolve: bool) -> Option<StateKind> {
    Some(match type_name {
        "Pass" => StateKind::Pass {
            result: f.object.get("Result").cloned(),
        },
        "Task" => parse_task(f)?,
        "Choice" => parse_choice(f),
        "Wait" => parse_wait(f)?,
        "Succeed" => StateKind::Succeed,
        "Fail" => StateKind::Fail {
            error: fail_text(f, "Error"),
            cause: fail_text(f, "Cause"),
        },
        "Parallel" => parse_parallel(f, resolve)?,
        _ => parse_map(f, resolve)?,
    })
}

//! The problems a definition can have, and the checks that need a whole
//! machine at once: that `StartAt` and every `Next`, `Default` and `Catch`
//! target name a state of the same machine, and that every state is
//! reachable from `StartAt`.
//!
//! Checks that concern one field at a time happen while parsing (see
//! [`super::fields`]); all of them report into one list so that a caller
//! sees every problem of a definition at once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::model::{State, StateKind, Transition};

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
pub(super) const SCHEMA: &str = "SCHEMA_VALIDATION_FAILED";
const MISSING_TARGET: &str = "MISSING_TRANSITION_TARGET";
const UNREACHABLE: &str = "UNREACHABLE_STATE";
pub(super) const INVALID_PATH: &str = "INVALID_JSON_PATH";

pub(super) fn problem(code: &'static str, location: &str, message: &str) -> Problem {
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

/// Checks a machine's transitions once all its states parsed: `StartAt`
/// first (a missing start makes the rest meaningless), then every target of
/// every state, then reachability. Returns whether the machine may be built;
/// unreachable states are reported but do not stop it being built, because
/// the caller discards the definition once any problem was reported.
pub(super) fn check_transitions(
    at: &str,
    start_at: &str,
    states: &HashMap<String, Arc<State>>,
    declared: &Map<String, Value>,
    problems: &mut Vec<Problem>,
) -> bool {
    if !declared.contains_key(start_at) {
        problems.push(problem(
            MISSING_TARGET,
            &format!("{at}/StartAt"),
            &format!("Missing 'Next' target: {start_at}"),
        ));
        return false;
    }
    // A state that failed to parse has already been reported; its targets
    // are unknown, so checking the others would only add noise.
    if states.len() != declared.len() {
        return false;
    }
    // Sorted, so that problems come out in a stable order whatever the
    // order of the JSON object.
    let mut names: Vec<&String> = declared.keys().collect();
    names.sort();
    if !check_targets(at, &names, states, problems) {
        return false;
    }
    check_reachable(at, start_at, &names, states, problems);
    true
}

/// Every target must exist in this scope.
fn check_targets(
    at: &str,
    names: &[&String],
    states: &HashMap<String, Arc<State>>,
    problems: &mut Vec<Problem>,
) -> bool {
    let mut ok = true;
    for name in names {
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
    ok
}

/// Every state must be reachable from `StartAt` (breadth first over the
/// targets).
fn check_reachable(
    at: &str,
    start_at: &str,
    names: &[&String],
    states: &HashMap<String, Arc<State>>,
    problems: &mut Vec<Problem>,
) {
    let mut seen = HashSet::new();
    let mut queue = VecDeque::from([start_at]);
    while let Some(name) = queue.pop_front() {
        if !seen.insert(name) {
            continue;
        }
        if let Some(state) = states.get(name) {
            queue.extend(targets(state).into_iter().map(|(_, t)| t));
        }
    }
    for name in names {
        if !seen.contains(name.as_str()) {
            problems.push(problem(
                UNREACHABLE,
                &format!("{at}/States/{name}"),
                &format!("State '{name}' is not reachable"),
            ));
        }
    }
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

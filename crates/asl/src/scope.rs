//! What an expression can see while a state runs: the data `$`, the
//! context object `$$` (built only when something reads it) and the
//! workflow variables `$name`.
//!
//! Every evaluation failure is a [`Failure`]: an error name and a cause, as
//! they will appear in the history. Runtime failures raised while evaluating
//! a state's fields carry the flag that asks the interpreter to prefix the
//! cause with `An error occurred while executing the state ...`, like AWS.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::path::{JsonPath, PathRoot};

/// Workflow variables visible to a state. Cheap to clone: a child scope
/// (a Map iteration, a Parallel branch) shares its parent's map until it
/// assigns.
pub type Variables = Arc<HashMap<String, Value>>;

/// An error raised by a state: the name that `Retry` and `Catch` match, and
/// an optional cause.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Error name, e.g. `States.Runtime` or a task's own error.
    pub error: String,
    /// Human-readable cause.
    pub cause: Option<String>,
    /// Whether the interpreter should prefix the cause with the state name
    /// and entered event id, the way AWS reports runtime errors.
    pub(crate) state_prefix: bool,
    /// Whether a retrier would retry this failure but the run makes no
    /// further attempt (the TestState API runs one), so the state is
    /// reported `RETRIABLE`. The error name itself stays as raised.
    pub(crate) retriable: bool,
}

impl Failure {
    /// A failure with the given error and cause, reported as is.
    pub fn new(error: impl Into<String>, cause: Option<String>) -> Self {
        Self {
            error: error.into(),
            cause,
            state_prefix: false,
            retriable: false,
        }
    }

    /// A `States.Runtime` failure whose cause gets the state prefix.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self {
            error: crate::errors::RUNTIME.into(),
            cause: Some(cause.into()),
            state_prefix: true,
            retriable: false,
        }
    }

    /// A `States.IntrinsicFailure` whose cause gets the state prefix.
    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Self {
            error: crate::errors::INTRINSIC_FAILURE.into(),
            cause: Some(cause.into()),
            state_prefix: true,
            retriable: false,
        }
    }
}

/// The data an expression evaluates against.
pub struct Scope<'a> {
    /// `$`.
    pub data: &'a Value,
    /// `$$`, built on first use.
    pub context: &'a LazyContext<'a>,
    /// `$name`.
    pub variables: &'a HashMap<String, Value>,
}

/// The context object, built from its parts only when an expression reads
/// `$$`: most states never do, and building it copies the execution input.
pub struct LazyContext<'a> {
    built: OnceCell<Value>,
    build: &'a (dyn Fn() -> Value + 'a),
}

impl<'a> LazyContext<'a> {
    /// Wraps a builder that is called at most once.
    pub fn new(build: &'a (dyn Fn() -> Value + 'a)) -> Self {
        Self {
            built: OnceCell::new(),
            build,
        }
    }

    /// The context object.
    pub fn get(&self) -> &Value {
        self.built.get_or_init(|| (self.build)())
    }
}

impl Scope<'_> {
    /// Resolves a path against the root it names; a miss is reported as
    /// the path miss so callers can word the error for their field.
    pub fn lookup(&self, path: &JsonPath) -> Result<Cow<'_, Value>, LookupError> {
        let root = match path.root() {
            PathRoot::Data => self.data,
            PathRoot::Context => self.context.get(),
            PathRoot::Variable(name) => self
                .variables
                .get(name)
                .ok_or_else(|| LookupError::UnknownVariable(name.clone()))?,
        };
        path.select(root).map_err(LookupError::Miss)
    }
}

/// Why a path lookup found nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum LookupError {
    /// The path's steps did not match the data.
    Miss(crate::path::PathMiss),
    /// `$name` names no assigned variable.
    UnknownVariable(String),
}

impl LookupError {
    /// Text after `Invalid path '<path>' : `.
    pub fn describe(&self) -> String {
        match self {
            Self::Miss(miss) => miss.describe(),
            Self::UnknownVariable(name) => format!("The variable '{name}' is not defined"),
        }
    }
}

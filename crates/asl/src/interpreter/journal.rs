//! What a redrive resumes from.
//!
//! When the execution's main thread fails, [`super::run_machine`] records
//! a [`ResumePoint`]: the failed state, the input it was given and the
//! variables it saw. `RedriveExecution` ([`crate::Engine::redrive`]) hands
//! that point back to [`super::drive`], which records `ExecutionRedriven`
//! and runs the failed state again with that input.
//!
//! While the main thread runs a state, every branch or iteration that
//! succeeds is remembered in the journal under its frame key (e.g.
//! `/P#1` for the second branch of Parallel `P`, `/M#3` for the fourth
//! iteration of Map `M`; nested ones extend their parent's key). The
//! journal is cleared whenever the main thread enters a new state, so after
//! a failure it holds exactly the work of the failed state that succeeded.
//! During the redrive of that state (`reuse`), those branches and
//! iterations return their remembered output instead of running (and
//! record no events); once the main thread moves on, reuse stops.

use std::collections::HashMap;

use serde_json::Value;

use crate::scope::Variables;

/// Where a redrive picks up: the main thread's failed state, its input and
/// the variables it saw.
#[derive(Debug, Clone)]
pub(crate) struct ResumePoint {
    pub state: String,
    pub input: Value,
    pub variables: Variables,
}

/// Per-execution memory for redrives.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    /// Outputs of branches and iterations that succeeded during the main
    /// thread's current state.
    pub(super) completed: HashMap<String, Value>,
    /// Whether those outputs may be reused (only while redriving the
    /// failed state).
    pub(super) reuse: bool,
    pub resume: Option<ResumePoint>,
}

/// A resume point and the redrive count it runs under.
pub struct ResumePointHandle(pub(crate) ResumePoint, pub(crate) u32);

//! The state one execution keeps while it runs ([`Runtime`]), how it
//! records history events, and the context object (`$$`) it shows.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::execution::ExecutionInfo;
use super::journal::Journal;
use super::work::{LiveWork, StateWork};
use super::{Frame, StateFacts, iso, lock};
use crate::clock::Clock;
use crate::history::{EventDetails, EventType, HistoryEvent};
use crate::scope::{LazyContext, Scope};
use crate::task::TaskHandler;
use crate::tokens::TaskTokens;

/// Everything one execution needs while it runs.
pub struct Runtime {
    pub(crate) info: Mutex<ExecutionInfo>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) tokens: Arc<TaskTokens>,
    pub(crate) history: Mutex<Vec<HistoryEvent>>,
    pub(crate) journal: Mutex<Journal>,
    /// Does the work of Task, Parallel and Map states.
    pub(super) work: Arc<dyn StateWork>,
    /// Cached for context objects: execution part of `$$`.
    execution_context: Mutex<Option<Arc<Value>>>,
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
            tokens,
            // Room for a short execution's events (the benchmark's has
            // 19) without growing step by step.
            history: Mutex::new(Vec::with_capacity(32)),
            journal: Mutex::new(Journal::default()),
            work: Arc::new(LiveWork::new(handler)),
            execution_context: Mutex::new(None),
        }
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

    /// Appends an event after event `previous`; returns its id. Ids are the
    /// history's positions (1-based), shared by every thread of the
    /// execution, so concurrent branches draw from one sequence.
    pub(super) fn emit_raw(
        &self,
        previous: u64,
        event_type: EventType,
        details: EventDetails,
    ) -> u64 {
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
    pub(super) fn emit(
        &self,
        frame: &mut Frame,
        event_type: EventType,
        details: EventDetails,
    ) -> u64 {
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

    /// Records an event without moving the cursor: `ParallelStateSucceeded`
    /// and `MapStateSucceeded`, which AWS does not chain the exit event to,
    /// and the end event of a Map iteration, which the next iteration does
    /// not chain to.
    pub(super) fn emit_aside(
        &self,
        frame: &Frame,
        event_type: EventType,
        details: EventDetails,
    ) -> u64 {
        if frame.silent {
            return frame.cursor;
        }
        self.emit_raw(frame.cursor, event_type, details)
    }

    pub(super) fn last_event_id(&self) -> u64 {
        lock(&self.history).len() as u64
    }

    /// The context object (`$$`) for a state with `facts`.
    pub(super) fn context_object(&self, facts: &StateFacts<'_>) -> Value {
        if let Some(replaced) = self.work.context_object() {
            return replaced;
        }
        // The execution part is built on first use and cached for the
        // runtime's life: building it copies the execution input. A redrive
        // reuses the runtime and only bumps `info.redrive_count`, so a
        // cached `RedriveCount` is not refreshed.
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

    /// Runs `f` with a scope over `data`; the context object is built only
    /// if `f` reads `$$`.
    pub(super) fn with_scope<T>(
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

    /// Forgets the branch and iteration outputs of the previous state.
    pub(super) fn clear_journal_for_new_state(&self) {
        let mut journal = lock(&self.journal);
        if !journal.completed.is_empty() {
            journal.completed.clear();
        }
    }

    /// The remembered output of the branch or iteration `key`, while a
    /// redrive may reuse it.
    pub(super) fn reuse(&self, key: &str) -> Option<Value> {
        let journal = lock(&self.journal);
        if journal.reuse {
            journal.completed.get(key).cloned()
        } else {
            None
        }
    }

    /// Remembers that the branch or iteration `key` succeeded with `output`.
    pub(super) fn remember(&self, key: String, output: &Value) {
        lock(&self.journal).completed.insert(key, output.clone());
    }
}

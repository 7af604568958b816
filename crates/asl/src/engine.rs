//! The execution engine a local Step Functions endpoint sits on: start
//! executions by name (idempotently), describe them, return their history,
//! stop them, redrive failed ones, and route task-token callbacks to the
//! task waiting for them. Executions run as tokio tasks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::definition::Definition;
use crate::history::{EventDetails, EventType, HistoryEvent};
use crate::interpreter::{
    ExecutionInfo, ExecutionStatus, Outcome, ResumePointHandle, Runtime, drive,
};
use crate::task::{TaskError, TaskHandler};
use crate::tokens::{TaskTokens, TokenError, TokenMessage};

/// A deployed state machine the engine can run.
#[derive(Debug, Clone)]
pub struct StateMachineRef {
    /// Its ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// Its validated definition.
    pub definition: Arc<Definition>,
}

/// What `DescribeExecution` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionDescription {
    /// Execution ARN.
    pub execution_arn: String,
    /// State machine ARN.
    pub state_machine_arn: String,
    /// Execution name.
    pub name: String,
    /// Status.
    pub status: ExecutionStatus,
    /// Input.
    pub input: Value,
    /// Output, once succeeded.
    pub output: Option<Value>,
    /// Error, once failed.
    pub error: Option<String>,
    /// Cause, once failed.
    pub cause: Option<String>,
    /// Start time.
    pub start_date: DateTime<Utc>,
    /// Stop time, once ended.
    pub stop_date: Option<DateTime<Utc>>,
    /// Redrives so far.
    pub redrive_count: u32,
}

/// Engine failures, named after the AWS API errors they become. Displayed
/// as `<aws_name>: <message>`; an API endpoint sends the two apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// An execution with this name exists with a different input, or has ended.
    ExecutionAlreadyExists(String),
    /// No such execution.
    ExecutionDoesNotExist(String),
    /// Redrive asked of an execution that did not fail, time out or abort.
    ExecutionNotRedrivable(String, String),
    /// A task-token callback found no waiting task.
    Token(TokenError),
}

impl From<TokenError> for EngineError {
    fn from(error: TokenError) -> Self {
        Self::Token(error)
    }
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.aws_name(), self.message())
    }
}

impl std::error::Error for EngineError {}

impl EngineError {
    /// The AWS API error it becomes (`__type`).
    pub fn aws_name(&self) -> &'static str {
        match self {
            Self::ExecutionAlreadyExists(_) => "ExecutionAlreadyExists",
            Self::ExecutionDoesNotExist(_) => "ExecutionDoesNotExist",
            Self::ExecutionNotRedrivable(..) => "ExecutionNotRedrivable",
            Self::Token(TokenError::TaskDoesNotExist(_)) => "TaskDoesNotExist",
        }
    }

    /// What went wrong, without the AWS name.
    pub fn message(&self) -> String {
        match self {
            Self::ExecutionAlreadyExists(arn) => format!("execution '{arn}' already exists"),
            Self::ExecutionDoesNotExist(arn) => format!("execution '{arn}' does not exist"),
            Self::ExecutionNotRedrivable(arn, reason) => {
                format!("execution '{arn}' cannot be redriven: {reason}")
            }
            Self::Token(TokenError::TaskDoesNotExist(token)) => {
                format!("no task is waiting for token '{token}'")
            }
        }
    }
}

struct Entry {
    machine: StateMachineRef,
    runtime: Arc<Runtime>,
    status: watch::Sender<ExecutionStatus>,
    inner: Mutex<EntryState>,
    listener: Arc<StatusListener>,
}

/// Where status changes go (see [`Engine::on_status_change`]).
#[derive(Default)]
struct StatusListener {
    sender: Mutex<Option<tokio::sync::mpsc::UnboundedSender<ExecutionDescription>>>,
}

impl StatusListener {
    fn notify(&self, entry: &Entry) {
        if let Some(sender) = lock(&self.sender).as_ref() {
            // A closed receiver means nobody listens any more: nothing to do.
            let _ = sender.send(describe_entry(entry));
        }
    }
}

/// `DescribeExecution` of one entry.
fn describe_entry(entry: &Entry) -> ExecutionDescription {
    let info = lock(&entry.runtime.info).clone();
    let inner = lock(&entry.inner);
    let outcome = inner.outcome.clone();
    ExecutionDescription {
        execution_arn: info.execution_arn,
        state_machine_arn: info.state_machine_arn,
        name: info.name,
        status: outcome
            .as_ref()
            .map_or(ExecutionStatus::Running, |o| o.status),
        input: info.input,
        output: outcome.as_ref().and_then(|o| o.output.clone()),
        error: outcome.as_ref().and_then(|o| o.error.clone()),
        cause: outcome.as_ref().and_then(|o| o.cause.clone()),
        start_date: info.start_time,
        stop_date: inner.stop_date,
        redrive_count: inner.redrive_count,
    }
}

struct EntryState {
    outcome: Option<Outcome>,
    stop_date: Option<DateTime<Utc>>,
    abort: Option<tokio::task::AbortHandle>,
    redrive_count: u32,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs executions.
pub struct Engine {
    clock: Arc<dyn Clock>,
    handler: Arc<dyn TaskHandler>,
    tokens: Arc<TaskTokens>,
    executions: Mutex<HashMap<String, Arc<Entry>>>,
    listener: Arc<StatusListener>,
}

impl Engine {
    /// An engine whose tasks go to `handler` and whose time is `clock`.
    pub fn new(handler: Arc<dyn TaskHandler>, clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(Self {
            clock,
            handler,
            tokens: Arc::new(TaskTokens::default()),
            executions: Mutex::new(HashMap::new()),
            listener: Arc::new(StatusListener::default()),
        })
    }

    /// Sends every execution's status changes to `sender` from now on, as
    /// Step Functions emits its "Execution Status Change" events: RUNNING
    /// when started or redriven, then SUCCEEDED, FAILED, TIMED_OUT or
    /// ABORTED when it stops. Replaces an earlier listener.
    pub fn on_status_change(
        &self,
        sender: tokio::sync::mpsc::UnboundedSender<ExecutionDescription>,
    ) {
        *lock(&self.listener.sender) = Some(sender);
    }

    fn entry(&self, execution_arn: &str) -> Result<Arc<Entry>, EngineError> {
        lock(&self.executions)
            .get(execution_arn)
            .cloned()
            .ok_or_else(|| EngineError::ExecutionDoesNotExist(execution_arn.to_owned()))
    }

    /// Starts an execution. Starting the same name again with the same
    /// input while it runs returns the same ARN (AWS's idempotency for
    /// Standard workflows); anything else is `ExecutionAlreadyExists`.
    pub fn start_execution(
        self: &Arc<Self>,
        machine: &StateMachineRef,
        name: Option<&str>,
        input: Value,
    ) -> Result<String, EngineError> {
        let name = name.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        let execution_arn = format!(
            "{}:{name}",
            machine.arn.replacen(":stateMachine:", ":execution:", 1)
        );
        let mut executions = lock(&self.executions);
        if let Some(existing) = executions.get(&execution_arn) {
            let same_input = lock(&existing.runtime.info).input == input;
            if same_input && *existing.status.borrow() == ExecutionStatus::Running {
                return Ok(execution_arn);
            }
            return Err(EngineError::ExecutionAlreadyExists(execution_arn));
        }
        let mut info = ExecutionInfo::local(&machine.name, &name, input, self.clock.now());
        info.execution_arn.clone_from(&execution_arn);
        info.state_machine_arn.clone_from(&machine.arn);
        if let Some(region) = machine.arn.split(':').nth(3).filter(|r| !r.is_empty()) {
            info.region = region.to_owned();
        }
        let runtime = Arc::new(Runtime::new(
            info,
            Arc::clone(&self.clock),
            Arc::clone(&self.handler),
            Arc::clone(&self.tokens),
        ));
        let (status, _) = watch::channel(ExecutionStatus::Running);
        let entry = Arc::new(Entry {
            machine: machine.clone(),
            runtime,
            status,
            inner: Mutex::new(EntryState {
                outcome: None,
                stop_date: None,
                abort: None,
                redrive_count: 0,
            }),
            listener: Arc::clone(&self.listener),
        });
        executions.insert(execution_arn.clone(), Arc::clone(&entry));
        drop(executions);
        entry.listener.notify(&entry);
        Self::spawn(&entry, None);
        Ok(execution_arn)
    }

    fn spawn(entry: &Arc<Entry>, resume: Option<ResumePointHandle>) {
        let task_entry = Arc::clone(entry);
        let handle = tokio::spawn(async move {
            let definition = Arc::clone(&task_entry.machine.definition);
            let outcome = drive(&task_entry.runtime, &definition, resume).await;
            let mut inner = lock(&task_entry.inner);
            if inner.outcome.is_none() {
                inner.stop_date = Some(task_entry.runtime.clock.now());
                let status = outcome.status;
                inner.outcome = Some(outcome);
                drop(inner);
                task_entry.status.send_replace(status);
                task_entry.listener.notify(&task_entry);
            }
        });
        lock(&entry.inner).abort = Some(handle.abort_handle());
    }

    /// `DescribeExecution`.
    pub fn describe(&self, execution_arn: &str) -> Result<ExecutionDescription, EngineError> {
        Ok(describe_entry(&*self.entry(execution_arn)?))
    }

    /// `GetExecutionHistory`.
    pub fn history(&self, execution_arn: &str) -> Result<Vec<HistoryEvent>, EngineError> {
        Ok(self.entry(execution_arn)?.runtime.history())
    }

    /// Waits until the execution is no longer running and describes it.
    pub async fn wait_for(&self, execution_arn: &str) -> Result<ExecutionDescription, EngineError> {
        let entry = self.entry(execution_arn)?;
        let mut receiver = entry.status.subscribe();
        // The sender lives in the entry, so the channel cannot close here.
        let _ = receiver.wait_for(|s| *s != ExecutionStatus::Running).await;
        self.describe(execution_arn)
    }

    /// `StopExecution`: aborts a running execution.
    pub fn stop(
        &self,
        execution_arn: &str,
        error: Option<String>,
        cause: Option<String>,
    ) -> Result<(), EngineError> {
        let entry = self.entry(execution_arn)?;
        let mut inner = lock(&entry.inner);
        if inner.outcome.is_some() {
            return Ok(());
        }
        if let Some(abort) = inner.abort.take() {
            abort.abort();
        }
        let history = &entry.runtime;
        let last = history.history().len() as u64;
        {
            let mut events = history
                .history
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            events.push(HistoryEvent {
                id: last + 1,
                previous_event_id: last,
                timestamp: self.clock.now(),
                event_type: EventType::ExecutionAborted,
                details: EventDetails::Error {
                    error: error.clone().map(String::into_boxed_str),
                    cause: cause.clone().map(String::into_boxed_str),
                },
            });
        }
        inner.outcome = Some(Outcome {
            status: ExecutionStatus::Aborted,
            output: None,
            error,
            cause,
        });
        inner.stop_date = Some(self.clock.now());
        drop(inner);
        entry.status.send_replace(ExecutionStatus::Aborted);
        entry.listener.notify(&entry);
        Ok(())
    }

    /// `RedriveExecution`: continues a failed, timed-out or aborted
    /// execution from the state that did not succeed, with the input it
    /// had; successful steps (including successful Parallel branches and
    /// Map iterations of that state) are not run again. Returns the new
    /// redrive count.
    pub fn redrive(&self, execution_arn: &str) -> Result<u32, EngineError> {
        let entry = self.entry(execution_arn)?;
        let mut inner = lock(&entry.inner);
        let status = inner
            .outcome
            .as_ref()
            .map_or(ExecutionStatus::Running, |o| o.status);
        if !matches!(
            status,
            ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted
        ) {
            return Err(EngineError::ExecutionNotRedrivable(
                execution_arn.to_owned(),
                format!("its status is {}", status.as_str()),
            ));
        }
        let Some(point) = lock(&entry.runtime.journal).resume.clone() else {
            return Err(EngineError::ExecutionNotRedrivable(
                execution_arn.to_owned(),
                "it has no unsuccessful state to continue from".into(),
            ));
        };
        inner.redrive_count += 1;
        let count = inner.redrive_count;
        lock(&entry.runtime.info).redrive_count = count;
        inner.outcome = None;
        inner.stop_date = None;
        drop(inner);
        entry.status.send_replace(ExecutionStatus::Running);
        entry.listener.notify(&entry);
        Self::spawn(&entry, Some(ResumePointHandle(point, count)));
        Ok(count)
    }

    /// A task waiting on `token` outside any execution (see
    /// [`TaskTokens::wait_on`]): callbacks for it arrive on the receiver;
    /// `None` when something already waits on it.
    pub fn wait_on_token(&self, token: &str) -> Option<crate::tokens::IssuedToken> {
        self.tokens.wait_on(token)
    }

    /// Stops waiting on a token of [`Engine::wait_on_token`].
    pub fn stop_waiting_on_token(&self, token: &str) {
        self.tokens.retire(token);
    }

    /// `SendTaskSuccess`.
    pub fn send_task_success(&self, token: &str, output: Value) -> Result<(), EngineError> {
        Ok(self.tokens.deliver(token, TokenMessage::Success(output))?)
    }

    /// `SendTaskFailure`.
    pub fn send_task_failure(&self, token: &str, error: TaskError) -> Result<(), EngineError> {
        Ok(self.tokens.deliver(token, TokenMessage::Failure(error))?)
    }

    /// `SendTaskHeartbeat`.
    pub fn send_task_heartbeat(&self, token: &str) -> Result<(), EngineError> {
        Ok(self.tokens.deliver(token, TokenMessage::Heartbeat)?)
    }

    /// ARNs of every execution the engine knows.
    pub fn execution_arns(&self) -> Vec<String> {
        lock(&self.executions).keys().cloned().collect()
    }
}

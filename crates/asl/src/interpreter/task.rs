//! The Task state: its limits (`TimeoutSeconds`, `HeartbeatSeconds`), the
//! call through the [`crate::TaskHandler`] port, `.waitForTaskToken`
//! callbacks, and the events AWS records around a task.
//!
//! A Lambda function ARN as the resource gets the `LambdaFunction*`
//! events, which name the function ARN; every other resource gets the
//! `Task*` events, which name a resource type and resource (`lambda` /
//! `invoke`, `sqs` / `sendMessage.waitForTaskToken`).

use std::borrow::Cow;
use std::time::Duration;

use serde_json::Value;

use super::data_flow::seconds_value;
use super::runtime::Runtime;
use super::{Frame, StateFacts, json_text, lock};
use crate::definition::{IntegrationPattern, State, TaskSpec};
use crate::errors;
use crate::history::{EventDetails, EventType, JsonText, TaskScheduledDetails};
use crate::resource::Resource;
use crate::scope::Failure;
use crate::task::{TaskError, TaskHandler, TaskRequest};
use crate::tokens::{IssuedToken, TokenMessage};

/// How the work of one attempt ended.
pub(super) enum TaskEnd {
    Done(Result<Value, TaskError>),
    /// `States.Timeout` or `States.HeartbeatTimeout`.
    TimedOut(&'static str),
}

/// One attempt of a Task state from its effective input: issues the task
/// token, evaluates `Parameters`, and runs the task.
pub(super) async fn attempt_task(
    rt: &Runtime,
    state: &State,
    spec: &TaskSpec,
    effective: Cow<'_, Value>,
    input_text: Option<JsonText>,
    facts: &StateFacts<'_>,
    frame: &mut Frame,
) -> Result<Value, Failure> {
    // The token exists before Parameters run, so `$$.Task.Token` can pass
    // it on. A live attempt retires it however it ends, so the engine never
    // routes a callback to an attempt that is over.
    let issued = (spec.resource.pattern() == IntegrationPattern::WaitForTaskToken)
        .then(|| rt.tokens.issue());
    let token_facts = StateFacts {
        token: issued.as_ref().map(|t| t.token.as_str()),
        map_item: None,
        ..*facts
    };
    let parameters = match &state.parameters {
        Some(t) => rt.with_scope(frame, &token_facts, &effective, |s| t.evaluate(s)),
        None => Ok(effective.into_owned()),
    };
    let parameters = match parameters {
        Ok(p) => p,
        Err(e) => {
            retire(rt, issued.as_ref());
            return Err(e);
        }
    };
    let call = PendingCall {
        parameters,
        input_text,
        token: issued,
    };
    run_task(rt, state, spec, call, facts, frame).await
}

/// A task attempt's effective parameters (and their JSON text when known
/// already) and token.
struct PendingCall {
    parameters: Value,
    input_text: Option<JsonText>,
    token: Option<IssuedToken>,
}

fn retire(rt: &Runtime, token: Option<&IssuedToken>) {
    if let Some(issued) = token {
        rt.tokens.retire(&issued.token);
    }
}

async fn run_task(
    rt: &Runtime,
    state: &State,
    spec: &TaskSpec,
    call: PendingCall,
    facts: &StateFacts<'_>,
    frame: &mut Frame,
) -> Result<Value, Failure> {
    let PendingCall {
        parameters,
        input_text,
        token,
    } = call;
    let limits = match task_limits(rt, frame, facts, spec, &parameters) {
        Ok(limits) => limits,
        Err(e) => {
            retire(rt, token.as_ref());
            return Err(e);
        }
    };
    let text = input_text.unwrap_or_else(|| json_text(&parameters));
    emit_scheduled(rt, frame, &spec.resource, text, limits);
    let token_text = token.as_ref().map(|t| t.token.clone());
    let context = rt.context_object(&StateFacts {
        token: token_text.as_deref(),
        map_item: None,
        ..*facts
    });
    let request = TaskRequest {
        resource: spec.resource.clone(),
        parameters,
        context,
        task_token: token_text,
        state_name: state.name.clone(),
    };
    let call = TaskCall {
        request,
        token,
        limits,
    };
    let end = rt.work.call_task(rt, call, frame).await;
    record_end(rt, frame, &spec.resource, end)
}

/// What one attempt asks of [`super::work::StateWork::call_task`].
pub(super) struct TaskCall {
    pub(super) request: TaskRequest,
    /// The token of a `.waitForTaskToken` task.
    pub(super) token: Option<IssuedToken>,
    pub(super) limits: Limits,
}

/// `TimeoutSeconds` and `HeartbeatSeconds` of one attempt.
#[derive(Clone, Copy)]
pub(super) struct Limits {
    timeout: Option<u64>,
    heartbeat: Option<u64>,
}

/// The limits, read from the parameters when given as paths.
fn task_limits(
    rt: &Runtime,
    frame: &Frame,
    facts: &StateFacts<'_>,
    spec: &TaskSpec,
    parameters: &Value,
) -> Result<Limits, Failure> {
    let timeout = seconds_value(
        rt,
        frame,
        facts,
        parameters,
        spec.timeout.as_ref(),
        "TimeoutSeconds",
    )?;
    let heartbeat = seconds_value(
        rt,
        frame,
        facts,
        parameters,
        spec.heartbeat.as_ref(),
        "HeartbeatSeconds",
    )?;
    Ok(Limits { timeout, heartbeat })
}

/// `LambdaFunctionScheduled` + `LambdaFunctionStarted`, or
/// `TaskScheduled` + `TaskStarted`.
fn emit_scheduled(
    rt: &Runtime,
    frame: &mut Frame,
    resource: &Resource,
    parameters: JsonText,
    limits: Limits,
) {
    if resource.is_lambda_function() {
        rt.emit(
            frame,
            EventType::LambdaFunctionScheduled,
            EventDetails::LambdaScheduled {
                resource: resource.arn().into(),
                input: parameters,
                timeout_seconds: limits.timeout,
            },
        );
        rt.emit(frame, EventType::LambdaFunctionStarted, EventDetails::None);
    } else {
        let region = lock(&rt.info).region.clone();
        rt.emit(
            frame,
            EventType::TaskScheduled,
            EventDetails::TaskScheduled(Box::new(TaskScheduledDetails {
                task: resource.event_names().clone(),
                region: region.into_boxed_str(),
                parameters,
                timeout_seconds: limits.timeout,
                heartbeat_seconds: limits.heartbeat,
            })),
        );
        rt.emit(
            frame,
            EventType::TaskStarted,
            EventDetails::Task {
                task: resource.event_names().clone(),
            },
        );
    }
}

/// Calls the handler and, for `.waitForTaskToken`, waits for the callback;
/// `TimeoutSeconds` bounds both together.
pub(super) async fn call_resource(
    rt: &Runtime,
    handler: &dyn TaskHandler,
    call: TaskCall,
    frame: &mut Frame,
) -> TaskEnd {
    let TaskCall {
        request,
        token,
        limits,
    } = call;
    // Created (and so started) before the call, so the call's own time
    // counts against the timeout.
    let timeout_sleep = limits
        .timeout
        .map(|t| rt.clock.sleep(Duration::from_secs(t)));
    let Some(issued) = token else {
        let call = handler.invoke(request);
        return match timeout_sleep {
            // `biased`: a result that is ready wins over a timeout that is
            // due at the same instant.
            Some(sleep) => tokio::select! {
                biased;
                r = call => TaskEnd::Done(r),
                () = sleep => TaskEnd::TimedOut(errors::TIMEOUT),
            },
            None => TaskEnd::Done(call.await),
        };
    };
    let token_text = issued.token.clone();
    let waited = wait_for_callback(rt, handler, frame, request, issued, limits.heartbeat);
    let end = match timeout_sleep {
        Some(sleep) => tokio::select! {
            biased;
            r = waited => r,
            () = sleep => TaskEnd::TimedOut(errors::TIMEOUT),
        },
        None => waited.await,
    };
    rt.tokens.retire(&token_text);
    end
}

/// `.waitForTaskToken`: the handler's call only hands the token on (its
/// result is ignored, its error fails the attempt); the result comes from
/// `SendTaskSuccess` / `SendTaskFailure`. Each heartbeat restarts the
/// `HeartbeatSeconds` countdown.
async fn wait_for_callback(
    rt: &Runtime,
    handler: &dyn TaskHandler,
    frame: &mut Frame,
    request: TaskRequest,
    mut issued: IssuedToken,
    heartbeat: Option<u64>,
) -> TaskEnd {
    // Only the `Task*` family records the hand-over (`TaskSubmitted`).
    let submitted =
        (!request.resource.is_lambda_function()).then(|| request.resource.event_names().clone());
    if let Err(e) = handler.invoke(request).await {
        return TaskEnd::Done(Err(e));
    }
    if let Some(task) = submitted {
        rt.emit(frame, EventType::TaskSubmitted, EventDetails::Task { task });
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
}

/// Records how the attempt ended (`*Succeeded`, `*Failed`, `*TimedOut`)
/// and turns it into the state's result or failure.
fn record_end(
    rt: &Runtime,
    frame: &mut Frame,
    resource: &Resource,
    end: TaskEnd,
) -> Result<Value, Failure> {
    let lambda = resource.is_lambda_function();
    match end {
        TaskEnd::Done(Ok(output)) => {
            let (event_type, details) = if lambda {
                (
                    EventType::LambdaFunctionSucceeded,
                    EventDetails::Output {
                        output: json_text(&output),
                    },
                )
            } else {
                (
                    EventType::TaskSucceeded,
                    EventDetails::TaskSucceeded {
                        task: resource.event_names().clone(),
                        output: json_text(&output),
                    },
                )
            };
            rt.emit(frame, event_type, details);
            Ok(output)
        }
        TaskEnd::Done(Err(error)) => {
            let cause = error.cause.clone().map(String::into_boxed_str);
            let (event_type, details) = failure_event(resource, false, &error.error, cause);
            rt.emit(frame, event_type, details);
            Err(Failure::new(error.error, error.cause))
        }
        TaskEnd::TimedOut(name) => {
            let (event_type, details) = failure_event(resource, true, name, None);
            rt.emit(frame, event_type, details);
            Err(Failure::new(name, None))
        }
    }
}

/// `LambdaFunctionFailed` / `TaskFailed`, or with `timed_out`
/// `LambdaFunctionTimedOut` / `TaskTimedOut`.
fn failure_event(
    resource: &Resource,
    timed_out: bool,
    error: &str,
    cause: Option<Box<str>>,
) -> (EventType, EventDetails) {
    let error = Some(error.into());
    match (resource.is_lambda_function(), timed_out) {
        (true, false) => (
            EventType::LambdaFunctionFailed,
            EventDetails::Error { error, cause },
        ),
        (true, true) => (
            EventType::LambdaFunctionTimedOut,
            EventDetails::Error { error, cause },
        ),
        (false, false) => (
            EventType::TaskFailed,
            EventDetails::TaskFailed {
                task: resource.event_names().clone(),
                error,
                cause,
            },
        ),
        (false, true) => (
            EventType::TaskTimedOut,
            EventDetails::TaskFailed {
                task: resource.event_names().clone(),
                error,
                cause,
            },
        ),
    }
}

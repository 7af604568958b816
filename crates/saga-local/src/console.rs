//! The operator's console at `/console`: server-rendered HTML, no scripts.
//!
//! - `/console`: executions with status filters, the dead-letter queues'
//!   depths, and the faults in force (with a form to set or clear them);
//! - `/console/execution?arn=...`: one execution state by state, each with
//!   its input, output, every attempt's error (so retries are visible) and,
//!   on a failed, timed-out or aborted execution, a Redrive button;
//! - `/console/queues`: the dead-letter queues' messages and a button that
//!   moves them back to their source queue.
//!
//! Buttons are plain HTML forms that POST and redirect back (303), so the
//! console works without JavaScript. [`steps`] (history events grouped by
//! state) also feeds `GET /local/executions/{name}/steps`.

use std::fmt::Write as _;
use std::sync::Arc;

use asl::{EventType, ExecutionStatus, HistoryEvent};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::cloud::Cloud;
use crate::faults::{FaultMode, FaultRequest};
use crate::local_api::{peek_messages, problem, queue_depth, redrive_dead_letters};

/// The console's routes, and the JSON views of the same data under `/local/`.
pub fn router() -> Router<Arc<Cloud>> {
    Router::new()
        .route("/console", get(executions_page))
        .route("/console/", get(executions_page))
        .route("/console/execution", get(execution_page))
        .route("/console/redrive", post(redrive_form))
        .route("/console/queues", get(queues_page))
        .route("/console/queues/redrive", post(queue_redrive_form))
        .route("/console/faults", post(fault_form))
        .route("/console/faults/clear", post(clear_fault_form))
        .route("/local/executions", get(executions_json))
        .route("/local/executions/{name}/steps", get(steps_json))
        .route("/local/executions/{name}/redrive", post(redrive_json))
}

/// One attempt of a task state.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// `None` while it runs or when it succeeded.
    pub error: Option<String>,
    /// The error's cause.
    pub cause: Option<String>,
    /// Whether it succeeded.
    pub succeeded: bool,
}

/// One state's run in an execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepView {
    /// State name.
    pub name: String,
    /// `TaskStateEntered` -> `Task`.
    pub state_type: String,
    /// `SUCCEEDED`, `FAILED`, `RUNNING` (also when the execution was aborted there).
    pub status: String,
    /// Input (JSON text).
    pub input: Option<String>,
    /// Output (JSON text), once exited.
    pub output: Option<String>,
    /// Every task attempt: retries are the attempts after the first.
    pub attempts: Vec<Attempt>,
    /// The redrive this run belongs to (0 for the first run).
    pub redrive: u32,
    /// When it was entered (RFC 3339).
    pub entered_at: String,
}

/// Groups history events by state, in order.
pub fn steps(events: &[HistoryEvent]) -> Vec<StepView> {
    let mut steps: Vec<StepView> = Vec::new();
    let mut redrive = 0;
    let mut open: Option<usize> = None;
    for event in events {
        let name = event.event_type.name();
        match event.event_type {
            EventType::StateEntered(_) => {
                steps.push(StepView {
                    name: event.name().unwrap_or_default().to_owned(),
                    state_type: name.trim_end_matches("StateEntered").to_owned(),
                    status: "RUNNING".to_owned(),
                    input: event.input().map(str::to_owned),
                    output: None,
                    attempts: Vec::new(),
                    redrive,
                    entered_at: event.timestamp.to_rfc3339(),
                });
                open = Some(steps.len() - 1);
            }
            EventType::StateExited(_) => {
                let exited = event.name().unwrap_or_default();
                if let Some(step) = steps
                    .iter_mut()
                    .rev()
                    .find(|s| s.name == exited && s.status == "RUNNING")
                {
                    step.status = "SUCCEEDED".to_owned();
                    step.output = event.output().map(str::to_owned);
                }
                open = None;
            }
            EventType::TaskScheduled | EventType::LambdaFunctionScheduled => {
                if let Some(step) = open.and_then(|i| steps.get_mut(i)) {
                    step.attempts.push(Attempt {
                        error: None,
                        cause: None,
                        succeeded: false,
                    });
                }
            }
            EventType::TaskSucceeded | EventType::LambdaFunctionSucceeded => {
                if let Some(attempt) = open
                    .and_then(|i| steps.get_mut(i))
                    .and_then(|s| s.attempts.last_mut())
                {
                    attempt.succeeded = true;
                }
            }
            EventType::TaskFailed
            | EventType::TaskTimedOut
            | EventType::LambdaFunctionFailed
            | EventType::LambdaFunctionTimedOut => {
                if let Some(attempt) = open
                    .and_then(|i| steps.get_mut(i))
                    .and_then(|s| s.attempts.last_mut())
                {
                    attempt.error = event.error().map(str::to_owned);
                    attempt.cause = event.cause().map(str::to_owned);
                }
            }
            EventType::ExecutionFailed | EventType::ExecutionTimedOut => {
                if let Some(step) = open.and_then(|i| steps.get_mut(i)) {
                    step.status = "FAILED".to_owned();
                }
                open = None;
            }
            EventType::ExecutionRedriven => {
                redrive += 1;
            }
            _ => {}
        }
    }
    steps
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

fn encode_query(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Pretty JSON text for display, or the text as is.
fn pretty(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned())
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}\
header{background:#232f3e;color:#fff;padding:12px 24px}header a{color:#fff;margin-right:18px;text-decoration:none}\
main{padding:16px 24px}table{border-collapse:collapse;width:100%;background:#fff}\
th,td{border-bottom:1px solid #e3e6ea;padding:6px 8px;text-align:left;vertical-align:top;font-size:14px}\
th{background:#eef0f3}pre{margin:0;white-space:pre-wrap;word-break:break-all;max-height:240px;overflow:auto;font-size:12px}\
.s{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}\
.SUCCEEDED{background:#d5f5e3;color:#145a32}.FAILED,.TIMED_OUT{background:#fadbd8;color:#78281f}\
.RUNNING{background:#d6eaf8;color:#1b4f72}.ABORTED{background:#e5e7e9;color:#424949}\
.filters a{margin-right:12px}.box{background:#fff;padding:12px;margin:12px 0;border:1px solid #e3e6ea}\
button{background:#ec7211;color:#fff;border:0;padding:6px 14px;border-radius:3px;cursor:pointer;font-weight:600}\
.err{color:#78281f}.note{color:#5d6d7e;font-size:13px}";

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} - saga-local</title>\
         <style>{STYLE}</style></head><body><header><strong>saga-local</strong> &nbsp; \
         <a href=\"/console\">Executions</a><a href=\"/console/queues\">Dead-letter queues</a></header>\
         <main><h1>{}</h1>{body}</main></body></html>",
        escape(title),
        escape(title)
    ))
}

fn badge(status: &str) -> String {
    format!("<span class=\"s {0}\">{0}</span>", escape(status))
}

/// The `/console` query.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: Option<String>,
}

async fn executions_page(
    State(cloud): State<Arc<Cloud>>,
    Query(query): Query<ListQuery>,
) -> Html<String> {
    let filter = query.status.filter(|s| !s.is_empty());
    let all = cloud.executions();
    let mut body = String::from("<p class=\"filters\">Status: ");
    for status in [
        "ALL",
        "RUNNING",
        "SUCCEEDED",
        "FAILED",
        "TIMED_OUT",
        "ABORTED",
    ] {
        let count = all
            .iter()
            .filter(|d| status == "ALL" || d.status.as_str() == status)
            .count();
        let href = if status == "ALL" {
            "/console".to_owned()
        } else {
            format!("/console?status={status}")
        };
        let current = filter.as_deref().unwrap_or("ALL") == status;
        let _ = write!(
            body,
            "<a href=\"{href}\">{}{status} ({count}){}</a>",
            if current { "<strong>" } else { "" },
            if current { "</strong>" } else { "" }
        );
    }
    body.push_str("</p><table><thead><tr><th>Name</th><th>Status</th><th>Started</th><th>Stopped</th><th>Redrives</th><th>Error</th></tr></thead><tbody>");
    let shown: Vec<_> = all
        .iter()
        .filter(|d| filter.as_deref().is_none_or(|f| d.status.as_str() == f))
        .take(500)
        .collect();
    for d in &shown {
        let _ = write!(
            body,
            "<tr><td><a href=\"/console/execution?arn={}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"err\">{}</td></tr>",
            encode_query(&d.execution_arn),
            escape(&d.name),
            badge(d.status.as_str()),
            d.start_date.format("%Y-%m-%d %H:%M:%S%.3f"),
            d.stop_date
                .map(|t| t.format("%H:%M:%S%.3f").to_string())
                .unwrap_or_default(),
            d.redrive_count,
            escape(d.error.as_deref().unwrap_or_default()),
        );
    }
    if shown.is_empty() {
        body.push_str("<tr><td colspan=\"6\" class=\"note\">No executions yet. Place an order (POST /orders) to start one.</td></tr>");
    }
    body.push_str("</tbody></table>");
    body.push_str(&queues_summary(&cloud).await);
    body.push_str(&faults_box(&cloud));
    page("Executions", &body)
}

async fn queues_summary(cloud: &Cloud) -> String {
    let mut out = String::from("<div class=\"box\"><h2>Dead-letter queues</h2>");
    for queue in cloud
        .queues
        .iter()
        .filter(|q| q.dead_letter_source.is_some())
    {
        let depth = match queue_depth(cloud, queue).await {
            Ok((visible, in_flight)) => format!("{} messages", visible + in_flight),
            Err(e) => format!("unavailable: {e}"),
        };
        let _ = write!(
            out,
            "<p><a href=\"/console/queues\">{}</a>: <span class=\"dlq-depth\">{}</span></p>",
            escape(&queue.name),
            escape(&depth)
        );
    }
    out.push_str("</div>");
    out
}

fn faults_box(cloud: &Cloud) -> String {
    let mut out = String::from("<div class=\"box\" id=\"faults\"><h2>Fault injection</h2>");
    let faults = cloud.faults.list();
    if faults.is_empty() {
        out.push_str("<p class=\"note\">No faults in force.</p>");
    } else {
        out.push_str("<table><thead><tr><th>Function</th><th>Mode</th><th>Left</th><th>Injected</th><th></th></tr></thead><tbody>");
        for (function, fault) in &faults {
            let mode = fault.describe();
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><form method=\"post\" action=\"/console/faults/clear\">\
                 <input type=\"hidden\" name=\"function\" value=\"{}\"><button>Clear</button></form></td></tr>",
                escape(function),
                escape(&mode),
                fault
                    .remaining
                    .map_or_else(|| "until cleared".to_owned(), |n| n.to_string()),
                fault.injected,
                escape(function)
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str(
        "<form method=\"post\" action=\"/console/faults\"><p>Make <select name=\"function\">",
    );
    for binary in cloud.functions.binaries() {
        let _ = write!(out, "<option>{}</option>", escape(&binary));
    }
    out.push_str(
        "</select> <select name=\"mode\"><option value=\"transient\">fail transiently</option>\
         <option value=\"permanent\">fail permanently</option><option value=\"delay\">run late</option></select> \
         for the next <input name=\"count\" size=\"4\" placeholder=\"all\"> invocations \
         (delay <input name=\"delayMs\" size=\"6\" placeholder=\"ms\">) <button>Set fault</button></p></form></div>",
    );
    out
}

/// The `/console/execution` query.
#[derive(Debug, Deserialize)]
pub struct ExecutionQuery {
    arn: String,
    #[serde(default)]
    message: Option<String>,
}

async fn execution_page(
    State(cloud): State<Arc<Cloud>>,
    Query(query): Query<ExecutionQuery>,
) -> Response {
    let (description, events) = match (
        cloud.engine.describe(&query.arn),
        cloud.engine.history(&query.arn),
    ) {
        (Ok(d), Ok(h)) => (d, h),
        (Err(e), _) | (_, Err(e)) => {
            return (
                StatusCode::NOT_FOUND,
                page("Execution not found", &escape(&e.to_string())),
            )
                .into_response();
        }
    };
    let mut body = String::new();
    if let Some(message) = &query.message {
        let _ = write!(
            body,
            "<div class=\"box\" id=\"message\">{}</div>",
            escape(message)
        );
    }
    let _ = write!(
        body,
        "<div class=\"box\"><p>Status: <span id=\"status\">{}</span> &nbsp; Redrives: {} &nbsp; Started: {}</p>",
        badge(description.status.as_str()),
        description.redrive_count,
        description.start_date.format("%Y-%m-%d %H:%M:%S%.3f")
    );
    if let Some(error) = &description.error {
        let _ = write!(
            body,
            "<p class=\"err\">Error: <strong>{}</strong></p><pre>{}</pre>",
            escape(error),
            escape(&pretty(description.cause.as_deref().unwrap_or_default()))
        );
    }
    if matches!(
        description.status,
        ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted
    ) {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/console/redrive\"><input type=\"hidden\" name=\"arn\" value=\"{}\">\
             <button id=\"redrive\">Redrive</button> <span class=\"note\">continues from the state that failed; \
             steps that succeeded are not run again</span></form>",
            escape(&description.execution_arn)
        );
    }
    let _ = write!(
        body,
        "<p class=\"note\">{}</p></div><h2>Input</h2><pre>{}</pre>",
        escape(&description.execution_arn),
        escape(&pretty(&description.input.to_string()))
    );
    body.push_str("<h2>States</h2><table><thead><tr><th>#</th><th>State</th><th>Status</th><th>Attempts</th><th>Input</th><th>Output / errors</th></tr></thead><tbody>");
    for (index, step) in steps(&events).iter().enumerate() {
        let mut result = String::new();
        for (number, attempt) in step.attempts.iter().enumerate() {
            if let Some(error) = &attempt.error {
                let _ = write!(
                    result,
                    "<p class=\"err\">attempt {}: <strong>{}</strong></p><pre>{}</pre>",
                    number + 1,
                    escape(error),
                    escape(&pretty(attempt.cause.as_deref().unwrap_or_default()))
                );
            }
        }
        if let Some(output) = &step.output {
            let _ = write!(result, "<pre>{}</pre>", escape(&pretty(output)));
        }
        let retries = step.attempts.len().saturating_sub(1);
        let _ = write!(
            body,
            "<tr class=\"step\"><td>{}</td><td><strong>{}</strong><br><span class=\"note\">{}{}</span></td><td>{}</td><td>{}{}</td><td><pre>{}</pre></td><td>{}</td></tr>",
            index + 1,
            escape(&step.name),
            escape(&step.state_type),
            if step.redrive > 0 {
                format!(", redrive {}", step.redrive)
            } else {
                String::new()
            },
            badge(&step.status),
            step.attempts.len(),
            if retries > 0 {
                format!(" ({retries} retries)")
            } else {
                String::new()
            },
            escape(&pretty(step.input.as_deref().unwrap_or_default())),
            result
        );
    }
    body.push_str("</tbody></table>");
    if let Some(output) = &description.output {
        let _ = write!(
            body,
            "<h2>Output</h2><pre>{}</pre>",
            escape(&pretty(&output.to_string()))
        );
    }
    page(&format!("Execution {}", description.name), &body).into_response()
}

/// A form naming an execution.
#[derive(Debug, Deserialize)]
pub struct ArnForm {
    arn: String,
}

async fn redrive_form(State(cloud): State<Arc<Cloud>>, Form(form): Form<ArnForm>) -> Redirect {
    let message = match cloud.redrive(&form.arn) {
        Ok(_) => "Redrive started.".to_owned(),
        Err(e) => format!("Redrive refused: {e}"),
    };
    Redirect::to(&format!(
        "/console/execution?arn={}&message={}",
        encode_query(&form.arn),
        encode_query(&message)
    ))
}

async fn queues_page(State(cloud): State<Arc<Cloud>>) -> Html<String> {
    let mut body = String::new();
    for queue in cloud
        .queues
        .iter()
        .filter(|q| q.dead_letter_source.is_some())
    {
        let _ = write!(body, "<div class=\"box\"><h2>{}</h2>", escape(&queue.name));
        let source = queue.dead_letter_source.as_deref().unwrap_or_default();
        let _ = write!(
            body,
            "<p class=\"note\">Dead-letter queue of {}</p>",
            escape(source)
        );
        match peek_messages(&cloud, queue).await {
            Ok(messages) if messages.is_empty() => body.push_str("<p class=\"note\">Empty.</p>"),
            Ok(messages) => {
                body.push_str("<table><thead><tr><th>Message id</th><th>Sent</th><th>Body</th></tr></thead><tbody>");
                for (id, sent, text) in &messages {
                    let _ = write!(
                        body,
                        "<tr class=\"dlq-message\"><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
                        escape(id),
                        escape(sent),
                        escape(&pretty(text))
                    );
                }
                body.push_str("</tbody></table><p class=\"note\">Showing up to 10.</p>");
            }
            Err(e) => {
                let _ = write!(body, "<p class=\"err\">{}</p>", escape(&e));
            }
        }
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/console/queues/redrive\"><input type=\"hidden\" name=\"queue\" value=\"{}\">\
             <button>Move all messages back to the source queue</button></form></div>",
            escape(&queue.logical_id)
        );
    }
    if body.is_empty() {
        body.push_str("<p class=\"note\">The template has no dead-letter queue.</p>");
    }
    page("Dead-letter queues", &body)
}

/// The DLQ redrive form.
#[derive(Debug, Deserialize)]
pub struct QueueForm {
    queue: String,
}

async fn queue_redrive_form(
    State(cloud): State<Arc<Cloud>>,
    Form(form): Form<QueueForm>,
) -> Response {
    match redrive_dead_letters(&cloud, &form.queue).await {
        Ok(_) => Redirect::to("/console/queues").into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, page("Redrive failed", &escape(&e))).into_response(),
    }
}

/// The fault form (empty fields mean "absent").
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultForm {
    function: String,
    mode: FaultMode,
    #[serde(default)]
    count: String,
    #[serde(default)]
    delay_ms: String,
}

async fn fault_form(State(cloud): State<Arc<Cloud>>, Form(form): Form<FaultForm>) -> Response {
    let count = form.count.trim().parse().ok();
    let delay_ms = form.delay_ms.trim().parse().ok();
    let request = FaultRequest {
        function: form.function,
        mode: form.mode,
        count,
        delay_ms,
        services: None,
    };
    match cloud.faults.set(request, &cloud.functions.binaries()) {
        Ok(()) => Redirect::to("/console#faults").into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            page("Fault refused", &escape(&e.to_string())),
        )
            .into_response(),
    }
}

/// The clear-fault form.
#[derive(Debug, Deserialize)]
pub struct ClearForm {
    #[serde(default)]
    function: Option<String>,
}

async fn clear_fault_form(
    State(cloud): State<Arc<Cloud>>,
    Form(form): Form<ClearForm>,
) -> Redirect {
    cloud
        .faults
        .clear(form.function.as_deref().filter(|f| !f.is_empty()));
    Redirect::to("/console#faults")
}

fn execution_arn(cloud: &Cloud, name: &str) -> Option<String> {
    cloud.machines.first().map(|m| {
        format!(
            "{}:{name}",
            m.reference.arn.replacen(":stateMachine:", ":execution:", 1)
        )
    })
}

async fn executions_json(State(cloud): State<Arc<Cloud>>) -> Json<Value> {
    let executions: Vec<Value> = cloud
        .executions()
        .iter()
        .map(|d| json!({"name": d.name, "executionArn": d.execution_arn, "status": d.status.as_str(), "redriveCount": d.redrive_count}))
        .collect();
    Json(json!({"executions": executions}))
}

async fn steps_json(State(cloud): State<Arc<Cloud>>, Path(name): Path<String>) -> Response {
    let Some(arn) = execution_arn(&cloud, &name) else {
        return problem(StatusCode::NOT_FOUND, "no state machine");
    };
    match (cloud.engine.describe(&arn), cloud.engine.history(&arn)) {
        (Ok(description), Ok(events)) => {
            let steps = steps(&events);
            let failed_state = steps
                .iter()
                .rev()
                .find(|s| s.status == "FAILED")
                .map(|s| s.name.clone());
            Json(json!({"status": description.status.as_str(), "failedState": failed_state, "steps": steps})).into_response()
        }
        (Err(e), _) | (_, Err(e)) => problem(StatusCode::NOT_FOUND, e.to_string()),
    }
}

async fn redrive_json(State(cloud): State<Arc<Cloud>>, Path(name): Path<String>) -> Response {
    let Some(arn) = execution_arn(&cloud, &name) else {
        return problem(StatusCode::NOT_FOUND, "no state machine");
    };
    match cloud.redrive(&arn) {
        Ok(date) => {
            Json(json!({"executionArn": arn, "redriveDate": date.to_rfc3339()})).into_response()
        }
        Err(e) => problem(StatusCode::CONFLICT, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use asl::{
        Clock as _, Definition, ExecutionInfo, TaskError, TaskHandler, TaskRequest, VirtualClock,
    };

    use super::*;

    /// Fails the first two calls of `Flaky` with `TransientError`, then echoes.
    struct FlakyThenFine(AtomicU32);

    #[async_trait::async_trait]
    impl TaskHandler for FlakyThenFine {
        async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskError> {
            if request.state_name == "Broken" {
                return Err(TaskError::new(
                    "InjectedFault",
                    "{\"errorType\":\"InjectedFault\"}",
                ));
            }
            if self.0.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err(TaskError::new("TransientError", "try again"));
            }
            Ok(request.parameters)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn steps_group_the_history_by_state_with_every_attempt() {
        let definition = Definition::parse(&json!({
            "StartAt": "Start",
            "States": {
                "Start": {"Type": "Pass", "Next": "Flaky"},
                "Flaky": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                          "Parameters": {"FunctionName": "f", "Payload.$": "$"},
                          "Retry": [{"ErrorEquals": ["TransientError"], "MaxAttempts": 3}], "Next": "Broken"},
                "Broken": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                           "Parameters": {"FunctionName": "g"}, "End": true}
            }
        }))
        .unwrap();
        let clock = Arc::new(VirtualClock::starting_at(chrono::Utc::now()));
        let info = ExecutionInfo::local("m", "e", json!({"a": 1}), clock.now());
        let finished = asl::execute(
            &definition,
            info,
            Arc::new(FlakyThenFine(AtomicU32::new(0))),
            clock,
        )
        .await;
        let summary: Vec<(String, String, Vec<Option<String>>)> = steps(&finished.history)
            .into_iter()
            .map(|s| {
                (
                    s.name,
                    s.status,
                    s.attempts.into_iter().map(|a| a.error).collect(),
                )
            })
            .collect();
        let expected = vec![
            ("Start".to_owned(), "SUCCEEDED".to_owned(), vec![]),
            (
                "Flaky".to_owned(),
                "SUCCEEDED".to_owned(),
                vec![
                    Some("TransientError".to_owned()),
                    Some("TransientError".to_owned()),
                    None,
                ],
            ),
            (
                "Broken".to_owned(),
                "FAILED".to_owned(),
                vec![Some("InjectedFault".to_owned())],
            ),
        ];
        assert_eq!(summary, expected);
    }

    #[test]
    fn escaping_and_query_encoding() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(
            encode_query("arn:aws:states:x y"),
            "arn%3Aaws%3Astates%3Ax%20y"
        );
    }
}

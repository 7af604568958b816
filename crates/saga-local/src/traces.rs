//! Traces: the local cloud's OpenTelemetry collector and trace store.
//!
//! Spans arrive two ways and are kept alike, as OTLP/JSON spans with the
//! service they ran in:
//!
//! - `POST /v1/traces` (OTLP/HTTP with a JSON body): what a function binary
//!   run against the Lambda Runtime API exports (`OTEL_EXPORTER_OTLP_ENDPOINT`
//!   names this server), as on AWS it exports to the collector extension;
//! - in process: the functions the local cloud runs in its own process
//!   record their spans through [`saga_telemetry::SpanLayer`] into
//!   [`StoreSink`], encoded by the same OTLP code.
//!
//! The local cloud plays Step Functions' and Lambda's part of the trace as
//! X-Ray does with tracing on. StartExecution's `traceHeader` is kept per
//! execution ([`TraceStore::start_execution`]). Each attempt of an execution
//! (the first run, then each redrive) is a span whose id is derived from
//! the execution and the attempt, so the Lambda invocations and queue
//! messages of an attempt ([`TraceStore::task_context`]) hang from it. Those
//! attempt spans and one span per state are built from the execution's
//! history when the trace is read ([`state_machine_spans`]). Each Lambda
//! invocation is a span of the local Lambda service (`crate::functions`),
//! parent of the function's own spans.
//!
//! `GET /local/traces/{orderId}` answers the order's trace (its execution's
//! trace) as one OTLP/JSON export request; the console draws it as a
//! waterfall. The store keeps the newest [`MAX_TRACES`] traces.

use std::collections::{HashMap, VecDeque};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use asl::history::{EventType, HistoryEvent};
use chrono::{DateTime, Utc};
use saga_telemetry::{FinishedSpan, SpanId, SpanSink, TraceContext, TraceId};
use serde_json::{Value, json};

/// Traces kept; the oldest goes first. An order's trace is about 40 spans
/// (some 25 KB), so the store stays within tens of megabytes under the
/// benchmark's and the fault campaign's thousands of orders.
pub const MAX_TRACES: usize = 2_000;
/// Spans kept per trace.
pub const MAX_SPANS_PER_TRACE: usize = 5_000;

/// A span as received: OTLP/JSON, and the service that sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSpan {
    /// `service.name` of its resource.
    pub service: String,
    /// The span's OTLP/JSON.
    pub span: Value,
}

#[derive(Default)]
struct Inner {
    traces: HashMap<TraceId, Vec<StoredSpan>>,
    order: VecDeque<TraceId>,
    executions: HashMap<String, Execution>,
}

/// What the store knows of an execution's trace.
#[derive(Debug, Clone, Copy)]
struct Execution {
    /// The context StartExecution was given.
    started_by: TraceContext,
    /// The attempt running now: 0, then one more per redrive.
    attempt: u32,
}

/// The spans of every trace, and the trace of every execution.
#[derive(Default)]
pub struct TraceStore {
    inner: Mutex<Inner>,
}

/// The process's store: the span layer is installed before the cloud
/// starts, and there is one cloud per process.
pub fn store() -> &'static TraceStore {
    static STORE: LazyLock<TraceStore> = LazyLock::new(TraceStore::default);
    &STORE
}

/// Why an export request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IngestError(pub String);

impl TraceStore {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn keep(&self, trace_id: TraceId, stored: StoredSpan) {
        let mut inner = self.lock();
        if !inner.traces.contains_key(&trace_id) {
            if inner.order.len() >= MAX_TRACES
                && let Some(oldest) = inner.order.pop_front()
            {
                inner.traces.remove(&oldest);
            }
            inner.order.push_back(trace_id);
        }
        let spans = inner.traces.entry(trace_id).or_default();
        if spans.len() < MAX_SPANS_PER_TRACE {
            spans.push(stored);
        }
    }

    /// Keeps every span of an OTLP/JSON `ExportTraceServiceRequest`; gives
    /// how many. A span without a valid `traceId`, `spanId`, `name` or times
    /// refuses the whole request, saying which.
    pub fn ingest(&self, request: &Value) -> Result<usize, IngestError> {
        let resource_spans = request
            .get("resourceSpans")
            .and_then(Value::as_array)
            .ok_or_else(|| IngestError("resourceSpans must be an array".to_owned()))?;
        let mut accepted = Vec::new();
        for (r, resource) in resource_spans.iter().enumerate() {
            let service = resource
                .pointer("/resource/attributes")
                .and_then(Value::as_array)
                .and_then(|attributes| attributes.iter().find(|a| a["key"] == "service.name"))
                .and_then(|a| a.pointer("/value/stringValue"))
                .and_then(Value::as_str)
                .unwrap_or("unknown_service")
                .to_owned();
            for scope in resource
                .get("scopeSpans")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for (s, span) in scope
                    .get("spans")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let trace_id = span
                        .get("traceId")
                        .and_then(Value::as_str)
                        .and_then(TraceId::from_hex)
                        .ok_or_else(|| {
                            IngestError(format!(
                                "resourceSpans[{r}] span {s}: traceId must be 32 hex digits (OTLP/JSON writes ids in hex)"
                            ))
                        })?;
                    let valid = span
                        .get("spanId")
                        .and_then(Value::as_str)
                        .and_then(SpanId::from_hex)
                        .is_some()
                        && span.get("name").and_then(Value::as_str).is_some()
                        && nanos(span, "startTimeUnixNano").is_some()
                        && nanos(span, "endTimeUnixNano").is_some();
                    if !valid {
                        return Err(IngestError(format!(
                            "resourceSpans[{r}] span {s}: spanId (16 hex digits), name, startTimeUnixNano and endTimeUnixNano are required"
                        )));
                    }
                    accepted.push((
                        trace_id,
                        StoredSpan {
                            service: service.clone(),
                            span: span.clone(),
                        },
                    ));
                }
            }
        }
        let count = accepted.len();
        for (trace_id, span) in accepted {
            self.keep(trace_id, span);
        }
        Ok(count)
    }

    /// The spans received for `trace_id`.
    pub fn spans(&self, trace_id: TraceId) -> Vec<StoredSpan> {
        self.lock()
            .traces
            .get(&trace_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Records the trace an execution was started in (StartExecution's
    /// `traceHeader`); the first start of a name wins.
    pub fn start_execution(&self, execution_arn: &str, started_by: TraceContext) {
        self.lock()
            .executions
            .entry(execution_arn.to_owned())
            .or_insert(Execution {
                started_by,
                attempt: 0,
            });
    }

    /// The context StartExecution was given for `execution_arn`.
    pub fn execution_context(&self, execution_arn: &str) -> Option<TraceContext> {
        self.lock()
            .executions
            .get(execution_arn)
            .map(|execution| execution.started_by)
    }

    /// Records that `execution_arn` now runs its attempt `attempt` (its
    /// redrive count). Called before the redrive starts, so its first task
    /// already hangs from the new attempt.
    pub fn set_attempt(&self, execution_arn: &str, attempt: u32) {
        if let Some(execution) = self.lock().executions.get_mut(execution_arn) {
            execution.attempt = attempt;
        }
    }

    /// The context a task of `execution_arn` passes on (to a Lambda
    /// invocation, in a queue message): the execution's trace, the current
    /// attempt's span as the parent. `None` for an execution started
    /// without a trace header.
    pub fn task_context(&self, execution_arn: &str) -> Option<TraceContext> {
        let execution = *self.lock().executions.get(execution_arn)?;
        Some(
            execution
                .started_by
                .child_of(attempt_span_id(execution_arn, execution.attempt)),
        )
    }
}

/// The span id of an execution's attempt.
pub fn attempt_span_id(execution_arn: &str, attempt: u32) -> SpanId {
    SpanId::derived(&["execution", execution_arn, &attempt.to_string()])
}

fn nanos(span: &Value, key: &str) -> Option<u128> {
    match span.get(key)? {
        Value::String(text) => text.parse().ok(),
        Value::Number(n) => n.as_u64().map(u128::from),
        _ => None,
    }
}

/// Hands the in-process functions' spans to [`store`].
pub struct StoreSink;

impl SpanSink for StoreSink {
    fn accept(&self, span: FinishedSpan) {
        let trace_id = span.trace_id;
        store().keep(
            trace_id,
            StoredSpan {
                service: span.service.to_string(),
                span: saga_telemetry::otlp::span_json(&span),
            },
        );
    }
}

fn unix_nanos(at: DateTime<Utc>) -> String {
    at.timestamp_nanos_opt()
        .unwrap_or_default()
        .max(0)
        .to_string()
}

/// The Step Functions part of an execution's trace, from its history: one
/// `server` span per attempt (the first run, each redrive), child of the
/// span that started the execution, and one span per state entered, child
/// of its attempt, from entered to exited (or to the attempt's end when the
/// state failed it), marked failed when it failed the execution.
pub fn state_machine_spans(
    execution_arn: &str,
    machine_name: &str,
    started_by: &TraceContext,
    history: &[HistoryEvent],
    now: DateTime<Utc>,
) -> Vec<StoredSpan> {
    let trace_id = started_by.trace_id.to_string();
    let mut spans = Vec::new();
    let mut attempt: u32 = 0;
    let mut attempt_start: Option<DateTime<Utc>> = None;
    let mut open_states: Vec<(u64, String, DateTime<Utc>)> = Vec::new();
    let span_json = |span_id: SpanId,
                     parent: Option<SpanId>,
                     name: &str,
                     kind: i32,
                     start: DateTime<Utc>,
                     end: DateTime<Utc>,
                     error: Option<&str>,
                     attributes: Value| {
        let mut span = json!({
            "traceId": trace_id,
            "spanId": span_id.to_string(),
            "name": name,
            "kind": kind,
            "startTimeUnixNano": unix_nanos(start),
            "endTimeUnixNano": unix_nanos(end),
            "attributes": attributes,
            "status": error.map_or_else(|| json!({}), |message| json!({"code": 2, "message": message})),
        });
        if let Some(parent) = parent {
            span["parentSpanId"] = json!(parent.to_string());
        }
        StoredSpan {
            service: "states".to_owned(),
            span,
        }
    };
    // One state's visit, entered (event `entered_id`) under `attempt`.
    let state_span = |entered_id: u64,
                      name: &str,
                      attempt: u32,
                      entered: DateTime<Utc>,
                      end: DateTime<Utc>,
                      error: Option<&str>| {
        span_json(
            SpanId::derived(&["state", execution_arn, &entered_id.to_string()]),
            Some(attempt_span_id(execution_arn, attempt)),
            name,
            1,
            entered,
            end,
            error,
            json!([{"key": "aws.step_functions.state", "value": {"stringValue": name}}]),
        )
    };
    let close_attempt = |spans: &mut Vec<StoredSpan>,
                         open_states: &mut Vec<(u64, String, DateTime<Utc>)>,
                         attempt: u32,
                         start: DateTime<Utc>,
                         end: DateTime<Utc>,
                         error: Option<&str>| {
        let attempt_id = attempt_span_id(execution_arn, attempt);
        for (entered_id, name, entered) in open_states.drain(..) {
            spans.push(state_span(entered_id, &name, attempt, entered, end, error));
        }
        let name = if attempt == 0 {
            format!("{machine_name} execution")
        } else {
            format!("{machine_name} execution (redrive {attempt})")
        };
        spans.push(span_json(
            attempt_id,
            started_by.parent,
            &name,
            2,
            start,
            end,
            error,
            json!([
                {"key": "aws.step_functions.execution_arn", "value": {"stringValue": execution_arn}},
                {"key": "aws.step_functions.redrive_count", "value": {"intValue": attempt.to_string()}},
            ]),
        ));
    };
    for event in history {
        match event.event_type {
            EventType::ExecutionStarted => attempt_start = Some(event.timestamp),
            EventType::ExecutionRedriven => {
                attempt += 1;
                attempt_start = Some(event.timestamp);
            }
            EventType::StateEntered(_) => {
                if let Some(name) = event.name() {
                    open_states.push((event.id, name.to_owned(), event.timestamp));
                }
            }
            EventType::StateExited(_) => {
                if let Some(position) = open_states
                    .iter()
                    .rposition(|(_, name, _)| Some(name.as_str()) == event.name())
                {
                    let (entered_id, name, entered) = open_states.remove(position);
                    spans.push(state_span(
                        entered_id,
                        &name,
                        attempt,
                        entered,
                        event.timestamp,
                        None,
                    ));
                }
            }
            EventType::ExecutionSucceeded
            | EventType::ExecutionFailed
            | EventType::ExecutionAborted
            | EventType::ExecutionTimedOut => {
                let named = match &event.details {
                    asl::history::EventDetails::Error {
                        error: Some(error), ..
                    } => Some(&**error),
                    _ => None,
                };
                let error = match event.event_type {
                    EventType::ExecutionSucceeded => None,
                    EventType::ExecutionFailed => Some(named.unwrap_or("ExecutionFailed")),
                    EventType::ExecutionAborted => Some("ExecutionAborted"),
                    _ => Some("ExecutionTimedOut"),
                };
                if let Some(start) = attempt_start.take() {
                    close_attempt(
                        &mut spans,
                        &mut open_states,
                        attempt,
                        start,
                        event.timestamp,
                        error,
                    );
                }
            }
            _ => {}
        }
    }
    // Still running: the attempt and its open states end now.
    if let Some(start) = attempt_start {
        close_attempt(&mut spans, &mut open_states, attempt, start, now, None);
    }
    spans
}

/// An OTLP/JSON export request holding `spans`, one resource per service.
pub fn export_request(spans: &[StoredSpan]) -> Value {
    let mut services: Vec<&str> = spans.iter().map(|s| s.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();
    let resource_spans: Vec<Value> = services
        .into_iter()
        .map(|service| {
            let spans: Vec<&Value> = spans
                .iter()
                .filter(|s| s.service == service)
                .map(|s| &s.span)
                .collect();
            json!({
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"scope": {"name": "saga-local"}, "spans": spans}],
            })
        })
        .collect();
    json!({"resourceSpans": resource_spans})
}

/// One span, read back for display.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanView {
    /// Its id.
    pub span_id: String,
    /// Its parent's id.
    pub parent: Option<String>,
    /// Its name.
    pub name: String,
    /// Its service.
    pub service: String,
    /// Its kind's OTLP number.
    pub kind: i64,
    /// Start, in ns since the epoch.
    pub start: u128,
    /// End, in ns since the epoch.
    pub end: u128,
    /// The error message when it failed.
    pub error: Option<String>,
    /// Its attributes, as text.
    pub attributes: Vec<(String, String)>,
    /// Its events' names.
    pub events: Vec<String>,
    /// How deep it sits in the tree (0 for a root: no parent in the trace).
    pub depth: usize,
}

fn attribute_text(value: &Value) -> String {
    ["stringValue", "intValue", "doubleValue", "boolValue"]
        .iter()
        .find_map(|key| value.get(*key))
        .map(|v| match v {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default()
}

/// `spans` as a tree in display order: each span after its parent, siblings
/// by start time; spans whose parent is not in the trace are roots.
pub fn tree(spans: &[StoredSpan]) -> Vec<SpanView> {
    let mut views: Vec<SpanView> = spans
        .iter()
        .map(|stored| {
            let span = &stored.span;
            let text = |key: &str| span.get(key).and_then(Value::as_str).map(str::to_owned);
            let error =
                (span.pointer("/status/code").and_then(Value::as_i64) == Some(2)).then(|| {
                    span.pointer("/status/message")
                        .and_then(Value::as_str)
                        .unwrap_or("error")
                        .to_owned()
                });
            SpanView {
                span_id: text("spanId").unwrap_or_default(),
                parent: text("parentSpanId").filter(|p| !p.is_empty()),
                name: text("name").unwrap_or_default(),
                service: stored.service.clone(),
                kind: span.get("kind").and_then(Value::as_i64).unwrap_or(0),
                start: nanos(span, "startTimeUnixNano").unwrap_or(0),
                end: nanos(span, "endTimeUnixNano").unwrap_or(0),
                error,
                attributes: span
                    .get("attributes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|a| {
                        (
                            a["key"].as_str().unwrap_or_default().to_owned(),
                            attribute_text(&a["value"]),
                        )
                    })
                    .collect(),
                events: span
                    .get("events")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e["name"].as_str().map(str::to_owned))
                    .collect(),
                depth: 0,
            }
        })
        .collect();
    views.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then_with(|| a.end.cmp(&b.end).reverse())
    });
    let ids: std::collections::HashSet<String> = views.iter().map(|v| v.span_id.clone()).collect();
    let mut children: HashMap<Option<String>, Vec<usize>> = HashMap::new();
    for (index, view) in views.iter().enumerate() {
        let parent = view
            .parent
            .clone()
            .filter(|p| ids.contains(p) && *p != view.span_id);
        children.entry(parent).or_default().push(index);
    }
    let mut ordered = Vec::with_capacity(views.len());
    let mut stack: Vec<(usize, usize)> = children
        .get(&None)
        .map(|roots| roots.iter().rev().map(|i| (*i, 0)).collect())
        .unwrap_or_default();
    let mut seen = vec![false; views.len()];
    while let Some((index, depth)) = stack.pop() {
        if std::mem::replace(&mut seen[index], true) {
            continue;
        }
        let mut view = views[index].clone();
        view.depth = depth;
        if let Some(kids) = children.get(&Some(view.span_id.clone())) {
            stack.extend(kids.iter().rev().map(|i| (*i, depth + 1)));
        }
        ordered.push(view);
    }
    // A cycle of parents (a malformed export) leaves spans unreached: show
    // them as roots rather than drop them.
    for (index, view) in views.into_iter().enumerate() {
        if !seen[index] {
            ordered.push(view);
        }
    }
    ordered
}

/// The trace of `order_id`: its execution's trace id and every span of it,
/// the Step Functions spans built from the execution's history included.
/// `None` when no execution has that name or it was started without a
/// trace header.
pub fn order_trace(
    cloud: &crate::cloud::Cloud,
    order_id: &str,
) -> Option<(TraceId, Vec<StoredSpan>)> {
    cloud.machines.iter().find_map(|machine| {
        let arn = format!(
            "{}:{order_id}",
            machine
                .reference
                .arn
                .replacen(":stateMachine:", ":execution:", 1)
        );
        let history = cloud.engine.history(&arn).ok()?;
        let started_by = store().execution_context(&arn)?;
        let mut spans = store().spans(started_by.trace_id);
        spans.extend(state_machine_spans(
            &arn,
            &machine.reference.name,
            &started_by,
            &history,
            Utc::now(),
        ));
        Some((started_by.trace_id, spans))
    })
}

/// `POST /v1/traces`: OTLP/HTTP with a JSON body. Protobuf bodies are
/// refused with 415 (export with `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`).
pub async fn receive(
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::Json;
    use axum::http::StatusCode;
    use axum::response::IntoResponse as _;
    // OTLP's error answer: a `Status` whose code 3 is INVALID_ARGUMENT.
    let refuse = |status: StatusCode, message: String| {
        (status, Json(json!({"code": 3, "message": message}))).into_response()
    };
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/json") {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "the local cloud takes OTLP/HTTP with JSON bodies (Content-Type: application/json), not {content_type:?}"
            ),
        );
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("the body is not JSON: {error}"),
            );
        }
    };
    match store().ingest(&request) {
        Ok(_) => Json(json!({"partialSuccess": {}})).into_response(),
        Err(error) => refuse(StatusCode::BAD_REQUEST, error.0),
    }
}

/// `GET /local/traces/{orderId}`: the order's trace as one OTLP/JSON
/// export request; 404 with why when there is none.
pub async fn get_order_trace(
    axum::extract::State(cloud): axum::extract::State<std::sync::Arc<crate::cloud::Cloud>>,
    axum::extract::Path(order_id): axum::extract::Path<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    match order_trace(&cloud, &order_id) {
        Some((_, spans)) => axum::Json(export_request(&spans)).into_response(),
        None => crate::local_api::problem(
            axum::http::StatusCode::NOT_FOUND,
            format!(
                "no trace for order {order_id}: no execution has that name, or it was started without a traceHeader"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use asl::history::{EventDetails, StateType};

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_700_000_000_000 + ms).unwrap()
    }

    fn event(id: u64, ms: i64, event_type: EventType, details: EventDetails) -> HistoryEvent {
        HistoryEvent {
            id,
            previous_event_id: id.saturating_sub(1),
            timestamp: at(ms),
            event_type,
            details,
        }
    }

    fn entered(id: u64, ms: i64, name: &str) -> HistoryEvent {
        event(
            id,
            ms,
            EventType::StateEntered(StateType::Task),
            EventDetails::StateEntered {
                name: name.into(),
                input: "{}".into(),
            },
        )
    }

    fn exited(id: u64, ms: i64, name: &str) -> HistoryEvent {
        event(
            id,
            ms,
            EventType::StateExited(StateType::Task),
            EventDetails::StateExited {
                name: name.into(),
                output: "{}".into(),
                assigned: None,
            },
        )
    }

    #[test]
    fn each_attempt_of_an_execution_is_a_span_with_its_states_under_it() {
        let arn = "arn:aws:states:us-east-1:000000000000:execution:saga:ord-1";
        let started_by = TraceContext::from_header(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .unwrap();
        let history = vec![
            event(1, 0, EventType::ExecutionStarted, EventDetails::None),
            entered(2, 1, "ChargePayment"),
            event(3, 50, EventType::ExecutionFailed, EventDetails::None),
            event(
                4,
                1_000,
                EventType::ExecutionRedriven,
                EventDetails::Redriven { redrive_count: 1 },
            ),
            entered(5, 1_001, "ChargePayment"),
            exited(6, 1_040, "ChargePayment"),
            event(7, 1_100, EventType::ExecutionSucceeded, EventDetails::None),
        ];
        let spans = state_machine_spans(arn, "saga", &started_by, &history, at(5_000));
        let views = tree(&spans);
        let names: Vec<(&str, usize)> = views.iter().map(|v| (v.name.as_str(), v.depth)).collect();
        assert_eq!(
            names,
            [
                ("saga execution", 0),
                ("ChargePayment", 1),
                ("saga execution (redrive 1)", 0),
                ("ChargePayment", 1),
            ]
        );
        assert_eq!(views[0].error.as_deref(), Some("ExecutionFailed"));
        assert_eq!(views[1].error.as_deref(), Some("ExecutionFailed"));
        assert_eq!(views[3].error, None);
        assert_eq!(views[0].parent.as_deref(), Some("53995c3f42cd8ad8"));
        // Tasks of each attempt hang from the span the history builds.
        let store = TraceStore::default();
        store.start_execution(arn, started_by);
        assert_eq!(
            store
                .task_context(arn)
                .and_then(|c| c.parent)
                .map(|p| p.to_string()),
            Some(views[0].span_id.clone())
        );
        store.set_attempt(arn, 1);
        assert_eq!(
            store
                .task_context(arn)
                .and_then(|c| c.parent)
                .map(|p| p.to_string()),
            Some(views[2].span_id.clone())
        );
        assert_eq!(
            views[1].end - views[1].start,
            49_000_000,
            "a failed state ends with its attempt"
        );
    }

    #[test]
    fn an_export_request_is_checked_and_kept_by_trace() {
        let store = TraceStore::default();
        let request = json!({"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "reserve"}}]},
            "scopeSpans": [{"spans": [
                {"traceId": "5759e988bd862e3fe1be46a994272793", "spanId": "53995c3f42cd8ad8",
                 "name": "reserve", "kind": 2, "startTimeUnixNano": "1", "endTimeUnixNano": "2"},
                {"traceId": "5759e988bd862e3fe1be46a994272793", "spanId": "0102030405060708",
                 "parentSpanId": "53995c3f42cd8ad8", "name": "DynamoDB.TransactWriteItems",
                 "kind": 3, "startTimeUnixNano": 1, "endTimeUnixNano": 2,
                 "status": {"code": 2, "message": "TransactionCanceledException"}},
            ]}],
        }]});
        assert_eq!(store.ingest(&request), Ok(2));
        let spans = store.spans(TraceId::from_hex("5759e988bd862e3fe1be46a994272793").unwrap());
        assert_eq!(spans.len(), 2);
        assert!(spans.iter().all(|s| s.service == "reserve"));
        let views = tree(&spans);
        assert_eq!(views[1].depth, 1);
        assert_eq!(
            views[1].error.as_deref(),
            Some("TransactionCanceledException")
        );

        let bad = json!({"resourceSpans": [{"scopeSpans": [{"spans": [
            {"traceId": "not-hex", "spanId": "53995c3f42cd8ad8", "name": "x",
             "startTimeUnixNano": "1", "endTimeUnixNano": "2"}]}]}]});
        let error = store.ingest(&bad).unwrap_err();
        assert!(error.0.contains("traceId must be 32 hex digits"), "{error}");
        assert!(store.ingest(&json!({})).is_err());
    }
}

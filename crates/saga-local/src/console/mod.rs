//! The operator's console at `/console`: server-rendered HTML, no scripts.
//!
//! - `/console`: executions with status filters, the dead-letter queues'
//!   depths, and the faults in force (with a form to set or clear them);
//! - `/console/execution?arn=...`: one execution: the state machine's
//!   graph marked with the path it took (succeeded, caught, compensating,
//!   failed and unvisited states, each with its duration), then state by
//!   state its duration, input, output, every attempt's error (so retries
//!   are visible) and, on a failed, timed-out or aborted execution, a
//!   Redrive button;
//! - `/console/order/{orderId}`: one order: its execution (status, times,
//!   graph), links to that execution and the order's trace, and its item in
//!   every service table; its JSON twin is `GET /local/orders/{orderId}`;
//! - `/console/queues`: the dead-letter queues' messages and a button that
//!   moves them back to their source queue;
//! - `/console/trace/{orderId}`: the order's trace as a waterfall
//!   ([`crate::traces`] keeps it);
//! - `/console/metrics`: the functions' EMF metrics (counts, sums, p50 and
//!   p99 per metric and dimension set), also `GET /local/metrics`.
//!
//! Buttons are plain HTML forms that POST and redirect back (303), so the
//! console works without JavaScript; each carries the process's CSRF token,
//! and a POST without it is refused ([`csrf`]). [`steps`] (history events
//! grouped by state) also feeds `GET /local/executions/{name}/steps`.
//!
//! This module holds the routes and handlers, which gather the data; the
//! pages are `maud` templates in `list`, `execution`, `order` and `queues`
//! (with the shell in `layout` and the state machine's SVG in `graph_svg`,
//! drawn from the pure model of `graph`), checked at compile time and
//! escaping every value they splice, so no handler writes HTML by hand.

pub mod csrf;
mod execution;
mod graph;
mod graph_svg;
mod history;
mod layout;
mod list;
mod metrics;
mod order;
mod queues;
mod trace;

use std::sync::Arc;

use asl::ExecutionDescription;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

pub use csrf::CsrfToken;
pub use history::{Attempt, StepView, steps};

use crate::cloud::Cloud;
use crate::faults::{FaultMode, FaultRequest};
use crate::local_api::{order_records, peek_messages, problem, queue_depth, redrive_dead_letters};
use csrf::CheckedForm;
use layout::{encode_query, page};

/// The console's routes, and the JSON views of the same data under `/local/`.
pub fn router() -> Router<Arc<Cloud>> {
    Router::new()
        .route("/console", get(executions_page))
        .route("/console/", get(executions_page))
        .route("/console/execution", get(execution_page))
        .route("/console/order/{order_id}", get(order_page))
        .route("/console/redrive", post(redrive_form))
        .route("/console/queues", get(queues_page))
        .route("/console/trace/{order_id}", get(trace_page))
        .route("/console/queues/redrive", post(queue_redrive_form))
        .route("/console/faults", post(fault_form))
        .route("/console/faults/clear", post(clear_fault_form))
        .route("/console/metrics", get(metrics_page))
        .route("/local/metrics", get(metrics_json))
        .route("/local/executions", get(executions_json))
        .route("/local/executions/{name}/steps", get(steps_json))
        .route("/local/executions/{name}/redrive", post(redrive_json))
}

async fn trace_page(State(cloud): State<Arc<Cloud>>, Path(order_id): Path<String>) -> Response {
    match crate::traces::order_trace(&cloud, &order_id) {
        Some((trace_id, spans)) => trace::trace_page(
            &order_id,
            &trace_id.to_string(),
            &crate::traces::tree(&spans),
        )
        .into_response(),
        None => error_page(
            StatusCode::NOT_FOUND,
            "No trace",
            &format!(
                "No trace for order {order_id}: no execution has that name, or it was started without a trace header."
            ),
        ),
    }
}

/// A page that only says what went wrong, sent with an error status.
fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    (status, page(title, html! { (detail) })).into_response()
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
) -> Markup {
    let filter = query.status.filter(|s| !s.is_empty());
    let executions = cloud.executions();
    let dead_letters = dead_letter_depths(&cloud).await;
    let faults = cloud.faults.list();
    let binaries = cloud.functions.binaries();
    list::front_page(&list::FrontPage {
        filter: filter.as_deref(),
        executions: &executions,
        dead_letters: &dead_letters,
        faults: &faults,
        binaries: &binaries,
        csrf: cloud.console_csrf.as_str(),
    })
}

/// Each dead-letter queue's depth: visible messages plus those in flight
/// (received, not yet deleted), so none go unseen.
async fn dead_letter_depths(cloud: &Cloud) -> Vec<list::DeadLetterDepth> {
    let mut depths = Vec::new();
    for queue in cloud.queues.iter().filter(|q| q.is_dead_letter_queue()) {
        depths.push(list::DeadLetterDepth {
            queue: queue.name.clone(),
            depth: queue_depth(cloud, queue)
                .await
                .map(|(visible, in_flight)| visible + in_flight),
        });
    }
    depths
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
    match (
        cloud.engine.describe(&query.arn),
        cloud.engine.history(&query.arn),
    ) {
        (Ok(description), Ok(events)) => execution::execution_page(
            &description,
            &steps(&events),
            machine_graph(&cloud, &description).as_ref(),
            query.message.as_deref(),
            cloud.console_csrf.as_str(),
        )
        .into_response(),
        (Err(e), _) | (_, Err(e)) => {
            error_page(StatusCode::NOT_FOUND, "Execution not found", &e.to_string())
        }
    }
}

/// The graph of the state machine an execution runs.
fn machine_graph(cloud: &Cloud, description: &ExecutionDescription) -> Option<graph::Graph> {
    cloud
        .machine(&description.state_machine_arn)
        .map(|m| graph::Graph::of(&m.reference.definition.machine))
}

/// The order's execution (named after it) and its records in every table;
/// 404 when neither exists.
async fn order_page(State(cloud): State<Arc<Cloud>>, Path(order_id): Path<String>) -> Response {
    let execution = execution_arn(&cloud, &order_id).and_then(|arn| {
        let description = cloud.engine.describe(&arn).ok()?;
        let events = cloud.engine.history(&arn).ok()?;
        Some((description, steps(&events)))
    });
    let graph = execution
        .as_ref()
        .and_then(|(description, _)| machine_graph(&cloud, description));
    let records = order_records(&cloud, &order_id).await;
    let views = records.as_ref().map_err(String::as_str).map(|records| {
        order::RECORDS
            .iter()
            .map(|&(kind, title, table, key)| order::RecordView {
                kind,
                title,
                table: cloud.table_name(table),
                key,
                item: &records[kind],
            })
            .collect::<Vec<_>>()
    });
    let found = execution.is_some()
        || views
            .as_ref()
            .map_or(true, |views| views.iter().any(|r| !r.item.is_null()));
    let status = if found {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    let markup = order::order_page(&order::OrderView {
        order_id: &order_id,
        execution: execution.as_ref().map(|(d, s)| (d, s.as_slice())),
        graph: graph.as_ref(),
        records: views,
    });
    (status, markup).into_response()
}

/// A form naming an execution.
#[derive(Debug, Deserialize)]
pub struct ArnForm {
    arn: String,
}

/// Redrives, then shows the execution with the outcome as its message; the
/// outcome travels in the redirect's query, the only state a POST-redirect-GET
/// keeps.
async fn redrive_form(
    State(cloud): State<Arc<Cloud>>,
    CheckedForm(form): CheckedForm<ArnForm>,
) -> Redirect {
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

async fn queues_page(State(cloud): State<Arc<Cloud>>) -> Markup {
    let mut queues = Vec::new();
    for queue in cloud.queues.iter().filter(|q| q.is_dead_letter_queue()) {
        let source = match (&queue.dead_letter_source, &queue.failed_events_of) {
            (Some(url), _) => queues::DeadLetterSource::Queue(url.clone()),
            (None, Some(function)) => queues::DeadLetterSource::FailedEventsOf(function.clone()),
            (None, None) => continue,
        };
        queues.push(queues::DeadLetterQueue {
            name: queue.name.clone(),
            logical_id: queue.logical_id.clone(),
            source,
            messages: peek_messages(&cloud, queue).await,
        });
    }
    queues::queues_page(&queues, cloud.console_csrf.as_str())
}

async fn metrics_page() -> Markup {
    let store = crate::metrics_store::store();
    metrics::metrics_page(
        &store.summaries(),
        store.refused_lines(),
        store.dropped_data(),
    )
}

async fn metrics_json() -> Json<Value> {
    let store = crate::metrics_store::store();
    Json(json!({
        "series": store.summaries(),
        "refusedLines": store.refused_lines(),
        "droppedData": store.dropped_data(),
    }))
}

/// The DLQ redrive form.
#[derive(Debug, Deserialize)]
pub struct QueueForm {
    queue: String,
}

async fn queue_redrive_form(
    State(cloud): State<Arc<Cloud>>,
    CheckedForm(form): CheckedForm<QueueForm>,
) -> Response {
    match redrive_dead_letters(&cloud, &form.queue).await {
        Ok(_) => Redirect::to("/console/queues").into_response(),
        Err(e) => error_page(StatusCode::BAD_REQUEST, "Redrive failed", &e),
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

async fn fault_form(
    State(cloud): State<Arc<Cloud>>,
    CheckedForm(form): CheckedForm<FaultForm>,
) -> Response {
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
        Err(e) => error_page(StatusCode::BAD_REQUEST, "Fault refused", &e.to_string()),
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
    CheckedForm(form): CheckedForm<ClearForm>,
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

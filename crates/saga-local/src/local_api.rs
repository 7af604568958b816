//! Endpoints that exist only locally, under `/local/` (plus `/health`): dev
//! tokens, fault injection, stock set-up and inspection, reservations made
//! in the past, per-order records
//! from every service table, queue depths and the dead-letter redrive.
//! Tests and demos drive the local cloud through these over HTTP only.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use saga_domain::Sku;
use saga_domain::ports::Catalog;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::attribute_json::item_to_plain;
use crate::cloud::{Cloud, QueueInfo};
use crate::faults::FaultRequest;
use crate::provision;

/// An RFC 9457 problem response.
pub fn problem(status: StatusCode, detail: impl Into<String>) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail.into(),
    });
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

/// The JSON body of a local request, or a 400 that says what was `expected`.
// The error is the handler's answer, returned at once: boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn json_body<T: serde::de::DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, Response> {
    serde_json::from_slice(body)
        .map_err(|e| problem(StatusCode::BAD_REQUEST, format!("{expected}: {e}")))
}

/// The template's Inventory table, or a 404 saying the template has none.
// The error is the handler's answer, returned at once: boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn stock_store(cloud: &Cloud) -> Result<&saga_aws::DynamoInventory, Response> {
    cloud
        .inventory
        .as_ref()
        .ok_or_else(|| problem(StatusCode::NOT_FOUND, "the template has no InventoryTable"))
}

/// `GET /health`: 200 once everything runs, 503 before.
pub async fn health(State(cloud): State<Arc<Cloud>>) -> Response {
    if cloud.is_ready() {
        (StatusCode::OK, Json(json!({"status": "ready"}))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "starting"})),
        )
            .into_response()
    }
}

/// `GET /local/info`: names and endpoints of this local cloud.
pub async fn info(State(cloud): State<Arc<Cloud>>) -> Json<Value> {
    Json(json!({
        "baseUrl": cloud.base_url,
        "stateMachines": cloud.machines.iter().map(|m| json!({"name": m.reference.name, "arn": m.reference.arn})).collect::<Vec<_>>(),
        "functions": cloud.functions.all().map(|f| json!({"name": f.spec.name, "binary": f.spec.binary, "environment": f.spec.environment})).collect::<Vec<_>>(),
        "missingFunctions": cloud.functions.missing(),
        "routes": cloud.routes.iter().map(|r| r.spec.route_key()).collect::<Vec<_>>(),
        "tables": cloud.tables.iter().map(|t| json!({"logicalId": t.logical_id, "name": t.name})).collect::<Vec<_>>(),
        "queues": cloud.queues.iter().map(|q| json!({"logicalId": q.logical_id, "url": q.url, "arn": q.arn})).collect::<Vec<_>>(),
        "jwt": {"issuer": cloud.tokens.issuer, "audiences": cloud.tokens.audiences},
    }))
}

/// The body of `POST /local/token`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRequest {
    sub: String,
    #[serde(default)]
    ttl_seconds: Option<i64>,
}

/// `POST /local/token` with `{"sub": "..."}`: a dev token (LOCAL ONLY).
pub async fn token(State(cloud): State<Arc<Cloud>>, body: axum::body::Bytes) -> Response {
    let request: TokenRequest = match json_body(&body, "expected {\"sub\": \"<user id>\"}") {
        Ok(request) => request,
        Err(response) => return response,
    };
    if request.sub.trim().is_empty() {
        return problem(StatusCode::BAD_REQUEST, "sub must not be empty");
    }
    let lifetime = request.ttl_seconds.unwrap_or(3600).clamp(-3600, 86_400);
    match cloud.tokens.issue(&request.sub, Utc::now(), lifetime) {
        Ok(token) => Json(json!({
            "token": token,
            "tokenType": "Bearer",
            "expiresIn": lifetime,
            "note": "local only: signed by a key generated at start-up; a deployed API trusts your identity provider",
        }))
        .into_response(),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /local/faults`: the faults in force, the functions, and the
/// invocations affected since start by function and mode (`injected`).
pub async fn list_faults(State(cloud): State<Arc<Cloud>>) -> Json<Value> {
    Json(json!({
        "faults": cloud.faults.list(),
        "functions": cloud.functions.binaries(),
        "injected": cloud.faults.injected(),
    }))
}

/// `POST /local/faults` with a [`FaultRequest`].
pub async fn set_fault(State(cloud): State<Arc<Cloud>>, body: axum::body::Bytes) -> Response {
    let request: FaultRequest = match json_body(
        &body,
        "expected {\"function\": \"ship\", \"mode\": \"transient|permanent|delay|outage|crash|timeout|service|duplicate|lost-answer|forget-keys\", \"count\": N, \"delayMs\": N, \"services\": [\"dynamodb\", \"sfn\"]}",
    ) {
        Ok(request) => request,
        Err(response) => return response,
    };
    match cloud.faults.set(request, &cloud.functions.binaries()) {
        Ok(()) => (StatusCode::OK, Json(json!({"faults": cloud.faults.list()}))).into_response(),
        Err(e) => problem(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// `DELETE /local/faults`.
pub async fn clear_faults(State(cloud): State<Arc<Cloud>>) -> StatusCode {
    cloud.faults.clear(None);
    StatusCode::NO_CONTENT
}

/// `DELETE /local/faults/{function}`.
pub async fn clear_fault(
    State(cloud): State<Arc<Cloud>>,
    Path(function): Path<String>,
) -> StatusCode {
    cloud.faults.clear(Some(&function));
    StatusCode::NO_CONTENT
}

/// The body of `PUT /local/stock/{sku}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StockRequest {
    available: u64,
    price_minor: i64,
    #[serde(default = "default_currency")]
    currency: String,
    #[serde(default)]
    name: Option<String>,
}

fn default_currency() -> String {
    "EUR".to_owned()
}

/// `PUT /local/stock/{sku}`: creates or resets a catalog item (reserved = 0).
pub async fn put_stock(
    State(cloud): State<Arc<Cloud>>,
    Path(sku): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let inventory = match stock_store(&cloud) {
        Ok(inventory) => inventory,
        Err(response) => return response,
    };
    let request: StockRequest = match json_body(
        &body,
        "expected {\"available\": N, \"priceMinor\": N, \"currency\": \"EUR\"}",
    ) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let name = request.name.unwrap_or_else(|| sku.clone());
    match provision::put_stock(
        inventory,
        &sku,
        &name,
        request.available,
        request.price_minor,
        &request.currency,
    )
    .await
    {
        Ok(()) => get_stock(State(cloud), Path(sku)).await,
        Err(e) => problem(StatusCode::BAD_REQUEST, format!("{e:#}")),
    }
}

/// `GET /local/stock/{sku}`: available and reserved units.
pub async fn get_stock(State(cloud): State<Arc<Cloud>>, Path(sku): Path<String>) -> Response {
    let inventory = match stock_store(&cloud) {
        Ok(inventory) => inventory,
        Err(response) => return response,
    };
    let Ok(parsed) = Sku::try_from(sku.as_str()) else {
        return problem(StatusCode::BAD_REQUEST, format!("{sku:?} is not a SKU"));
    };
    match inventory.stock_items(std::slice::from_ref(&parsed)).await {
        Ok(items) => match items.first() {
            Some(item) => Json(json!({
                "sku": item.sku.as_str(),
                "name": item.name,
                "available": item.available,
                "reserved": item.reserved,
                "priceMinor": item.unit_price.amount_minor(),
                "currency": item.unit_price.currency().as_str(),
            }))
            .into_response(),
            None => problem(StatusCode::NOT_FOUND, format!("no stock item {sku}")),
        },
        Err(e) => problem(StatusCode::BAD_GATEWAY, e.to_string()),
    }
}

async fn get_item(cloud: &Cloud, table: &str, key: &str, value: String) -> Result<Value, String> {
    let Some(table) = cloud.table_name(table) else {
        return Ok(Value::Null);
    };
    let output = cloud
        .clients
        .dynamodb
        .get_item()
        .table_name(table)
        .key(key, AttributeValue::S(value))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)))?;
    Ok(output.item.as_ref().map_or(Value::Null, item_to_plain))
}

/// Every service's record of one order.
pub async fn order_records(cloud: &Cloud, order_id: &str) -> Result<Value, String> {
    let (order, reservation, payment, shipment) = futures::future::try_join4(
        get_item(cloud, "OrdersTable", "orderId", order_id.to_owned()),
        get_item(
            cloud,
            crate::cloud::INVENTORY_TABLE,
            "pk",
            format!("RESERVATION#{order_id}"),
        ),
        get_item(cloud, "PaymentsTable", "orderId", order_id.to_owned()),
        get_item(cloud, "ShipmentsTable", "orderId", order_id.to_owned()),
    )
    .await?;
    // The payment provider's own ledger (the simulated provider is shared by
    // every function of this process), keyed by the order id as charges are.
    let provider =
        saga_domain::simulated_provider::SimulatedPaymentProvider::shared().statement(order_id);
    Ok(json!({
        "order": order, "reservation": reservation, "payment": payment,
        "shipment": shipment, "provider": provider,
    }))
}

/// `GET /local/orders/{orderId}`: the order, reservation, payment and
/// shipment items as plain JSON (`null` where a table has none), and the
/// payment provider's statement for the order.
pub async fn get_order_records(
    State(cloud): State<Arc<Cloud>>,
    Path(order_id): Path<String>,
) -> Response {
    match order_records(&cloud, &order_id).await {
        Ok(records) => Json(records).into_response(),
        Err(e) => problem(StatusCode::BAD_GATEWAY, e),
    }
}

/// A queue's approximate depth: (visible, in flight).
pub async fn queue_depth(cloud: &Cloud, queue: &QueueInfo) -> Result<(u64, u64), String> {
    let output = cloud
        .clients
        .sqs
        .get_queue_attributes()
        .queue_url(&queue.url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| format!("{}", aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
    let attributes = output.attributes.unwrap_or_default();
    let number = |name: &QueueAttributeName| {
        attributes
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok((
        number(&QueueAttributeName::ApproximateNumberOfMessages),
        number(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    ))
}

/// `GET /local/queues`: every queue with its depth.
pub async fn list_queues(State(cloud): State<Arc<Cloud>>) -> Response {
    let mut queues = Vec::new();
    for queue in &cloud.queues {
        let (visible, in_flight) = match queue_depth(&cloud, queue).await {
            Ok(depth) => depth,
            Err(e) => return problem(StatusCode::BAD_GATEWAY, e),
        };
        queues.push(json!({
            "logicalId": queue.logical_id, "name": queue.name, "url": queue.url,
            "visible": visible, "inFlight": in_flight,
            "deadLetterSource": queue.dead_letter_source,
            "failedEventsOf": queue.failed_events_of,
        }));
    }
    Json(json!({"queues": queues})).into_response()
}

/// Receives up to 10 messages of `queue` for the next 30 s (none when it
/// is empty), for a redrive to move or replay and then delete.
async fn take_batch(
    sqs: &aws_sdk_sqs::Client,
    queue: &QueueInfo,
) -> Result<Vec<aws_sdk_sqs::types::Message>, String> {
    let received = sqs
        .receive_message()
        .queue_url(&queue.url)
        .max_number_of_messages(10)
        .visibility_timeout(30)
        .wait_time_seconds(0)
        .send()
        .await
        .map_err(|e| format!("{}", aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
    Ok(received.messages.unwrap_or_default())
}

/// Deletes a message [`take_batch`] took, once it is moved or replayed.
async fn delete_taken(
    sqs: &aws_sdk_sqs::Client,
    queue: &QueueInfo,
    message: &aws_sdk_sqs::types::Message,
) -> Result<(), String> {
    let Some(handle) = message.receipt_handle() else {
        return Ok(());
    };
    sqs.delete_message()
        .queue_url(&queue.url)
        .receipt_handle(handle)
        .send()
        .await
        .map(drop)
        .map_err(|e| format!("{}", aws_sdk_sqs::error::DisplayErrorContext(&e)))
}

/// Moves every message of a dead-letter queue back to its source queue;
/// for a function's on-failure destination, replays each message's event
/// (`requestPayload`) to the function and deletes the messages it took.
pub async fn redrive_dead_letters(cloud: &Cloud, logical_id: &str) -> Result<u64, String> {
    let Some(queue) = cloud.queues.iter().find(|q| q.logical_id == logical_id) else {
        return Err(format!("no queue {logical_id}"));
    };
    if let Some(function) = &queue.failed_events_of {
        return replay_failed_events(cloud, queue, function).await;
    }
    let Some(source) = &queue.dead_letter_source else {
        return Err(format!("{logical_id} is no queue's dead-letter queue"));
    };
    let sqs = &cloud.clients.sqs;
    let mut moved = 0;
    // Bounded: a DLQ drained by this loop cannot refill itself.
    for _ in 0..1000 {
        let messages = take_batch(sqs, queue).await?;
        if messages.is_empty() {
            break;
        }
        for message in messages {
            sqs.send_message()
                .queue_url(source)
                .message_body(message.body().unwrap_or_default())
                .send()
                .await
                .map_err(|e| format!("{}", aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
            delete_taken(sqs, queue, &message).await?;
            moved += 1;
        }
    }
    Ok(moved)
}

/// Replays each invocation record of `queue` to `function` (its logical
/// id): the event is its `requestPayload`. A record the function takes is
/// deleted; one it fails again stays (visible again after 30 s), and the
/// first such failure is the error.
async fn replay_failed_events(
    cloud: &Cloud,
    queue: &QueueInfo,
    function: &str,
) -> Result<u64, String> {
    let Some(target) = cloud.functions.find(function) else {
        return Err(format!(
            "{function} has no code here; its failed events stay"
        ));
    };
    let sqs = &cloud.clients.sqs;
    let mut replayed = 0;
    let mut first_failure = None;
    for _ in 0..1000 {
        let messages = take_batch(sqs, queue).await?;
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let record: Value =
                serde_json::from_str(message.body().unwrap_or_default()).map_err(|e| {
                    format!(
                        "a message of {} is no invocation record: {e}",
                        queue.logical_id
                    )
                })?;
            let Some(event) = record.get("requestPayload").cloned() else {
                return Err(format!(
                    "a message of {} has no requestPayload",
                    queue.logical_id
                ));
            };
            match cloud.functions.invoke(target, event, None).await {
                Ok(_) => {
                    delete_taken(sqs, queue, &message).await?;
                    replayed += 1;
                }
                Err(error) => {
                    first_failure.get_or_insert_with(|| {
                        format!("{function} failed a replayed event again: {error}")
                    });
                }
            }
        }
        if first_failure.is_some() {
            break;
        }
    }
    match first_failure {
        Some(failure) => Err(failure),
        None => Ok(replayed),
    }
}

/// `POST /local/queues/{logicalId}/redrive`: moves a DLQ's messages back
/// (or replays a function's failed events to it).
pub async fn redrive_queue(
    State(cloud): State<Arc<Cloud>>,
    Path(logical_id): Path<String>,
) -> Response {
    match redrive_dead_letters(&cloud, &logical_id).await {
        Ok(moved) => Json(json!({"moved": moved})).into_response(),
        Err(e) => problem(StatusCode::BAD_REQUEST, e),
    }
}

/// Peeks at up to 10 messages of a queue without consuming them.
pub async fn peek_messages(
    cloud: &Cloud,
    queue: &QueueInfo,
) -> Result<Vec<(String, String, String)>, String> {
    let received = cloud
        .clients
        .sqs
        .receive_message()
        .queue_url(&queue.url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .wait_time_seconds(0)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .map_err(|e| format!("{}", aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
    Ok(received
        .messages
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let sent = m
                .attributes()
                .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp))
                .and_then(|t| t.parse::<i64>().ok())
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default();
            (
                m.message_id().unwrap_or_default().to_owned(),
                sent,
                m.body().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

/// The query of `GET /local/executions/{name}/wait`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitQuery {
    #[serde(default)]
    timeout_seconds: Option<u64>,
}

/// `GET /local/executions/{name}/wait?timeoutSeconds=N`: answers once the
/// execution named `name` (of the first state machine) is no longer
/// RUNNING, with DescribeExecution's output; 408 when it still runs after
/// the timeout (default 60 s, at most 900 s). Lets tests and scripts wait
/// for an outcome without polling.
pub async fn wait_for_execution(
    State(cloud): State<Arc<Cloud>>,
    Path(name): Path<String>,
    axum::extract::Query(query): axum::extract::Query<WaitQuery>,
) -> Response {
    let Some(machine) = cloud.machines.first() else {
        return problem(StatusCode::NOT_FOUND, "the template has no state machine");
    };
    let arn = format!(
        "{}:{name}",
        machine
            .reference
            .arn
            .replacen(":stateMachine:", ":execution:", 1)
    );
    let timeout = std::time::Duration::from_secs(query.timeout_seconds.unwrap_or(60).min(900));
    match tokio::time::timeout(timeout, cloud.engine.wait_for(&arn)).await {
        Ok(Ok(description)) => {
            Json(crate::sfn_api::describe_json(&cloud, &description)).into_response()
        }
        Ok(Err(error)) => problem(StatusCode::NOT_FOUND, error.to_string()),
        Err(_) => problem(
            StatusCode::REQUEST_TIMEOUT,
            format!("execution {name} still runs after {} s", timeout.as_secs()),
        ),
    }
}

/// The body of `POST /local/reservations`: the reserve step's input, and how
/// long ago the reservation was made.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PastReservationRequest {
    #[serde(flatten)]
    input: saga_domain::step_io::ReserveInput,
    reserved_seconds_ago: u32,
}

/// A clock stopped at one instant.
struct StoppedClock(chrono::DateTime<Utc>);

impl saga_domain::ports::Clock for StoppedClock {
    fn now(&self) -> chrono::DateTime<Utc> {
        self.0
    }
}

/// `POST /local/reservations`: runs the reserve step as if it had run
/// `reservedSecondsAgo` seconds ago, with the TTL the template gives the
/// reserve function, so tests and demos can make a reservation that has
/// already lapsed (the one situation the real clock cannot produce on demand).
pub async fn reserve_in_the_past(
    State(cloud): State<Arc<Cloud>>,
    body: axum::body::Bytes,
) -> Response {
    let inventory = match stock_store(&cloud) {
        Ok(inventory) => inventory,
        Err(response) => return response,
    };
    let request: PastReservationRequest = match json_body(
        &body,
        "expected the reserve step's input and \"reservedSecondsAgo\"",
    ) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let ttl = cloud
        .functions
        .find("reserve")
        .and_then(|reserve| reserve.environment.get("RESERVATION_TTL_SECONDS"))
        .and_then(|seconds| seconds.parse().ok())
        .and_then(|seconds| saga_domain::steps::ReservationTtl::from_secs(seconds).ok())
        .unwrap_or_default();
    let clock =
        StoppedClock(Utc::now() - chrono::TimeDelta::seconds(request.reserved_seconds_ago.into()));
    match saga_domain::steps::reserve_inventory(inventory, &clock, ttl, request.input).await {
        Ok(reserved) => Json(json!(reserved)).into_response(),
        Err(e) => problem(StatusCode::CONFLICT, e.to_string()),
    }
}

/// The body of `POST /local/task-tokens`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskTokenRequest {
    token: String,
}

/// The query of `GET /local/task-tokens`.
#[derive(Debug, Deserialize)]
pub struct TaskTokenQuery {
    token: String,
}

/// `POST /local/task-tokens` with `{"token": "..."}`: stands in for a Task
/// state waiting on that token, so a worker invoked with a sample event
/// (`events/ship/*.json` carry made-up tokens) can complete the task.
pub async fn wait_on_task_token(
    State(cloud): State<Arc<Cloud>>,
    body: axum::body::Bytes,
) -> Response {
    match serde_json::from_slice::<TaskTokenRequest>(&body) {
        Ok(request) if !request.token.is_empty() => {
            if cloud.wait_on_token(&request.token) {
                (StatusCode::CREATED, Json(json!({"token": request.token}))).into_response()
            } else {
                problem(
                    StatusCode::CONFLICT,
                    "a running execution's task waits on this token; it is not taken over",
                )
            }
        }
        Ok(_) => problem(StatusCode::BAD_REQUEST, "token must not be empty"),
        Err(e) => problem(
            StatusCode::BAD_REQUEST,
            format!("expected {{\"token\": \"<task token>\"}}: {e}"),
        ),
    }
}

/// `GET /local/task-tokens?token=...`: the callbacks received for a token of
/// `POST /local/task-tokens`, oldest first.
pub async fn task_token_callbacks(
    State(cloud): State<Arc<Cloud>>,
    axum::extract::Query(query): axum::extract::Query<TaskTokenQuery>,
) -> Response {
    let Some(callbacks) = cloud.task_callbacks(&query.token) else {
        return problem(
            StatusCode::NOT_FOUND,
            "nobody waits on this token: POST /local/task-tokens first",
        );
    };
    let callbacks: Vec<Value> = callbacks
        .into_iter()
        .map(|message| match message {
            asl::tokens::TokenMessage::Success(output) => {
                json!({"type": "SendTaskSuccess", "output": output})
            }
            asl::tokens::TokenMessage::Failure(error) => {
                json!({"type": "SendTaskFailure", "error": error.error, "cause": error.cause})
            }
            asl::tokens::TokenMessage::Heartbeat => json!({"type": "SendTaskHeartbeat"}),
        })
        .collect();
    Json(json!({"token": query.token, "callbacks": callbacks})).into_response()
}

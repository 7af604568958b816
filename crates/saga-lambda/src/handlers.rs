//! One handler per Lambda function: the raw event in, the step's output or a
//! `Diagnostic` out.
//!
//! Handlers are generic over the ports, so the binaries plug in the DynamoDB
//! adapters and the tests plug in the fakes. Input that does not parse into
//! the step's domain types is `InvalidOrder`, never a panic. The
//! `Diagnostic`'s `error_type` is the [`StepError`] name the state machine's
//! `ErrorEquals` matches; its `error_message` carries the full cause chain.
//!
//! Each saga step reports how long its work took and how it failed
//! (`StepLatency`, `StepErrors`), the compensations what they gave back
//! (`CompensationsRun`), the sweeper and the watcher what happened to the
//! orders ([`crate::metrics`] says which metric comes from where).

use std::time::Instant;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::Diagnostic;
use saga_domain::ports::{
    Clock, ExecutionStarter, OrderStore, PaymentProvider, PaymentStore, ReleaseOutcome,
    ReservationExpiry, ReservationStore, ShipmentStore, StoppedExecutions, TaskReporter,
};
use saga_domain::step_io::{
    ChargeInput, Charged, Confirmed, ExecutionStatusChange, OrderRef, ReaperReport, RefundOutcome,
    Refunded, Released, ReserveInput, Reserved, SweepReport, WatchOutcome, WatchReport,
};
use saga_domain::steps::{
    self, ReaperSettings, ReservationTtl, ShipRecordOutcome, SweepSettings, process_ship_message,
};
use saga_domain::{ErrorKind, StepError};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument as _;

use crate::metrics::{self, COMPENSATION, ERROR_TYPE, ORDER_ID, REASON, STATUS, STEP};

/// The Lambda error for a step error: `errorType` = the step error name.
pub fn diagnostic(error: &StepError) -> Diagnostic {
    Diagnostic {
        error_type: error.error_type().to_owned(),
        error_message: error.message_with_sources(),
    }
}

/// Parses a step payload into its input type; anything unparseable (wrong
/// shape, missing field, invalid value) is `InvalidOrder` naming the problem.
pub fn parse_payload<T: DeserializeOwned>(payload: Value) -> Result<T, StepError> {
    serde_json::from_value(payload).map_err(StepError::invalid_order)
}

/// Logs a step's failure at a level that matches what happens next, and
/// turns it into the Lambda error.
fn failed(function: &'static str, error: StepError) -> Diagnostic {
    let error_type = error.error_type();
    let message = error.message_with_sources();
    match error.kind() {
        ErrorKind::Business => {
            tracing::info!(function, error_type, %message, "step ended with a business outcome")
        }
        ErrorKind::Transient => {
            tracing::error!(function, error_type, %message, "step failed transiently; Step Functions retries")
        }
    }
    diagnostic(&error)
}

/// The `orderId` of a step's payload, for its metrics (read before the
/// payload is parsed, so a step that refuses it still says whose it was).
fn order_id_in(payload: &Value) -> Option<String> {
    payload.get("orderId")?.as_str().map(str::to_owned)
}

/// Reports one step's work on one order: `StepLatency` since `started`,
/// and `StepErrors` when it ended in `error`.
fn report_step(
    step: &'static str,
    started: Instant,
    order_id: Option<&str>,
    error: Option<&StepError>,
    at: chrono::DateTime<chrono::Utc>,
) {
    let with_order = |sample: metrics::Sample| match order_id {
        Some(id) => sample.property(ORDER_ID, id),
        None => sample,
    };
    with_order(
        metrics::STEP_LATENCY
            .duration(started.elapsed())
            .dimension(STEP, step),
    )
    .emit(at);
    if let Some(error) = error {
        let sample = metrics::STEP_ERRORS.count(1).dimension(STEP, step);
        with_order(sample.dimension(ERROR_TYPE, error.error_type())).emit(at);
    }
}

/// Reports a compensation that gave something back (`CompensationsRun`).
fn report_compensation(
    compensation: &'static str,
    order_id: Option<&str>,
    at: chrono::DateTime<chrono::Utc>,
) {
    let sample = metrics::COMPENSATIONS_RUN.count(1);
    let sample = sample.dimension(COMPENSATION, compensation);
    sample.property(ORDER_ID, order_id).emit(at);
}

/// `reserve`: `{orderId, items}` → [`Reserved`].
pub async fn handle_reserve(
    inventory: &(impl ReservationStore + ReservationExpiry),
    clock: &impl Clock,
    ttl: ReservationTtl,
    payload: Value,
) -> Result<Reserved, Diagnostic> {
    let started = Instant::now();
    let order_id = order_id_in(&payload);
    let result = match parse_payload::<ReserveInput>(payload) {
        Ok(input) => steps::reserve_inventory(inventory, clock, ttl, input).await,
        Err(error) => Err(error),
    };
    let error = result.as_ref().err();
    report_step("reserve", started, order_id.as_deref(), error, clock.now());
    result.map_err(|error| failed("reserve", error))
}

/// `charge`: `{orderId, total, paymentMethod}` → [`Charged`].
pub async fn handle_charge(
    payments: &impl PaymentStore,
    provider: &impl PaymentProvider,
    clock: &impl Clock,
    payload: Value,
) -> Result<Charged, Diagnostic> {
    let started = Instant::now();
    let order_id = order_id_in(&payload);
    let result = match parse_payload::<ChargeInput>(payload) {
        Ok(input) => steps::charge_payment(payments, provider, clock, input).await,
        Err(error) => Err(error),
    };
    let error = result.as_ref().err();
    report_step("charge", started, order_id.as_deref(), error, clock.now());
    result.map_err(|error| failed("charge", error))
}

/// `confirm`: `{orderId}` → [`Confirmed`].
pub async fn handle_confirm(
    inventory: &impl ReservationStore,
    clock: &impl Clock,
    payload: Value,
) -> Result<Confirmed, Diagnostic> {
    let started = Instant::now();
    let order_id = order_id_in(&payload);
    let result = match parse_payload::<OrderRef>(payload) {
        Ok(input) => steps::confirm_reservation(inventory, clock, input).await,
        Err(error) => Err(error),
    };
    let error = result.as_ref().err();
    report_step("confirm", started, order_id.as_deref(), error, clock.now());
    result.map_err(|error| failed("confirm", error))
}

/// `release` (compensation): `{orderId}` → [`Released`].
pub async fn handle_release(
    inventory: &impl ReservationStore,
    clock: &impl Clock,
    payload: Value,
) -> Result<Released, Diagnostic> {
    let started = Instant::now();
    let order_id = order_id_in(&payload);
    let result = match parse_payload::<OrderRef>(payload) {
        Ok(input) => steps::release_reservation(inventory, clock, input).await,
        Err(error) => Err(error),
    };
    let error = result.as_ref().err();
    report_step("release", started, order_id.as_deref(), error, clock.now());
    if let Ok(Released {
        outcome: ReleaseOutcome::Released,
        ..
    }) = &result
    {
        report_compensation("ReleaseInventory", order_id.as_deref(), clock.now());
    }
    result.map_err(|error| failed("release", error))
}

/// `refund` (compensation): `{orderId}` → [`Refunded`].
pub async fn handle_refund(
    payments: &impl PaymentStore,
    provider: &impl PaymentProvider,
    clock: &impl Clock,
    payload: Value,
) -> Result<Refunded, Diagnostic> {
    let started = Instant::now();
    let order_id = order_id_in(&payload);
    let result = match parse_payload::<OrderRef>(payload) {
        Ok(input) => steps::refund_payment(payments, provider, clock, input).await,
        Err(error) => Err(error),
    };
    let error = result.as_ref().err();
    report_step("refund", started, order_id.as_deref(), error, clock.now());
    if let Ok(Refunded {
        outcome: RefundOutcome::Refunded,
        ..
    }) = &result
    {
        report_compensation("RefundPayment", order_id.as_deref(), clock.now());
    }
    result.map_err(|error| failed("refund", error))
}

/// `ship`: an SQS batch from the shipping queue → the messages to redeliver.
///
/// Each record is handled on its own (see
/// [`process_ship_message`]); records that must be redelivered are listed in
/// `batchItemFailures` (the event source mapping has
/// `ReportBatchItemFailures`). A record without a `messageId` cannot be
/// listed, so if one needs redelivery the whole invocation fails and the
/// whole batch is redelivered; that is safe because shipping is idempotent.
pub async fn handle_ship(
    shipments: &impl ShipmentStore,
    reporter: &impl TaskReporter,
    clock: &impl Clock,
    event: SqsEvent,
) -> Result<SqsBatchResponse, Diagnostic> {
    let mut response = SqsBatchResponse::default();
    // The records of a batch (up to 10) are independent: processed at once,
    // the batch takes as long as its slowest record, not the sum of them,
    // so a batch of slow calls does not outlast the function's timeout.
    // Each record is one order's ShipOrder step: timed on its own.
    // Each record is worked and reported in its own span, in its order's
    // trace, so the lines below carry that trace too.
    // Each body is parsed once here, for the span and the report alike.
    let order_ids: Vec<Option<String>> = event
        .records
        .iter()
        .map(|record| {
            serde_json::from_str::<Value>(record.body.as_deref().unwrap_or_default())
                .ok()
                .and_then(|body| order_id_in(&body))
        })
        .collect();
    let spans: Vec<tracing::Span> = event
        .records
        .iter()
        .zip(&order_ids)
        .map(|(record, order_id)| message_span(record, order_id.as_deref()))
        .collect();
    let outcomes = futures::future::join_all(event.records.iter().zip(&spans).map(
        |(record, span)| async move {
            let started = Instant::now();
            let body = record.body.as_deref().unwrap_or_default();
            let outcome = process_ship_message(shipments, reporter, clock, body)
                .instrument(span.clone())
                .await;
            (outcome, started)
        },
    ))
    .await;
    for (((record, (outcome, started)), span), order_id) in
        event.records.iter().zip(outcomes).zip(spans).zip(order_ids)
    {
        let _in_its_trace = span.enter();
        let message_id = record.message_id.as_deref();
        let error = match &outcome {
            ShipRecordOutcome::FailureReported(error) | ShipRecordOutcome::LeaveOnQueue(error) => {
                Some(error)
            }
            ShipRecordOutcome::Shipped(_) | ShipRecordOutcome::TokenSpent { .. } => None,
        };
        report_step("ship", started, order_id.as_deref(), error, clock.now());
        match outcome {
            ShipRecordOutcome::Shipped(shipped) => {
                tracing::info!(message_id, order_id = %shipped.order_id, shipment_id = %shipped.shipment_id, "shipped; task completed");
            }
            ShipRecordOutcome::FailureReported(error) => {
                tracing::info!(message_id, error_type = error.error_type(), message = %error.message_with_sources(), "ship failed; task failure reported");
            }
            ShipRecordOutcome::TokenSpent { order_id, .. } => {
                let order_id = order_id.as_ref().map(|id| id.as_str());
                tracing::info!(
                    message_id,
                    order_id,
                    "the task token is spent; message done"
                );
            }
            ShipRecordOutcome::LeaveOnQueue(error) => {
                tracing::error!(message_id, error_type = error.error_type(), message = %error.message_with_sources(), "message left on the queue for redelivery");
                match message_id {
                    Some(id) => response.add_failure(id),
                    None => {
                        return Err(failed(
                            "ship",
                            StepError::transient(format!(
                                "a record without messageId must be redelivered ({})",
                                error.message_with_sources()
                            )),
                        ));
                    }
                }
            }
        }
    }
    Ok(response)
}

/// The span one shipping message is processed in. A message is a hop of
/// its order's trace: the sender (Step Functions, tracing on) put the
/// trace's context in the `AWSTraceHeader` system attribute, so the span
/// continues that trace, as a consumer, whatever trace the batch's
/// invocation is in. A message without it is processed in the
/// invocation's trace.
fn message_span(
    record: &aws_lambda_events::event::sqs::SqsMessage,
    order_id: Option<&str>,
) -> tracing::Span {
    let span = match record
        .attributes
        .get("AWSTraceHeader")
        .and_then(|header| saga_telemetry::TraceContext::from_header(header))
    {
        Some(context) => saga_telemetry::root_span("ship message", "consumer", "", &context),
        None => tracing::info_span!(
            "ship message",
            otel.kind = "consumer",
            messaging.message.id = tracing::field::Empty,
            order_id = tracing::field::Empty,
        ),
    };
    span.record("messaging.message.id", record.message_id.as_deref());
    if let Some(order_id) = order_id {
        span.record("order_id", order_id);
    }
    span
}

/// `reaper`: the EventBridge scheduled event → [`ReaperReport`]. The event's
/// content is not used: the reaper works from the clock.
pub async fn handle_reaper(
    expiry: &impl ReservationExpiry,
    clock: &impl Clock,
    settings: ReaperSettings,
    event: EventBridgeEvent<Value>,
) -> Result<ReaperReport, Diagnostic> {
    tracing::info!(event_id = event.id.as_deref(), detail_type = %event.detail_type, "reaper run");
    let report = steps::expire_lapsed_reservations(expiry, clock, settings)
        .await
        .map_err(|error| failed("reaper", error))?;
    tracing::info!(
        expired = report.expired,
        batches = report.batches,
        "reaper done"
    );
    Ok(report)
}

/// `sweeper`: the EventBridge scheduled event → [`SweepReport`]. The
/// event's content is not used: the sweep works from the clock.
///
/// First records the stalls of stopped executions no status-change event
/// recorded ([`steps::record_missed_stops`]), then counts the stalled
/// orders and reports them as the `StalledOrders` metric (an EMF line, in
/// `metrics_namespace`) whether or not the other parts fail, so the
/// failed-executions alarm keeps its data while one part is broken; then
/// starts the orders nobody started, reporting how many as
/// `NeverStartedOrders`.
pub async fn handle_sweeper(
    orders: &impl OrderStore,
    executions: &(impl ExecutionStarter + StoppedExecutions),
    clock: &impl Clock,
    settings: SweepSettings,
    metrics_namespace: &str,
    event: EventBridgeEvent<Value>,
) -> Result<SweepReport, Diagnostic> {
    tracing::info!(event_id = event.id.as_deref(), detail_type = %event.detail_type, "sweeper run");
    let recovered = steps::record_missed_stops(orders, executions, clock).await;
    let stalled = steps::count_stalled(orders).await;
    if let Ok(count) = &stalled {
        metrics::STALLED_ORDERS
            .count(*count)
            .emit_in(metrics_namespace, clock.now());
    }
    let swept = steps::sweep_unstarted(orders, executions, clock, settings).await;
    if let Ok(swept) = &swept {
        metrics::NEVER_STARTED_ORDERS
            .count(swept.started)
            .emit_in(metrics_namespace, clock.now());
    }
    let recovered = recovered.map_err(|error| failed("sweeper", error))?;
    let stalled = stalled.map_err(|error| failed("sweeper", error))?;
    let mut report = swept.map_err(|error| failed("sweeper", error))?;
    report.stalled = stalled;
    report.recovered = recovered;
    tracing::info!(
        found = report.found,
        started = report.started,
        stalled = report.stalled,
        recovered = report.recovered,
        "sweeper done"
    );
    Ok(report)
}

/// `watcher`: Step Functions' execution status-change event →
/// [`WatchReport`]: a stopped execution is recorded on its order.
///
/// It also counts what became of the orders, stamped with the event's
/// time: a SUCCEEDED execution is `OrdersCompleted`, or `OrdersRejected`
/// by reason when its output carries the `error` RejectOrder recorded; a
/// stall it recorded is `FailedOrders` by status. Counted once the event is
/// handled, so a failed attempt that Lambda retries is not counted twice.
///
/// Errors: `InvalidOrder` when the event has no readable `detail` (a bug in
/// the rule; retrying cannot help), `TransientError` when the Orders table
/// is unavailable (Lambda retries the event, then it goes to the
/// dead-letter queue).
pub async fn handle_watcher(
    orders: &impl OrderStore,
    event: EventBridgeEvent<Value>,
) -> Result<WatchReport, Diagnostic> {
    tracing::info!(event_id = event.id.as_deref(), detail_type = %event.detail_type, "watcher event");
    let at = event.time.unwrap_or_else(chrono::Utc::now);
    let output = event.detail.get("output").cloned();
    let result = match parse_payload::<ExecutionStatusChange>(event.detail) {
        Ok(change) => {
            let report = steps::record_execution_stop(orders, &change).await;
            if let Ok(report) = &report {
                count_order_outcome(&change, output.as_ref(), report, at);
            }
            report
        }
        Err(error) => Err(error),
    };
    result.map_err(|error| failed("watcher", error))
}

/// The metric of what became of the order whose execution `change`
/// reports, if it ended one way or another (see [`handle_watcher`]).
fn count_order_outcome(
    change: &ExecutionStatusChange,
    output: Option<&Value>,
    report: &WatchReport,
    at: chrono::DateTime<chrono::Utc>,
) {
    let order = Value::String(change.name.clone());
    if change.status == "SUCCEEDED" {
        // The event carries the output as JSON text, and only when it fits
        // (`outputDetails.included`); without it the outcome is unknown.
        let Some(output) = output
            .and_then(Value::as_str)
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
        else {
            tracing::warn!(execution_arn = %change.execution_arn, "a SUCCEEDED event without its output: the order's outcome is not counted");
            return;
        };
        match output.pointer("/error/Error").and_then(Value::as_str) {
            Some(reason) => {
                let sample = metrics::ORDERS_REJECTED.count(1).dimension(REASON, reason);
                sample.property(ORDER_ID, order).emit(at);
            }
            None => metrics::ORDERS_COMPLETED
                .count(1)
                .property(ORDER_ID, order)
                .emit(at),
        }
    } else if report.outcome == WatchOutcome::Recorded {
        let sample = metrics::FAILED_ORDERS
            .count(1)
            .dimension(STATUS, &change.status);
        sample.property(ORDER_ID, order).emit(at);
    }
}

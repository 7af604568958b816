//! `ship`: create the order's shipment and report back to the waiting task.
//!
//! The state machine puts `{taskToken, orderId, items, shippingAddress}` on
//! the shipping queue and waits. For each message this creates the shipment
//! at most once (conditional put; ids derived from the order id, so a replay
//! produces the same ids) and completes the task. A business failure is
//! reported with SendTaskFailure; a transient one leaves the message on the
//! queue for redelivery (and, after `maxReceiveCount`, the dead-letter queue).
//!
//! When Step Functions answers that the token is spent (the task completed,
//! failed or timed out: a duplicate delivery, or a dead-lettered message moved
//! back after ShipOrder gave up), the message is done, shipment or not: the
//! execution has moved on, a failed one is the operator's signal, and its
//! redrive sends a fresh token that finds the existing shipment. Any other
//! refusal of a report (a malformed token, a missing permission, an invalid
//! request) leaves the message on the queue, so it reaches the dead-letter
//! queue and its alarm.

use serde_json::Value;

use crate::error::StepError;
use crate::ids::{OrderId, TaskToken};
use crate::ports::{
    Clock, CreateShipmentOutcome, ReportOutcome, Shipment, ShipmentStatus, ShipmentStore,
    TaskReporter, whole_seconds,
};
use crate::step_io::{ShipMessage, Shipped};

/// What became of one queue message.
#[derive(Debug)]
pub enum ShipRecordOutcome {
    /// The shipment exists and the task was completed with this output.
    Shipped(Shipped),
    /// The task was failed with this business error; the message is done.
    FailureReported(StepError),
    /// The task took no report because its token is spent (it completed,
    /// failed or timed out already); the message is done. A shipment this
    /// message got as far as creating stays for the redrive to find.
    TokenSpent {
        /// The order the message names, when it parses.
        order_id: Option<OrderId>,
        /// Step Functions' answer.
        detail: String,
    },
    /// Nothing could be reported; the message must stay on the queue
    /// (`batchItemFailures`) so it is delivered again or dead-lettered.
    LeaveOnQueue(StepError),
}

impl ShipRecordOutcome {
    /// Whether the message must be redelivered.
    pub fn leaves_message_on_queue(&self) -> bool {
        matches!(self, ShipRecordOutcome::LeaveOnQueue(_))
    }
}

/// Creates the shipment for `message` if the order has none; returns the
/// shipment and whether this call created it.
pub async fn create_shipment(
    shipments: &impl ShipmentStore,
    clock: &impl Clock,
    message: &ShipMessage,
) -> Result<(Shipped, bool), StepError> {
    let shipment = Shipment {
        order_id: message.order_id.clone(),
        shipment_id: shipment_id_for(&message.order_id),
        tracking_number: tracking_number_for(&message.order_id),
        status: ShipmentStatus::Created,
        created_at: whole_seconds(clock.now()),
    };
    let (stored, created) = match shipments.create_shipment(&shipment).await? {
        CreateShipmentOutcome::Created(stored) => (stored, true),
        CreateShipmentOutcome::AlreadyExists(stored) => (stored, false),
    };
    Ok((
        Shipped {
            order_id: stored.order_id,
            shipment_id: stored.shipment_id,
            tracking_number: stored.tracking_number,
        },
        created,
    ))
}

/// Handles one shipping-queue message body end to end.
pub async fn process_ship_message(
    shipments: &impl ShipmentStore,
    reporter: &impl TaskReporter,
    clock: &impl Clock,
    body: &str,
) -> ShipRecordOutcome {
    // Without a task token nothing can be reported: the message goes back to
    // the queue and ends in the dead-letter queue, where an alarm fires.
    let raw: Value = match serde_json::from_str(body) {
        Ok(raw) => raw,
        Err(error) => {
            return ShipRecordOutcome::LeaveOnQueue(StepError::invalid_order(format!(
                "message body is not JSON: {error}"
            )));
        }
    };
    let token = match raw.get("taskToken").map(parse_task_token) {
        Some(Ok(token)) => token,
        Some(Err(error)) => return ShipRecordOutcome::LeaveOnQueue(StepError::from(error)),
        None => {
            return ShipRecordOutcome::LeaveOnQueue(StepError::invalid_order(
                "message body has no taskToken",
            ));
        }
    };

    // Read before the whole message, so a report to a spent token can name
    // the order even when the rest does not parse.
    let order_id = raw
        .get("orderId")
        .and_then(Value::as_str)
        .and_then(|text| text.parse::<OrderId>().ok());
    let message: ShipMessage = match serde_json::from_value(raw) {
        Ok(message) => message,
        Err(error) => {
            let error = StepError::invalid_order(error);
            return report_failure(reporter, &token, order_id, error).await;
        }
    };

    match create_shipment(shipments, clock, &message).await {
        Ok((shipped, created)) => report_success(reporter, &token, shipped, created).await,
        Err(error @ StepError::TransientError { .. }) => ShipRecordOutcome::LeaveOnQueue(error),
        Err(error) => report_failure(reporter, &token, order_id, error).await,
    }
}

async fn report_success(
    reporter: &impl TaskReporter,
    token: &TaskToken,
    shipped: Shipped,
    created: bool,
) -> ShipRecordOutcome {
    let output = match serde_json::to_value(&shipped) {
        Ok(output) => output,
        Err(error) => {
            return ShipRecordOutcome::LeaveOnQueue(StepError::transient(format!(
                "cannot serialise the ship output: {error}"
            )));
        }
    };
    match reporter.send_task_success(token, &output).await {
        Ok(ReportOutcome::Reported) => ShipRecordOutcome::Shipped(shipped),
        Ok(ReportOutcome::TokenSpent { detail }) => {
            // Created now: the task timed out before this delivery (a message
            // moved back from the dead-letter queue). Found: a duplicate
            // delivery, or an earlier delivery created it and then failed to
            // report until the task timed out.
            tracing::warn!(order_id = %shipped.order_id, shipment_created_now = created, %detail, "the task token is spent; the message is done and the shipment stays for a redrive");
            ShipRecordOutcome::TokenSpent {
                order_id: Some(shipped.order_id),
                detail,
            }
        }
        Err(error) => ShipRecordOutcome::LeaveOnQueue(StepError::from(error)),
    }
}

async fn report_failure(
    reporter: &impl TaskReporter,
    token: &TaskToken,
    order_id: Option<OrderId>,
    error: StepError,
) -> ShipRecordOutcome {
    let cause = error.message_with_sources();
    match reporter
        .send_task_failure(token, error.error_type(), &cause)
        .await
    {
        Ok(ReportOutcome::Reported) => ShipRecordOutcome::FailureReported(error),
        Ok(ReportOutcome::TokenSpent { detail }) => {
            let order = order_id.as_ref().map(OrderId::as_str);
            tracing::warn!(order_id = order, error_type = error.error_type(), %detail, "the task token is spent; the failure was not reported and the message is done");
            ShipRecordOutcome::TokenSpent { order_id, detail }
        }
        Err(report_error) => ShipRecordOutcome::LeaveOnQueue(StepError::from(report_error)),
    }
}

/// The task token of a message whose other fields may not parse.
fn parse_task_token(value: &Value) -> Result<TaskToken, crate::InvalidValue> {
    match value.as_str() {
        Some(text) => text.parse(),
        None => Err(crate::InvalidValue::new("taskToken", "must be a string")),
    }
}

/// The shipment id of an order: derived, so replays and races agree.
fn shipment_id_for(order_id: &OrderId) -> String {
    format!("shp_{order_id}")
}

/// A 12-digit tracking number derived from the order id (FNV-1a), so replays
/// and races agree without coordination.
fn tracking_number_for(order_id: &OrderId) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in order_id.as_str().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("TRK{:012}", hash % 1_000_000_000_000)
}

//! The step contract: the JSON each Lambda receives from and returns to the
//! state machine (ARCHITECTURE.md, "The step contract").
//!
//! Field names are camelCase and stable: the state machine definition and the
//! sample events in `events/` depend on them. Inputs deserialise straight into
//! domain newtypes, so an input that parses is valid; fields the contract does
//! not name are ignored, because the state machine passes whole states along.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{OrderId, PaymentMethod, TaskToken};
use crate::money::Money;
use crate::order::{OrderLines, ShippingAddress};
use crate::ports::{PaymentStatus, ReleaseOutcome, ReservationStatus};

/// Input of `reserve`: `{orderId, items:[{sku, quantity}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReserveInput {
    /// The order (and execution name).
    pub order_id: OrderId,
    /// What to reserve.
    pub items: OrderLines,
}

/// Output of `reserve`: `{orderId, status, lines, expiresAt}`.
///
/// `status` is `PENDING` for a fresh reservation. A replay returns the
/// order's existing reservation as it is now, so after a confirm it reads
/// `CONFIRMED`; a replay that finds it `EXPIRED` or `RELEASED` returns no
/// output but fails with `ReservationExpired`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reserved {
    /// The order.
    pub order_id: OrderId,
    /// The reservation's status.
    pub status: ReservationStatus,
    /// The units held.
    pub lines: OrderLines,
    /// When a PENDING reservation lapses (RFC 3339, whole seconds, UTC).
    pub expires_at: DateTime<Utc>,
}

/// Input of `charge`: `{orderId, total, paymentMethod}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeInput {
    /// The order; also the provider idempotency key.
    pub order_id: OrderId,
    /// The amount to charge, priced from the catalog by the api.
    pub total: Money,
    /// The customer's payment method.
    pub payment_method: PaymentMethod,
}

/// Output of `charge`: `{orderId, status:"CAPTURED", amount, providerReference}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Charged {
    /// The order.
    pub order_id: OrderId,
    /// Always `CAPTURED`: anything else is an error.
    pub status: PaymentStatus,
    /// The amount captured.
    pub amount: Money,
    /// The provider's charge id.
    pub provider_reference: String,
}

/// Input of `confirm`, `release` and `refund`: `{orderId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRef {
    /// The order.
    pub order_id: OrderId,
}

/// Output of `confirm`: `{orderId, status:"CONFIRMED"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Confirmed {
    /// The order.
    pub order_id: OrderId,
    /// Always `CONFIRMED`.
    pub status: ReservationStatus,
}

/// Output of `release`: `{orderId, outcome}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Released {
    /// The order.
    pub order_id: OrderId,
    /// `RELEASED`, `NOTHING_TO_RELEASE` or `ALREADY_RELEASED`.
    pub outcome: ReleaseOutcome,
}

/// What refunding did; the `outcome` of the refund step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundOutcome {
    /// The captured payment was refunded now.
    Refunded,
    /// There is no payment, or it was declined: nothing was taken.
    NothingToRefund,
    /// It was refunded before.
    AlreadyRefunded,
}

/// Output of `refund`: `{orderId, outcome}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refunded {
    /// The order.
    pub order_id: OrderId,
    /// `REFUNDED`, `NOTHING_TO_REFUND` or `ALREADY_REFUNDED`.
    pub outcome: RefundOutcome,
}

/// The body of one message on the shipping queue:
/// `{taskToken, orderId, items, shippingAddress}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipMessage {
    /// The token of the waiting ShipOrder task.
    pub task_token: TaskToken,
    /// The order to ship.
    pub order_id: OrderId,
    /// What to ship.
    pub items: OrderLines,
    /// Where to ship it.
    pub shipping_address: ShippingAddress,
}

/// What `ship` reports through SendTaskSuccess: `{orderId, shipmentId, trackingNumber}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shipped {
    /// The order.
    pub order_id: OrderId,
    /// The shipment's id.
    pub shipment_id: String,
    /// The carrier's tracking number.
    pub tracking_number: String,
}

/// Output of `reaper`: `{expired, batches}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReaperReport {
    /// Reservations moved from PENDING to EXPIRED by this run.
    pub expired: u64,
    /// Lookups of lapsed reservations this run made.
    pub batches: u64,
}

/// Output of `sweeper`: `{found, started, stalled, recovered}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Orders past the grace period listed as awaiting their start.
    pub found: u64,
    /// Of those, the orders whose execution this run started (the others
    /// were being started, or were started, by someone else).
    pub started: u64,
    /// Orders whose execution stopped before they were final and that are
    /// still waiting for a redrive (counted up to
    /// [`crate::steps::STALLED_COUNT_LIMIT`]): the `StalledOrders` metric.
    pub stalled: u64,
    /// Stalls this run recorded for stopped executions that no
    /// status-change event had recorded (normally 0).
    pub recovered: u64,
}

/// The `detail` of Step Functions' "Step Functions Execution Status Change"
/// event, the part `watcher` reads: `{executionArn, name, status, stopDate,
/// error, cause, redriveCount}` (`stopDate` in epoch milliseconds; the other
/// fields of the event are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionStatusChange {
    /// The execution.
    pub execution_arn: String,
    /// Its name: the order id.
    pub name: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`, ...
    pub status: String,
    /// When it stopped, in epoch milliseconds.
    #[serde(default)]
    pub stop_date: Option<i64>,
    /// The execution's error, once stopped.
    #[serde(default)]
    pub error: Option<String>,
    /// The execution's cause, once stopped.
    #[serde(default)]
    pub cause: Option<String>,
    /// How many times it was redriven.
    #[serde(default)]
    pub redrive_count: u32,
}

/// What `watcher` did with one status-change event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchOutcome {
    /// The order now carries the stall.
    Recorded,
    /// The order was already COMPLETED or REJECTED.
    AlreadyFinal,
    /// A later attempt's stop was already recorded.
    Superseded,
    /// The execution is not named after an order, or the order is unknown.
    UnknownOrder,
    /// Not a stop (RUNNING, SUCCEEDED, ...).
    Ignored,
}

/// Output of `watcher`: `{orderId?, status, outcome}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchReport {
    /// The order, when the execution is named after one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
    /// The event's status.
    pub status: String,
    /// What was done.
    pub outcome: WatchOutcome,
}

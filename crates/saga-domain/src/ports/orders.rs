//! The order service's port: the Orders table, written by the api function
//! (the PENDING order) and by the state machine (status, reason, timeline).
//!
//! An order is created at most once: its id is derived from the customer and
//! the client's idempotency key, and the put is conditional on the id being
//! new, so concurrent identical requests race on one key and exactly one
//! wins. The loser gets the stored order back and compares request hashes.
//!
//! The api never changes the status: after the put it only claims the start
//! (a lease, below) and records that the execution was started. Everything else after PENDING is the state
//! machine's (`infra/order-saga.asl.json`), which sets `status`, `reason`,
//! `updatedAt`, `shipmentId`, `trackingNumber` and appends to `timeline`.

use std::future::Future;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::error::PortError;
use crate::ids::{CustomerId, OrderId, PaymentMethod, Sku};
use crate::money::Money;
use crate::order::{Quantity, ShippingAddress};

/// Where an order is, as the api writes it (PENDING) and the state machine
/// moves it: RESERVED, PAID, SHIPPING, then COMPLETED; or REJECTED (with a
/// reason) from any step before SHIPPING. The state machine's `MarkShipping`
/// records the confirmed reservation and the hand-off to shipping in one
/// write (two timeline entries, status SHIPPING), so CONFIRMED is no longer
/// written; it stays readable on orders an earlier definition wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// Accepted by the api; the saga has not reserved stock yet.
    Pending,
    /// Stock is held.
    Reserved,
    /// The payment was captured.
    Paid,
    /// The reservation is confirmed (written only by definitions before
    /// `MarkShipping` took its write; still a timeline entry's status).
    Confirmed,
    /// Handed to shipping, waiting for the shipment.
    Shipping,
    /// Shipped: the saga finished.
    Completed,
    /// The saga gave up and compensated; `reason` says why.
    Rejected,
}

impl OrderStatus {
    /// Every status, in saga order.
    pub const ALL: [OrderStatus; 7] = [
        OrderStatus::Pending,
        OrderStatus::Reserved,
        OrderStatus::Paid,
        OrderStatus::Confirmed,
        OrderStatus::Shipping,
        OrderStatus::Completed,
        OrderStatus::Rejected,
    ];

    /// The stored and wire name, e.g. `PENDING`.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::Reserved => "RESERVED",
            OrderStatus::Paid => "PAID",
            OrderStatus::Confirmed => "CONFIRMED",
            OrderStatus::Shipping => "SHIPPING",
            OrderStatus::Completed => "COMPLETED",
            OrderStatus::Rejected => "REJECTED",
        }
    }

    /// The statuses the saga ends in. An order in any other status is in
    /// flight: it may still hold stock or money.
    pub const FINAL: [OrderStatus; 2] = [OrderStatus::Completed, OrderStatus::Rejected];

    /// Parses the stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }

    /// Whether the saga is done with the order (COMPLETED or REJECTED).
    pub fn is_final(self) -> bool {
        Self::FINAL.contains(&self)
    }
}

/// One order line with the unit price the catalog had when the order was
/// placed: `{"sku", "quantity", "unitPrice"}`, the item shape of the
/// execution input.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PricedLine {
    /// What is ordered.
    pub sku: Sku,
    /// How many units.
    pub quantity: Quantity,
    /// The catalog price of one unit.
    pub unit_price: Money,
}

/// One entry of the order's step timeline, exactly as written: the api
/// writes the first (`PlaceOrder`/`PENDING`), the state machine one per step
/// (`at` is its `$$.State.EnteredTime`, an ISO 8601 instant).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// The step, e.g. `ReserveInventory`.
    pub step: String,
    /// The order status the step produced, e.g. `RESERVED`.
    pub status: String,
    /// When, as an ISO 8601 instant.
    pub at: String,
}

/// The shipment the state machine recorded on a COMPLETED order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShipmentRef {
    /// The shipping service's shipment id.
    pub shipment_id: String,
    /// The carrier's tracking number.
    pub tracking_number: String,
}

/// How an order's execution stopped without finishing the order: FAILED,
/// TIMED_OUT or ABORTED, as Step Functions reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StoppedStatus {
    /// A state ran out of retries, or nothing caught its error.
    Failed,
    /// The execution ran past its `TimeoutSeconds`.
    TimedOut,
    /// Someone stopped it (StopExecution, the console's Stop button).
    Aborted,
}

impl StoppedStatus {
    /// Every stopped status.
    pub const ALL: [StoppedStatus; 3] = [
        StoppedStatus::Failed,
        StoppedStatus::TimedOut,
        StoppedStatus::Aborted,
    ];

    /// The Step Functions name, e.g. `TIMED_OUT`.
    pub fn as_str(self) -> &'static str {
        match self {
            StoppedStatus::Failed => "FAILED",
            StoppedStatus::TimedOut => "TIMED_OUT",
            StoppedStatus::Aborted => "ABORTED",
        }
    }

    /// Parses the Step Functions name; `None` for RUNNING, SUCCEEDED and
    /// anything else.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }
}

/// The order's execution stopped before the order reached a final status:
/// what the order service recorded from Step Functions' status-change event.
/// The order keeps it (and the operator's alarm stays up) until the order is
/// COMPLETED or REJECTED, which only a redrive can bring about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stall {
    /// The execution that stopped.
    pub execution_arn: String,
    /// How it stopped.
    pub status: StoppedStatus,
    /// The execution's error, e.g. `States.TaskFailed`.
    pub error: Option<String>,
    /// The execution's cause.
    pub cause: Option<String>,
    /// When it stopped.
    pub stopped_at: DateTime<Utc>,
    /// Its redrive count when it stopped: a stall of an earlier attempt never
    /// overwrites a later one's (events can arrive out of order).
    pub redrive_count: u32,
}

/// What [`OrderStore::record_stall`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StallOutcome {
    /// The order now carries the stall.
    Recorded,
    /// The order is already COMPLETED or REJECTED (a redrive finished it
    /// before the event arrived, or the execution failed after its last
    /// write): nothing is stuck, nothing was written.
    AlreadyFinal(OrderStatus),
    /// The order carries the stall of a later attempt (a higher redrive
    /// count); nothing was written.
    Superseded,
    /// No order has this id.
    NotFound,
}

/// An order to create: PENDING, with the execution input it will start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// Derived from (customer, idempotency key); also the execution name.
    pub order_id: OrderId,
    /// The owner, from the verified JWT.
    pub customer_id: CustomerId,
    /// The lines, priced from the catalog.
    pub lines: Vec<PricedLine>,
    /// The sum of the lines.
    pub total: Money,
    /// How the customer pays.
    pub payment_method: PaymentMethod,
    /// Where to ship.
    pub shipping_address: ShippingAddress,
    /// The client's `Idempotency-Key`.
    pub idempotency_key: String,
    /// A hash of the canonical request: a replay with another body differs.
    pub request_hash: String,
    /// The exact StartExecution input, kept so a replay starts the execution
    /// with byte-identical input (Step Functions is idempotent by name only
    /// for the same input).
    pub execution_input: String,
    /// When the order was placed (millisecond precision).
    pub created_at: DateTime<Utc>,
}

/// A stored order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRecord {
    /// The order id.
    pub order_id: OrderId,
    /// The owner.
    pub customer_id: CustomerId,
    /// Where the saga is.
    pub status: OrderStatus,
    /// Why it was rejected: the step error name the state machine caught.
    pub reason: Option<String>,
    /// The priced lines.
    pub lines: Vec<PricedLine>,
    /// The sum of the lines.
    pub total: Money,
    /// How the customer pays.
    pub payment_method: PaymentMethod,
    /// Where to ship.
    pub shipping_address: ShippingAddress,
    /// The client's `Idempotency-Key`.
    pub idempotency_key: String,
    /// The hash of the canonical request that created the order.
    pub request_hash: String,
    /// The StartExecution input.
    pub execution_input: String,
    /// When StartExecution was first confirmed; `None` while it has not been
    /// (the first request is in flight, or crashed before starting it).
    pub execution_started_at: Option<DateTime<Utc>>,
    /// The steps so far, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// When the order was placed.
    pub created_at: DateTime<Utc>,
    /// When the state machine last wrote the order, as it wrote it.
    pub updated_at: Option<String>,
    /// The shipment, once COMPLETED.
    pub shipment: Option<ShipmentRef>,
    /// Set while the order's execution has stopped without finishing it;
    /// cleared by the state machine's final write (COMPLETED or REJECTED).
    pub stall: Option<Stall>,
}

impl OrderRecord {
    /// The record a fresh [`NewOrder`] is stored as: PENDING, not started,
    /// with one `PlaceOrder` timeline entry at `created_at`.
    pub fn pending(order: &NewOrder) -> Self {
        Self {
            order_id: order.order_id.clone(),
            customer_id: order.customer_id.clone(),
            status: OrderStatus::Pending,
            reason: None,
            lines: order.lines.clone(),
            total: order.total,
            payment_method: order.payment_method.clone(),
            shipping_address: order.shipping_address.clone(),
            idempotency_key: order.idempotency_key.clone(),
            request_hash: order.request_hash.clone(),
            execution_input: order.execution_input.clone(),
            execution_started_at: None,
            timeline: vec![TimelineEntry {
                step: PLACE_ORDER_STEP.to_owned(),
                status: OrderStatus::Pending.as_str().to_owned(),
                at: order_timestamp(order.created_at),
            }],
            created_at: order.created_at,
            updated_at: None,
            shipment: None,
            stall: None,
        }
    }
}

/// The step name of the timeline entry the api writes.
pub const PLACE_ORDER_STEP: &str = "PlaceOrder";

/// `createdAt` as stored: RFC 3339 UTC with milliseconds, fixed width
/// (`2026-01-01T00:00:00.000Z`), so the `ByCustomer` index sorts by time.
pub fn order_timestamp(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What [`OrderStore::create_order`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOrderOutcome {
    /// The order was written PENDING.
    Created(OrderRecord),
    /// An order with this id exists (in any status); returned unchanged.
    AlreadyExists(OrderRecord),
}

/// A position in a customer's order list: the last order of a page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderPosition {
    /// The order's `createdAt`.
    pub created_at: DateTime<Utc>,
    /// The order's id (breaks ties between orders placed the same millisecond).
    pub order_id: OrderId,
}

/// One page of a customer's orders, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPage {
    /// The orders of this page.
    pub orders: Vec<OrderRecord>,
    /// Pass as `after` for the next page; `None` when no orders follow. May be
    /// `Some` when the page ends exactly at the last order (DynamoDB's
    /// `LastEvaluatedKey` does that); the next page is then empty.
    pub next_after: Option<OrderPosition>,
}

/// How long a claim on an order's start lasts: three times the api Lambda's
/// 10 s timeout (`template.yaml`), so a lease only expires when its holder
/// is gone, and as long as API Gateway waits for an answer.
pub const START_LEASE: TimeDelta = TimeDelta::seconds(30);

/// The right to call StartExecution for one order, until `until`.
///
/// `until` also identifies the holder: a new lease can only be claimed at or
/// after the old one's `until`, so it always ends strictly later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartLease {
    /// The order whose execution the holder starts.
    pub order_id: OrderId,
    /// When the lease expires (millisecond precision, as stored).
    pub until: DateTime<Utc>,
}

/// What [`OrderStore::claim_execution_start`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartClaim {
    /// The caller holds the lease: it calls StartExecution, then
    /// [`OrderStore::mark_execution_started`] (or, when the call failed,
    /// [`OrderStore::release_execution_start`]).
    Claimed(StartLease),
    /// Another request holds a live lease until `until`: it is starting the
    /// execution, the caller must not.
    HeldByAnother {
        /// When that lease expires and the start can be taken over.
        until: DateTime<Utc>,
    },
    /// The execution is recorded as started: nothing to do.
    AlreadyStarted,
}

/// The Orders table.
pub trait OrderStore: Send + Sync {
    /// Puts the order PENDING if no order has its id (`attribute_not_exists`);
    /// otherwise returns the stored one unchanged.
    fn create_order(
        &self,
        order: &NewOrder,
    ) -> impl Future<Output = Result<CreateOrderOutcome, PortError>> + Send;

    /// The order, strongly consistent; `None` when there is none.
    fn get_order(
        &self,
        order_id: &OrderId,
    ) -> impl Future<Output = Result<Option<OrderRecord>, PortError>> + Send;

    /// Claims the right to start the order's execution at `now` for `lease`,
    /// atomically: granted only while the execution is not recorded as
    /// started and no other lease is live (none, or its `until <= now`). Of
    /// concurrent claims exactly one wins. Never creates an order: an absent
    /// order is `PortError::Rejected`.
    fn claim_execution_start(
        &self,
        order_id: &OrderId,
        now: DateTime<Utc>,
        lease: TimeDelta,
    ) -> impl Future<Output = Result<StartClaim, PortError>> + Send;

    /// Gives `lease` back (its StartExecution failed) so the next request
    /// can claim the start at once. Does nothing when the lease is no longer
    /// the stored one (it expired and was taken over) or the order is gone.
    fn release_execution_start(
        &self,
        lease: &StartLease,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Records that the order's execution was started, keeping the first
    /// instant when called again; the order is no longer awaiting its start
    /// ([`OrderStore::orders_awaiting_start`]). Never creates an order: an absent order is
    /// `PortError::Rejected`.
    fn mark_execution_started(
        &self,
        order_id: &OrderId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Up to `limit` orders placed at or before `placed_by` whose execution
    /// start is not recorded, oldest first: what the sweep starts. An order
    /// is listed from its creation until [`OrderStore::mark_execution_started`]
    /// (the DynamoDB adapter keeps a sparse index of exactly those).
    ///
    /// May be eventually consistent (a GSI): an order started a moment ago
    /// may still be listed, which the caller's start claim then answers
    /// with [`StartClaim::AlreadyStarted`].
    fn orders_awaiting_start(
        &self,
        placed_by: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OrderId>, PortError>> + Send;

    /// Records that the order's execution stopped without finishing it,
    /// atomically and only while the order is not final (COMPLETED or
    /// REJECTED) and carries no stall of a later attempt (a higher
    /// `redrive_count`). The order is then listed by
    /// [`OrderStore::stalled_orders`] until its final status is written.
    fn record_stall(
        &self,
        order_id: &OrderId,
        stall: &Stall,
    ) -> impl Future<Output = Result<StallOutcome, PortError>> + Send;

    /// Up to `limit` orders carrying a stall, oldest placed first: what the
    /// operator has to resolve (the sweeper reports their count as a metric
    /// the failed-executions alarm watches). May be eventually consistent (a
    /// sparse GSI in the DynamoDB adapter).
    fn stalled_orders(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OrderId>, PortError>> + Send;

    /// Up to `limit` of `customer`'s orders placed before `after` (from the
    /// newest when `None`), newest first. May be eventually consistent (a GSI).
    fn customer_orders(
        &self,
        customer: &CustomerId,
        after: Option<&OrderPosition>,
        limit: usize,
    ) -> impl Future<Output = Result<OrderPage, PortError>> + Send;

    /// How many of `customer`'s orders are in flight (a status not in
    /// [`OrderStatus::FINAL`]), at most `limit`: the count goes from the
    /// newest order back and stops as soon as it reaches `limit`, so a
    /// customer at the cap costs a short read, not their whole history.
    ///
    /// May be eventually consistent (a GSI): an order placed or finished a
    /// moment ago may be missed or still counted. So a cap checked with it
    /// is best effort: concurrent requests each count the orders before
    /// theirs and may all pass. That is enough for what the cap is for,
    /// bounding what one runaway client can hold at a time; stock is never
    /// oversold either way, because reserve's conditional transactions
    /// enforce it.
    fn count_in_flight(
        &self,
        customer: &CustomerId,
        limit: usize,
    ) -> impl Future<Output = Result<usize, PortError>> + Send;
}

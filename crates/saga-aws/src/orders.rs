//! The Orders table (key `orderId`, GSI `ByCustomer` on `customerId` +
//! `createdAt`, sparse GSI `AwaitingStart` on `awaitingStart` + `createdAt`)
//! behind the domain's [`OrderStore`].
//!
//! The api writes the whole PENDING item once, conditional on
//! `attribute_not_exists(orderId)`; afterwards it only claims the start
//! lease (`startLeaseUntil`, set conditionally, removed on release) and sets
//! `executionStartedAt`, removing `awaitingStart` in the same update: only
//! orders whose start is not recorded carry it (`AWAITING#<0..7>`, a stable
//! shard of the order id), so `AwaitingStart` lists exactly what the sweep
//! has to start, oldest first per shard, without a scan. The state
//! machine's direct DynamoDB updates (`infra/order-saga.asl.json`) write `status`, `reason`, `updatedAt`,
//! `shipmentId`, `trackingNumber` and append `{step, status, at}` maps to
//! `timeline`; they are read back as written. A customer's orders in flight
//! are counted on `ByCustomer` (`Select=COUNT`, a filter on `status`),
//! newest first, until the count reaches its limit.
//!
//! The watcher records a stopped execution on an order in flight as `stall`
//! (a map: `executionArn, status, error?, cause?, stoppedAt, redriveCount`)
//! with `stallShard` (`STALLED#0`), conditional on the order not being final
//! and not carrying a later attempt's stall; the state machine's final
//! writes (`MarkCompleted`, `RejectOrder`) end with [`CLEAR_STALL`], so the
//! sparse GSI `Stalled` lists exactly the orders waiting for a redrive.
//!
//! Item attributes: `orderId, customerId, status, reason?, items (L of
//! M{sku, quantity N, unitPrice M{amountMinor N, currency}}), total
//! M{amountMinor N, currency}, paymentMethod, shippingAddress M, idempotencyKey,
//! requestHash, executionInput, awaitingStart?, startLeaseUntil?,
//! startLeaseHolder?, executionStartedAt?, timeline,
//! createdAt, updatedAt?, shipmentId?, trackingNumber?, stall?, stallShard?`. `createdAt`,
//! `startLeaseUntil` and `executionStartedAt` are RFC 3339 UTC with
//! milliseconds, fixed width, so condition expressions compare them as
//! strings in time order.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure, Select};
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use saga_domain::ports::{
    CreateOrderOutcome, NewOrder, OrderPage, OrderPosition, OrderRecord, OrderStatus, OrderStore,
    PricedLine, ShipmentRef, Stall, StallOutcome, StartClaim, StartLease, StoppedStatus,
    TimelineEntry, order_timestamp,
};
use saga_domain::{CustomerId, Money, OrderId, PortError, Quantity, ShippingAddress};
use serde::{Deserialize, Serialize};

use crate::item::{Item, ShardedIndex, get_by_order_id, s};
use crate::record::{Corrupt, from_item, instant, parse_item, parsed, to_item};
use crate::sdk_errors::port_error;
use crate::tables::{AWAITING_START_INDEX, BY_CUSTOMER_INDEX, STALLED_INDEX};

/// The placeholders of [`OrderStatus::FINAL`] in the in-flight filter and
/// the stall's condition.
const FINAL_VALUES: [&str; OrderStatus::FINAL.len()] = [":final0", ":final1"];

/// The longest page [`DynamoOrders::count_in_flight`] asks for.
const MAX_COUNT_PAGE: usize = 1_000;

/// The shards of `AwaitingStart`: the index's writes (one per order placed
/// and one per start) spread over this many partitions.
const AWAITING_START_SHARDS: u32 = 8;

/// The order's `awaitingStart` (stable, see [`order_shard`]).
fn awaiting_start_shard(order_id: &OrderId) -> String {
    AWAITING_START.shard_of(order_id)
}

/// `AwaitingStart`: orders not yet started by `createdAt`, in
/// [`AWAITING_START_SHARDS`] shards.
const AWAITING_START: ShardedIndex = ShardedIndex {
    name: AWAITING_START_INDEX,
    key_condition: "awaitingStart = :shard AND createdAt <= :bound",
    shard_prefix: "AWAITING#",
    shards: AWAITING_START_SHARDS,
};

/// `Stalled`: the orders carrying a stall, by `createdAt`. Stalls are rare
/// (each is an incident), so one shard holds them all.
const STALLED: ShardedIndex = ShardedIndex {
    name: STALLED_INDEX,
    key_condition: "stallShard = :shard AND createdAt <= :bound",
    shard_prefix: "STALLED#",
    shards: 1,
};

/// What the state machine's final writes (`MarkCompleted`, `RejectOrder` in
/// `infra/order-saga.asl.json`) end their `UpdateExpression` with: the order
/// is resolved, so it no longer carries a stall nor is listed in `Stalled`.
pub const CLEAR_STALL: &str = "REMOVE stall, stallShard";

/// A `createdAt` bound later than any order's.
const END_OF_TIME: &str = "9999-12-31T23:59:59.999Z";

/// The Orders table of one deployment.
#[derive(Debug, Clone)]
pub struct DynamoOrders {
    client: Client,
    table: String,
}

impl DynamoOrders {
    /// The store on `table` (from `ORDERS_TABLE`).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn read(
        &self,
        operation: &'static str,
        order_id: &OrderId,
    ) -> Result<Option<OrderRecord>, PortError> {
        get_by_order_id(&self.client, &self.table, operation, order_id)
            .await?
            .map(|item| parse_order(operation, &item))
            .transpose()
    }
}

/// An Orders item as stored (ARCHITECTURE.md, "Data"). The domain calls the
/// stored order `OrderRecord`; this is its shape in the table. The start
/// lease is not part of it: only condition and update expressions touch
/// `startLeaseUntil` (see [`StartRecord`]).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredOrder {
    order_id: String,
    customer_id: String,
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    items: Vec<LineRecord>,
    total: MoneyRecord,
    payment_method: String,
    /// The address's serde shape is its only constructor and validates every
    /// field, so the record holds the domain type itself; a refused field
    /// comes back as `shippingAddress` with the field in the problem.
    shipping_address: ShippingAddress,
    idempotency_key: String,
    request_hash: String,
    execution_input: String,
    /// The order's shard of `AwaitingStart` while its start is not
    /// recorded; absent once it is. Written, never read back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    awaiting_start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    execution_started_at: Option<String>,
    timeline: Vec<TimelineRecord>,
    created_at: String,
    /// As the state machine wrote it (`$$.State.EnteredTime`), unparsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shipment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tracking_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stall: Option<StallRecord>,
}

/// `stall`: the stopped execution the watcher recorded.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StallRecord {
    execution_arn: String,
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cause: Option<String>,
    stopped_at: String,
    redrive_count: u32,
}

impl From<&Stall> for StallRecord {
    fn from(stall: &Stall) -> Self {
        Self {
            execution_arn: stall.execution_arn.clone(),
            status: stall.status.as_str().to_owned(),
            error: stall.error.clone(),
            cause: stall.cause.clone(),
            stopped_at: order_timestamp(stall.stopped_at),
            redrive_count: stall.redrive_count,
        }
    }
}

impl TryFrom<StallRecord> for Stall {
    type Error = Corrupt;

    fn try_from(record: StallRecord) -> Result<Self, Corrupt> {
        Ok(Stall {
            execution_arn: record.execution_arn,
            status: StoppedStatus::parse(&record.status).ok_or_else(|| {
                Corrupt::new(
                    "stall.status",
                    format!("unknown stopped status {:?}", record.status),
                )
            })?,
            error: record.error,
            cause: record.cause,
            stopped_at: instant("stall.stoppedAt", &record.stopped_at)?,
            redrive_count: record.redrive_count,
        })
    }
}

/// What a refused [`DynamoOrders::record_stall`] is judged by.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StallCheck {
    status: String,
}

/// One element of `items`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineRecord {
    sku: String,
    quantity: u64,
    unit_price: MoneyRecord,
}

/// `total` and every `unitPrice`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MoneyRecord {
    amount_minor: i64,
    currency: String,
}

/// One element of `timeline`, as the api or the state machine appended it.
#[derive(Debug, Serialize, Deserialize)]
struct TimelineRecord {
    step: String,
    status: String,
    at: String,
}

impl From<Money> for MoneyRecord {
    fn from(money: Money) -> Self {
        Self {
            amount_minor: money.amount_minor(),
            currency: money.currency().as_str().to_owned(),
        }
    }
}

impl MoneyRecord {
    /// The amount stored under `attribute` (e.g. `total`).
    fn into_money(self, attribute: &str) -> Result<Money, Corrupt> {
        let currency = parsed(&format!("{attribute}.currency"), &self.currency)?;
        Money::new(self.amount_minor, currency)
            .map_err(|error| Corrupt::new(format!("{attribute}.amountMinor"), error))
    }
}

impl From<&OrderRecord> for StoredOrder {
    fn from(order: &OrderRecord) -> Self {
        let lines = order
            .lines
            .iter()
            .map(|line| LineRecord {
                sku: line.sku.as_str().to_owned(),
                quantity: line.quantity.get().into(),
                unit_price: line.unit_price.into(),
            })
            .collect();
        let timeline = order
            .timeline
            .iter()
            .map(|entry| TimelineRecord {
                step: entry.step.clone(),
                status: entry.status.clone(),
                at: entry.at.clone(),
            })
            .collect();
        let (shipment_id, tracking_number) = match &order.shipment {
            Some(shipment) => (
                Some(shipment.shipment_id.clone()),
                Some(shipment.tracking_number.clone()),
            ),
            None => (None, None),
        };
        Self {
            order_id: order.order_id.as_str().to_owned(),
            customer_id: order.customer_id.as_str().to_owned(),
            status: order.status.as_str().to_owned(),
            reason: order.reason.clone(),
            items: lines,
            total: order.total.into(),
            payment_method: order.payment_method.as_str().to_owned(),
            shipping_address: order.shipping_address.clone(),
            idempotency_key: order.idempotency_key.clone(),
            request_hash: order.request_hash.clone(),
            execution_input: order.execution_input.clone(),
            awaiting_start: order
                .execution_started_at
                .is_none()
                .then(|| awaiting_start_shard(&order.order_id)),
            execution_started_at: order.execution_started_at.map(order_timestamp),
            timeline,
            created_at: order_timestamp(order.created_at),
            updated_at: order.updated_at.clone(),
            shipment_id,
            tracking_number,
            stall: order.stall.as_ref().map(StallRecord::from),
        }
    }
}

impl TryFrom<StoredOrder> for OrderRecord {
    type Error = Corrupt;

    fn try_from(record: StoredOrder) -> Result<Self, Corrupt> {
        let status = OrderStatus::parse(&record.status).ok_or_else(|| {
            Corrupt::new(
                "status",
                format!("unknown order status {:?}", record.status),
            )
        })?;
        let lines = record
            .items
            .into_iter()
            .enumerate()
            .map(|(index, line)| {
                let attribute = format!("items[{index}]");
                let quantity = Quantity::try_from(line.quantity)
                    .map_err(|error| Corrupt::new(format!("{attribute}.quantity"), error))?;
                Ok(PricedLine {
                    sku: parsed(&format!("{attribute}.sku"), &line.sku)?,
                    quantity,
                    unit_price: line
                        .unit_price
                        .into_money(&format!("{attribute}.unitPrice"))?,
                })
            })
            .collect::<Result<Vec<_>, Corrupt>>()?;
        let timeline = record
            .timeline
            .into_iter()
            .map(|entry| TimelineEntry {
                step: entry.step,
                status: entry.status,
                at: entry.at,
            })
            .collect();
        // The state machine sets both in one update, so a shipment has both.
        let shipment = match (record.shipment_id, record.tracking_number) {
            (Some(shipment_id), Some(tracking_number)) => Some(ShipmentRef {
                shipment_id,
                tracking_number,
            }),
            _ => None,
        };
        Ok(OrderRecord {
            order_id: parsed("orderId", &record.order_id)?,
            customer_id: parsed("customerId", &record.customer_id)?,
            status,
            reason: record.reason,
            lines,
            total: record.total.into_money("total")?,
            payment_method: parsed("paymentMethod", &record.payment_method)?,
            shipping_address: record.shipping_address,
            idempotency_key: record.idempotency_key,
            request_hash: record.request_hash,
            execution_input: record.execution_input,
            execution_started_at: record
                .execution_started_at
                .map(|text| instant("executionStartedAt", &text))
                .transpose()?,
            timeline,
            created_at: instant("createdAt", &record.created_at)?,
            updated_at: record.updated_at,
            shipment,
            stall: record.stall.map(Stall::try_from).transpose()?,
        })
    }
}

fn parse_order(operation: &'static str, item: &Item) -> Result<OrderRecord, PortError> {
    parse_item::<StoredOrder, _>(operation, item)
}

/// The two attributes a refused start claim is judged by; the rest of the
/// item does not matter to it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartRecord {
    #[serde(default)]
    execution_started_at: Option<String>,
    #[serde(default)]
    start_lease_until: Option<String>,
}

/// Whether `item` shows the start lease held by `holder` and the start not
/// yet recorded: a resent claim whose first attempt succeeded unseen.
fn holds_lease(item: &Item, holder: &str) -> bool {
    let held = item
        .get("startLeaseHolder")
        .and_then(|value| value.as_s().ok())
        .is_some_and(|found| found == holder);
    held && !item.contains_key("executionStartedAt")
}

/// Why a start claim was refused, from the item as it was: `None` when the
/// order does not exist.
fn refused_claim(
    operation: &'static str,
    item: Option<&Item>,
) -> Result<Option<StartClaim>, PortError> {
    let Some(item) = item else {
        return Ok(None);
    };
    let record: StartRecord = from_item(operation, item)?;
    if record.execution_started_at.is_some() {
        return Ok(Some(StartClaim::AlreadyStarted));
    }
    match record.start_lease_until {
        Some(until) => Ok(Some(StartClaim::HeldByAnother {
            until: instant("startLeaseUntil", &until)
                .map_err(|corrupt| corrupt.into_port_error(operation))?,
        })),
        // The lease was released between the claim and this read.
        None => Err(PortError::unavailable(
            operation,
            "the start lease changed during the claim; retry",
        )),
    }
}

/// A position in the `ByCustomer` index: the table's and the index's keys,
/// as `ExclusiveStartKey` takes them and `LastEvaluatedKey` returns them.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CustomerPageKey {
    order_id: String,
    customer_id: String,
    created_at: String,
}

impl CustomerPageKey {
    fn new(customer: &CustomerId, position: &OrderPosition) -> Self {
        Self {
            order_id: position.order_id.as_str().to_owned(),
            customer_id: customer.as_str().to_owned(),
            created_at: order_timestamp(position.created_at),
        }
    }
}

impl TryFrom<CustomerPageKey> for OrderPosition {
    type Error = Corrupt;

    fn try_from(key: CustomerPageKey) -> Result<Self, Corrupt> {
        Ok(OrderPosition {
            created_at: instant("createdAt", &key.created_at)?,
            order_id: parsed("orderId", &key.order_id)?,
        })
    }
}

/// An `AwaitingStart` or `Stalled` entry (keys only): the order and when it
/// was placed.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AwaitingRecord {
    order_id: String,
    created_at: String,
}

impl TryFrom<AwaitingRecord> for OrderPosition {
    type Error = Corrupt;

    fn try_from(record: AwaitingRecord) -> Result<Self, Corrupt> {
        Ok(OrderPosition {
            created_at: instant("createdAt", &record.created_at)?,
            order_id: parsed("orderId", &record.order_id)?,
        })
    }
}

/// The first `limit` orders of `positions` (the entries of several shards),
/// oldest placed first, ties by order id.
fn oldest_first(mut positions: Vec<OrderPosition>, limit: usize) -> Vec<OrderId> {
    positions.sort_by(|left, right| {
        left.created_at
            .cmp(&right.created_at)
            .then_with(|| left.order_id.as_str().cmp(right.order_id.as_str()))
    });
    positions
        .into_iter()
        .take(limit)
        .map(|position| position.order_id)
        .collect()
}

impl OrderStore for DynamoOrders {
    async fn create_order(&self, order: &NewOrder) -> Result<CreateOrderOutcome, PortError> {
        const OPERATION: &str = "create_order";
        let pending = OrderRecord::pending(order);
        let item = to_item(OPERATION, &StoredOrder::from(&pending))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(orderId)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(CreateOrderOutcome::Created(pending)),
            Err(error) => match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    let existing = match &failed.item {
                        Some(item) => Some(parse_order(OPERATION, item)?),
                        None => self.read(OPERATION, &order.order_id).await?,
                    };
                    existing
                        .map(CreateOrderOutcome::AlreadyExists)
                        .ok_or_else(|| {
                            PortError::unavailable(OPERATION, "the order existed and is gone now")
                        })
                }
                _ => Err(port_error(OPERATION, error)),
            },
        }
    }

    async fn get_order(&self, order_id: &OrderId) -> Result<Option<OrderRecord>, PortError> {
        self.read("get_order", order_id).await
    }

    async fn claim_execution_start(
        &self,
        order_id: &OrderId,
        now: DateTime<Utc>,
        lease: TimeDelta,
    ) -> Result<StartClaim, PortError> {
        const OPERATION: &str = "claim_execution_start";
        let now = now.trunc_subsecs(3);
        let until = now + lease;
        // Who claims: the SDK resends this same request when an attempt
        // times out, and the resend must recognise a claim its lost first
        // attempt made (else the order is never started by anyone until the
        // lease runs out and a replay comes); concurrent requests differ.
        let holder = uuid::Uuid::new_v4().to_string();
        let claimed = StartClaim::Claimed(StartLease {
            order_id: order_id.clone(),
            until,
        });
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("orderId", s(order_id.as_str()))
            .update_expression("SET startLeaseUntil = :until, startLeaseHolder = :holder")
            .condition_expression(
                "attribute_exists(orderId) AND attribute_not_exists(executionStartedAt) \
                 AND (attribute_not_exists(startLeaseUntil) OR startLeaseUntil <= :now)",
            )
            .expression_attribute_values(":until", s(order_timestamp(until)))
            .expression_attribute_values(":now", s(order_timestamp(now)))
            .expression_attribute_values(":holder", s(holder.as_str()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let refused = match result {
            Ok(_) => return Ok(claimed),
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    match &failed.item {
                        Some(item) if holds_lease(item, &holder) => return Ok(claimed),
                        Some(item) => refused_claim(OPERATION, Some(item))?,
                        None => {
                            let output = self
                                .client
                                .get_item()
                                .table_name(&self.table)
                                .key("orderId", s(order_id.as_str()))
                                .consistent_read(true)
                                .send()
                                .await
                                .map_err(|error| port_error(OPERATION, error))?;
                            if output
                                .item
                                .as_ref()
                                .is_some_and(|item| holds_lease(item, &holder))
                            {
                                return Ok(claimed);
                            }
                            refused_claim(OPERATION, output.item.as_ref())?
                        }
                    }
                }
                _ => return Err(port_error(OPERATION, error)),
            },
        };
        refused.ok_or_else(|| {
            PortError::rejected(OPERATION, format!("order {order_id} does not exist"))
        })
    }

    async fn release_execution_start(&self, lease: &StartLease) -> Result<(), PortError> {
        const OPERATION: &str = "release_execution_start";
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("orderId", s(lease.order_id.as_str()))
            .update_expression("REMOVE startLeaseUntil, startLeaseHolder")
            .condition_expression("startLeaseUntil = :until")
            .expression_attribute_values(":until", s(order_timestamp(lease.until)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => match error.as_service_error() {
                // Taken over, already released, or no such order: not ours.
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(()),
                _ => Err(port_error(OPERATION, error)),
            },
        }
    }

    async fn mark_execution_started(
        &self,
        order_id: &OrderId,
        at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        const OPERATION: &str = "mark_execution_started";
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("orderId", s(order_id.as_str()))
            .update_expression(
                "SET executionStartedAt = if_not_exists(executionStartedAt, :at) \
                 REMOVE awaitingStart",
            )
            .condition_expression("attribute_exists(orderId)")
            .expression_attribute_values(":at", s(order_timestamp(at)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Err(
                    PortError::rejected(OPERATION, format!("order {order_id} does not exist")),
                ),
                _ => Err(port_error(OPERATION, error)),
            },
        }
    }

    async fn orders_awaiting_start(
        &self,
        placed_by: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OrderId>, PortError> {
        const OPERATION: &str = "orders_awaiting_start";
        if limit == 0 {
            return Ok(Vec::new());
        }
        let waiting = AWAITING_START
            .oldest_of_each_shard(
                &self.client,
                &self.table,
                s(order_timestamp(placed_by.trunc_subsecs(3))),
                limit,
                OPERATION,
            )
            .await?
            .iter()
            .map(|item| parse_item::<AwaitingRecord, OrderPosition>(OPERATION, item))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(oldest_first(waiting, limit))
    }

    async fn record_stall(
        &self,
        order_id: &OrderId,
        stall: &Stall,
    ) -> Result<StallOutcome, PortError> {
        const OPERATION: &str = "record_stall";
        let record = to_item(OPERATION, &StallRecord::from(stall))?;
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("orderId", s(order_id.as_str()))
            .update_expression("SET stall = :stall, stallShard = :shard")
            .condition_expression(format!(
                "attribute_exists(orderId) AND NOT (#status IN ({})) \
                 AND (attribute_not_exists(stall) OR stall.redriveCount <= :redriveCount)",
                FINAL_VALUES.join(", ")
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":stall", AttributeValue::M(record))
            .expression_attribute_values(":shard", s(STALLED.shard_of(order_id)))
            .expression_attribute_values(
                ":redriveCount",
                AttributeValue::N(stall.redrive_count.to_string()),
            )
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (value, status) in FINAL_VALUES.iter().zip(OrderStatus::FINAL) {
            update = update.expression_attribute_values(*value, s(status.as_str()));
        }
        let result = update.send().await;
        match result {
            Ok(_) => Ok(StallOutcome::Recorded),
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    let Some(item) = &failed.item else {
                        return Ok(StallOutcome::NotFound);
                    };
                    let check: StallCheck = from_item(OPERATION, item)?;
                    match OrderStatus::parse(&check.status) {
                        Some(status) if status.is_final() => Ok(StallOutcome::AlreadyFinal(status)),
                        _ => Ok(StallOutcome::Superseded),
                    }
                }
                _ => Err(port_error(OPERATION, error)),
            },
        }
    }

    async fn stalled_orders(&self, limit: usize) -> Result<Vec<OrderId>, PortError> {
        const OPERATION: &str = "stalled_orders";
        if limit == 0 {
            return Ok(Vec::new());
        }
        let stalled = STALLED
            .oldest_of_each_shard(&self.client, &self.table, s(END_OF_TIME), limit, OPERATION)
            .await?
            .iter()
            .map(|item| parse_item::<AwaitingRecord, OrderPosition>(OPERATION, item))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(oldest_first(stalled, limit))
    }

    async fn customer_orders(
        &self,
        customer: &CustomerId,
        after: Option<&OrderPosition>,
        limit: usize,
    ) -> Result<OrderPage, PortError> {
        const OPERATION: &str = "customer_orders";
        if limit == 0 {
            return Ok(OrderPage {
                orders: Vec::new(),
                next_after: after.cloned(),
            });
        }
        let start_key = after
            .map(|position| to_item(OPERATION, &CustomerPageKey::new(customer, position)))
            .transpose()?;
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_CUSTOMER_INDEX)
            .key_condition_expression("customerId = :customer")
            .expression_attribute_values(":customer", s(customer.as_str()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start_key)
            .send()
            .await
            .map_err(|error| port_error(OPERATION, error))?;
        let orders = output
            .items()
            .iter()
            .map(|item| parse_order(OPERATION, item))
            .collect::<Result<Vec<_>, PortError>>()?;
        let next_after = output
            .last_evaluated_key()
            .map(|key| parse_item::<CustomerPageKey, _>(OPERATION, key))
            .transpose()?;
        Ok(OrderPage { orders, next_after })
    }

    async fn count_in_flight(
        &self,
        customer: &CustomerId,
        limit: usize,
    ) -> Result<usize, PortError> {
        const OPERATION: &str = "count_in_flight";
        // The filter runs after the read: every order a page evaluates is
        // paid for. The first page is `limit` orders long, so a customer
        // whose newest orders are all in flight (a client at the cap) costs
        // one short read; each further page doubles.
        let mut counted = 0;
        let mut page_size = limit;
        let mut start_key = None;
        while counted < limit {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_CUSTOMER_INDEX)
                .key_condition_expression("customerId = :customer")
                .filter_expression(format!("NOT (#status IN ({}))", FINAL_VALUES.join(", ")))
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":customer", s(customer.as_str()))
                .select(Select::Count)
                .scan_index_forward(false)
                .limit(i32::try_from(page_size).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start_key);
            for (value, status) in FINAL_VALUES.iter().zip(OrderStatus::FINAL) {
                query = query.expression_attribute_values(*value, s(status.as_str()));
            }
            let output = query
                .send()
                .await
                .map_err(|error| port_error(OPERATION, error))?;
            counted += usize::try_from(output.count()).unwrap_or_default();
            match output.last_evaluated_key() {
                Some(key) => start_key = Some(key.clone()),
                None => break,
            }
            page_size = page_size.saturating_mul(2).min(MAX_COUNT_PAGE);
        }
        Ok(counted.min(limit))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;
    use saga_domain::contract::orders::new_order;

    use super::*;
    use crate::item::{n, s};

    fn map<const N: usize>(entries: [(&str, AttributeValue); N]) -> AttributeValue {
        AttributeValue::M(
            entries
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
        )
    }

    fn euros(amount_minor: &str) -> AttributeValue {
        map([("amountMinor", n(amount_minor)), ("currency", s("EUR"))])
    }

    fn step(step: &str, status: &str, at: &str) -> AttributeValue {
        map([("step", s(step)), ("status", s(status)), ("at", s(at))])
    }

    /// The item of `new_order("ord-1", "customer-a", 0)` as the api wrote it
    /// before the records: the table's format, spelled out.
    fn pending_item() -> Item {
        let AttributeValue::M(item) = map([
            ("orderId", s("ord-1")),
            ("customerId", s("customer-a")),
            ("status", s("PENDING")),
            (
                "items",
                AttributeValue::L(vec![
                    map([
                        ("sku", s("SKU-TEE-M")),
                        ("quantity", n("2")),
                        ("unitPrice", euros("1500")),
                    ]),
                    map([
                        ("sku", s("SKU-MUG")),
                        ("quantity", n("1")),
                        ("unitPrice", euros("900")),
                    ]),
                ]),
            ),
            ("total", euros("3900")),
            ("paymentMethod", s("pm_card_visa")),
            (
                "shippingAddress",
                map([
                    ("name", s("Ada Lovelace")),
                    ("line1", s("Main St 1")),
                    ("line2", s("Hinterhaus")),
                    ("city", s("Berlin")),
                    ("region", s("BE")),
                    ("postalCode", s("10115")),
                    ("country", s("DE")),
                ]),
            ),
            ("idempotencyKey", s("key-ord-1")),
            ("requestHash", s("hash-ord-1")),
            ("executionInput", s(r#"{"orderId":"ord-1"}"#)),
            (
                "awaitingStart",
                s(awaiting_start_shard(&"ord-1".parse().unwrap())),
            ),
            (
                "timeline",
                AttributeValue::L(vec![step(
                    "PlaceOrder",
                    "PENDING",
                    "2026-01-01T00:00:00.000Z",
                )]),
            ),
            ("createdAt", s("2026-01-01T00:00:00.000Z")),
        ]) else {
            unreachable!("map() builds a map")
        };
        item
    }

    /// The same order after the whole saga: started, leased, and updated by
    /// the state machine's own expressions.
    fn completed_item() -> Item {
        let mut item = pending_item();
        let AttributeValue::L(timeline) = item.get_mut("timeline").unwrap() else {
            unreachable!("a list")
        };
        timeline.push(step("ShipOrder", "COMPLETED", "2026-01-01T00:00:09.123Z"));
        // Recording the start removed it.
        item.remove("awaitingStart");
        for (name, value) in [
            ("status", s("COMPLETED")),
            ("executionStartedAt", s("2026-01-01T00:00:00.250Z")),
            ("startLeaseUntil", s("2026-01-01T00:00:30.000Z")),
            ("updatedAt", s("2026-01-01T00:00:09.123Z")),
            ("shipmentId", s("shp-1")),
            ("trackingNumber", s("TRK-1")),
        ] {
            item.insert(name.to_owned(), value);
        }
        item
    }

    #[test]
    fn a_pending_order_is_written_in_the_table_format() {
        let pending = OrderRecord::pending(&new_order("ord-1", "customer-a", 0));
        let written = to_item("test", &StoredOrder::from(&pending)).unwrap();
        assert_eq!(written, pending_item());
        assert_eq!(parse_order("test", &written).unwrap(), pending);
    }

    #[test]
    fn a_completed_order_reads_back_and_round_trips() {
        let order = parse_order("test", &completed_item()).unwrap();
        assert_eq!(order.status, OrderStatus::Completed);
        assert_eq!(order.lines[0].quantity.get(), 2);
        assert_eq!(order.total.amount_minor(), 3900);
        assert_eq!(order.shipping_address.region(), Some("BE"));
        assert_eq!(order.timeline.len(), 2);
        assert_eq!(
            order.updated_at.as_deref(),
            Some("2026-01-01T00:00:09.123Z")
        );
        assert_eq!(
            order.shipment.as_ref().map(|s| s.tracking_number.as_str()),
            Some("TRK-1")
        );
        assert_eq!(
            order.execution_started_at.map(order_timestamp).as_deref(),
            Some("2026-01-01T00:00:00.250Z")
        );
        let written = to_item("test", &StoredOrder::from(&order)).unwrap();
        assert_eq!(parse_order("test", &written).unwrap(), order);
        let mut without_lease = completed_item();
        without_lease.remove("startLeaseUntil");
        without_lease.remove("startLeaseHolder");
        assert_eq!(
            written, without_lease,
            "the lease is the expressions' alone"
        );
    }

    #[test]
    fn absent_and_null_optional_attributes_read_as_none() {
        let mut item = pending_item();
        item.insert("reason".to_owned(), AttributeValue::Null(true));
        item.insert("shipmentId".to_owned(), s("shp-1"));
        let AttributeValue::M(address) = item.get_mut("shippingAddress").unwrap() else {
            unreachable!("a map")
        };
        address.remove("line2");
        let order = parse_order("test", &item).unwrap();
        assert_eq!(order.reason, None);
        assert_eq!(order.shipment, None, "a shipment needs both attributes");
        assert_eq!(order.shipping_address.line2(), None);
    }

    /// Replaces the value at `path` (`.`-separated, `[i]` for list elements)
    /// with `value`, or removes it when `value` is `None`.
    fn edit(item: &mut Item, path: &str, value: Option<AttributeValue>) {
        let (parent, last) = match path.rsplit_once('.') {
            Some((parent, last)) => (Some(parent), last),
            None => (None, path),
        };
        let mut target = item;
        for segment in parent.into_iter().flat_map(|parent| parent.split('.')) {
            let (name, index) = match segment.split_once('[') {
                Some((name, index)) => (
                    name,
                    Some(index.trim_end_matches(']').parse::<usize>().unwrap()),
                ),
                None => (segment, None),
            };
            let mut value = target.get_mut(name).unwrap();
            if let Some(index) = index {
                let AttributeValue::L(list) = value else {
                    unreachable!("{name} is a list")
                };
                value = &mut list[index];
            }
            let AttributeValue::M(map) = value else {
                unreachable!("{segment} is a map")
            };
            target = map;
        }
        match value {
            Some(value) => target.insert(last.to_owned(), value),
            None => target.remove(last),
        };
    }

    #[test]
    fn a_corrupt_order_is_rejected_naming_the_attribute() {
        // (the attribute to spoil, its new value or None to remove it, what
        // the error must say: a missing attribute is named with the path of
        // the map it is missing from)
        let cases = [
            ("status", Some(s("MAYBE")), "status"),
            ("orderId", Some(n("7")), "orderId"),
            ("customerId", Some(s("not a customer")), "customerId"),
            ("paymentMethod", Some(s("")), "paymentMethod"),
            ("requestHash", None, "`(item)`: missing field `requestHash`"),
            ("reason", Some(n("1")), "reason"),
            ("createdAt", Some(s("yesterday")), "createdAt"),
            ("executionStartedAt", Some(s("soon")), "executionStartedAt"),
            ("items", Some(s("two tees")), "items"),
            ("items[1].quantity", Some(n("0")), "items[1].quantity"),
            ("items[1].quantity", Some(n("1.5")), "items[1].quantity"),
            ("items[0].sku", Some(s("SKU#TEE")), "items[0].sku"),
            (
                "items[0].unitPrice",
                None,
                "`items[0]`: missing field `unitPrice`",
            ),
            (
                "items[0].unitPrice.currency",
                Some(s("euro")),
                "items[0].unitPrice.currency",
            ),
            ("total.amountMinor", Some(n("-1")), "total.amountMinor"),
            ("total", Some(s("39 EUR")), "total"),
            (
                "shippingAddress.country",
                Some(s("Germany")),
                "shippingAddress.country",
            ),
            (
                "shippingAddress.city",
                None,
                "`shippingAddress`: missing field `city`",
            ),
            ("timeline[0].at", None, "`timeline[0]`: missing field `at`"),
            ("timeline[0].step", Some(n("1")), "timeline[0].step"),
        ];
        for (path, value, attribute) in cases {
            let mut item = completed_item();
            edit(&mut item, path, value);
            let error = parse_order("test", &item).unwrap_err().to_string();
            assert!(error.contains(attribute), "{path}: {error}");
        }
    }

    #[test]
    fn a_resent_claim_recognises_the_lease_its_lost_first_attempt_took() {
        let mut leased = pending_item();
        leased.insert("startLeaseUntil".to_owned(), s("2026-01-01T00:00:30.000Z"));
        leased.insert("startLeaseHolder".to_owned(), s("holder-1"));
        assert!(holds_lease(&leased, "holder-1"));
        assert!(!holds_lease(&leased, "holder-2"), "another request's lease");
        leased.insert(
            "executionStartedAt".to_owned(),
            s("2026-01-01T00:00:01.000Z"),
        );
        assert!(!holds_lease(&leased, "holder-1"), "already started");
    }

    #[test]
    fn a_refused_claim_is_judged_by_the_start_and_the_lease() {
        let until = "2026-01-01T00:00:30.000Z";
        let started = completed_item();
        let mut leased = pending_item();
        leased.insert("startLeaseUntil".to_owned(), s(until));
        assert_eq!(
            refused_claim("test", Some(&started)).unwrap(),
            Some(StartClaim::AlreadyStarted)
        );
        assert_eq!(
            refused_claim("test", Some(&leased)).unwrap(),
            Some(StartClaim::HeldByAnother {
                until: instant("until", until).unwrap()
            })
        );
        assert_eq!(refused_claim("test", None).unwrap(), None);
        assert!(matches!(
            refused_claim("test", Some(&pending_item())),
            Err(PortError::Unavailable { .. })
        ));
        leased.insert("startLeaseUntil".to_owned(), s("later"));
        let error = refused_claim("test", Some(&leased))
            .unwrap_err()
            .to_string();
        assert!(error.contains("startLeaseUntil"), "{error}");
    }

    #[test]
    fn a_page_key_holds_the_table_and_index_keys_and_reads_back() {
        let position = OrderPosition {
            created_at: instant("createdAt", "2026-01-01T00:00:00.042Z").unwrap(),
            order_id: "ord-1".parse().unwrap(),
        };
        let customer: CustomerId = "customer-a".parse().unwrap();
        let key = to_item("test", &CustomerPageKey::new(&customer, &position)).unwrap();
        assert_eq!(
            key,
            Item::from([
                ("orderId".to_owned(), s("ord-1")),
                ("customerId".to_owned(), s("customer-a")),
                ("createdAt".to_owned(), s("2026-01-01T00:00:00.042Z")),
            ])
        );
        assert_eq!(
            parse_item::<CustomerPageKey, OrderPosition>("test", &key).unwrap(),
            position
        );
        let mut corrupt = key;
        corrupt.insert("createdAt".to_owned(), s("noon"));
        let error = parse_item::<CustomerPageKey, OrderPosition>("test", &corrupt)
            .unwrap_err()
            .to_string();
        assert!(error.contains("createdAt"), "{error}");
    }
}

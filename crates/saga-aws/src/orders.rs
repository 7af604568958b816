//! The Orders table (key `orderId`, GSI `ByCustomer` on `customerId` +
//! `createdAt`) behind the domain's [`OrderStore`].
//!
//! The api writes the whole PENDING item once, conditional on
//! `attribute_not_exists(orderId)`; afterwards it only claims the start
//! lease (`startLeaseUntil`, set conditionally, removed on release) and sets
//! `executionStartedAt`. The state machine's direct DynamoDB updates
//! (`infra/order-saga.asl.json`) write `status`, `reason`, `updatedAt`,
//! `shipmentId`, `trackingNumber` and append `{step, status, at}` maps to
//! `timeline`; they are read back as written.
//!
//! Item attributes: `orderId, customerId, status, reason?, items (L of
//! M{sku, quantity N, unitPrice M{amountMinor N, currency}}), total
//! M{amountMinor N, currency}, paymentMethod, shippingAddress M, idempotencyKey,
//! requestHash, executionInput, startLeaseUntil?, executionStartedAt?, timeline,
//! createdAt, updatedAt?, shipmentId?, trackingNumber?`. `createdAt`,
//! `startLeaseUntil` and `executionStartedAt` are RFC 3339 UTC with
//! milliseconds, fixed width, so condition expressions compare them as
//! strings in time order.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use saga_domain::ports::{
    CreateOrderOutcome, NewOrder, OrderPage, OrderPosition, OrderRecord, OrderStatus, OrderStore,
    PricedLine, ShipmentRef, StartClaim, StartLease, TimelineEntry, order_timestamp,
};
use saga_domain::{CustomerId, Money, OrderId, PortError, ShippingAddress};

use crate::item::{Item, ItemReader, get_by_order_id, n, s};
use crate::sdk_errors::port_error;
use crate::tables::BY_CUSTOMER_INDEX;

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

/// Why a start claim was refused, from the item as it was: `None` when the
/// order does not exist.
fn refused_claim(
    operation: &'static str,
    item: Option<&Item>,
) -> Result<Option<StartClaim>, PortError> {
    let Some(item) = item else {
        return Ok(None);
    };
    let reader = ItemReader::new(operation, item);
    if reader.optional_string("executionStartedAt")?.is_some() {
        return Ok(Some(StartClaim::AlreadyStarted));
    }
    match reader.optional_string("startLeaseUntil")? {
        Some(until) => Ok(Some(StartClaim::HeldByAnother {
            until: parse_instant(operation, until)?,
        })),
        // The lease was released between the claim and this read.
        None => Err(PortError::unavailable(
            operation,
            "the start lease changed during the claim; retry",
        )),
    }
}

fn money(amount: Money) -> AttributeValue {
    AttributeValue::M(Item::from([
        ("amountMinor".to_owned(), n(amount.amount_minor())),
        ("currency".to_owned(), s(amount.currency().as_str())),
    ]))
}

fn address(address: &ShippingAddress) -> AttributeValue {
    let mut map = Item::from([
        ("name".to_owned(), s(address.name())),
        ("line1".to_owned(), s(address.line1())),
        ("city".to_owned(), s(address.city())),
        ("postalCode".to_owned(), s(address.postal_code())),
        ("country".to_owned(), s(address.country())),
    ]);
    if let Some(line2) = address.line2() {
        map.insert("line2".to_owned(), s(line2));
    }
    if let Some(region) = address.region() {
        map.insert("region".to_owned(), s(region));
    }
    AttributeValue::M(map)
}

fn order_item(order: &NewOrder) -> Item {
    let pending = OrderRecord::pending(order);
    let lines = order
        .lines
        .iter()
        .map(|line| {
            AttributeValue::M(Item::from([
                ("sku".to_owned(), s(line.sku.as_str())),
                ("quantity".to_owned(), n(line.quantity.get())),
                ("unitPrice".to_owned(), money(line.unit_price)),
            ]))
        })
        .collect();
    let timeline = pending
        .timeline
        .iter()
        .map(|entry| {
            AttributeValue::M(Item::from([
                ("step".to_owned(), s(entry.step.as_str())),
                ("status".to_owned(), s(entry.status.as_str())),
                ("at".to_owned(), s(entry.at.as_str())),
            ]))
        })
        .collect();
    Item::from([
        ("orderId".to_owned(), s(order.order_id.as_str())),
        ("customerId".to_owned(), s(order.customer_id.as_str())),
        ("status".to_owned(), s(pending.status.as_str())),
        ("items".to_owned(), AttributeValue::L(lines)),
        ("total".to_owned(), money(order.total)),
        ("paymentMethod".to_owned(), s(order.payment_method.as_str())),
        (
            "shippingAddress".to_owned(),
            address(&order.shipping_address),
        ),
        (
            "idempotencyKey".to_owned(),
            s(order.idempotency_key.as_str()),
        ),
        ("requestHash".to_owned(), s(order.request_hash.as_str())),
        (
            "executionInput".to_owned(),
            s(order.execution_input.as_str()),
        ),
        ("timeline".to_owned(), AttributeValue::L(timeline)),
        ("createdAt".to_owned(), s(order_timestamp(order.created_at))),
    ])
}

fn nested<'a>(reader: &ItemReader<'a>, attribute: &str) -> Result<&'a Item, PortError> {
    match reader.item.get(attribute) {
        Some(AttributeValue::M(map)) => Ok(map),
        _ => Err(PortError::rejected(
            reader.operation,
            format!("stored order has no map attribute `{attribute}`"),
        )),
    }
}

fn parse_money(operation: &'static str, map: &Item) -> Result<Money, PortError> {
    let reader = ItemReader::new(operation, map);
    Money::new(reader.number("amountMinor")?, reader.parsed("currency")?)
        .map_err(|error| PortError::rejected(operation, format!("stored money: {error}")))
}

fn parse_instant(operation: &'static str, text: &str) -> Result<DateTime<Utc>, PortError> {
    DateTime::parse_from_rfc3339(text)
        .map(|instant| instant.with_timezone(&Utc))
        .map_err(|_| PortError::rejected(operation, format!("stored instant {text:?}")))
}

fn parse_order(operation: &'static str, item: &Item) -> Result<OrderRecord, PortError> {
    let reader = ItemReader::new(operation, item);
    let corrupt = |what: &str| PortError::rejected(operation, format!("stored order: {what}"));
    let status_name = reader.string("status")?;
    let status = OrderStatus::parse(status_name)
        .ok_or_else(|| corrupt(&format!("unknown status {status_name:?}")))?;
    let lines = reader
        .list("items")?
        .iter()
        .map(|value| {
            let AttributeValue::M(line) = value else {
                return Err(corrupt("an item is not a map"));
            };
            let line_reader = ItemReader::new(operation, line);
            let quantity: u64 = line_reader.number("quantity")?;
            Ok(PricedLine {
                sku: line_reader.parsed("sku")?,
                quantity: quantity
                    .try_into()
                    .map_err(|_| corrupt("an item quantity is out of range"))?,
                unit_price: parse_money(operation, nested(&line_reader, "unitPrice")?)?,
            })
        })
        .collect::<Result<Vec<_>, PortError>>()?;
    let timeline = reader
        .list("timeline")?
        .iter()
        .map(|value| {
            let AttributeValue::M(entry) = value else {
                return Err(corrupt("a timeline entry is not a map"));
            };
            let entry_reader = ItemReader::new(operation, entry);
            Ok(TimelineEntry {
                step: entry_reader.string("step")?.to_owned(),
                status: entry_reader.string("status")?.to_owned(),
                at: entry_reader.string("at")?.to_owned(),
            })
        })
        .collect::<Result<Vec<_>, PortError>>()?;
    let address_map = nested(&reader, "shippingAddress")?;
    let address_json: serde_json::Map<String, serde_json::Value> = address_map
        .iter()
        .filter_map(|(key, value)| match value {
            AttributeValue::S(text) => Some((key.clone(), serde_json::Value::from(text.as_str()))),
            _ => None,
        })
        .collect();
    let shipping_address: ShippingAddress =
        serde_json::from_value(serde_json::Value::Object(address_json))
            .map_err(|error| corrupt(&format!("shipping address: {error}")))?;
    let shipment = match (
        reader.optional_string("shipmentId")?,
        reader.optional_string("trackingNumber")?,
    ) {
        (Some(shipment_id), Some(tracking_number)) => Some(ShipmentRef {
            shipment_id: shipment_id.to_owned(),
            tracking_number: tracking_number.to_owned(),
        }),
        _ => None,
    };
    Ok(OrderRecord {
        order_id: reader.parsed("orderId")?,
        customer_id: reader.parsed("customerId")?,
        status,
        reason: reader.optional_string("reason")?.map(str::to_owned),
        lines,
        total: parse_money(operation, nested(&reader, "total")?)?,
        payment_method: reader.parsed("paymentMethod")?,
        shipping_address,
        idempotency_key: reader.string("idempotencyKey")?.to_owned(),
        request_hash: reader.string("requestHash")?.to_owned(),
        execution_input: reader.string("executionInput")?.to_owned(),
        execution_started_at: reader
            .optional_string("executionStartedAt")?
            .map(|text| parse_instant(operation, text))
            .transpose()?,
        timeline,
        created_at: parse_instant(operation, reader.string("createdAt")?)?,
        updated_at: reader.optional_string("updatedAt")?.map(str::to_owned),
        shipment,
    })
}

impl OrderStore for DynamoOrders {
    async fn create_order(&self, order: &NewOrder) -> Result<CreateOrderOutcome, PortError> {
        const OPERATION: &str = "create_order";
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(order_item(order)))
            .condition_expression("attribute_not_exists(orderId)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(CreateOrderOutcome::Created(OrderRecord::pending(order))),
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
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("orderId", s(order_id.as_str()))
            .update_expression("SET startLeaseUntil = :until")
            .condition_expression(
                "attribute_exists(orderId) AND attribute_not_exists(executionStartedAt) \
                 AND (attribute_not_exists(startLeaseUntil) OR startLeaseUntil <= :now)",
            )
            .expression_attribute_values(":until", s(order_timestamp(until)))
            .expression_attribute_values(":now", s(order_timestamp(now)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let refused = match result {
            Ok(_) => {
                return Ok(StartClaim::Claimed(StartLease {
                    order_id: order_id.clone(),
                    until,
                }));
            }
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    match &failed.item {
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
            .update_expression("REMOVE startLeaseUntil")
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
            .update_expression("SET executionStartedAt = if_not_exists(executionStartedAt, :at)")
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
        let start_key = after.map(|position| {
            Item::from([
                ("orderId".to_owned(), s(position.order_id.as_str())),
                ("customerId".to_owned(), s(customer.as_str())),
                (
                    "createdAt".to_owned(),
                    s(order_timestamp(position.created_at)),
                ),
            ])
        });
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
            .map(|key| {
                let reader = ItemReader::new(OPERATION, key);
                Ok::<_, PortError>(OrderPosition {
                    created_at: parse_instant(OPERATION, reader.string("createdAt")?)?,
                    order_id: reader.parsed("orderId")?,
                })
            })
            .transpose()?;
        Ok(OrderPage { orders, next_after })
    }
}

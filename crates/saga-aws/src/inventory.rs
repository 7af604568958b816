//! The Inventory table: stock per SKU and reservations per order, behind the
//! domain's [`ReservationStore`], [`ReservationExpiry`] and [`Catalog`] ports.
//!
//! Every change that moves stock is one `TransactWriteItems`, conditional on
//! the reservation's status and on each SKU's stock, so
//! `available + reserved` per SKU is conserved at every instant and no
//! concurrent caller can oversell or return stock twice. Cancellation reasons
//! are read per item: a failed condition on a stock line is `UnknownSku` or
//! `InsufficientStock`, on the reservation it is "already reserved" (or
//! "moved concurrently"); conflicts and throttling are transient.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, KeysAndAttributes, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};
use saga_domain::ports::{
    Catalog, CatalogPage, ConfirmOutcome, ExpireOutcome, NewReservation, ReleaseOutcome,
    Reservation, ReservationExpiry, ReservationStatus, ReservationStore, ReserveOutcome, StockItem,
};
use saga_domain::{Money, OrderId, OrderLine, OrderLines, PortError, Quantity, Sku};

use serde::{Deserialize, Serialize};

use crate::item::{Item, ShardedIndex, n, s};
use crate::record::{Corrupt, instant, instant_text, parse_item, parsed, to_item};
use crate::sdk_errors::{TRANSIENT_CANCELLATION_CODES, port_error};
use crate::tables::{BY_EXPIRY_INDEX, CATALOG_INDEX};

/// Shards of the `ByExpiry` index: PENDING reservations spread over
/// `PENDING#0..7` so no single index partition gets hot.
const EXPIRY_SHARDS: u32 = 8;
/// The value of `catalog` on every stock item (the `Catalog` index's key).
const CATALOG_PARTITION: &str = "CATALOG";
/// How often a release re-reads and retries after the reservation moved
/// between its read and its transaction (for example confirmed meanwhile).
const RELEASE_ATTEMPTS: usize = 3;
/// BatchGetItem takes at most 100 keys.
const BATCH_GET_LIMIT: usize = 100;
/// How often `stock_items` asks again for keys DynamoDB left unprocessed.
const BATCH_GET_ATTEMPTS: usize = 5;

/// The Inventory table of one deployment.
#[derive(Debug, Clone)]
pub struct DynamoInventory {
    client: Client,
    table: String,
}

impl DynamoInventory {
    /// The store on `table` (from `INVENTORY_TABLE`).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn stock_key(sku: &Sku) -> AttributeValue {
    s(stock_pk(sku))
}

fn stock_pk(sku: &Sku) -> String {
    format!("SKU#{sku}")
}

fn reservation_key(order_id: &OrderId) -> AttributeValue {
    s(reservation_pk(order_id))
}

fn reservation_pk(order_id: &OrderId) -> String {
    format!("RESERVATION#{order_id}")
}

/// The reservation's shard of `ByExpiry` (stable, see [`order_shard`]).
fn expiry_shard(order_id: &OrderId) -> String {
    BY_EXPIRY.shard_of(order_id)
}

/// `ByExpiry`: PENDING reservations by `expiresAt`, in [`EXPIRY_SHARDS`] shards.
const BY_EXPIRY: ShardedIndex = ShardedIndex {
    name: BY_EXPIRY_INDEX,
    key_condition: "expiryShard = :shard AND expiresAt <= :bound",
    shard_prefix: "PENDING#",
    shards: EXPIRY_SHARDS,
};

/// A reservation item as stored (ARCHITECTURE.md, "Data").
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReservationRecord {
    pk: String,
    order_id: String,
    lines: Vec<ReservedLineRecord>,
    status: String,
    /// Epoch seconds: the `ByExpiry` index's sort key.
    expires_at: i64,
    created_at: String,
    /// Only while PENDING: the transactions that finish a reservation remove it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expiry_shard: Option<String>,
}

/// One element of a reservation's `lines`.
#[derive(Debug, Serialize, Deserialize)]
struct ReservedLineRecord {
    sku: String,
    quantity: u64,
}

impl From<&NewReservation> for ReservationRecord {
    /// The PENDING reservation a new one is written as.
    fn from(reservation: &NewReservation) -> Self {
        Self {
            pk: reservation_pk(&reservation.order_id),
            order_id: reservation.order_id.as_str().to_owned(),
            lines: reservation
                .lines
                .iter()
                .map(|line| ReservedLineRecord {
                    sku: line.sku.as_str().to_owned(),
                    quantity: line.quantity.get().into(),
                })
                .collect(),
            status: ReservationStatus::Pending.as_str().to_owned(),
            expires_at: reservation.expires_at.timestamp(),
            created_at: instant_text(reservation.created_at),
            expiry_shard: Some(expiry_shard(&reservation.order_id)),
        }
    }
}

impl TryFrom<ReservationRecord> for Reservation {
    type Error = Corrupt;

    fn try_from(record: ReservationRecord) -> Result<Self, Corrupt> {
        let status = ReservationStatus::parse(&record.status).ok_or_else(|| {
            Corrupt::new(
                "status",
                format!("unknown reservation status {:?}", record.status),
            )
        })?;
        let lines = record
            .lines
            .into_iter()
            .enumerate()
            .map(|(index, line)| {
                Ok(OrderLine {
                    sku: parsed(&format!("lines[{index}].sku"), &line.sku)?,
                    quantity: Quantity::try_from(line.quantity)
                        .map_err(|error| Corrupt::new(format!("lines[{index}].quantity"), error))?,
                })
            })
            .collect::<Result<Vec<_>, Corrupt>>()?;
        Ok(Reservation {
            order_id: parsed("orderId", &record.order_id)?,
            lines: OrderLines::try_from(lines).map_err(|error| Corrupt::new("lines", error))?,
            status,
            expires_at: DateTime::from_timestamp(record.expires_at, 0).ok_or_else(|| {
                Corrupt::new(
                    "expiresAt",
                    format!("epoch second {} is out of range", record.expires_at),
                )
            })?,
            created_at: instant("createdAt", &record.created_at)?,
        })
    }
}

fn parse_reservation(operation: &'static str, item: &Item) -> Result<Reservation, PortError> {
    parse_item::<ReservationRecord, _>(operation, item)
}

/// What the reaper reads of a due reservation in the `ByExpiry` index.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DueRecord {
    order_id: String,
    expires_at: i64,
}

/// `(expiresAt, orderId)`: the reaper sorts the shards' answers by both.
impl TryFrom<DueRecord> for (i64, OrderId) {
    type Error = Corrupt;

    fn try_from(record: DueRecord) -> Result<Self, Corrupt> {
        Ok((record.expires_at, parsed("orderId", &record.order_id)?))
    }
}

/// A stock item as stored (ARCHITECTURE.md, "Data").
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StockRecord {
    pk: String,
    sku: String,
    name: String,
    available: u64,
    reserved: u64,
    price_minor: i64,
    currency: String,
    /// Always [`CATALOG_PARTITION`]: the `Catalog` index's partition key.
    catalog: String,
}

impl From<&StockItem> for StockRecord {
    fn from(item: &StockItem) -> Self {
        Self {
            pk: stock_pk(&item.sku),
            sku: item.sku.as_str().to_owned(),
            name: item.name.clone(),
            available: item.available,
            reserved: item.reserved,
            price_minor: item.unit_price.amount_minor(),
            currency: item.unit_price.currency().as_str().to_owned(),
            catalog: CATALOG_PARTITION.to_owned(),
        }
    }
}

impl TryFrom<StockRecord> for StockItem {
    type Error = Corrupt;

    fn try_from(record: StockRecord) -> Result<Self, Corrupt> {
        let unit_price = Money::new(record.price_minor, parsed("currency", &record.currency)?)
            .map_err(|error| Corrupt::new("priceMinor", error))?;
        Ok(StockItem {
            sku: parsed("sku", &record.sku)?,
            name: record.name,
            available: record.available,
            reserved: record.reserved,
            unit_price,
        })
    }
}

fn parse_stock_item(operation: &'static str, item: &Item) -> Result<StockItem, PortError> {
    parse_item::<StockRecord, _>(operation, item)
}

/// A stock item's key in the `Catalog` index (which projects keys only).
#[derive(Debug, Deserialize)]
struct CatalogKey {
    pk: String,
}

impl TryFrom<CatalogKey> for Sku {
    type Error = Corrupt;

    fn try_from(key: CatalogKey) -> Result<Self, Corrupt> {
        key.pk
            .strip_prefix("SKU#")
            .and_then(|sku| sku.parse().ok())
            .ok_or_else(|| Corrupt::new("pk", format!("{:?} is not a stock key", key.pk)))
    }
}

/// Moves `quantity` of `sku` between `available` and `reserved`; `take` reserves
/// (conditional on the SKU existing with enough available), otherwise returns.
fn stock_move(table: &str, line: &OrderLine, take: bool) -> Result<TransactWriteItem, PortError> {
    let (expression, condition) = if take {
        (
            "SET available = available - :q, reserved = reserved + :q",
            "attribute_exists(pk) AND available >= :q",
        )
    } else {
        (
            "SET available = available + :q, reserved = reserved - :q",
            "attribute_exists(pk) AND reserved >= :q",
        )
    };
    let update = Update::builder()
        .table_name(table)
        .key("pk", stock_key(&line.sku))
        .update_expression(expression)
        .condition_expression(condition)
        .expression_attribute_values(":q", n(line.quantity.get()))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .map_err(|error| PortError::rejected("stock_move", error.to_string()))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Moves a reservation out of `from` into the final `to`, restoring stock.
fn finish_reservation(
    table: &str,
    order_id: &OrderId,
    from: ReservationStatus,
    to: ReservationStatus,
    extra_condition: Option<(&str, DateTime<Utc>)>,
) -> Result<TransactWriteItem, PortError> {
    let mut condition = "#status = :from".to_owned();
    let mut update = Update::builder()
        .table_name(table)
        .key("pk", reservation_key(order_id))
        .update_expression("SET #status = :to REMOVE expiryShard")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":from", s(from.as_str()))
        .expression_attribute_values(":to", s(to.as_str()))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    if let Some((clause, now)) = extra_condition {
        condition.push_str(" AND ");
        condition.push_str(clause);
        update = update.expression_attribute_values(":now", n(now.timestamp()));
    }
    let update = update
        .condition_expression(condition)
        .build()
        .map_err(|error| PortError::rejected("finish_reservation", error.to_string()))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Whether a cancellation reason is a failed condition.
fn condition_failed(reason: Option<&CancellationReason>) -> bool {
    reason.and_then(CancellationReason::code) == Some("ConditionalCheckFailed")
}

/// The transient error for a cancelled transaction, if any reason is transient.
fn transient_cancellation(
    operation: &'static str,
    reasons: &[CancellationReason],
) -> Option<PortError> {
    reasons
        .iter()
        .filter_map(CancellationReason::code)
        .find(|code| TRANSIENT_CANCELLATION_CODES.contains(code))
        .map(|code| PortError::unavailable(operation, format!("transaction cancelled: {code}")))
}

/// What a transaction that moves a reservation did.
enum TransactionResult {
    Committed,
    /// Cancelled; the reasons, one per item in request order.
    Cancelled(Vec<CancellationReason>),
}

impl DynamoInventory {
    async fn transact(
        &self,
        operation: &'static str,
        items: Vec<TransactWriteItem>,
    ) -> Result<TransactionResult, PortError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(TransactionResult::Committed),
            // Look at the service error in place: `into_service_error()` would
            // turn a timeout into an "unhandled" error and lose that it is transient.
            Err(error) => match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    let reasons = cancelled.cancellation_reasons().to_vec();
                    match transient_cancellation(operation, &reasons) {
                        Some(transient) => Err(transient),
                        None => Ok(TransactionResult::Cancelled(reasons)),
                    }
                }
                _ => Err(port_error(operation, error)),
            },
        }
    }

    async fn get_item(
        &self,
        operation: &'static str,
        key: AttributeValue,
    ) -> Result<Option<Item>, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", key)
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| port_error(operation, error))?;
        Ok(output.item)
    }

    async fn read_reservation(
        &self,
        operation: &'static str,
        order_id: &OrderId,
    ) -> Result<Option<Reservation>, PortError> {
        self.get_item(operation, reservation_key(order_id))
            .await?
            .map(|item| parse_reservation(operation, &item))
            .transpose()
    }

    /// The reservation from a failed condition's old item, or read afresh
    /// when the service did not return it.
    async fn reservation_after_failed_condition(
        &self,
        operation: &'static str,
        order_id: &OrderId,
        old_item: Option<&Item>,
    ) -> Result<Option<Reservation>, PortError> {
        match old_item {
            Some(item) => parse_reservation(operation, item).map(Some),
            None => self.read_reservation(operation, order_id).await,
        }
    }

    /// Returns every line of `reservation` to stock and moves it `from` → `to`,
    /// all in one transaction. `Ok(false)` when the reservation's condition
    /// failed (it moved meanwhile); nothing was written then.
    async fn return_stock(
        &self,
        operation: &'static str,
        reservation: &Reservation,
        to: ReservationStatus,
        extra_condition: Option<(&str, DateTime<Utc>)>,
    ) -> Result<bool, PortError> {
        let mut items = vec![finish_reservation(
            &self.table,
            &reservation.order_id,
            reservation.status,
            to,
            extra_condition,
        )?];
        for line in reservation.lines.iter() {
            items.push(stock_move(&self.table, line, false)?);
        }
        match self.transact(operation, items).await? {
            TransactionResult::Committed => Ok(true),
            TransactionResult::Cancelled(reasons) if condition_failed(reasons.first()) => Ok(false),
            TransactionResult::Cancelled(reasons) => Err(PortError::rejected(
                operation,
                format!(
                    "stock of order {} cannot be returned: {}",
                    reservation.order_id,
                    describe_reasons(&reasons)
                ),
            )),
        }
    }
}

fn describe_reasons(reasons: &[CancellationReason]) -> String {
    reasons
        .iter()
        .map(|reason| reason.code().unwrap_or("None"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl ReservationStore for DynamoInventory {
    async fn reserve(&self, reservation: &NewReservation) -> Result<ReserveOutcome, PortError> {
        const OPERATION: &str = "reserve";
        let item = to_item(OPERATION, &ReservationRecord::from(reservation))?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|error| PortError::rejected(OPERATION, error.to_string()))?;
        // The reservation is item 0, the stock lines follow in request order.
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        for line in reservation.lines.iter() {
            items.push(stock_move(&self.table, line, true)?);
        }
        let reasons = match self.transact(OPERATION, items).await? {
            TransactionResult::Committed => {
                return Ok(ReserveOutcome::Reserved(Reservation {
                    order_id: reservation.order_id.clone(),
                    lines: reservation.lines.clone(),
                    status: ReservationStatus::Pending,
                    expires_at: reservation.expires_at,
                    created_at: reservation.created_at,
                }));
            }
            TransactionResult::Cancelled(reasons) => reasons,
        };
        if condition_failed(reasons.first()) {
            let old = reasons.first().and_then(CancellationReason::item);
            return match self
                .reservation_after_failed_condition(OPERATION, &reservation.order_id, old)
                .await?
            {
                Some(existing) => Ok(ReserveOutcome::AlreadyReserved(existing)),
                None => Err(PortError::unavailable(
                    OPERATION,
                    "the reservation existed during the transaction and is gone now",
                )),
            };
        }
        for (line, reason) in reservation.lines.iter().zip(reasons.iter().skip(1)) {
            if !condition_failed(Some(reason)) {
                continue;
            }
            let exists = match reason.item() {
                Some(_) => true,
                None => self
                    .get_item(OPERATION, stock_key(&line.sku))
                    .await?
                    .is_some(),
            };
            let sku = line.sku.clone();
            return Ok(if exists {
                ReserveOutcome::InsufficientStock { sku }
            } else {
                ReserveOutcome::UnknownSku { sku }
            });
        }
        Err(PortError::rejected(
            OPERATION,
            format!("transaction cancelled: {}", describe_reasons(&reasons)),
        ))
    }

    async fn get_reservation(&self, order_id: &OrderId) -> Result<Option<Reservation>, PortError> {
        self.read_reservation("get_reservation", order_id).await
    }

    async fn confirm_reservation(
        &self,
        order_id: &OrderId,
        now: DateTime<Utc>,
    ) -> Result<ConfirmOutcome, PortError> {
        const OPERATION: &str = "confirm_reservation";
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", reservation_key(order_id))
            .update_expression("SET #status = :confirmed REMOVE expiryShard")
            .condition_expression("#status = :pending AND expiresAt > :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":confirmed", s(ReservationStatus::Confirmed.as_str()))
            .expression_attribute_values(":pending", s(ReservationStatus::Pending.as_str()))
            .expression_attribute_values(":now", n(now.timestamp()))
            .return_values(ReturnValue::None)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let old = match result {
            Ok(_) => return Ok(ConfirmOutcome::Confirmed),
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    failed.item.clone()
                }
                _ => return Err(port_error(OPERATION, error)),
            },
        };
        let found = self
            .reservation_after_failed_condition(OPERATION, order_id, old.as_ref())
            .await?;
        Ok(match found.map(|reservation| reservation.status) {
            Some(ReservationStatus::Confirmed) => ConfirmOutcome::AlreadyConfirmed,
            status => ConfirmOutcome::NotConfirmable { status },
        })
    }

    async fn release_reservation(
        &self,
        order_id: &OrderId,
        _now: DateTime<Utc>,
    ) -> Result<ReleaseOutcome, PortError> {
        const OPERATION: &str = "release_reservation";
        for _ in 0..RELEASE_ATTEMPTS {
            let Some(reservation) = self.read_reservation(OPERATION, order_id).await? else {
                return Ok(ReleaseOutcome::NothingToRelease);
            };
            match reservation.status {
                ReservationStatus::Released => return Ok(ReleaseOutcome::AlreadyReleased),
                ReservationStatus::Expired => return Ok(ReleaseOutcome::NothingToRelease),
                ReservationStatus::Pending | ReservationStatus::Confirmed => {
                    if self
                        .return_stock(OPERATION, &reservation, ReservationStatus::Released, None)
                        .await?
                    {
                        return Ok(ReleaseOutcome::Released);
                    }
                    // It moved between the read and the transaction: look again.
                }
            }
        }
        Err(PortError::unavailable(
            OPERATION,
            format!("reservation of {order_id} kept changing during release"),
        ))
    }
}

impl ReservationExpiry for DynamoInventory {
    async fn find_expired_reservations(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OrderId>, PortError> {
        const OPERATION: &str = "find_expired_reservations";
        let mut due = BY_EXPIRY
            .oldest_of_each_shard(
                &self.client,
                &self.table,
                n(now.timestamp()),
                limit,
                OPERATION,
            )
            .await?
            .iter()
            .map(|item| parse_item::<DueRecord, (i64, OrderId)>(OPERATION, item))
            .collect::<Result<Vec<_>, _>>()?;
        due.sort_by(|left, right| {
            left.0
                .cmp(&right.0)
                .then_with(|| left.1.as_str().cmp(right.1.as_str()))
        });
        Ok(due
            .into_iter()
            .take(limit)
            .map(|(_, order_id)| order_id)
            .collect())
    }

    async fn expire_reservation(
        &self,
        order_id: &OrderId,
        now: DateTime<Utc>,
    ) -> Result<ExpireOutcome, PortError> {
        const OPERATION: &str = "expire_reservation";
        let Some(reservation) = self.read_reservation(OPERATION, order_id).await? else {
            return Ok(ExpireOutcome::NotExpirable { status: None });
        };
        if reservation.status != ReservationStatus::Pending || reservation.expires_at > now {
            return Ok(ExpireOutcome::NotExpirable {
                status: Some(reservation.status),
            });
        }
        let expired = self
            .return_stock(
                OPERATION,
                &reservation,
                ReservationStatus::Expired,
                Some(("expiresAt <= :now", now)),
            )
            .await?;
        if expired {
            return Ok(ExpireOutcome::Expired);
        }
        // Confirmed or released between the read and the transaction.
        let status = self
            .read_reservation(OPERATION, order_id)
            .await?
            .map(|reservation| reservation.status);
        Ok(ExpireOutcome::NotExpirable { status })
    }
}

impl Catalog for DynamoInventory {
    async fn stock_items(&self, skus: &[Sku]) -> Result<Vec<StockItem>, PortError> {
        const OPERATION: &str = "stock_items";
        if skus.len() > BATCH_GET_LIMIT {
            return Err(PortError::rejected(
                OPERATION,
                format!(
                    "at most {BATCH_GET_LIMIT} SKUs per call, got {}",
                    skus.len()
                ),
            ));
        }
        let mut unique: Vec<&Sku> = Vec::new();
        for sku in skus {
            if !unique.contains(&sku) {
                unique.push(sku);
            }
        }
        if unique.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<Item> = unique
            .iter()
            .map(|sku| Item::from([("pk".to_owned(), stock_key(sku))]))
            .collect();
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|error| PortError::rejected(OPERATION, error.to_string()))?,
        );
        let mut found: Vec<StockItem> = Vec::new();
        for _ in 0..BATCH_GET_ATTEMPTS {
            let Some(request) = pending.take() else {
                break;
            };
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|error| port_error(OPERATION, error))?;
            for item in output
                .responses()
                .and_then(|tables| tables.get(&self.table))
                .into_iter()
                .flatten()
            {
                found.push(parse_stock_item(OPERATION, item)?);
            }
            pending = output
                .unprocessed_keys()
                .and_then(|tables| tables.get(&self.table))
                .filter(|keys| !keys.keys().is_empty())
                .cloned();
        }
        if pending.is_some() {
            return Err(PortError::unavailable(
                OPERATION,
                "keys left unprocessed after retries",
            ));
        }
        Ok(skus
            .iter()
            .filter_map(|sku| found.iter().find(|item| &item.sku == sku).cloned())
            .collect())
    }

    async fn catalog_page(
        &self,
        after: Option<&Sku>,
        limit: usize,
    ) -> Result<CatalogPage, PortError> {
        const OPERATION: &str = "catalog_page";
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(CATALOG_INDEX)
            // `catalog` is a DynamoDB reserved word.
            .expression_attribute_names("#catalog", "catalog")
            .expression_attribute_values(":catalog", s(CATALOG_PARTITION))
            .limit(i32::try_from(limit.clamp(1, BATCH_GET_LIMIT)).unwrap_or(1));
        query = match after {
            Some(sku) => query
                .key_condition_expression("#catalog = :catalog AND pk > :after")
                .expression_attribute_values(":after", stock_key(sku)),
            None => query.key_condition_expression("#catalog = :catalog"),
        };
        let output = query
            .send()
            .await
            .map_err(|error| port_error(OPERATION, error))?;
        let skus = output
            .items()
            .iter()
            .map(|item| parse_item::<CatalogKey, Sku>(OPERATION, item))
            .collect::<Result<Vec<_>, PortError>>()?;
        let items = self.stock_items(&skus).await?;
        let next_after = match output.last_evaluated_key() {
            Some(_) => skus.last().cloned(),
            None => None,
        };
        Ok(CatalogPage { items, next_after })
    }

    async fn put_stock_item(&self, item: &StockItem) -> Result<(), PortError> {
        const OPERATION: &str = "put_stock_item";
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(OPERATION, &StockRecord::from(item))?))
            .send()
            .await
            .map_err(|error| port_error(OPERATION, error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use saga_domain::contract::at;

    use super::*;
    use crate::item::{n, s};

    fn line(sku: &str, quantity: &str) -> AttributeValue {
        AttributeValue::M(Item::from([
            ("sku".to_owned(), s(sku)),
            ("quantity".to_owned(), n(quantity)),
        ]))
    }

    fn attributes<const N: usize>(entries: [(&str, AttributeValue); N]) -> Item {
        entries
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect()
    }

    /// A PENDING reservation as `reserve` writes it: the table's format,
    /// spelled out (`at(0)` is 2026-01-01T00:00:00Z).
    fn reservation_item() -> Item {
        let order_id: OrderId = "ord-1".parse().unwrap();
        attributes([
            ("pk", s("RESERVATION#ord-1")),
            ("orderId", s("ord-1")),
            (
                "lines",
                AttributeValue::L(vec![line("SKU-TEE-M", "2"), line("SKU-MUG", "1")]),
            ),
            ("status", s("PENDING")),
            ("expiresAt", n("1767226500")),
            ("createdAt", s("2026-01-01T00:00:00Z")),
            ("expiryShard", s(expiry_shard(&order_id))),
        ])
    }

    fn stock_item() -> Item {
        attributes([
            ("pk", s("SKU#SKU-MUG")),
            ("sku", s("SKU-MUG")),
            ("name", s("Mug")),
            ("available", n("40")),
            ("reserved", n("2")),
            ("priceMinor", n("900")),
            ("currency", s("EUR")),
            ("catalog", s("CATALOG")),
        ])
    }

    #[test]
    fn a_new_reservation_is_written_in_the_table_format_and_reads_back() {
        let lines = OrderLines::try_from(vec![
            OrderLine {
                sku: "SKU-TEE-M".parse().unwrap(),
                quantity: Quantity::try_from(2_u32).unwrap(),
            },
            OrderLine {
                sku: "SKU-MUG".parse().unwrap(),
                quantity: Quantity::try_from(1_u32).unwrap(),
            },
        ])
        .unwrap();
        let new = NewReservation {
            order_id: "ord-1".parse().unwrap(),
            lines: lines.clone(),
            expires_at: at(900),
            created_at: at(0),
        };
        let written = to_item("test", &ReservationRecord::from(&new)).unwrap();
        assert_eq!(written, reservation_item());
        let read = parse_reservation("test", &written).unwrap();
        assert_eq!(
            read,
            Reservation {
                order_id: new.order_id,
                lines,
                status: ReservationStatus::Pending,
                expires_at: at(900),
                created_at: at(0),
            }
        );
        // A finished reservation has no shard (its transaction removed it).
        let mut confirmed = written;
        confirmed.remove("expiryShard");
        confirmed.insert("status".to_owned(), s("CONFIRMED"));
        let read = parse_reservation("test", &confirmed).unwrap();
        assert_eq!(read.status, ReservationStatus::Confirmed);
    }

    #[test]
    fn a_stock_item_is_written_in_the_table_format_and_reads_back() {
        let item = StockItem {
            sku: "SKU-MUG".parse().unwrap(),
            name: "Mug".to_owned(),
            available: 40,
            reserved: 2,
            unit_price: Money::new(900, "EUR".parse().unwrap()).unwrap(),
        };
        let written = to_item("test", &StockRecord::from(&item)).unwrap();
        assert_eq!(written, stock_item());
        assert_eq!(parse_stock_item("test", &written).unwrap(), item);
    }

    #[test]
    fn a_corrupt_reservation_is_rejected_naming_the_attribute() {
        // (attribute, new value or None to remove it, what the error must
        // say: a missing attribute is named with the path of its map)
        let cases = [
            ("status", Some(s("HELD")), "`status`"),
            ("orderId", Some(s("ord 1")), "`orderId`"),
            ("orderId", None, "missing field `orderId`"),
            ("expiresAt", Some(s("soon")), "`expiresAt`"),
            ("expiresAt", Some(n("99999999999999999")), "`expiresAt`"),
            ("createdAt", Some(n("0")), "`createdAt`"),
            ("createdAt", Some(s("2026-01-01")), "`createdAt`"),
            ("lines", Some(AttributeValue::L(Vec::new())), "`lines`"),
            (
                "lines",
                Some(AttributeValue::L(vec![line("A", "1"), line("A", "2")])),
                "`lines`",
            ),
            (
                "lines",
                Some(AttributeValue::L(vec![line("A", "1"), line("B", "0")])),
                "`lines[1].quantity`",
            ),
            (
                "lines",
                Some(AttributeValue::L(vec![line("A", "-1")])),
                "`lines[0].quantity`",
            ),
            (
                "lines",
                Some(AttributeValue::L(vec![line("SKU#A", "1")])),
                "`lines[0].sku`",
            ),
            (
                "lines",
                Some(AttributeValue::L(vec![s("A x 1")])),
                "`lines[0]`",
            ),
        ];
        for (attribute, value, expected) in cases {
            let mut item = reservation_item();
            match value {
                Some(value) => item.insert(attribute.to_owned(), value),
                None => item.remove(attribute),
            };
            let error = parse_reservation("test", &item).unwrap_err().to_string();
            assert!(error.contains(expected), "{attribute}: {error}");
        }
    }

    #[test]
    fn a_corrupt_stock_item_is_rejected_naming_the_attribute() {
        let cases = [
            ("sku", Some(s("")), "`sku`"),
            ("name", None, "missing field `name`"),
            ("available", Some(s("40")), "`available`"),
            ("reserved", Some(n("-2")), "`reserved`"),
            ("priceMinor", Some(n("-900")), "`priceMinor`"),
            ("priceMinor", Some(n("9.5")), "`priceMinor`"),
            ("currency", Some(s("eur")), "`currency`"),
        ];
        for (attribute, value, expected) in cases {
            let mut item = stock_item();
            match value {
                Some(value) => item.insert(attribute.to_owned(), value),
                None => item.remove(attribute),
            };
            let error = parse_stock_item("test", &item).unwrap_err().to_string();
            assert!(error.contains(expected), "{attribute}: {error}");
        }
    }

    #[test]
    fn index_answers_read_as_their_keys() {
        let due: (i64, OrderId) = parse_item::<DueRecord, _>("test", &reservation_item()).unwrap();
        assert_eq!(due, (1_767_226_500, "ord-1".parse().unwrap()));
        let catalog = |pk: &str| {
            let key = attributes([("pk", s(pk)), ("catalog", s("CATALOG"))]);
            parse_item::<CatalogKey, Sku>("test", &key)
        };
        assert_eq!(catalog("SKU#SKU-MUG").unwrap().as_str(), "SKU-MUG");
        for bad in ["RESERVATION#ord-1", "SKU#", "SKU#A#B"] {
            let error = catalog(bad).unwrap_err().to_string();
            assert!(error.contains("`pk`"), "{bad}: {error}");
        }
    }

    fn reason(code: &str) -> CancellationReason {
        CancellationReason::builder().code(code).build()
    }

    #[test]
    fn only_conflicts_and_throttling_cancel_transiently() {
        let cases: [(&[&str], bool); 5] = [
            (&["None", "TransactionConflict"], true),
            (&["ThrottlingError", "None"], true),
            (&["ConditionalCheckFailed", "None"], false),
            (&["None", "ConditionalCheckFailed"], false),
            (&["ValidationError"], false),
        ];
        for (codes, transient) in cases {
            let reasons: Vec<CancellationReason> = codes.iter().map(|code| reason(code)).collect();
            assert_eq!(
                transient_cancellation("reserve", &reasons).is_some(),
                transient,
                "{codes:?}"
            );
        }
    }

    #[test]
    fn expiry_shards_are_stable_and_within_range() {
        let cases = [("ord-1", "PENDING#"), ("ord_01JABCDEF", "PENDING#")];
        for (id, prefix) in cases {
            let id: OrderId = id.parse().unwrap();
            let shard = expiry_shard(&id);
            assert_eq!(shard, expiry_shard(&id), "stable for {id}");
            let number: u32 = shard.strip_prefix(prefix).unwrap().parse().unwrap();
            assert!(number < EXPIRY_SHARDS, "{shard}");
        }
        let spread: std::collections::HashSet<String> = (0..200)
            .map(|index| expiry_shard(&format!("ord-{index}").parse().unwrap()))
            .collect();
        assert_eq!(
            spread.len(),
            EXPIRY_SHARDS as usize,
            "200 orders use every shard"
        );
    }
}

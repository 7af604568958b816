//! In-memory Orders table with its `ByCustomer`, `AwaitingStart` and `Stalled` indexes, plus a helper that
//! writes progress the way the state machine's DynamoDB updates do.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};

use super::{Faults, lock};
use crate::contract::orders::StatusWrites;
use crate::error::PortError;
use crate::ids::{CustomerId, OrderId};
use crate::ports::{
    CreateOrderOutcome, NewOrder, OrderPage, OrderPosition, OrderRecord, OrderStatus, OrderStore,
    ShipmentRef, Stall, StallOutcome, StartClaim, StartLease, TimelineEntry,
};

/// The stored rows: each order and, beside it, the `until` of its start
/// lease (the `startLeaseUntil` attribute, which [`OrderRecord`] does not
/// carry).
#[derive(Debug, Default)]
struct Rows {
    orders: HashMap<OrderId, OrderRecord>,
    start_leases: HashMap<OrderId, DateTime<Utc>>,
}

/// Orders by id behind one lock, so every operation is atomic the way a
/// conditional DynamoDB write is.
#[derive(Debug, Default)]
pub struct InMemoryOrders {
    rows: Mutex<Rows>,
    /// Fault injection for every operation.
    pub faults: Faults,
}

impl InMemoryOrders {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of orders stored.
    pub fn len(&self) -> usize {
        lock(&self.rows).orders.len()
    }

    /// Whether no order is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What a state machine step writes: the new status, a timeline entry for
    /// `step` at `at`, `updatedAt`, and the reason (REJECTED) or shipment
    /// (COMPLETED) when given. Like DynamoDB's UpdateItem, it does nothing
    /// to a missing order here (the real table would create a partial item,
    /// which the state machine never does because the api writes first).
    pub fn record_progress(
        &self,
        order_id: &OrderId,
        step: &str,
        status: OrderStatus,
        at: &str,
        reason: Option<&str>,
        shipment: Option<ShipmentRef>,
    ) {
        let mut rows = lock(&self.rows);
        if let Some(order) = rows.orders.get_mut(order_id) {
            order.status = status;
            order.updated_at = Some(at.to_owned());
            order.timeline.push(TimelineEntry {
                step: step.to_owned(),
                status: status.as_str().to_owned(),
                at: at.to_owned(),
            });
            if let Some(reason) = reason {
                order.reason = Some(reason.to_owned());
            }
            if shipment.is_some() {
                order.shipment = shipment;
            }
            // The state machine's final writes remove the stall.
            if status.is_final() {
                order.stall = None;
            }
        }
    }
}

/// The state machine's status writes on an [`InMemoryOrders`], for the
/// contract suite: [`InMemoryOrders::record_progress`] with a timeline entry.
#[derive(Debug, Clone, Copy, Default)]
pub struct InMemoryStatusWrites;

impl StatusWrites<InMemoryOrders> for InMemoryStatusWrites {
    async fn write_status(&self, store: &InMemoryOrders, order_id: &OrderId, status: OrderStatus) {
        store.record_progress(
            order_id,
            "ContractStep",
            status,
            "2026-01-01T00:00:09.000Z",
            None,
            None,
        );
    }
}

impl OrderStore for InMemoryOrders {
    async fn create_order(&self, order: &NewOrder) -> Result<CreateOrderOutcome, PortError> {
        self.faults.check("create_order")?;
        let mut rows = lock(&self.rows);
        if let Some(existing) = rows.orders.get(&order.order_id) {
            return Ok(CreateOrderOutcome::AlreadyExists(existing.clone()));
        }
        let record = OrderRecord::pending(order);
        rows.orders.insert(order.order_id.clone(), record.clone());
        Ok(CreateOrderOutcome::Created(record))
    }

    async fn get_order(&self, order_id: &OrderId) -> Result<Option<OrderRecord>, PortError> {
        self.faults.check("get_order")?;
        Ok(lock(&self.rows).orders.get(order_id).cloned())
    }

    async fn claim_execution_start(
        &self,
        order_id: &OrderId,
        now: DateTime<Utc>,
        lease: TimeDelta,
    ) -> Result<StartClaim, PortError> {
        self.faults.check("claim_execution_start")?;
        // Millisecond precision, as the table stores instants.
        let now = now.trunc_subsecs(3);
        let mut rows = lock(&self.rows);
        let Rows {
            orders,
            start_leases,
        } = &mut *rows;
        let Some(order) = orders.get(order_id) else {
            return Err(PortError::rejected(
                "claim_execution_start",
                format!("order {order_id} does not exist"),
            ));
        };
        if order.execution_started_at.is_some() {
            return Ok(StartClaim::AlreadyStarted);
        }
        if let Some(until) = start_leases.get(order_id) {
            if *until > now {
                return Ok(StartClaim::HeldByAnother { until: *until });
            }
        }
        let until = now + lease;
        start_leases.insert(order_id.clone(), until);
        Ok(StartClaim::Claimed(StartLease {
            order_id: order_id.clone(),
            until,
        }))
    }

    async fn release_execution_start(&self, lease: &StartLease) -> Result<(), PortError> {
        self.faults.check("release_execution_start")?;
        let mut rows = lock(&self.rows);
        if rows.start_leases.get(&lease.order_id) == Some(&lease.until) {
            rows.start_leases.remove(&lease.order_id);
        }
        Ok(())
    }

    async fn mark_execution_started(
        &self,
        order_id: &OrderId,
        at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        self.faults.check("mark_execution_started")?;
        match lock(&self.rows).orders.get_mut(order_id) {
            Some(order) => {
                order.execution_started_at.get_or_insert(at);
                Ok(())
            }
            None => Err(PortError::rejected(
                "mark_execution_started",
                format!("order {order_id} does not exist"),
            )),
        }
    }

    async fn orders_awaiting_start(
        &self,
        placed_by: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OrderId>, PortError> {
        self.faults.check("orders_awaiting_start")?;
        let rows = lock(&self.rows);
        let mut waiting: Vec<&OrderRecord> = rows
            .orders
            .values()
            .filter(|order| order.execution_started_at.is_none() && order.created_at <= placed_by)
            .collect();
        waiting.sort_by_key(|order| (order.created_at, order.order_id.clone()));
        Ok(waiting
            .into_iter()
            .take(limit)
            .map(|order| order.order_id.clone())
            .collect())
    }

    async fn record_stall(
        &self,
        order_id: &OrderId,
        stall: &Stall,
    ) -> Result<StallOutcome, PortError> {
        self.faults.check("record_stall")?;
        let mut rows = lock(&self.rows);
        let Some(order) = rows.orders.get_mut(order_id) else {
            return Ok(StallOutcome::NotFound);
        };
        if order.status.is_final() {
            return Ok(StallOutcome::AlreadyFinal(order.status));
        }
        if order
            .stall
            .as_ref()
            .is_some_and(|recorded| recorded.redrive_count > stall.redrive_count)
        {
            return Ok(StallOutcome::Superseded);
        }
        order.stall = Some(stall.clone());
        Ok(StallOutcome::Recorded)
    }

    async fn stalled_orders(&self, limit: usize) -> Result<Vec<OrderId>, PortError> {
        self.faults.check("stalled_orders")?;
        let rows = lock(&self.rows);
        let mut stalled: Vec<&OrderRecord> = rows
            .orders
            .values()
            .filter(|order| order.stall.is_some())
            .collect();
        stalled.sort_by_key(|order| (order.created_at, order.order_id.clone()));
        Ok(stalled
            .into_iter()
            .take(limit)
            .map(|order| order.order_id.clone())
            .collect())
    }

    async fn customer_orders(
        &self,
        customer: &CustomerId,
        after: Option<&OrderPosition>,
        limit: usize,
    ) -> Result<OrderPage, PortError> {
        self.faults.check("customer_orders")?;
        let rows = lock(&self.rows);
        let orders = &rows.orders;
        // Newest first: (createdAt, orderId) descending, the index's order.
        let position = |order: &OrderRecord| (order.created_at, order.order_id.clone());
        let mut mine: Vec<&OrderRecord> = orders
            .values()
            .filter(|order| &order.customer_id == customer)
            .filter(|order| {
                after.is_none_or(|after| {
                    position(order) < (after.created_at, after.order_id.clone())
                })
            })
            .collect();
        mine.sort_by_key(|order| std::cmp::Reverse(position(order)));
        let more = mine.len() > limit;
        let page: Vec<OrderRecord> = mine.into_iter().take(limit).cloned().collect();
        let next_after = if more {
            page.last().map(|order| OrderPosition {
                created_at: order.created_at,
                order_id: order.order_id.clone(),
            })
        } else {
            None
        };
        Ok(OrderPage {
            orders: page,
            next_after,
        })
    }

    async fn count_in_flight(
        &self,
        customer: &CustomerId,
        limit: usize,
    ) -> Result<usize, PortError> {
        self.faults.check("count_in_flight")?;
        let in_flight = lock(&self.rows)
            .orders
            .values()
            .filter(|order| &order.customer_id == customer && !order.status.is_final())
            .count();
        Ok(in_flight.min(limit))
    }
}

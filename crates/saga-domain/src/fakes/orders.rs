//! In-memory Orders table with its `ByCustomer` index, plus a helper that
//! writes progress the way the state machine's DynamoDB updates do.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::{Faults, lock};
use crate::error::PortError;
use crate::ids::{CustomerId, OrderId};
use crate::ports::{
    CreateOrderOutcome, NewOrder, OrderPage, OrderPosition, OrderRecord, OrderStatus, OrderStore,
    ShipmentRef, TimelineEntry,
};

/// Orders by id behind one lock, so every operation is atomic the way a
/// conditional DynamoDB write is.
#[derive(Debug, Default)]
pub struct InMemoryOrders {
    orders: Mutex<HashMap<OrderId, OrderRecord>>,
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
        lock(&self.orders).len()
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
        let mut orders = lock(&self.orders);
        if let Some(order) = orders.get_mut(order_id) {
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
        }
    }
}

impl OrderStore for InMemoryOrders {
    async fn create_order(&self, order: &NewOrder) -> Result<CreateOrderOutcome, PortError> {
        self.faults.check("create_order")?;
        let mut orders = lock(&self.orders);
        if let Some(existing) = orders.get(&order.order_id) {
            return Ok(CreateOrderOutcome::AlreadyExists(existing.clone()));
        }
        let record = OrderRecord::pending(order);
        orders.insert(order.order_id.clone(), record.clone());
        Ok(CreateOrderOutcome::Created(record))
    }

    async fn get_order(&self, order_id: &OrderId) -> Result<Option<OrderRecord>, PortError> {
        self.faults.check("get_order")?;
        Ok(lock(&self.orders).get(order_id).cloned())
    }

    async fn mark_execution_started(
        &self,
        order_id: &OrderId,
        at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        self.faults.check("mark_execution_started")?;
        match lock(&self.orders).get_mut(order_id) {
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

    async fn customer_orders(
        &self,
        customer: &CustomerId,
        after: Option<&OrderPosition>,
        limit: usize,
    ) -> Result<OrderPage, PortError> {
        self.faults.check("customer_orders")?;
        let orders = lock(&self.orders);
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
}

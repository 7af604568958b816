//! In-memory shipments table.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Faults, lock};
use crate::error::PortError;
use crate::ids::OrderId;
use crate::ports::{CreateShipmentOutcome, Shipment, ShipmentStore};

/// Shipments by order id, created at most once.
#[derive(Debug, Default)]
pub struct InMemoryShipments {
    shipments: Mutex<HashMap<OrderId, Shipment>>,
    /// Fault injection for every operation.
    pub faults: Faults,
}

impl InMemoryShipments {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of shipments stored.
    pub fn len(&self) -> usize {
        lock(&self.shipments).len()
    }

    /// Whether no shipment is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ShipmentStore for InMemoryShipments {
    async fn create_shipment(
        &self,
        shipment: &Shipment,
    ) -> Result<CreateShipmentOutcome, PortError> {
        self.faults.check("create_shipment")?;
        let mut shipments = lock(&self.shipments);
        if let Some(existing) = shipments.get(&shipment.order_id) {
            return Ok(CreateShipmentOutcome::AlreadyExists(existing.clone()));
        }
        shipments.insert(shipment.order_id.clone(), shipment.clone());
        Ok(CreateShipmentOutcome::Created(shipment.clone()))
    }

    async fn get_shipment(&self, order_id: &OrderId) -> Result<Option<Shipment>, PortError> {
        self.faults.check("get_shipment")?;
        Ok(lock(&self.shipments).get(order_id).cloned())
    }
}

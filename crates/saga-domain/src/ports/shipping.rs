//! The shipping service's port: shipments by order, created at most once.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::PortError;
use crate::ids::OrderId;

/// Where a shipment is. The saga only ever creates shipments; the carrier
/// integration (out of scope) moves them on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ShipmentStatus {
    /// Handed to the warehouse.
    Created,
}

impl ShipmentStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ShipmentStatus::Created => "CREATED",
        }
    }

    /// Parses the stored name.
    pub fn parse(name: &str) -> Option<Self> {
        (name == "CREATED").then_some(ShipmentStatus::Created)
    }
}

/// A stored shipment (key `orderId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    /// The order shipped; one shipment per order.
    pub order_id: OrderId,
    /// The shipment's id.
    pub shipment_id: String,
    /// The carrier's tracking number.
    pub tracking_number: String,
    /// Current status.
    pub status: ShipmentStatus,
    /// When it was created (whole seconds).
    pub created_at: DateTime<Utc>,
}

/// What [`ShipmentStore::create_shipment`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateShipmentOutcome {
    /// The shipment was written.
    Created(Shipment),
    /// The order already has a shipment; returned unchanged.
    AlreadyExists(Shipment),
}

/// The shipments table.
pub trait ShipmentStore: Send + Sync {
    /// Puts the shipment if the order has none (`attribute_not_exists`).
    fn create_shipment(
        &self,
        shipment: &Shipment,
    ) -> impl Future<Output = Result<CreateShipmentOutcome, PortError>> + Send;

    /// The order's shipment, strongly consistent.
    fn get_shipment(
        &self,
        order_id: &OrderId,
    ) -> impl Future<Output = Result<Option<Shipment>, PortError>> + Send;
}

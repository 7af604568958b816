//! Contract of [`ShipmentStore`]: a shipment is created once per order.

use std::future::Future;

use super::{at, ok, order_id};
use crate::ports::{CreateShipmentOutcome, Shipment, ShipmentStatus, ShipmentStore};

/// Runs every shipment case, each on a fresh store from `fresh`.
pub async fn run_all<S, F, Fut>(fresh: F)
where
    S: ShipmentStore,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    create_once_then_return_the_original(fresh().await).await;
    absent_shipment_reads_as_none(fresh().await).await;
}

fn shipment(order: &str, shipment_id: &str, second: i64) -> Shipment {
    Shipment {
        order_id: order_id(order),
        shipment_id: shipment_id.to_owned(),
        tracking_number: format!("TRK-{shipment_id}"),
        status: ShipmentStatus::Created,
        created_at: at(second),
    }
}

/// A second create for the same order writes nothing and returns the first.
pub async fn create_once_then_return_the_original(store: impl ShipmentStore) {
    let case = "shipments::create_once_then_return_the_original";
    let first = shipment("ord-ship-1", "shp-a", 0);
    let created = ok(store.create_shipment(&first).await, case);
    assert_eq!(
        created,
        CreateShipmentOutcome::Created(first.clone()),
        "{case}: first create"
    );
    let second = shipment("ord-ship-1", "shp-b", 5);
    let again = ok(store.create_shipment(&second).await, case);
    assert_eq!(
        again,
        CreateShipmentOutcome::AlreadyExists(first.clone()),
        "{case}: second create must return the original"
    );
    let stored = ok(store.get_shipment(&first.order_id).await, case);
    assert_eq!(stored, Some(first), "{case}: stored shipment");
}

/// Reading a shipment that was never created gives `None`.
pub async fn absent_shipment_reads_as_none(store: impl ShipmentStore) {
    let case = "shipments::absent_shipment_reads_as_none";
    let stored = ok(store.get_shipment(&order_id("ord-none")).await, case);
    assert_eq!(stored, None, "{case}");
}

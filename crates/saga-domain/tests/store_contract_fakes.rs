//! The store contract suite against the in-memory fakes: the fakes every
//! other test relies on behave like the real stores must.

use saga_domain::contract;
use saga_domain::fakes::{InMemoryInventory, InMemoryPayments, InMemoryShipments};

#[tokio::test]
async fn in_memory_inventory_meets_the_inventory_contract() {
    contract::inventory::run_all(|| async { InMemoryInventory::new() }).await;
}

#[tokio::test]
async fn in_memory_payments_meet_the_payments_contract() {
    contract::payments::run_all(|| async { InMemoryPayments::new() }).await;
}

#[tokio::test]
async fn in_memory_shipments_meet_the_shipments_contract() {
    contract::shipments::run_all(|| async { InMemoryShipments::new() }).await;
}

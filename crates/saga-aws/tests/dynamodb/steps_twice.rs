//! Every saga step, invoked twice with the same input against the DynamoDB
//! adapters, returns the same result and has one effect: one stock
//! decrement, one provider charge, one shipment, one refund. The shared
//! suite (`saga_domain::contract::steps`), which `saga-domain` runs on the
//! fakes, here on DynamoDB Local's conditional writes, each case on fresh
//! tables. (Payments and Shipments are keyed by `orderId`, so one record
//! per order is the table's own guarantee.)

use saga_aws::{DynamoInventory, DynamoPayments, DynamoShipments};
use saga_domain::contract::steps;

use crate::support;

/// A fresh copy of the template's table `logical_id`, and a client.
async fn fresh_table(logical_id: &str) -> (aws_sdk_dynamodb::Client, String) {
    let client = support::dynamodb_client().await;
    let name = support::unique_name(&format!("StepsTwice{logical_id}"));
    support::create_table(&client, logical_id, &name).await;
    (client, name)
}

async fn inventory() -> DynamoInventory {
    let (client, table) = fresh_table("InventoryTable").await;
    DynamoInventory::new(client, table)
}

async fn payments() -> DynamoPayments {
    let (client, table) = fresh_table("PaymentsTable").await;
    DynamoPayments::new(client, table)
}

#[tokio::test]
async fn reserve_twice_on_dynamodb_returns_the_same_reservation_and_decrements_stock_once() {
    steps::reserve_twice_returns_the_same_reservation_and_moves_stock_once(&inventory().await)
        .await;
}

#[tokio::test]
async fn reserve_replay_on_dynamodb_refuses_an_expired_or_released_reservation() {
    steps::reserve_replay_refuses_an_expired_or_released_reservation(&inventory().await).await;
}

#[tokio::test]
async fn reserve_replay_on_dynamodb_expires_a_lapsed_pending_reservation() {
    steps::reserve_replay_expires_a_lapsed_pending_reservation(&inventory().await).await;
}

#[tokio::test]
async fn confirm_twice_on_dynamodb_confirms_once_and_keeps_the_stock_held() {
    steps::confirm_twice_succeeds_twice_and_refuses_what_is_not_held(&inventory().await).await;
}

#[tokio::test]
async fn release_twice_on_dynamodb_restores_stock_once_and_spares_other_orders() {
    steps::release_twice_restores_stock_once_and_spares_other_orders(&inventory().await).await;
}

#[tokio::test]
async fn charge_twice_on_dynamodb_returns_the_same_capture_and_charges_the_provider_once() {
    steps::charge_twice_returns_the_same_capture_and_charges_the_provider_once(&payments().await)
        .await;
}

#[tokio::test]
async fn refund_twice_on_dynamodb_refunds_the_provider_once() {
    steps::refund_twice_refunds_the_provider_once(&payments().await).await;
}

#[tokio::test]
async fn ship_twice_on_dynamodb_creates_one_shipment_with_the_same_id() {
    let (client, table) = fresh_table("ShipmentsTable").await;
    steps::ship_twice_creates_one_shipment_and_reports_once(&DynamoShipments::new(client, table))
        .await;
}

//! Every saga step, invoked twice with the same input against the DynamoDB
//! adapters, returns the same result and has one effect: one stock
//! decrement, one provider charge, one shipment, one refund. The same
//! promise `saga-domain`'s `steps_are_idempotent` makes against the fakes,
//! here proven on DynamoDB Local's conditional writes.

use chrono::TimeDelta;
use saga_aws::{DynamoInventory, DynamoPayments, DynamoShipments};
use saga_domain::fakes::{ManualClock, RecordingTaskReporter, TaskReport};
use saga_domain::ports::{
    Catalog, PaymentStatus, PaymentStore, ReleaseOutcome, ReservationStatus, ShipmentStatus,
    ShipmentStore, StockItem,
};
use saga_domain::simulated_provider::SimulatedPaymentProvider;
use saga_domain::step_io::{
    ChargeInput, Confirmed, OrderRef, RefundOutcome, Released, ReserveInput,
};
use saga_domain::steps::{
    ReservationTtl, ShipRecordOutcome, charge_payment, confirm_reservation, process_ship_message,
    refund_payment, release_reservation, reserve_inventory,
};
use saga_domain::{Money, OrderId, Sku};
use serde_json::json;

use crate::support;

const START: &str = "2026-03-01T12:00:00.750Z";

/// A fresh table of `kind`, and a client for looking at it directly.
async fn fresh_table(kind: &str) -> (aws_sdk_dynamodb::Client, String) {
    let client = support::dynamodb_client().await;
    let name = support::unique_name(&format!("StepsTwice{kind}"));
    support::create_table(&client, kind, &name).await;
    (client, name)
}

/// How many items `table` holds, read with a scan (fresh tables are tiny).
async fn item_count(client: &aws_sdk_dynamodb::Client, table: &str) -> i32 {
    client
        .scan()
        .table_name(table)
        .consistent_read(true)
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap()
        .count()
}

fn order(id: &str) -> OrderId {
    id.parse().unwrap()
}

fn order_ref(id: &str) -> OrderRef {
    OrderRef {
        order_id: order(id),
    }
}

fn eur(amount: i64) -> Money {
    Money::new(amount, "EUR".parse().unwrap()).unwrap()
}

/// A fresh Inventory table stocked with `stock` as `(sku, available)`.
async fn inventory_with(stock: &[(&str, u64)]) -> DynamoInventory {
    let (client, table) = fresh_table("InventoryTable").await;
    let inventory = DynamoInventory::new(client, table);
    for (sku, available) in stock {
        inventory
            .put_stock_item(&StockItem {
                sku: sku.parse().unwrap(),
                name: sku.to_string(),
                available: *available,
                reserved: 0,
                unit_price: eur(1500),
            })
            .await
            .unwrap();
    }
    inventory
}

/// `(available, reserved)` of `sku`.
async fn stock(inventory: &DynamoInventory, sku: &str) -> (u64, u64) {
    let sku: Sku = sku.parse().unwrap();
    let items = inventory.stock_items(&[sku]).await.unwrap();
    (items[0].available, items[0].reserved)
}

fn reserve_input(order_id: &str, items: serde_json::Value) -> ReserveInput {
    serde_json::from_value(json!({"orderId": order_id, "items": items})).unwrap()
}

fn two_tees(order_id: &str) -> ReserveInput {
    reserve_input(order_id, json!([{"sku": "SKU-TEE-M", "quantity": 2}]))
}

fn charge_input(order_id: &str, amount: i64) -> ChargeInput {
    ChargeInput {
        order_id: order(order_id),
        total: eur(amount),
        payment_method: "pm_card_visa".parse().unwrap(),
    }
}

#[tokio::test]
async fn reserve_twice_on_dynamodb_returns_the_same_reservation_and_decrements_stock_once() {
    let inventory = inventory_with(&[("SKU-TEE-M", 10), ("SKU-MUG", 5)]).await;
    let clock = ManualClock::at_rfc3339(START);
    let ttl = ReservationTtl::from_secs(600).unwrap();
    let input = reserve_input(
        "ord-reserve-twice",
        json!([{"sku": "SKU-TEE-M", "quantity": 2}, {"sku": "SKU-MUG", "quantity": 1}]),
    );

    let first = reserve_inventory(&inventory, &clock, ttl, input.clone())
        .await
        .unwrap();
    // The retry comes later; it must still return the original reservation.
    clock.advance(TimeDelta::seconds(30));
    let second = reserve_inventory(&inventory, &clock, ttl, input)
        .await
        .unwrap();

    assert_eq!(first, second);
    assert_eq!(
        serde_json::to_value(&first).unwrap(),
        json!({
            "orderId": "ord-reserve-twice",
            "status": "PENDING",
            "lines": [{"sku": "SKU-TEE-M", "quantity": 2}, {"sku": "SKU-MUG", "quantity": 1}],
            "expiresAt": "2026-03-01T12:10:00Z"
        })
    );
    assert_eq!(stock(&inventory, "SKU-TEE-M").await, (8, 2));
    assert_eq!(stock(&inventory, "SKU-MUG").await, (4, 1));
}

#[tokio::test]
async fn confirm_twice_on_dynamodb_confirms_once_and_keeps_the_stock_held() {
    let inventory = inventory_with(&[("SKU-TEE-M", 10)]).await;
    let clock = ManualClock::at_rfc3339(START);
    reserve_inventory(
        &inventory,
        &clock,
        ReservationTtl::DEFAULT,
        two_tees("ord-confirm-twice"),
    )
    .await
    .unwrap();
    clock.advance(TimeDelta::seconds(5));

    let first = confirm_reservation(&inventory, &clock, order_ref("ord-confirm-twice"))
        .await
        .unwrap();
    let second = confirm_reservation(&inventory, &clock, order_ref("ord-confirm-twice"))
        .await
        .unwrap();

    let expected = Confirmed {
        order_id: order("ord-confirm-twice"),
        status: ReservationStatus::Confirmed,
    };
    assert_eq!(first, expected);
    assert_eq!(second, expected);
    // Confirming keeps the units reserved; it neither restores nor takes more.
    assert_eq!(stock(&inventory, "SKU-TEE-M").await, (8, 2));
}

#[tokio::test]
async fn release_twice_on_dynamodb_restores_stock_once_and_spares_other_orders() {
    let inventory = inventory_with(&[("SKU-TEE-M", 10)]).await;
    let clock = ManualClock::at_rfc3339(START);
    for id in ["ord-kept", "ord-release-twice"] {
        reserve_inventory(&inventory, &clock, ReservationTtl::DEFAULT, two_tees(id))
            .await
            .unwrap();
    }
    confirm_reservation(&inventory, &clock, order_ref("ord-kept"))
        .await
        .unwrap();
    assert_eq!(stock(&inventory, "SKU-TEE-M").await, (6, 4));

    let first = release_reservation(&inventory, &clock, order_ref("ord-release-twice"))
        .await
        .unwrap();
    let second = release_reservation(&inventory, &clock, order_ref("ord-release-twice"))
        .await
        .unwrap();

    assert_eq!(
        first,
        Released {
            order_id: order("ord-release-twice"),
            outcome: ReleaseOutcome::Released,
        }
    );
    assert_eq!(
        second,
        Released {
            order_id: order("ord-release-twice"),
            outcome: ReleaseOutcome::AlreadyReleased,
        }
    );
    // Two units came back once; the confirmed order still holds its two.
    assert_eq!(stock(&inventory, "SKU-TEE-M").await, (8, 2));
}

#[tokio::test]
async fn charge_twice_on_dynamodb_returns_the_same_capture_and_charges_the_provider_once() {
    let (client, table) = fresh_table("PaymentsTable").await;
    let payments = DynamoPayments::new(client.clone(), table.clone());
    let provider = SimulatedPaymentProvider::new();
    let clock = ManualClock::at_rfc3339(START);
    let input = charge_input("ord-charge-twice", 3000);

    let first = charge_payment(&payments, &provider, &clock, input.clone())
        .await
        .unwrap();
    clock.advance(TimeDelta::seconds(10));
    let second = charge_payment(&payments, &provider, &clock, input)
        .await
        .unwrap();

    assert_eq!(first, second);
    assert_eq!(first.order_id, order("ord-charge-twice"));
    assert_eq!(first.status, PaymentStatus::Captured);
    assert_eq!(first.amount, eur(3000));
    assert!(!first.provider_reference.is_empty());
    assert_eq!(provider.charges_made("ord-charge-twice"), 1);
    assert_eq!(provider.captured_charges(), 1);

    assert_eq!(item_count(&client, &table).await, 1);
    let stored = payments
        .get_payment(&order("ord-charge-twice"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, PaymentStatus::Captured);
    assert_eq!(stored.amount, eur(3000));
    assert_eq!(
        stored.provider_reference.as_deref(),
        Some(first.provider_reference.as_str())
    );
}

#[tokio::test]
async fn refund_twice_on_dynamodb_refunds_the_provider_once() {
    let (client, table) = fresh_table("PaymentsTable").await;
    let payments = DynamoPayments::new(client.clone(), table.clone());
    let provider = SimulatedPaymentProvider::new();
    let clock = ManualClock::at_rfc3339(START);
    let charged = charge_payment(
        &payments,
        &provider,
        &clock,
        charge_input("ord-refund-twice", 4500),
    )
    .await
    .unwrap();
    clock.advance(TimeDelta::minutes(1));

    let first = refund_payment(&payments, &provider, &clock, order_ref("ord-refund-twice"))
        .await
        .unwrap();
    let second = refund_payment(&payments, &provider, &clock, order_ref("ord-refund-twice"))
        .await
        .unwrap();

    assert_eq!(first.order_id, order("ord-refund-twice"));
    assert_eq!(first.outcome, RefundOutcome::Refunded);
    assert_eq!(second.order_id, order("ord-refund-twice"));
    assert_eq!(second.outcome, RefundOutcome::AlreadyRefunded);
    assert_eq!(provider.refunds_made(&charged.provider_reference), 1);
    assert_eq!(provider.charges_made("ord-refund-twice"), 1);

    assert_eq!(item_count(&client, &table).await, 1);
    let stored = payments
        .get_payment(&order("ord-refund-twice"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, PaymentStatus::Refunded);
    assert_eq!(stored.amount, eur(4500));
    assert!(stored.refund_reference.is_some());
}

#[tokio::test]
async fn ship_twice_on_dynamodb_creates_one_shipment_with_the_same_id() {
    let (client, table) = fresh_table("ShipmentsTable").await;
    let shipments = DynamoShipments::new(client.clone(), table.clone());
    let reporter = RecordingTaskReporter::new();
    let clock = ManualClock::at_rfc3339(START);
    let body = json!({
        "taskToken": "token-ship-twice",
        "orderId": "ord-ship-twice",
        "items": [{"sku": "SKU-TEE-M", "quantity": 2}],
        "shippingAddress": {"name": "Ada", "line1": "Main St 1", "city": "Berlin", "postalCode": "10115", "country": "DE"}
    })
    .to_string();

    let first = process_ship_message(&shipments, &reporter, &clock, &body).await;
    // SQS redelivers the same message later.
    clock.advance(TimeDelta::minutes(2));
    let second = process_ship_message(&shipments, &reporter, &clock, &body).await;

    let (ShipRecordOutcome::Shipped(a), ShipRecordOutcome::Shipped(b)) = (&first, &second) else {
        panic!("expected two Shipped, got {first:?} and {second:?}");
    };
    assert_eq!(a, b);
    assert_eq!(a.order_id, order("ord-ship-twice"));
    assert!(!a.shipment_id.is_empty());
    assert!(!a.tracking_number.is_empty());

    assert_eq!(item_count(&client, &table).await, 1);
    let stored = shipments
        .get_shipment(&order("ord-ship-twice"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.shipment_id, a.shipment_id);
    assert_eq!(stored.tracking_number, a.tracking_number);
    assert_eq!(stored.status, ShipmentStatus::Created);
    // Created at the first delivery, not moved by the redelivery.
    assert_eq!(
        stored.created_at,
        "2026-03-01T12:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    );

    // The task is completed once: the first delivery completed it; the
    // redelivery found the shipment there and the token spent, and still
    // answered Shipped so the message leaves the queue.
    assert_eq!(
        reporter.reports(),
        vec![TaskReport::Success {
            token: "token-ship-twice".parse().unwrap(),
            output: serde_json::to_value(a).unwrap(),
        }]
    );
}

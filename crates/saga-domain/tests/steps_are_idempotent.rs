//! Every step, run twice with the same input against the fakes, gives the
//! same result and has one effect: the shared suite
//! (`saga_domain::contract::steps`, which `saga-aws` runs on DynamoDB Local)
//! on the fakes, plus the cases only fakes can set up (injected store
//! faults, a crash between provider and table) and the business outcomes of
//! each step.

use chrono::TimeDelta;
use saga_domain::contract::steps;
use saga_domain::fakes::{
    InMemoryInventory, InMemoryPayments, InMemoryShipments, ManualClock, RecordingTaskReporter,
    TaskReport,
};
use saga_domain::ports::{
    CancelOutcome, CancelRequest, Catalog, ChargeOutcome, ChargeRequest, Clock, Payment,
    PaymentIntent, PaymentProvider, PaymentStatus, PaymentStore, StockItem, whole_seconds,
};
use saga_domain::simulated_provider::SimulatedPaymentProvider;
use saga_domain::step_io::{ChargeInput, OrderRef, RefundOutcome, ReserveInput};
use saga_domain::steps::{
    ReaperSettings, ReservationTtl, ShipRecordOutcome, charge_payment, confirm_reservation,
    expire_lapsed_reservations, process_ship_message, refund_payment, reserve_inventory,
};
use saga_domain::{Money, OrderId, Sku, StepError, TaskToken};
use serde_json::json;

const START: &str = "2026-03-01T12:00:00.750Z";

fn clock() -> ManualClock {
    ManualClock::at_rfc3339(START)
}

fn order(id: &str) -> OrderId {
    id.parse().unwrap()
}

fn eur(amount: i64) -> Money {
    Money::new(amount, "EUR".parse().unwrap()).unwrap()
}

async fn inventory_with(stock: &[(&str, u64)]) -> InMemoryInventory {
    let inventory = InMemoryInventory::new();
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

async fn stock(inventory: &InMemoryInventory, sku: &str) -> (u64, u64) {
    let sku: Sku = sku.parse().unwrap();
    let items = inventory.stock_items(&[sku]).await.unwrap();
    (items[0].available, items[0].reserved)
}

fn reserve_input(order_id: &str, items: serde_json::Value) -> ReserveInput {
    serde_json::from_value(json!({"orderId": order_id, "items": items})).unwrap()
}

fn order_ref(order_id: &str) -> OrderRef {
    OrderRef {
        order_id: order(order_id),
    }
}

fn charge_input(order_id: &str, amount: i64, method: &str) -> ChargeInput {
    ChargeInput {
        order_id: order(order_id),
        total: eur(amount),
        payment_method: method.parse().unwrap(),
    }
}

async fn reserve(inventory: &InMemoryInventory, clock: &ManualClock, order_id: &str) {
    let input = reserve_input(order_id, json!([{"sku": "SKU-TEE-M", "quantity": 2}]));
    reserve_inventory(inventory, clock, ReservationTtl::DEFAULT, input)
        .await
        .unwrap();
}

// ------------------------------------------------- the shared steps-twice suite

#[tokio::test]
async fn reserve_twice_returns_the_same_reservation_and_moves_stock_once() {
    steps::reserve_twice_returns_the_same_reservation_and_moves_stock_once(
        &InMemoryInventory::new(),
    )
    .await;
}

#[tokio::test]
async fn reserve_replay_refuses_an_expired_or_released_reservation() {
    steps::reserve_replay_refuses_an_expired_or_released_reservation(&InMemoryInventory::new())
        .await;
}

#[tokio::test]
async fn reserve_replay_expires_a_lapsed_pending_reservation() {
    steps::reserve_replay_expires_a_lapsed_pending_reservation(&InMemoryInventory::new()).await;
}

#[tokio::test]
async fn confirm_twice_succeeds_twice_and_refuses_what_is_not_held() {
    steps::confirm_twice_succeeds_twice_and_refuses_what_is_not_held(&InMemoryInventory::new())
        .await;
}

#[tokio::test]
async fn release_twice_restores_stock_once_and_spares_other_orders() {
    steps::release_twice_restores_stock_once_and_spares_other_orders(&InMemoryInventory::new())
        .await;
}

#[tokio::test]
async fn charge_twice_returns_the_same_capture_and_charges_the_provider_once() {
    steps::charge_twice_returns_the_same_capture_and_charges_the_provider_once(
        &InMemoryPayments::new(),
    )
    .await;
}

#[tokio::test]
async fn refund_twice_refunds_the_provider_once() {
    steps::refund_twice_refunds_the_provider_once(&InMemoryPayments::new()).await;
}

#[tokio::test]
async fn ship_twice_creates_one_shipment_and_reports_once() {
    let shipments = InMemoryShipments::new();
    steps::ship_twice_creates_one_shipment_and_reports_once(&shipments).await;
    assert_eq!(shipments.len(), 1);
}

// ------------------------------------------------------ fakes-only cases

#[tokio::test]
async fn reserve_reports_business_failures_without_moving_stock() {
    let inventory = inventory_with(&[("SKU-TEE-M", 1)]).await;
    let clock = clock();
    let cases = [
        (
            json!([{"sku": "SKU-TEE-M", "quantity": 2}]),
            "InsufficientStock",
        ),
        (json!([{"sku": "SKU-NOPE", "quantity": 1}]), "UnknownSku"),
    ];
    for (items, expected) in cases {
        let error = reserve_inventory(
            &inventory,
            &clock,
            ReservationTtl::DEFAULT,
            reserve_input("ord-1", items),
        )
        .await
        .unwrap_err();
        assert_eq!(error.error_type(), expected);
    }
    assert_eq!(stock(&inventory, "SKU-TEE-M").await, (1, 0));
}

#[tokio::test]
async fn reserve_maps_an_unavailable_store_to_transient_error() {
    let inventory = inventory_with(&[("SKU-TEE-M", 10)]).await;
    inventory.faults.fail_next(1);
    let input = reserve_input("ord-1", json!([{"sku": "SKU-TEE-M", "quantity": 2}]));
    let error = reserve_inventory(&inventory, &clock(), ReservationTtl::DEFAULT, input)
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "TransientError");
    assert_eq!(stock(&inventory, "SKU-TEE-M").await, (10, 0));
}

#[tokio::test]
async fn charge_declined_twice_is_declined_twice_with_one_provider_charge() {
    let payments = InMemoryPayments::new();
    let provider = SimulatedPaymentProvider::new();
    let clock = clock();
    let input = charge_input("ord-1", 3000, "pm_card_chargeDeclined");
    for _ in 0..2 {
        let error = charge_payment(&payments, &provider, &clock, input.clone())
            .await
            .unwrap_err();
        assert!(
            matches!(&error, StepError::PaymentDeclined { reason, .. } if reason == "card_declined"),
            "{error:?}"
        );
    }
    assert_eq!(provider.charges_made("ord-1"), 1);
    let stored = payments
        .get_payment(&order("ord-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, PaymentStatus::Declined);
}

/// A first charge invocation's intent: 30.00 EUR on a card that captures,
/// recorded PENDING (the provider call may or may not have followed).
async fn record_visa_intent(payments: &InMemoryPayments, clock: &ManualClock, order_id: &str) {
    payments
        .record_intent(&PaymentIntent {
            order_id: order(order_id),
            amount: eur(3000),
            payment_method: "pm_card_visa".parse().unwrap(),
            created_at: whole_seconds(clock.now()),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn charge_after_a_crash_between_provider_and_table_replays_the_same_charge() {
    let payments = InMemoryPayments::new();
    let provider = SimulatedPaymentProvider::new();
    let clock = clock();
    // A first invocation recorded the intent and charged, then died before
    // marking the payment captured.
    record_visa_intent(&payments, &clock, "ord-1").await;
    let request = ChargeRequest {
        order_id: order("ord-1"),
        idempotency_key: "ord-1".into(),
        amount: eur(3000),
        payment_method: "pm_card_visa".parse().unwrap(),
    };
    let ChargeOutcome::Captured { provider_reference } = provider.charge(&request).await.unwrap()
    else {
        panic!("visa must capture");
    };
    let retried = charge_payment(
        &payments,
        &provider,
        &clock,
        charge_input("ord-1", 3000, "pm_card_visa"),
    )
    .await
    .unwrap();
    assert_eq!(retried.provider_reference, provider_reference);
    assert_eq!(provider.charges_made("ord-1"), 1);
}

#[tokio::test]
async fn charge_failures_are_typed() {
    let payments = InMemoryPayments::new();
    let provider = SimulatedPaymentProvider::new();
    let clock = clock();
    let transient = charge_payment(
        &payments,
        &provider,
        &clock,
        charge_input("ord-t", 3000, "pm_card_transientFailure"),
    )
    .await
    .unwrap_err();
    assert_eq!(transient.error_type(), "TransientError");
    // The intent stays PENDING so the retry replays the same provider call.
    let pending = payments
        .get_payment(&order("ord-t"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pending.status, PaymentStatus::Pending);

    charge_payment(
        &payments,
        &provider,
        &clock,
        charge_input("ord-2", 3000, "pm_card_visa"),
    )
    .await
    .unwrap();
    let other_amount = charge_payment(
        &payments,
        &provider,
        &clock,
        charge_input("ord-2", 4000, "pm_card_visa"),
    )
    .await
    .unwrap_err();
    assert_eq!(other_amount.error_type(), "InvalidOrder");
    assert_eq!(provider.charges_made("ord-2"), 1);
}

#[tokio::test]
async fn refund_after_a_crash_before_the_table_update_refunds_once() {
    let payments = InMemoryPayments::new();
    let provider = SimulatedPaymentProvider::new();
    let clock = clock();
    let charged = charge_payment(
        &payments,
        &provider,
        &clock,
        charge_input("ord-1", 3000, "pm_card_visa"),
    )
    .await
    .unwrap();
    // The provider refunds, then the table is unavailable: the step fails
    // transiently and is retried.
    payments.faults.set_unavailable(true);
    let failed = refund_payment(&payments, &provider, &clock, order_ref("ord-1")).await;
    assert_eq!(failed.unwrap_err().error_type(), "TransientError");
    payments.faults.set_unavailable(false);
    let retried = refund_payment(&payments, &provider, &clock, order_ref("ord-1"))
        .await
        .unwrap();
    assert_eq!(retried.outcome, RefundOutcome::Refunded);
    assert_eq!(provider.refunds_made(&charged.provider_reference), 1);
}

#[tokio::test]
async fn refund_of_a_charge_that_never_answered_cancels_it_and_a_late_charge_cannot_capture() {
    // The provider kept failing, so the charge step gave up with the payment
    // PENDING and the saga compensates: the refund reconciles with the
    // provider instead of waiting forever on a charge that never completes.
    let payments = InMemoryPayments::new();
    let provider = SimulatedPaymentProvider::new();
    let clock = clock();
    let failed = charge_payment(
        &payments,
        &provider,
        &clock,
        charge_input("ord-1", 3000, "pm_card_transientFailure"),
    )
    .await
    .unwrap_err();
    assert_eq!(failed.error_type(), "TransientError");
    let refunded = refund_payment(&payments, &provider, &clock, order_ref("ord-1"))
        .await
        .unwrap();
    assert_eq!(refunded.outcome, RefundOutcome::NothingToRefund);
    let payment = payments
        .get_payment(&order("ord-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(payment.status, PaymentStatus::Declined);
    // A charge invocation still running somewhere cannot capture any more.
    let late = charge_payment(
        &payments,
        &provider,
        &clock,
        charge_input("ord-1", 3000, "pm_card_transientFailure"),
    )
    .await
    .unwrap_err();
    assert_eq!(late.error_type(), "PaymentDeclined");
    assert_eq!(provider.captured_charges(), 0);
}

#[tokio::test]
async fn refund_of_a_capture_whose_answer_was_lost_refunds_it_once() {
    // The provider captured, then the table write failed: PENDING in the
    // table, captured at the provider. The compensation finds and refunds it.
    let payments = InMemoryPayments::new();
    let provider = SimulatedPaymentProvider::new();
    let clock = clock();
    record_visa_intent(&payments, &clock, "ord-2").await;
    let captured = provider
        .charge(&ChargeRequest {
            order_id: order("ord-2"),
            idempotency_key: "ord-2".to_owned(),
            amount: eur(3000),
            payment_method: "pm_card_visa".parse().unwrap(),
        })
        .await
        .unwrap();
    let ChargeOutcome::Captured { provider_reference } = captured else {
        panic!("{captured:?}")
    };
    let refunded = refund_payment(&payments, &provider, &clock, order_ref("ord-2"))
        .await
        .unwrap();
    assert_eq!(refunded.outcome, RefundOutcome::Refunded);
    assert_eq!(provider.refunds_made(&provider_reference), 1);
    let again = refund_payment(&payments, &provider, &clock, order_ref("ord-2"))
        .await
        .unwrap();
    assert_eq!(again.outcome, RefundOutcome::AlreadyRefunded);
    assert_eq!(provider.refunds_made(&provider_reference), 1);
}

// ------------------------------- the provider forgets its idempotency keys
//
// Providers forget keys after a retention period (Stripe: about a day) and a
// redrive may come weeks later: a re-send must not count on the key.

async fn stored_payment(payments: &InMemoryPayments, order_id: &str) -> Payment {
    payments
        .get_payment(&order(order_id))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn charge_replayed_after_a_lost_answer_and_forgotten_keys_captures_once() {
    let payments = InMemoryPayments::new();
    let provider = SimulatedPaymentProvider::new();
    let clock = clock();
    let input = charge_input("ord-1", 3000, "pm_card_visa");
    // The provider captures, the answer is lost: PENDING in the table.
    provider.lose_next_answers(1);
    let lost = charge_payment(&payments, &provider, &clock, input.clone()).await;
    assert_eq!(lost.unwrap_err().error_type(), "TransientError");
    assert_eq!(
        stored_payment(&payments, "ord-1").await.status,
        PaymentStatus::Pending
    );
    // Weeks later, the redrive replays the step; the key is long forgotten.
    provider.forget_idempotency_keys();
    clock.advance(TimeDelta::days(14));
    let replayed = charge_payment(&payments, &provider, &clock, input)
        .await
        .unwrap();
    assert_eq!(provider.statement("ord-1").captures, 1, "one capture");
    assert_eq!(provider.charges_made("ord-1"), 1, "one charge");
    assert_eq!(replayed.provider_reference, "ch_sim_ord-1_1");
    let stored = stored_payment(&payments, "ord-1").await;
    assert_eq!(stored.status, PaymentStatus::Captured);
    assert_eq!(stored.provider_reference.as_deref(), Some("ch_sim_ord-1_1"));
}

#[tokio::test]
async fn charge_replayed_after_a_lost_decline_and_forgotten_keys_declines_without_charging_again() {
    let payments = InMemoryPayments::new();
    let provider = SimulatedPaymentProvider::new();
    let clock = clock();
    let input = charge_input("ord-1", 3000, "pm_card_chargeDeclined");
    provider.lose_next_answers(1);
    let lost = charge_payment(&payments, &provider, &clock, input.clone()).await;
    assert_eq!(lost.unwrap_err().error_type(), "TransientError");
    provider.forget_idempotency_keys();
    let replayed = charge_payment(&payments, &provider, &clock, input)
        .await
        .unwrap_err();
    assert!(
        matches!(&replayed, StepError::PaymentDeclined { reason, .. } if reason == "card_declined"),
        "{replayed:?}"
    );
    assert_eq!(provider.charges_made("ord-1"), 1, "the card was tried once");
    assert_eq!(
        stored_payment(&payments, "ord-1").await.status,
        PaymentStatus::Declined
    );
}

#[tokio::test]
async fn charge_replayed_after_a_cancel_and_forgotten_keys_does_not_capture() {
    // The refund step cancelled at the provider, then could not write the
    // table (the payment stays PENDING); a late charge invocation comes after
    // the provider forgot the key the cancel spent.
    let payments = InMemoryPayments::new();
    let provider = SimulatedPaymentProvider::new();
    let clock = clock();
    record_visa_intent(&payments, &clock, "ord-1").await;
    let cancelled = provider
        .cancel(&CancelRequest {
            order_id: order("ord-1"),
            idempotency_key: "ord-1".to_owned(),
            amount: eur(3000),
            payment_method: "pm_card_visa".parse().unwrap(),
        })
        .await
        .unwrap();
    assert_eq!(cancelled, CancelOutcome::Cancelled);
    provider.forget_idempotency_keys();
    let late = charge_payment(
        &payments,
        &provider,
        &clock,
        charge_input("ord-1", 3000, "pm_card_visa"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&late, StepError::PaymentDeclined { reason, .. } if reason == "payment_intent_canceled"),
        "{late:?}"
    );
    assert_eq!(provider.captured_charges(), 0);
}

#[tokio::test]
async fn refund_replayed_after_a_lost_answer_and_forgotten_keys_refunds_once() {
    let payments = InMemoryPayments::new();
    let provider = SimulatedPaymentProvider::new();
    let clock = clock();
    let charged = charge_payment(
        &payments,
        &provider,
        &clock,
        charge_input("ord-1", 3000, "pm_card_visa"),
    )
    .await
    .unwrap();
    // The provider refunds, the answer is lost: still CAPTURED in the table.
    provider.lose_next_answers(1);
    let lost = refund_payment(&payments, &provider, &clock, order_ref("ord-1")).await;
    assert_eq!(lost.unwrap_err().error_type(), "TransientError");
    provider.forget_idempotency_keys();
    clock.advance(TimeDelta::days(14));
    let replayed = refund_payment(&payments, &provider, &clock, order_ref("ord-1"))
        .await
        .unwrap();
    assert_eq!(replayed.outcome, RefundOutcome::Refunded);
    assert_eq!(provider.refunds_made(&charged.provider_reference), 1);
    assert_eq!(provider.statement("ord-1").net_minor(), 0);
    let stored = stored_payment(&payments, "ord-1").await;
    assert_eq!(stored.status, PaymentStatus::Refunded);
    assert_eq!(stored.refund_reference.as_deref(), Some("re_sim_ord-1_1"));
}

#[tokio::test]
async fn refund_of_a_pending_payment_finds_its_capture_after_the_keys_are_forgotten() {
    // The charge's answer was lost and its retries ran out; by the time the
    // compensation runs (a redrive, weeks later) the key is forgotten, and
    // the capture is found by the order in its metadata.
    let payments = InMemoryPayments::new();
    let provider = SimulatedPaymentProvider::new();
    let clock = clock();
    provider.lose_next_answers(1);
    let lost = charge_payment(
        &payments,
        &provider,
        &clock,
        charge_input("ord-1", 3000, "pm_card_visa"),
    )
    .await;
    assert_eq!(lost.unwrap_err().error_type(), "TransientError");
    provider.forget_idempotency_keys();
    let refunded = refund_payment(&payments, &provider, &clock, order_ref("ord-1"))
        .await
        .unwrap();
    assert_eq!(refunded.outcome, RefundOutcome::Refunded);
    assert_eq!(provider.refunds_made("ch_sim_ord-1_1"), 1);
    assert_eq!(provider.statement("ord-1").net_minor(), 0);
}

/// A provider holding two captures for `ord-1` (the key was forgotten
/// between them), with the payment PENDING in the table.
async fn doubly_charged(
    payments: &InMemoryPayments,
    clock: &ManualClock,
) -> SimulatedPaymentProvider {
    let provider = SimulatedPaymentProvider::new();
    record_visa_intent(payments, clock, "ord-1").await;
    let request = ChargeRequest {
        order_id: order("ord-1"),
        idempotency_key: "ord-1".to_owned(),
        amount: eur(3000),
        payment_method: "pm_card_visa".parse().unwrap(),
    };
    provider.charge(&request).await.unwrap();
    provider.forget_idempotency_keys();
    provider.charge(&request).await.unwrap();
    assert_eq!(provider.statement("ord-1").captures, 2);
    provider
}

#[tokio::test]
async fn charge_reports_two_captures_for_one_order_instead_of_picking_one() {
    let payments = InMemoryPayments::new();
    let clock = clock();
    let provider = doubly_charged(&payments, &clock).await;
    let error = charge_payment(
        &payments,
        &provider,
        &clock,
        charge_input("ord-1", 3000, "pm_card_visa"),
    )
    .await
    .unwrap_err();
    assert_eq!(error.error_type(), "TransientError");
    assert!(error.to_string().contains("2 captures"), "{error}");
    assert_eq!(
        stored_payment(&payments, "ord-1").await.status,
        PaymentStatus::Pending,
        "neither capture is recorded as the payment"
    );
    assert_eq!(provider.charges_made("ord-1"), 2, "and no third charge");
}

#[tokio::test]
async fn refund_reports_two_captures_for_one_order_instead_of_picking_one() {
    let payments = InMemoryPayments::new();
    let clock = clock();
    let provider = doubly_charged(&payments, &clock).await;
    let error = refund_payment(&payments, &provider, &clock, order_ref("ord-1"))
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "TransientError");
    assert!(error.to_string().contains("2 captures"), "{error}");
    assert_eq!(provider.refunds_made("ch_sim_ord-1_1"), 0);
    assert_eq!(provider.refunds_made("ch_sim_ord-1_2"), 0);
}

fn ship_body(order_id: &str, token: &str) -> String {
    json!({
        "taskToken": token,
        "orderId": order_id,
        "items": [{"sku": "SKU-TEE-M", "quantity": 2}],
        "shippingAddress": {"name": "Ada", "line1": "Main St 1", "city": "Berlin", "postalCode": "10115", "country": "DE"}
    })
    .to_string()
}

#[tokio::test]
async fn ship_reports_business_failures_and_leaves_transient_ones_on_the_queue() {
    let shipments = InMemoryShipments::new();
    let reporter = RecordingTaskReporter::new();
    let clock = clock();

    let bad_address = json!({"taskToken": "token-bad", "orderId": "ord-2", "items": [{"sku": "A", "quantity": 1}], "shippingAddress": {"name": "", "line1": "x", "city": "x", "postalCode": "1", "country": "DE"}}).to_string();
    let outcome = process_ship_message(&shipments, &reporter, &clock, &bad_address).await;
    assert!(
        matches!(&outcome, ShipRecordOutcome::FailureReported(e) if e.error_type() == "InvalidOrder"),
        "{outcome:?}"
    );
    assert!(
        matches!(&reporter.reports()[0], TaskReport::Failure { error, .. } if error == "InvalidOrder")
    );

    for body in ["not json", r#"{"orderId": "ord-3"}"#, r#"{"taskToken": 7}"#] {
        let outcome = process_ship_message(&shipments, &reporter, &clock, body).await;
        assert!(outcome.leaves_message_on_queue(), "{body}: {outcome:?}");
    }

    shipments.faults.fail_next(1);
    let outcome = process_ship_message(
        &shipments,
        &reporter,
        &clock,
        &ship_body("ord-4", "token-4"),
    )
    .await;
    assert!(
        matches!(&outcome, ShipRecordOutcome::LeaveOnQueue(e) if e.error_type() == "TransientError"),
        "{outcome:?}"
    );
    // Redelivery succeeds.
    let outcome = process_ship_message(
        &shipments,
        &reporter,
        &clock,
        &ship_body("ord-4", "token-4"),
    )
    .await;
    assert!(
        matches!(outcome, ShipRecordOutcome::Shipped(_)),
        "{outcome:?}"
    );
    assert_eq!(shipments.len(), 1);
}

/// A valid message whose shipping address the step refuses: the step fails
/// the task with `InvalidOrder`.
fn unshippable_body(order_id: &str, token: &str) -> String {
    json!({"taskToken": token, "orderId": order_id, "items": [{"sku": "A", "quantity": 1}], "shippingAddress": {"name": "", "line1": "x", "city": "x", "postalCode": "1", "country": "DE"}}).to_string()
}

fn token(text: &str) -> TaskToken {
    text.parse().unwrap()
}

#[tokio::test]
async fn ship_redelivered_after_the_task_completed_is_done_without_a_second_report() {
    let shipments = InMemoryShipments::new();
    let reporter = RecordingTaskReporter::new();
    let clock = clock();
    let body = ship_body("ord-1", "token-1");
    let first = process_ship_message(&shipments, &reporter, &clock, &body).await;
    assert!(matches!(first, ShipRecordOutcome::Shipped(_)), "{first:?}");
    let again = process_ship_message(&shipments, &reporter, &clock, &body).await;
    assert!(!again.leaves_message_on_queue(), "{again:?}");
    assert!(
        matches!(&again, ShipRecordOutcome::TokenSpent { order_id: Some(id), .. } if id == &order("ord-1")),
        "{again:?}"
    );
    assert_eq!(reporter.reports().len(), 1, "one report");
    assert_eq!(shipments.len(), 1, "one shipment");
}

#[tokio::test]
async fn ship_first_delivered_after_the_task_timed_out_keeps_the_shipment_and_is_done() {
    // ShipOrder gave up, the message was dead-lettered, and an operator moved
    // it back: its token is spent before this delivery creates the shipment.
    let shipments = InMemoryShipments::new();
    let reporter = RecordingTaskReporter::new();
    let clock = clock();
    reporter.time_out(&token("token-late"));
    let outcome = process_ship_message(
        &shipments,
        &reporter,
        &clock,
        &ship_body("ord-late", "token-late"),
    )
    .await;
    assert!(!outcome.leaves_message_on_queue(), "{outcome:?}");
    assert!(
        matches!(&outcome, ShipRecordOutcome::TokenSpent { order_id: Some(id), .. } if id == &order("ord-late")),
        "{outcome:?}"
    );
    assert_eq!(shipments.len(), 1, "the shipment the redrive will find");

    // The same for a failure the step would report.
    reporter.time_out(&token("token-late-bad"));
    let outcome = process_ship_message(
        &shipments,
        &reporter,
        &clock,
        &unshippable_body("ord-late-bad", "token-late-bad"),
    )
    .await;
    assert!(!outcome.leaves_message_on_queue(), "{outcome:?}");
    assert!(
        matches!(&outcome, ShipRecordOutcome::TokenSpent { order_id: Some(id), .. } if id == &order("ord-late-bad")),
        "{outcome:?}"
    );
    assert_eq!(reporter.reports(), vec![], "nothing reached a spent task");
}

#[tokio::test]
async fn ship_keeps_the_message_when_step_functions_refuses_the_report_for_another_reason() {
    let shipments = InMemoryShipments::new();
    let reporter = RecordingTaskReporter::new();
    let clock = clock();
    reporter.refuse_reports(Some(
        "AccessDeniedException (HTTP 400): not authorized to perform states:SendTaskSuccess",
    ));
    let body = ship_body("ord-1", "token-1");
    // The first delivery creates the shipment; the redeliveries find it. None
    // may delete the message: it must reach the dead-letter queue and its alarm.
    for delivery in ["first", "second", "third"] {
        let outcome = process_ship_message(&shipments, &reporter, &clock, &body).await;
        assert!(
            matches!(&outcome, ShipRecordOutcome::LeaveOnQueue(e) if e.error_type() == "TransientError"),
            "{delivery} delivery: {outcome:?}"
        );
    }
    let outcome = process_ship_message(
        &shipments,
        &reporter,
        &clock,
        &unshippable_body("ord-2", "token-2"),
    )
    .await;
    assert!(outcome.leaves_message_on_queue(), "{outcome:?}");
    assert_eq!(reporter.reports(), vec![]);
    assert_eq!(shipments.len(), 1);

    // Once the permission is back, the redelivery completes the task.
    reporter.refuse_reports(None);
    let outcome = process_ship_message(&shipments, &reporter, &clock, &body).await;
    assert!(
        matches!(outcome, ShipRecordOutcome::Shipped(_)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn reaper_twice_expires_once_and_spares_confirmed() {
    let inventory = inventory_with(&[("SKU-TEE-M", 10)]).await;
    let clock = clock();
    for id in ["ord-1", "ord-2", "ord-3"] {
        reserve(&inventory, &clock, id).await;
    }
    confirm_reservation(&inventory, &clock, order_ref("ord-3"))
        .await
        .unwrap();
    clock.advance(TimeDelta::minutes(14));
    let early = expire_lapsed_reservations(&inventory, &clock, ReaperSettings::default())
        .await
        .unwrap();
    assert_eq!((early.expired, early.batches), (0, 1));
    clock.advance(TimeDelta::minutes(1));
    let first = expire_lapsed_reservations(&inventory, &clock, ReaperSettings::default())
        .await
        .unwrap();
    let second = expire_lapsed_reservations(&inventory, &clock, ReaperSettings::default())
        .await
        .unwrap();
    assert_eq!((first.expired, first.batches), (2, 1));
    assert_eq!((second.expired, second.batches), (0, 1));
    assert_eq!(stock(&inventory, "SKU-TEE-M").await, (8, 2));
}

#[tokio::test]
async fn reaper_works_in_bounded_batches() {
    let cases = [
        // (due reservations, batch size, max batches) -> (expired, batches)
        ((5, 2, 10), (5, 3)),
        ((4, 2, 10), (4, 3)),
        ((5, 2, 2), (4, 2)),
        ((0, 100, 10), (0, 1)),
    ];
    for ((due, batch_size, max_batches), expected) in cases {
        let inventory = inventory_with(&[("SKU-TEE-M", 100)]).await;
        let clock = clock();
        for i in 0..due {
            reserve(&inventory, &clock, &format!("ord-{i}")).await;
        }
        clock.advance(TimeDelta::hours(1));
        let settings = ReaperSettings::new(batch_size, max_batches).unwrap();
        let report = expire_lapsed_reservations(&inventory, &clock, settings)
            .await
            .unwrap();
        assert_eq!(
            (report.expired, report.batches),
            expected,
            "{due} due, batch {batch_size}, max {max_batches}"
        );
    }
}

#[tokio::test]
async fn reaper_reports_an_unavailable_store_as_transient() {
    let inventory = inventory_with(&[("SKU-TEE-M", 10)]).await;
    inventory.faults.set_unavailable(true);
    let error = expire_lapsed_reservations(&inventory, &clock(), ReaperSettings::default())
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "TransientError");
}

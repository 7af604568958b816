//! Every saga step, run twice with the same input, gives the same result and
//! has one effect: one stock move, one provider charge, one refund, one
//! shipment, one task report. Written once; `saga-domain` runs it on the
//! fakes and `saga-aws` on DynamoDB Local, so the promise the state
//! machine's retries and redrives rely on is proven on both.
//!
//! Each case takes fresh, empty stores from the caller (a new table per case
//! on DynamoDB) and a clock, provider and task reporter of its own.

use chrono::TimeDelta;
use serde_json::{Value, json};

use crate::error::StepError;
use crate::fakes::{ManualClock, RecordingTaskReporter, TaskReport};
use crate::ports::{
    Catalog, Clock, ExpireOutcome, PaymentStatus, PaymentStore, ReleaseOutcome, ReservationExpiry,
    ReservationStatus, ReservationStore, ShipmentStatus, ShipmentStore, StockItem, whole_seconds,
};
use crate::simulated_provider::SimulatedPaymentProvider;
use crate::step_io::{ChargeInput, Confirmed, OrderRef, RefundOutcome, Released, ReserveInput};
use crate::steps::{
    ReservationTtl, ShipRecordOutcome, charge_payment, confirm_reservation, process_ship_message,
    refund_payment, release_reservation, reserve_inventory,
};

use super::{euros, ok, order_id, sku};

/// Where every case starts: 2026-03-01T12:00:00.750Z (a fraction of a
/// second, which the steps truncate to whole seconds).
const START: &str = "2026-03-01T12:00:00.750Z";

fn clock() -> ManualClock {
    ManualClock::at_rfc3339(START)
}

fn order_ref(id: &str) -> OrderRef {
    OrderRef {
        order_id: order_id(id),
    }
}

fn parse<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap_or_else(|error| panic!("bad step input: {error}"))
}

fn reserve_input(order: &str, items: Value) -> ReserveInput {
    parse(json!({"orderId": order, "items": items}))
}

fn two_tees(order: &str) -> ReserveInput {
    reserve_input(order, json!([{"sku": "SKU-TEE-M", "quantity": 2}]))
}

fn charge_input(order: &str, amount_minor: i64, method: &str) -> ChargeInput {
    parse(json!({
        "orderId": order,
        "total": {"amountMinor": amount_minor, "currency": "EUR"},
        "paymentMethod": method,
    }))
}

async fn stock_up(inventory: &impl Catalog, stock: &[(&str, u64)]) {
    for (name, available) in stock {
        let item = StockItem {
            sku: sku(name),
            name: (*name).to_owned(),
            available: *available,
            reserved: 0,
            unit_price: euros(1500),
        };
        ok(inventory.put_stock_item(&item).await, "stocking up");
    }
}

/// `(available, reserved)` of `name`.
async fn stock(inventory: &impl Catalog, name: &str) -> (u64, u64) {
    let items = ok(inventory.stock_items(&[sku(name)]).await, "reading stock");
    let item = items
        .first()
        .unwrap_or_else(|| panic!("{name} is not in the catalog"));
    (item.available, item.reserved)
}

/// Reserve twice: the retry, 30 s later, returns the original reservation
/// (same `expiresAt`) and the stock moves once.
pub async fn reserve_twice_returns_the_same_reservation_and_moves_stock_once<I>(inventory: &I)
where
    I: ReservationStore + ReservationExpiry + Catalog,
{
    stock_up(inventory, &[("SKU-TEE-M", 10), ("SKU-MUG", 5)]).await;
    let clock = clock();
    let ttl = ReservationTtl::from_secs(600).unwrap_or_else(|error| panic!("{error}"));
    let input = reserve_input(
        "ord-reserve-twice",
        json!([{"sku": "SKU-TEE-M", "quantity": 2}, {"sku": "SKU-MUG", "quantity": 1}]),
    );
    let first = reserve_inventory(inventory, &clock, ttl, input.clone()).await;
    clock.advance(TimeDelta::seconds(30));
    let second = reserve_inventory(inventory, &clock, ttl, input).await;
    let (Ok(first), Ok(second)) = (first, second) else {
        panic!("reserve twice: both calls must succeed");
    };
    assert_eq!(
        first, second,
        "reserve twice: the retry returns the original"
    );
    assert_eq!(
        serde_json::to_value(&first).unwrap_or_default(),
        json!({
            "orderId": "ord-reserve-twice",
            "status": "PENDING",
            "lines": [{"sku": "SKU-TEE-M", "quantity": 2}, {"sku": "SKU-MUG", "quantity": 1}],
            "expiresAt": "2026-03-01T12:10:00Z"
        }),
        "reserve twice: expiresAt = first call (whole seconds) + TTL"
    );
    assert_eq!(stock(inventory, "SKU-TEE-M").await, (8, 2), "reserve twice");
    assert_eq!(stock(inventory, "SKU-MUG").await, (4, 1), "reserve twice");
}

/// Reserve replayed after the reservation ended (a redrive past the TTL finds
/// it EXPIRED by the reaper, or RELEASED by a compensation): the stock is
/// gone, so the replay is `ReservationExpired` with that status and moves no
/// stock, and the saga rejects the order before charging. A replay of a
/// CONFIRMED reservation still returns it.
pub async fn reserve_replay_refuses_an_expired_or_released_reservation<I>(inventory: &I)
where
    I: ReservationStore + ReservationExpiry + Catalog,
{
    stock_up(inventory, &[("SKU-TEE-M", 10)]).await;
    let clock = clock();
    for id in ["ord-expired", "ord-released", "ord-confirmed"] {
        let reserved =
            reserve_inventory(inventory, &clock, ReservationTtl::DEFAULT, two_tees(id)).await;
        assert!(reserved.is_ok(), "reserve replay: reserving {id}");
    }
    let confirmed = confirm_reservation(inventory, &clock, order_ref("ord-confirmed")).await;
    assert!(
        confirmed.is_ok(),
        "reserve replay: confirming ord-confirmed"
    );
    let released = release_reservation(inventory, &clock, order_ref("ord-released")).await;
    assert!(released.is_ok(), "reserve replay: releasing ord-released");
    clock.advance(TimeDelta::minutes(16));
    let expired = ok(
        inventory
            .expire_reservation(&order_id("ord-expired"), whole_seconds(clock.now()))
            .await,
        "reserve replay: expiring ord-expired",
    );
    assert_eq!(
        expired,
        ExpireOutcome::Expired,
        "reserve replay: the reaper"
    );
    assert_eq!(
        stock(inventory, "SKU-TEE-M").await,
        (8, 2),
        "before replays"
    );

    for (id, status) in [
        ("ord-expired", ReservationStatus::Expired),
        ("ord-released", ReservationStatus::Released),
    ] {
        let replay =
            reserve_inventory(inventory, &clock, ReservationTtl::DEFAULT, two_tees(id)).await;
        match replay {
            Err(StepError::ReservationExpired {
                order_id: refused,
                status: found,
            }) => {
                assert_eq!(refused, order_id(id), "reserve replay of {id}");
                assert_eq!(found, Some(status), "reserve replay of {id}");
            }
            other => panic!("reserve replay of {id}: expected ReservationExpired, got {other:?}"),
        }
    }
    let replay = reserve_inventory(
        inventory,
        &clock,
        ReservationTtl::DEFAULT,
        two_tees("ord-confirmed"),
    )
    .await
    .unwrap_or_else(|error| panic!("reserve replay of ord-confirmed: {error}"));
    assert_eq!(replay.status, ReservationStatus::Confirmed);
    // The refused replays took no stock: only the confirmed order holds any.
    assert_eq!(stock(inventory, "SKU-TEE-M").await, (8, 2), "after replays");
}

/// Reserve replayed after the TTL but before the reaper ran: the PENDING
/// reservation can no longer be confirmed, so the replay expires it (stock
/// back at once) and is `ReservationExpired`, and the saga rejects the order
/// before charging; a second replay finds it EXPIRED and refuses again.
pub async fn reserve_replay_expires_a_lapsed_pending_reservation<I>(inventory: &I)
where
    I: ReservationStore + ReservationExpiry + Catalog,
{
    stock_up(inventory, &[("SKU-TEE-M", 10)]).await;
    let clock = clock();
    let reserved = reserve_inventory(
        inventory,
        &clock,
        ReservationTtl::DEFAULT,
        two_tees("ord-lapsed"),
    )
    .await;
    assert!(reserved.is_ok(), "lapsed replay: reserving");
    assert_eq!(stock(inventory, "SKU-TEE-M").await, (8, 2), "held");
    clock.advance(TimeDelta::minutes(16));
    for attempt in ["first", "second"] {
        let replay = reserve_inventory(
            inventory,
            &clock,
            ReservationTtl::DEFAULT,
            two_tees("ord-lapsed"),
        )
        .await;
        match replay {
            Err(StepError::ReservationExpired {
                order_id: refused,
                status,
            }) => {
                assert_eq!(refused, order_id("ord-lapsed"), "{attempt} lapsed replay");
                assert_eq!(
                    status,
                    Some(ReservationStatus::Expired),
                    "{attempt} lapsed replay"
                );
            }
            other => panic!("{attempt} lapsed replay: expected ReservationExpired, got {other:?}"),
        }
        assert_eq!(
            stock(inventory, "SKU-TEE-M").await,
            (10, 0),
            "{attempt} lapsed replay gives the stock back once"
        );
    }
}

/// Confirm twice: both succeed and the stock stays held; confirming what is
/// not held (never reserved, or lapsed) is `ReservationExpired`.
pub async fn confirm_twice_succeeds_twice_and_refuses_what_is_not_held<I>(inventory: &I)
where
    I: ReservationStore + ReservationExpiry + Catalog,
{
    stock_up(inventory, &[("SKU-TEE-M", 10)]).await;
    let clock = clock();
    let reserved = reserve_inventory(
        inventory,
        &clock,
        ReservationTtl::DEFAULT,
        two_tees("ord-confirm-twice"),
    )
    .await;
    assert!(reserved.is_ok(), "confirm twice: reserving first");
    clock.advance(TimeDelta::seconds(5));
    let expected = Confirmed {
        order_id: order_id("ord-confirm-twice"),
        status: ReservationStatus::Confirmed,
    };
    for attempt in ["first", "second"] {
        let confirmed = confirm_reservation(inventory, &clock, order_ref("ord-confirm-twice"))
            .await
            .unwrap_or_else(|error| panic!("confirm twice, {attempt} call: {error}"));
        assert_eq!(confirmed, expected, "confirm twice, {attempt} call");
    }
    // Confirming keeps the units reserved; it neither restores nor takes more.
    assert_eq!(stock(inventory, "SKU-TEE-M").await, (8, 2), "confirm twice");

    let absent = confirm_reservation(inventory, &clock, order_ref("ord-none")).await;
    assert_eq!(
        absent.map_err(|error| error.error_type()),
        Err("ReservationExpired"),
        "confirming what was never reserved"
    );
    let late = reserve_inventory(
        inventory,
        &clock,
        ReservationTtl::DEFAULT,
        two_tees("ord-late"),
    )
    .await;
    assert!(late.is_ok(), "confirm twice: reserving ord-late");
    clock.advance(TimeDelta::minutes(15));
    let lapsed = confirm_reservation(inventory, &clock, order_ref("ord-late")).await;
    assert_eq!(
        lapsed.map_err(|error| error.error_type()),
        Err("ReservationExpired"),
        "confirming a reservation past its TTL"
    );
}

/// Release twice: the stock comes back once, other orders keep theirs, and
/// releasing what was never reserved is `NOTHING_TO_RELEASE`.
pub async fn release_twice_restores_stock_once_and_spares_other_orders<I>(inventory: &I)
where
    I: ReservationStore + ReservationExpiry + Catalog,
{
    stock_up(inventory, &[("SKU-TEE-M", 10)]).await;
    let clock = clock();
    for id in ["ord-kept", "ord-release-twice"] {
        let reserved =
            reserve_inventory(inventory, &clock, ReservationTtl::DEFAULT, two_tees(id)).await;
        assert!(reserved.is_ok(), "release twice: reserving {id}");
    }
    let kept = confirm_reservation(inventory, &clock, order_ref("ord-kept")).await;
    assert!(kept.is_ok(), "release twice: confirming ord-kept");
    assert_eq!(stock(inventory, "SKU-TEE-M").await, (6, 4), "release twice");

    let mut outcomes = Vec::new();
    for _ in 0..2 {
        let released = release_reservation(inventory, &clock, order_ref("ord-release-twice"))
            .await
            .unwrap_or_else(|error| panic!("release twice: {error}"));
        outcomes.push(released);
    }
    let released = |outcome| Released {
        order_id: order_id("ord-release-twice"),
        outcome,
    };
    assert_eq!(
        outcomes,
        vec![
            released(ReleaseOutcome::Released),
            released(ReleaseOutcome::AlreadyReleased)
        ],
        "release twice"
    );
    // Two units came back once; the confirmed order still holds its two.
    assert_eq!(stock(inventory, "SKU-TEE-M").await, (8, 2), "release twice");
    let nothing = release_reservation(inventory, &clock, order_ref("ord-none")).await;
    assert_eq!(
        nothing.map(|released| released.outcome).ok(),
        Some(ReleaseOutcome::NothingToRelease),
        "releasing what was never reserved"
    );
}

/// Charge twice: the retry returns the same capture, the provider charges
/// once, and the stored payment is the capture.
pub async fn charge_twice_returns_the_same_capture_and_charges_the_provider_once<P>(payments: &P)
where
    P: PaymentStore,
{
    let provider = SimulatedPaymentProvider::new();
    let clock = clock();
    let input = charge_input("ord-charge-twice", 3000, "pm_card_visa");
    let first = charge_payment(payments, &provider, &clock, input.clone()).await;
    clock.advance(TimeDelta::seconds(10));
    let second = charge_payment(payments, &provider, &clock, input).await;
    let (Ok(first), Ok(second)) = (first, second) else {
        panic!("charge twice: both calls must succeed");
    };
    assert_eq!(first, second, "charge twice: the retry returns the capture");
    assert_eq!(first.order_id, order_id("ord-charge-twice"));
    assert_eq!(first.status, PaymentStatus::Captured);
    assert_eq!(first.amount, euros(3000));
    assert!(!first.provider_reference.is_empty(), "a provider reference");
    assert_eq!(provider.charges_made("ord-charge-twice"), 1, "one charge");
    assert_eq!(provider.captured_charges(), 1, "one capture");

    let stored = ok(
        payments.get_payment(&order_id("ord-charge-twice")).await,
        "charge twice: reading the payment",
    )
    .unwrap_or_else(|| panic!("charge twice: no payment stored"));
    assert_eq!(stored.status, PaymentStatus::Captured);
    assert_eq!(stored.amount, euros(3000));
    assert_eq!(
        stored.provider_reference.as_deref(),
        Some(first.provider_reference.as_str())
    );
}

/// Refund twice: the provider refunds once and the payment ends REFUNDED;
/// nothing captured (absent or declined) is `NOTHING_TO_REFUND`.
pub async fn refund_twice_refunds_the_provider_once<P>(payments: &P)
where
    P: PaymentStore,
{
    let provider = SimulatedPaymentProvider::new();
    let clock = clock();
    let charged = charge_payment(
        payments,
        &provider,
        &clock,
        charge_input("ord-refund-twice", 4500, "pm_card_visa"),
    )
    .await
    .unwrap_or_else(|error| panic!("refund twice: charging first: {error}"));
    clock.advance(TimeDelta::minutes(1));
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        let refunded = refund_payment(payments, &provider, &clock, order_ref("ord-refund-twice"))
            .await
            .unwrap_or_else(|error| panic!("refund twice: {error}"));
        assert_eq!(refunded.order_id, order_id("ord-refund-twice"));
        outcomes.push(refunded.outcome);
    }
    assert_eq!(
        outcomes,
        vec![RefundOutcome::Refunded, RefundOutcome::AlreadyRefunded],
        "refund twice"
    );
    assert_eq!(
        provider.refunds_made(&charged.provider_reference),
        1,
        "one refund"
    );
    assert_eq!(provider.charges_made("ord-refund-twice"), 1, "one charge");
    let stored = ok(
        payments.get_payment(&order_id("ord-refund-twice")).await,
        "refund twice: reading the payment",
    )
    .unwrap_or_else(|| panic!("refund twice: no payment stored"));
    assert_eq!(stored.status, PaymentStatus::Refunded);
    assert_eq!(stored.amount, euros(4500));
    assert!(stored.refund_reference.is_some(), "the refund is recorded");

    let nothing = refund_payment(payments, &provider, &clock, order_ref("ord-none")).await;
    assert_eq!(
        nothing.map(|refunded| refunded.outcome).ok(),
        Some(RefundOutcome::NothingToRefund),
        "refunding what was never charged"
    );
    let declined = charge_payment(
        payments,
        &provider,
        &clock,
        charge_input("ord-declined", 3000, "pm_card_chargeDeclined"),
    )
    .await;
    assert_eq!(
        declined.map_err(|error| error.error_type()).err(),
        Some("PaymentDeclined")
    );
    let refund_declined =
        refund_payment(payments, &provider, &clock, order_ref("ord-declined")).await;
    assert_eq!(
        refund_declined.map(|refunded| refunded.outcome).ok(),
        Some(RefundOutcome::NothingToRefund),
        "refunding a declined payment"
    );
}

/// Ship twice (SQS redelivers the message): one shipment with the same id,
/// created at the first delivery, and the task completed once; the
/// redelivery finds the token spent and is done with the message.
pub async fn ship_twice_creates_one_shipment_and_reports_once<S>(shipments: &S)
where
    S: ShipmentStore,
{
    let reporter = RecordingTaskReporter::new();
    let clock = clock();
    let body = json!({
        "taskToken": "token-ship-twice",
        "orderId": "ord-ship-twice",
        "items": [{"sku": "SKU-TEE-M", "quantity": 2}],
        "shippingAddress": {"name": "Ada", "line1": "Main St 1", "city": "Berlin", "postalCode": "10115", "country": "DE"}
    })
    .to_string();
    let first = process_ship_message(shipments, &reporter, &clock, &body).await;
    clock.advance(TimeDelta::minutes(2));
    let second = process_ship_message(shipments, &reporter, &clock, &body).await;
    let ShipRecordOutcome::Shipped(a) = &first else {
        panic!("ship twice: expected Shipped at the first delivery, got {first:?}");
    };
    let ShipRecordOutcome::TokenSpent {
        order_id: Some(redelivered),
        ..
    } = &second
    else {
        panic!("ship twice: expected TokenSpent at the redelivery, got {second:?}");
    };
    assert_eq!(a.order_id, order_id("ord-ship-twice"));
    assert_eq!(
        redelivered, &a.order_id,
        "ship twice: the redelivery's order"
    );
    assert!(!a.shipment_id.is_empty() && !a.tracking_number.is_empty());

    let stored = ok(
        shipments.get_shipment(&order_id("ord-ship-twice")).await,
        "ship twice: reading the shipment",
    )
    .unwrap_or_else(|| panic!("ship twice: no shipment stored"));
    assert_eq!(stored.shipment_id, a.shipment_id);
    assert_eq!(stored.tracking_number, a.tracking_number);
    assert_eq!(stored.status, ShipmentStatus::Created);
    assert_eq!(
        stored.created_at.to_rfc3339(),
        "2026-03-01T12:00:00+00:00",
        "created at the first delivery, whole seconds"
    );
    // The first delivery completed the task; the redelivery found the
    // shipment there and the token spent, so the message leaves the queue.
    let token = "token-ship-twice"
        .parse()
        .unwrap_or_else(|error| panic!("{error:?}"));
    assert_eq!(
        reporter.reports(),
        vec![TaskReport::Success {
            token,
            output: serde_json::to_value(a).unwrap_or_default(),
        }],
        "ship twice: one task report"
    );
}

//! Bad input to any handler gives a typed error, never a panic: a table of
//! known-bad payloads, and property tests over arbitrary JSON and arbitrary
//! queue message bodies.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use proptest::prelude::*;
use saga_domain::fakes::{
    InMemoryInventory, InMemoryPayments, InMemoryShipments, ManualClock, RecordingTaskReporter,
};
use saga_domain::ports::{Catalog, StockItem};
use saga_domain::simulated_provider::SimulatedPaymentProvider;
use saga_domain::steps::ReservationTtl;
use saga_domain::{Money, STEP_ERROR_NAMES};
use saga_lambda::handlers;
use serde_json::{Value, json};

struct Ports {
    inventory: InMemoryInventory,
    payments: InMemoryPayments,
    shipments: InMemoryShipments,
    reporter: RecordingTaskReporter,
    provider: SimulatedPaymentProvider,
    clock: ManualClock,
}

fn ports() -> Ports {
    Ports {
        inventory: InMemoryInventory::new(),
        payments: InMemoryPayments::new(),
        shipments: InMemoryShipments::new(),
        reporter: RecordingTaskReporter::new(),
        provider: SimulatedPaymentProvider::new(),
        clock: ManualClock::at_rfc3339("2026-03-01T12:00:00Z"),
    }
}

/// The `errorType` of each step handler for `payload`, `None` where it
/// succeeded.
async fn error_types(ports: &Ports, payload: &Value) -> Vec<(&'static str, Option<String>)> {
    let p = ports;
    let error_of =
        |result: Result<(), lambda_runtime::Diagnostic>| result.err().map(|d| d.error_type);
    vec![
        (
            "reserve",
            error_of(
                handlers::handle_reserve(
                    &p.inventory,
                    &p.clock,
                    ReservationTtl::DEFAULT,
                    payload.clone(),
                )
                .await
                .map(drop),
            ),
        ),
        (
            "charge",
            error_of(
                handlers::handle_charge(&p.payments, &p.provider, &p.clock, payload.clone())
                    .await
                    .map(drop),
            ),
        ),
        (
            "confirm",
            error_of(
                handlers::handle_confirm(&p.inventory, &p.clock, payload.clone())
                    .await
                    .map(drop),
            ),
        ),
        (
            "release",
            error_of(
                handlers::handle_release(&p.inventory, &p.clock, payload.clone())
                    .await
                    .map(drop),
            ),
        ),
        (
            "refund",
            error_of(
                handlers::handle_refund(&p.payments, &p.provider, &p.clock, payload.clone())
                    .await
                    .map(drop),
            ),
        ),
    ]
}

#[tokio::test]
async fn malformed_payloads_are_invalid_order_for_every_step() {
    let too_many_lines: Vec<Value> = (0..26)
        .map(|i| json!({"sku": format!("SKU-{i}"), "quantity": 1}))
        .collect();
    let cases = [
        json!(null),
        json!([]),
        json!("ord-1"),
        json!(42),
        json!({}),
        json!({"orderId": ""}),
        json!({"orderId": null}),
        json!({"orderId": "x".repeat(81)}),
        json!({"orderId": "ord 1"}),
        json!({"order_id": "ord-1"}),
    ];
    let ports = ports();
    for payload in &cases {
        for (function, error_type) in error_types(&ports, payload).await {
            assert_eq!(
                error_type.as_deref(),
                Some("InvalidOrder"),
                "{function} {payload}"
            );
        }
    }

    let reserve_cases = [
        json!({"orderId": "ord-1"}),
        json!({"orderId": "ord-1", "items": []}),
        json!({"orderId": "ord-1", "items": too_many_lines}),
        json!({"orderId": "ord-1", "items": [{"sku": "A", "quantity": 0}]}),
        json!({"orderId": "ord-1", "items": [{"sku": "A", "quantity": 1001}]}),
        json!({"orderId": "ord-1", "items": [{"sku": "A", "quantity": -1}]}),
        json!({"orderId": "ord-1", "items": [{"sku": "A", "quantity": 1.5}]}),
        json!({"orderId": "ord-1", "items": [{"sku": "A", "quantity": 1e30}]}),
        json!({"orderId": "ord-1", "items": [{"sku": "A", "quantity": "1"}]}),
        json!({"orderId": "ord-1", "items": [{"sku": "A"}]}),
        json!({"orderId": "ord-1", "items": {"sku": "A", "quantity": 1}}),
    ];
    for payload in reserve_cases {
        let error = handlers::handle_reserve(
            &ports.inventory,
            &ports.clock,
            ReservationTtl::DEFAULT,
            payload.clone(),
        )
        .await
        .unwrap_err();
        assert_eq!(error.error_type, "InvalidOrder", "{payload}");
        assert!(
            error.error_message.starts_with("invalid order:"),
            "{}",
            error.error_message
        );
    }

    let charge_cases = [
        json!({"orderId": "ord-1", "paymentMethod": "pm_card_visa"}),
        json!({"orderId": "ord-1", "total": {"amountMinor": -1, "currency": "EUR"}, "paymentMethod": "pm_card_visa"}),
        json!({"orderId": "ord-1", "total": {"amountMinor": 1, "currency": "EURO"}, "paymentMethod": "pm_card_visa"}),
        json!({"orderId": "ord-1", "total": {"amountMinor": 1, "currency": "EUR"}, "paymentMethod": ""}),
        json!({"orderId": "ord-1", "total": {"amountMinor": 1, "currency": "EUR"}}),
        json!({"orderId": "ord-1", "total": 100, "paymentMethod": "pm_card_visa"}),
    ];
    for payload in charge_cases {
        let error = handlers::handle_charge(
            &ports.payments,
            &ports.provider,
            &ports.clock,
            payload.clone(),
        )
        .await
        .unwrap_err();
        assert_eq!(error.error_type, "InvalidOrder", "{payload}");
    }
    assert_eq!(
        ports.provider.captured_charges(),
        0,
        "no bad input reached the provider"
    );
}

#[tokio::test]
async fn well_formed_but_unknown_skus_are_unknown_sku() {
    let ports = ports();
    ports
        .inventory
        .put_stock_item(&StockItem {
            sku: "SKU-TEE-M".parse().unwrap(),
            name: "Tee".into(),
            available: 1,
            reserved: 0,
            unit_price: Money::new(1500, "EUR".parse().unwrap()).unwrap(),
        })
        .await
        .unwrap();
    let payload = json!({"orderId": "ord-1", "items": [{"sku": "SKU-TEE-M", "quantity": 1}, {"sku": "SKU-NOPE", "quantity": 1}]});
    let error = handlers::handle_reserve(
        &ports.inventory,
        &ports.clock,
        ReservationTtl::DEFAULT,
        payload,
    )
    .await
    .unwrap_err();
    assert_eq!(error.error_type, "UnknownSku");
    assert!(
        error.error_message.contains("SKU-NOPE"),
        "{}",
        error.error_message
    );
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-zA-Z0-9_ -]{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("ord-1"),
            Just("SKU-TEE-M"),
            Just("EUR"),
            Just("pm_card_visa")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop_oneof![
            Just("orderId".to_owned()),
            Just("items".to_owned()),
            Just("sku".to_owned()),
            Just("quantity".to_owned()),
            Just("total".to_owned()),
            Just("amountMinor".to_owned()),
            Just("currency".to_owned()),
            Just("paymentMethod".to_owned()),
            "[a-z]{1,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

proptest! {
    #[test]
    fn any_json_gets_a_result_or_a_known_error_type(payload in arbitrary_json()) {
        let outcomes = runtime().block_on(async {
            let ports = ports();
            error_types(&ports, &payload).await
        });
        for (function, error_type) in outcomes {
            if let Some(error_type) = error_type {
                prop_assert!(
                    STEP_ERROR_NAMES.iter().any(|(name, _)| *name == error_type),
                    "{} gave unknown errorType {} for {}", function, error_type, payload
                );
            }
        }
    }

    #[test]
    fn any_queue_message_body_is_shipped_reported_or_left_on_the_queue(body in prop_oneof![
        ".{0,64}",
        arbitrary_json().prop_map(|value| value.to_string()),
        arbitrary_json().prop_map(|value| {
            let mut message = json!({"taskToken": "tok", "orderId": "ord-1"});
            message["items"] = value.clone();
            message["shippingAddress"] = value;
            message.to_string()
        }),
    ]) {
        let response = runtime().block_on(async {
            let ports = ports();
            let mut record = SqsMessage::default();
            record.message_id = Some("m-1".to_owned());
            record.body = Some(body.clone());
            let mut event = SqsEvent::default();
            event.records = vec![record];
            handlers::handle_ship(&ports.shipments, &ports.reporter, &ports.clock, event).await
        });
        let response = response.map_err(|d| TestCaseError::fail(format!("{d:?}")))?;
        prop_assert!(response.batch_item_failures.len() <= 1);
    }
}

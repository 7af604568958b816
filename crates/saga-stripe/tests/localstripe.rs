//! The Stripe adapter over the wire against localstripe (a stateful
//! Stripe-compatible server), behind `infra/localstripe/serve.py`, which
//! adds what localstripe lacks and Stripe documents: `Idempotency-Key`
//! replays, PaymentIntent search by metadata, the test payment methods that
//! decline at confirmation, and test controls (forget the idempotency keys
//! as Stripe does after about a day, a provider outage, a call counter).
//! The circuit breaker's item lives in DynamoDB Local.
//!
//! `cargo xtask test --tier payments` starts both and sets
//! `STRIPE_API_BASE` and `AWS_ENDPOINT_URL_DYNAMODB`; without them every
//! test fails at once, saying so.
//!
//! The tests share one localstripe (its idempotency cache, outage switch
//! and call counter are global), so they take turns ([`turn`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_config::BehaviorVersion;
use chrono::TimeDelta;
use saga_aws::DynamoBreaker;
use saga_domain::breaker::{
    BreakerSettings, BreakerState, BreakerStore, CircuitBreaker, GuardedProvider,
};
use saga_domain::fakes::{InMemoryPayments, ManualClock};
use saga_domain::ports::{
    ChargeOutcome, ChargeRequest, Clock, PaymentIntent, PaymentProvider, PaymentStatus,
    PaymentStore, RefundRequest,
};
use saga_domain::step_io::{ChargeInput, OrderRef, RefundOutcome};
use saga_domain::steps::{charge_payment, refund_payment};
use saga_domain::{Money, OrderId, PaymentMethod, StepError};
use saga_stripe::{KeySource, SecretKey, StripeProvider, StripeSettings};
use serde_json::Value;

const KEY: &str = "sk_test_local";

static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn turn() -> tokio::sync::MutexGuard<'static, ()> {
    TURN.lock().await
}

fn api_base() -> String {
    match std::env::var("STRIPE_API_BASE") {
        Ok(base) if !base.is_empty() => base,
        _ => panic!(
            "STRIPE_API_BASE is not set: these tests need localstripe. Run them with \
             `cargo xtask test --tier payments`, which installs and starts it."
        ),
    }
}

fn provider() -> StripeProvider {
    StripeProvider::new(
        StripeSettings {
            api_base: api_base(),
            timeout: Duration::from_secs(3),
        },
        KeySource::Given(SecretKey::new(KEY)),
    )
    .unwrap()
}

/// A fresh order id (localstripe keeps every earlier test's payments).
fn order_id(label: &str) -> OrderId {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "ord-{label}-{nanos}-{}",
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
    .parse()
    .unwrap()
}

fn eur(minor: i64) -> Money {
    Money::new(minor, "EUR".parse().unwrap()).unwrap()
}

fn input(order_id: &OrderId, method: &str) -> ChargeInput {
    ChargeInput {
        order_id: order_id.clone(),
        total: eur(4200),
        payment_method: method.parse::<PaymentMethod>().unwrap(),
    }
}

/// The charge request the charge step sends for `order` (4200 EUR, a card
/// that succeeds).
fn visa_charge(order: &OrderId) -> ChargeRequest {
    ChargeRequest {
        order_id: order.clone(),
        idempotency_key: order.as_str().to_owned(),
        amount: eur(4200),
        payment_method: "pm_card_visa".parse().unwrap(),
    }
}

/// What the charge step writes first: the order's payment, PENDING.
async fn record_pending(payments: &InMemoryPayments, order: &OrderId, clock: &ManualClock) {
    payments
        .record_intent(&PaymentIntent {
            order_id: order.clone(),
            amount: eur(4200),
            payment_method: "pm_card_visa".parse().unwrap(),
            created_at: clock.now(),
        })
        .await
        .unwrap();
}

fn clock() -> ManualClock {
    ManualClock::at_rfc3339("2026-01-01T00:00:00Z")
}

/// A plain client for localstripe's own API (reqwest has no crypto provider
/// of its own in this workspace).
fn http() -> reqwest::Client {
    saga_stripe::install_crypto_provider();
    reqwest::Client::new()
}

/// localstripe's own API and the wrapper's controls.
async fn stripe_get(path: &str) -> Value {
    http()
        .get(format!("{}{path}", api_base()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn control(method: reqwest::Method, path: &str, body: Option<Value>) {
    let mut request = http().request(method, format!("{}{path}", api_base()));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}

async fn calls() -> u64 {
    let counter: Value = http()
        .get(format!("{}/_shim/calls", api_base()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    counter["calls"].as_u64().unwrap()
}

/// The PaymentIntents localstripe holds for the order.
async fn intents_of(order_id: &OrderId) -> Vec<Value> {
    let query = format!("metadata['orderId']:'{order_id}'");
    let found: Value = http()
        .get(format!("{}/v1/payment_intents/search", api_base()))
        .bearer_auth(KEY)
        .query(&[("query", query.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    found["data"].as_array().cloned().unwrap_or_default()
}

fn succeeded(intents: &[Value]) -> usize {
    intents
        .iter()
        .filter(|intent| intent["status"] == "succeeded")
        .count()
}

#[tokio::test]
async fn captured_with_the_order_in_the_metadata() {
    let _turn = turn().await;
    let payments = InMemoryPayments::new();
    let order = order_id("captured");
    let charged = charge_payment(
        &payments,
        &provider(),
        &clock(),
        input(&order, "pm_card_visa"),
    )
    .await
    .unwrap();
    assert_eq!(charged.status, PaymentStatus::Captured);
    let intent = stripe_get(&format!(
        "/v1/payment_intents/{}",
        charged.provider_reference
    ))
    .await;
    assert_eq!(intent["status"], "succeeded");
    assert_eq!(intent["amount"], 4200);
    assert_eq!(intent["currency"], "eur");
    assert_eq!(intent["metadata"]["orderId"], order.as_str());
}

#[tokio::test]
async fn declined_by_stripes_test_payment_methods() {
    let _turn = turn().await;
    for (method, reason) in [
        ("pm_card_chargeDeclined", "generic_decline"),
        ("pm_card_visa_chargeDeclined", "generic_decline"),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "insufficient_funds",
        ),
        ("pm_card_chargeCustomerFail", "generic_decline"),
    ] {
        let payments = InMemoryPayments::new();
        let order = order_id("declined");
        let error = charge_payment(&payments, &provider(), &clock(), input(&order, method))
            .await
            .unwrap_err();
        match error {
            StepError::PaymentDeclined { reason: got, .. } => {
                assert_eq!(got, reason, "{method}");
            }
            other => panic!("{method}: {other:?}"),
        }
        let payment = payments.get_payment(&order).await.unwrap().unwrap();
        assert_eq!(payment.status, PaymentStatus::Declined, "{method}");
        assert_eq!(succeeded(&intents_of(&order).await), 0, "{method}");
    }
}

#[tokio::test]
async fn refunded_once_however_often_the_refund_runs() {
    let _turn = turn().await;
    let payments = InMemoryPayments::new();
    let stripe = provider();
    let order = order_id("refunded");
    let charged = charge_payment(&payments, &stripe, &clock(), input(&order, "pm_card_visa"))
        .await
        .unwrap();
    let reference = OrderRef {
        order_id: order.clone(),
    };
    let first = refund_payment(&payments, &stripe, &clock(), reference.clone())
        .await
        .unwrap();
    assert_eq!(first.outcome, RefundOutcome::Refunded);
    let again = refund_payment(&payments, &stripe, &clock(), reference)
        .await
        .unwrap();
    assert_eq!(again.outcome, RefundOutcome::AlreadyRefunded);
    let refunds = stripe_get(&format!(
        "/v1/refunds?payment_intent={}",
        charged.provider_reference
    ))
    .await;
    assert_eq!(refunds["data"].as_array().unwrap().len(), 1, "{refunds}");
    let payment = payments.get_payment(&order).await.unwrap().unwrap();
    assert_eq!(payment.status, PaymentStatus::Refunded);
}

/// The answer to the charge is lost (the capture happened); while Stripe
/// remembers the key, a re-send replays the same PaymentIntent.
#[tokio::test]
async fn a_replay_after_a_lost_response_is_the_same_payment_intent() {
    let _turn = turn().await;
    let stripe = provider();
    let order = order_id("replay");
    let request = visa_charge(&order);
    let first = stripe.charge(&request).await.unwrap();
    let replay = stripe.charge(&request).await.unwrap();
    assert_eq!(first, replay);
    assert!(matches!(first, ChargeOutcome::Captured { .. }));
    assert_eq!(intents_of(&order).await.len(), 1);
}

/// The capture happened, its answer was lost, and the redrive comes after
/// Stripe forgot the idempotency key: the charge step finds the capture by
/// the order's metadata and records it; exactly one capture at Stripe.
/// The same for a refund whose answer was lost.
#[tokio::test]
async fn a_redrive_after_the_keys_expired_charges_and_refunds_exactly_once() {
    let _turn = turn().await;
    let payments = InMemoryPayments::new();
    let stripe = provider();
    let clock = clock();
    let order = order_id("expired");
    // The first attempt: the intent recorded, the charge made, the answer lost.
    record_pending(&payments, &order, &clock).await;
    let lost = stripe.charge(&visa_charge(&order)).await.unwrap();
    control(
        reqwest::Method::POST,
        "/_shim/forget-idempotency-keys",
        None,
    )
    .await;

    let charged = charge_payment(&payments, &stripe, &clock, input(&order, "pm_card_visa"))
        .await
        .unwrap();
    assert_eq!(
        ChargeOutcome::Captured {
            provider_reference: charged.provider_reference.clone()
        },
        lost
    );
    let intents = intents_of(&order).await;
    assert_eq!((intents.len(), succeeded(&intents)), (1, 1), "{intents:?}");

    // The refund: made, its answer lost, the keys forgotten, run again.
    stripe
        .refund(&RefundRequest {
            idempotency_key: format!("refund-{order}"),
            provider_reference: charged.provider_reference.clone(),
            amount: eur(4200),
        })
        .await
        .unwrap();
    control(
        reqwest::Method::POST,
        "/_shim/forget-idempotency-keys",
        None,
    )
    .await;
    let refunded = refund_payment(
        &payments,
        &stripe,
        &clock,
        OrderRef {
            order_id: order.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(refunded.outcome, RefundOutcome::Refunded);
    let refunds = stripe_get(&format!(
        "/v1/refunds?payment_intent={}",
        charged.provider_reference
    ))
    .await;
    assert_eq!(refunds["data"].as_array().unwrap().len(), 1, "{refunds}");
}

async fn breaker_table() -> (aws_sdk_dynamodb::Client, String) {
    match std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        Ok(endpoint) if !endpoint.is_empty() => {}
        _ => panic!(
            "AWS_ENDPOINT_URL_DYNAMODB is not set: run with `cargo xtask test --tier payments`"
        ),
    }
    let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("breaker-{nanos}");
    let spec =
        saga_template::project_table("BreakerTable").unwrap_or_else(|error| panic!("{error}"));
    saga_template::create_table(&client, &spec.named(&name))
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    (client, name)
}

/// With Stripe down: five failed calls open the breaker (the default
/// minimum at 50%), no call reaches Stripe while it is open, one probe goes
/// after the reset (and reopens it while Stripe is still down), and a
/// successful probe closes it. The api's gate refuses new orders exactly
/// while it is open.
#[tokio::test]
async fn the_breaker_opens_fails_fast_probes_once_and_closes() {
    let _turn = turn().await;
    let (client, table) = breaker_table().await;
    let store = DynamoBreaker::new(client, table, "payment-provider");
    let clock = clock();
    let breaker = CircuitBreaker::new(
        store.clone(),
        &clock,
        BreakerSettings::default(),
        Arc::new(|_| {}),
    );
    let guarded = GuardedProvider::new(provider(), breaker);
    let gate = order_api::BreakerGate(store.clone());
    let charge = |label: &str| visa_charge(&order_id(label));
    use order_api::PaymentsGate as _;

    control(
        reqwest::Method::POST,
        "/_shim/outage",
        Some(serde_json::json!({"status": 503})),
    )
    .await;
    let start = calls().await;
    let mut failed = 0;
    while store.load().await.unwrap().map(|r| r.state) != Some(BreakerState::Open) {
        assert!(guarded.charge(&charge("down")).await.is_err());
        failed += 1;
        assert!(failed <= 5, "still closed after {failed} failed calls");
    }
    assert_eq!(failed, 5, "calls before the breaker opened");
    assert_eq!(calls().await - start, 5);
    assert!(gate.refuses_until(clock.now()).await.unwrap().is_some());

    let while_open = calls().await;
    for _ in 0..20 {
        let error = guarded.charge(&charge("open")).await.unwrap_err();
        assert!(error.to_string().contains("unavailable"), "{error}");
    }
    assert_eq!(calls().await - while_open, 0, "no call while open");

    clock.advance(TimeDelta::seconds(30));
    assert_eq!(gate.refuses_until(clock.now()).await.unwrap(), None);
    let before_probe = calls().await;
    assert!(guarded.charge(&charge("probe")).await.is_err());
    assert!(guarded.charge(&charge("probe")).await.is_err());
    assert_eq!(calls().await - before_probe, 1, "one probe, still down");
    assert_eq!(
        store.load().await.unwrap().unwrap().state,
        BreakerState::Open
    );

    control(reqwest::Method::DELETE, "/_shim/outage", None).await;
    clock.advance(TimeDelta::seconds(30));
    let recovered = guarded.charge(&charge("recovered")).await.unwrap();
    assert!(matches!(recovered, ChargeOutcome::Captured { .. }));
    assert_eq!(
        store.load().await.unwrap().unwrap().state,
        BreakerState::Closed
    );
    assert!(matches!(
        guarded.charge(&charge("closed")).await.unwrap(),
        ChargeOutcome::Captured { .. }
    ));
    assert_eq!(gate.refuses_until(clock.now()).await.unwrap(), None);
}

/// The charge step gave up with the payment PENDING and the saga
/// compensates: a capture whose answer was lost is found and refunded; a
/// charge that never reached Stripe leaves nothing to refund (the search
/// and the recent list both find nothing) and the payment is recorded
/// DECLINED.
#[tokio::test]
async fn compensating_a_pending_payment_refunds_a_lost_capture_or_records_nothing_charged() {
    let _turn = turn().await;
    let stripe = provider();
    let clock = clock();
    for lost_capture in [true, false] {
        let payments = InMemoryPayments::new();
        let order = order_id("pending");
        record_pending(&payments, &order, &clock).await;
        if lost_capture {
            stripe.charge(&visa_charge(&order)).await.unwrap();
        }
        let refunded = refund_payment(
            &payments,
            &stripe,
            &clock,
            OrderRef {
                order_id: order.clone(),
            },
        )
        .await
        .unwrap();
        let payment = payments.get_payment(&order).await.unwrap().unwrap();
        let intents = intents_of(&order).await;
        if lost_capture {
            assert_eq!(refunded.outcome, RefundOutcome::Refunded);
            assert_eq!(payment.status, PaymentStatus::Refunded);
            let reference = payment.provider_reference.unwrap();
            let refunds = stripe_get(&format!("/v1/refunds?payment_intent={reference}")).await;
            assert_eq!(refunds["data"].as_array().unwrap().len(), 1, "{refunds}");
        } else {
            assert_eq!(refunded.outcome, RefundOutcome::NothingToRefund);
            assert_eq!(payment.status, PaymentStatus::Declined);
            assert!(intents.is_empty(), "{intents:?}");
        }
    }
}

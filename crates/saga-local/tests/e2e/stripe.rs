//! The saga paying through the real Stripe adapter against localstripe
//! (what `cargo xtask up --payments stripe` runs): an order completes with
//! its PaymentIntent captured at the provider, with the order in its
//! metadata; a card Stripe declines rejects the order, and a rejected
//! order's capture is refunded there.

use serde_json::Value;

use crate::support::{LocalCloud, new_key, order_body};

fn stripe_base() -> String {
    match std::env::var("STRIPE_API_BASE") {
        Ok(base) if !base.is_empty() => base,
        _ => panic!(
            "STRIPE_API_BASE is not set: the e2e tier starts localstripe; run \
             `cargo xtask test --tier e2e`"
        ),
    }
}

async fn stripe_get(path: &str) -> Value {
    saga_stripe::install_crypto_provider();
    reqwest::Client::new()
        .get(format!("{}{path}", stripe_base()))
        .bearer_auth("sk_test_local")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_paid_through_stripe_complete_with_the_capture_at_stripe() {
    let base = stripe_base();
    let api_base = format!("STRIPE_API_BASE={base}");
    let cloud = LocalCloud::start(&[
        "--parameter",
        "PaymentProvider=stripe",
        "--function-env",
        &api_base,
        "--function-env",
        "STRIPE_SECRET_KEY=sk_test_local",
    ])
    .await;
    let token = cloud.token("user-stripe").await;
    cloud.set_stock("SKU-STRIPE", 5).await;

    for (payment, status, payment_status) in [
        ("pm_card_visa", "COMPLETED", "CAPTURED"),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "REJECTED",
            "DECLINED",
        ),
    ] {
        let (code, placed) = cloud
            .place_order(&token, &new_key(), &order_body("SKU-STRIPE", 1, payment))
            .await;
        assert_eq!(code, 202, "{placed}");
        let order_id = placed["orderId"].as_str().unwrap().to_owned();
        let execution = cloud.wait_for_execution(&order_id, 120).await;
        assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
        let order = cloud.order(&token, &order_id).await;
        assert_eq!(order["status"], status, "{payment}: {order}");
        let records = cloud.records(&order_id).await;
        assert_eq!(records["payment"]["status"], payment_status, "{records}");
        if payment_status == "CAPTURED" {
            let reference = records["payment"]["providerReference"]
                .as_str()
                .unwrap_or_else(|| panic!("no provider reference: {records}"));
            assert!(reference.starts_with("pi_"), "{reference}");
            let intent = stripe_get(&format!("/v1/payment_intents/{reference}")).await;
            assert_eq!(intent["status"], "succeeded", "{intent}");
            assert_eq!(intent["metadata"]["orderId"], order_id.as_str());
            assert_eq!(intent["amount"], order["total"]["amountMinor"], "{order}");
        } else {
            assert_eq!(order["reason"], "PaymentDeclined", "{order}");
        }
    }
}

//! The Stripe key as a deployment reads it: from an SSM Parameter Store
//! SecureString (moto's SSM), on the first provider call, then a charge at
//! localstripe with it. `cargo xtask test --tier payments` starts both
//! (moto's endpoint arrives as `AWS_ENDPOINT_URL_SQS`: one server serves
//! every service).

use std::collections::HashMap;

use aws_config::BehaviorVersion;
use aws_sdk_ssm::types::ParameterType;
use saga_domain::PortError;
use saga_domain::ports::{ChargeOutcome, ChargeRequest, PaymentProvider};
use saga_lambda::config::ProviderConfig;
use saga_wiring::Context;
use saga_wiring::payments::AnyProvider;

fn required(variable: &str) -> String {
    match std::env::var(variable) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{variable} is not set: these tests need moto and localstripe; run \
             `cargo xtask test --tier payments`"
        ),
    }
}

#[tokio::test]
async fn the_key_comes_from_its_secure_string_parameter() {
    let moto = required("AWS_ENDPOINT_URL_SQS");
    let stripe = required("STRIPE_API_BASE");
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let parameter = format!("/order-saga-test/{nanos}/stripe-secret-key");
    let ssm = aws_sdk_ssm::Client::from_conf(
        aws_sdk_ssm::config::Builder::from(&sdk)
            .endpoint_url(&moto)
            .build(),
    );
    ssm.put_parameter()
        .name(&parameter)
        .value("sk_test_from_parameter_store")
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .unwrap();

    let charge = |order: &str| ChargeRequest {
        order_id: order.parse().unwrap(),
        idempotency_key: order.to_owned(),
        amount: saga_domain::Money::new(1500, "EUR".parse().unwrap()).unwrap(),
        payment_method: "pm_card_visa".parse().unwrap(),
    };
    for (name, works) in [
        (parameter.clone(), true),
        (format!("{parameter}-missing"), false),
    ] {
        let environment = HashMap::from([
            ("PAYMENT_PROVIDER", "stripe".to_owned()),
            ("STRIPE_API_KEY_PARAMETER", name.clone()),
            ("STRIPE_API_BASE", stripe.clone()),
            ("AWS_ENDPOINT_URL_SSM", moto.clone()),
        ]);
        let vars = |variable: &str| environment.get(variable).cloned();
        let context = Context::new(&vars, &sdk);
        let config = ProviderConfig::from_source(&context).unwrap();
        let provider = AnyProvider::build(&config, &context).unwrap();
        let outcome = provider
            .charge(&charge(&format!("ord-ssm-{nanos}-{works}")))
            .await;
        if works {
            assert!(
                matches!(outcome, Ok(ChargeOutcome::Captured { .. })),
                "{outcome:?}"
            );
        } else {
            let error = outcome.unwrap_err();
            assert!(matches!(error, PortError::Unavailable { .. }), "{error:?}");
            let shown = format!("{error:?}");
            assert!(
                shown.contains(&name),
                "the error names the parameter: {shown}"
            );
            assert!(!shown.contains("sk_test_from_parameter_store"), "{shown}");
        }
    }
}

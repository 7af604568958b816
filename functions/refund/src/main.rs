//! `refund` Lambda (RefundPayment, compensation): refunds a captured payment once.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use saga_aws::DynamoPayments;
use saga_domain::{ports::SystemClock, simulated_provider::SimulatedPaymentProvider};
use saga_lambda::{config::RefundConfig, handlers::handle_refund, init_tracing};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = RefundConfig::from_env()?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let payments = DynamoPayments::new(aws_sdk_dynamodb::Client::new(&aws), config.payments_table);
    let provider = SimulatedPaymentProvider::new();
    run(service_fn(|event: LambdaEvent<Value>| {
        handle_refund(&payments, &provider, &SystemClock, event.payload)
    }))
    .await
}

//! `release` Lambda (ReleaseInventory, compensation): gives reserved stock back.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use saga_aws::DynamoInventory;
use saga_domain::ports::SystemClock;
use saga_lambda::{config::ReleaseConfig, handlers::handle_release, init_tracing};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = ReleaseConfig::from_env()?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let inventory =
        DynamoInventory::new(aws_sdk_dynamodb::Client::new(&aws), config.inventory_table);
    run(service_fn(|event: LambdaEvent<Value>| {
        handle_release(&inventory, &SystemClock, event.payload)
    }))
    .await
}

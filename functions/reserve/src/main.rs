//! `reserve` Lambda (ReserveInventory): holds stock for an order's lines.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use saga_aws::DynamoInventory;
use saga_domain::ports::SystemClock;
use saga_lambda::{config::ReserveConfig, handlers::handle_reserve, init_tracing};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = ReserveConfig::from_env()?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let inventory =
        DynamoInventory::new(aws_sdk_dynamodb::Client::new(&aws), config.inventory_table);
    let ttl = config.reservation_ttl;
    run(service_fn(|event: LambdaEvent<Value>| {
        handle_reserve(&inventory, &SystemClock, ttl, event.payload)
    }))
    .await
}

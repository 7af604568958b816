//! `reaper` Lambda (scheduled): returns the stock of lapsed PENDING reservations.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use saga_aws::DynamoInventory;
use saga_domain::ports::SystemClock;
use saga_lambda::{config::ReaperConfig, handlers::handle_reaper, init_tracing};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = ReaperConfig::from_env()?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let inventory =
        DynamoInventory::new(aws_sdk_dynamodb::Client::new(&aws), config.inventory_table);
    let settings = config.settings;
    run(service_fn(|event: LambdaEvent<EventBridgeEvent<Value>>| {
        handle_reaper(&inventory, &SystemClock, settings, event.payload)
    }))
    .await
}

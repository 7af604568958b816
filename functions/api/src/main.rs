//! `api` Lambda: the order HTTP API behind API Gateway (HTTP API, payload v2).
#![recursion_limit = "256"]

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use order_api::{OrderApi, config::ApiConfig, handle_request};
use saga_aws::{DynamoInventory, DynamoOrders, SfnExecutions};
use saga_domain::ports::SystemClock;
use saga_lambda::init_tracing;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = ApiConfig::from_env()?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let api = OrderApi {
        orders: DynamoOrders::new(dynamodb.clone(), config.orders_table),
        catalog: DynamoInventory::new(dynamodb, config.inventory_table),
        executions: SfnExecutions::new(aws_sdk_sfn::Client::new(&aws), config.state_machine_arn),
        clock: SystemClock,
    };
    run(service_fn(
        |event: LambdaEvent<ApiGatewayV2httpRequest>| async {
            Ok::<_, Error>(handle_request(&api, event.payload).await)
        },
    ))
    .await
}

//! `ship` Lambda: consumes the shipping queue, creates each shipment once and
//! reports to the waiting ShipOrder task (SendTaskSuccess / SendTaskFailure).

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use saga_aws::{DynamoShipments, SfnTaskReporter};
use saga_domain::ports::SystemClock;
use saga_lambda::{config::ShipConfig, handlers::handle_ship, init_tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = ShipConfig::from_env()?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let shipments =
        DynamoShipments::new(aws_sdk_dynamodb::Client::new(&aws), config.shipments_table);
    let reporter = SfnTaskReporter::new(aws_sdk_sfn::Client::new(&aws));
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        handle_ship(&shipments, &reporter, &SystemClock, event.payload)
    }))
    .await
}

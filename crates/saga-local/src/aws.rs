//! AWS SDK clients pointed at the local services: DynamoDB Local, moto's
//! SQS and the local cloud's own Step Functions endpoint. Fixed region and
//! dummy static credentials, so nothing here can reach a real account.

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::Credentials;

use saga_template::LOCAL_REGION;

/// Where the local services listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// DynamoDB Local, e.g. `http://127.0.0.1:8000`.
    pub dynamodb: String,
    /// moto's server (SQS).
    pub sqs: String,
    /// The local cloud itself (Step Functions API).
    pub sfn: String,
}

/// One client per service.
#[derive(Debug, Clone)]
pub struct Clients {
    /// The shared configuration the clients were built from (region, static
    /// credentials); the functions build theirs from it too.
    pub sdk: aws_config::SdkConfig,
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// Step Functions (the local endpoint).
    pub sfn: aws_sdk_sfn::Client,
}

/// The shared SDK configuration: region, static credentials, no IMDS.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(LOCAL_REGION))
        .credentials_provider(Credentials::new("local", "local", None, None, "saga-local"))
        .load()
        .await
}

/// A Step Functions client of the one at `endpoint` (the local cloud's own,
/// or moto's), with the shared configuration.
pub async fn sfn_client(endpoint: &str) -> aws_sdk_sfn::Client {
    sfn_client_from(&sdk_config().await, endpoint)
}

fn sfn_client_from(shared: &aws_config::SdkConfig, endpoint: &str) -> aws_sdk_sfn::Client {
    aws_sdk_sfn::Client::from_conf(
        aws_sdk_sfn::config::Builder::from(shared)
            .endpoint_url(endpoint)
            .build(),
    )
}

impl Clients {
    /// Clients for `endpoints`.
    pub async fn new(endpoints: &Endpoints) -> Self {
        let shared = sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::config::Builder::from(&shared)
            .endpoint_url(&endpoints.dynamodb)
            .build();
        let sqs = aws_sdk_sqs::config::Builder::from(&shared)
            .endpoint_url(&endpoints.sqs)
            .build();
        let sfn = sfn_client_from(&shared, &endpoints.sfn);
        Self {
            sdk: shared,
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb),
            sqs: aws_sdk_sqs::Client::from_conf(sqs),
            sfn,
        }
    }
}

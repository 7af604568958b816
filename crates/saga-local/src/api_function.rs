//! The `api` function: crate `order-api` behind the HTTP API, built from
//! its template environment as `functions/api` builds it from the real one
//! (`ORDERS_TABLE`, `INVENTORY_TABLE`, `STATE_MACHINE_ARN`), its
//! StartExecution calls going to the local Step Functions endpoint.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use order_api::config::ApiConfig;
use order_api::{OrderApi, handle_request};
use saga_aws::{DynamoInventory, DynamoOrders, SfnExecutions};
use saga_domain::ports::SystemClock;
use serde_json::Value;

use crate::aws::Clients;
use crate::functions::{FunctionCode, FunctionError};
use crate::stack::FunctionSpec;

type LocalOrderApi = OrderApi<DynamoOrders, DynamoInventory, SfnExecutions, SystemClock>;

struct Api {
    api: LocalOrderApi,
}

#[async_trait]
impl FunctionCode for Api {
    async fn handle(&self, event: Value) -> Result<Value, FunctionError> {
        let request: ApiGatewayV2httpRequest = serde_json::from_value(event).map_err(|e| {
            FunctionError::new(
                "Runtime.UnmarshalError",
                format!("the event does not parse: {e}"),
            )
        })?;
        let response = handle_request(&self.api, request).await;
        serde_json::to_value(&response)
            .map_err(|e| FunctionError::new("Runtime.SerializationError", e.to_string()))
    }
}

/// Builds the `api` function's code from its environment.
pub fn build(
    spec: &FunctionSpec,
    clients: &Clients,
) -> anyhow::Result<Option<Arc<dyn FunctionCode>>> {
    let config = ApiConfig::from_lookup(|variable| spec.environment.get(variable).cloned())
        .map_err(|e| {
            anyhow::anyhow!("function api cannot start (its environment from template.yaml): {e}")
        })?;
    let api = OrderApi {
        orders: DynamoOrders::new(clients.dynamodb.clone(), config.orders_table),
        catalog: DynamoInventory::new(clients.dynamodb.clone(), config.inventory_table),
        executions: SfnExecutions::new(clients.sfn.clone(), config.state_machine_arn),
        clock: SystemClock,
    };
    Ok(Some(Arc::new(Api { api })))
}

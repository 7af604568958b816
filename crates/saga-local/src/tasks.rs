//! The Task states' work, behind the interpreter's `TaskHandler` port: the
//! service integrations the definition uses, answered the way Step
//! Functions answers them. The interpreter hands over the resource already
//! parsed ([`asl::Resource`]), so dispatch is a `match` on what it names.
//!
//! - `arn:aws:states:::lambda:invoke` (and a plain function ARN): the
//!   function runs in-process ([`crate::functions`]); the optimised
//!   integration's result is `{ExecutedVersion, Payload, SdkHttpMetadata,
//!   SdkResponseMetadata, StatusCode}`; a function error becomes the task's
//!   error with `Error` = its `errorType` (`Lambda.Unknown` for a timeout or
//!   crash, as AWS reports unhandled errors) and `Cause` = Lambda's error
//!   payload text `{"errorMessage", "errorType"}`.
//! - `arn:aws:states:::dynamodb:getItem|putItem|updateItem|deleteItem`: the
//!   parameters are the DynamoDB API request in AttributeValue JSON; the
//!   call goes to DynamoDB Local through the SDK; service errors become
//!   `DynamoDB.<ExceptionName>` (e.g. `DynamoDB.ConditionalCheckFailedException`).
//! - `arn:aws:states:::sqs:sendMessage` (`.waitForTaskToken` too): to moto
//!   through the SDK; errors become `SQS.<ExceptionName>`.

use std::collections::HashMap;
use std::sync::Arc;

use asl::{ResourceTarget, TaskError, TaskHandler, TaskRequest};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde_json::{Map, Value, json};

use crate::attribute_json::{AttributeJsonError, item_from_json, item_to_json};
use crate::aws::Clients;
use crate::functions::Functions;

/// The task handler of the local cloud.
pub struct LocalTasks {
    functions: Arc<Functions>,
    clients: Clients,
}

impl LocalTasks {
    /// Tasks that run `functions` and reach the emulators through `clients`.
    pub fn new(functions: Arc<Functions>, clients: Clients) -> Self {
        Self { functions, clients }
    }
}

const STATES_PREFIX: &str = "arn:aws:states:::";

#[async_trait]
impl TaskHandler for LocalTasks {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskError> {
        let resource = &request.resource;
        // The execution's trace, the current attempt as the parent: what
        // Step Functions with tracing on passes to Lambda and SQS.
        let trace = request
            .context
            .pointer("/Execution/Id")
            .and_then(Value::as_str)
            .and_then(|arn| crate::traces::store().task_context(arn));
        if let ResourceTarget::LambdaFunction(function) = resource.target() {
            // A plain function ARN: the result is the payload itself.
            let found = self
                .functions
                .find_function_arn(&function.name, resource.arn())
                .ok_or_else(|| function_not_found(resource.arn()))?;
            return self
                .functions
                .invoke(found, request.parameters, trace)
                .await
                .map_err(|e| TaskError::new(e.step_functions_error(), e.payload_text()));
        }
        // The local cloud answers for the `aws` partition only.
        if resource.partition() != "aws" {
            return Err(unsupported(resource.arn()));
        }
        match resource.target() {
            ResourceTarget::LambdaInvoke => self.lambda_invoke(request.parameters, trace).await,
            ResourceTarget::Service { service, action } if service == "dynamodb" => {
                self.dynamodb(action, &request.parameters).await
            }
            ResourceTarget::SqsSendMessage => {
                self.sqs_send_message(&request.parameters, trace).await
            }
            _ => Err(unsupported(resource.arn())),
        }
    }
}

fn unsupported(resource: &str) -> TaskError {
    TaskError::new(
        "States.Runtime",
        format!("the local cloud does not support the resource {resource}"),
    )
}

fn function_not_found(name: &str) -> TaskError {
    TaskError::new(
        "Lambda.ResourceNotFoundException",
        format!(
            "Function not found: {name} (Service: Lambda, Status Code: 404, Request ID: {})",
            request_id()
        ),
    )
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn bad_parameters(service: &str, reason: impl std::fmt::Display) -> TaskError {
    TaskError::new(
        format!("{service}.ValidationException"),
        format!(
            "{reason} (Service: {service}, Status Code: 400, Request ID: {})",
            request_id()
        ),
    )
}

fn sdk_http_metadata(request_id: &str, content_length: usize) -> Value {
    let headers = json!({
        "Connection": "keep-alive",
        "Content-Length": content_length.to_string(),
        "Content-Type": "application/json",
        "Date": chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        "x-amzn-RequestId": request_id,
    });
    let all: Map<String, Value> = headers
        .as_object()
        .map(|h| h.iter().map(|(k, v)| (k.clone(), json!([v]))).collect())
        .unwrap_or_default();
    json!({"AllHttpHeaders": all, "HttpHeaders": headers, "HttpStatusCode": 200})
}

impl LocalTasks {
    async fn lambda_invoke(
        &self,
        parameters: Value,
        trace: Option<saga_telemetry::TraceContext>,
    ) -> Result<Value, TaskError> {
        let name = parameters
            .get("FunctionName")
            .and_then(Value::as_str)
            .ok_or_else(|| bad_parameters("Lambda", "FunctionName is required"))?;
        let function = self
            .functions
            .find(name)
            .ok_or_else(|| function_not_found(name))?;
        let payload = match parameters.get("Payload") {
            None => json!({}),
            // A string payload is the event's JSON text.
            Some(Value::String(text)) => serde_json::from_str(text)
                .map_err(|e| bad_parameters("Lambda", format!("Payload is not JSON: {e}")))?,
            Some(other) => other.clone(),
        };
        let id = request_id();
        if parameters.get("InvocationType").and_then(Value::as_str) == Some("Event") {
            let functions = Arc::clone(&self.functions);
            let function = Arc::clone(function);
            tokio::spawn(async move {
                if let Err(error) = functions.invoke(&function, payload, trace).await {
                    tracing::warn!(function = %function.spec.name, %error, "asynchronous invocation failed");
                }
            });
            return Ok(
                json!({"Payload": "", "SdkHttpMetadata": sdk_http_metadata(&id, 0),
                             "SdkResponseMetadata": {"RequestId": id}, "StatusCode": 202}),
            );
        }
        match self.functions.invoke(function, payload, trace).await {
            Ok(result) => {
                let length = result.to_string().len();
                Ok(json!({
                    "ExecutedVersion": "$LATEST",
                    "Payload": result,
                    "SdkHttpMetadata": sdk_http_metadata(&id, length),
                    "SdkResponseMetadata": {"RequestId": id},
                    "StatusCode": 200,
                }))
            }
            Err(error) => Err(TaskError::new(
                error.step_functions_error(),
                error.payload_text(),
            )),
        }
    }

    async fn dynamodb(&self, operation: &str, parameters: &Value) -> Result<Value, TaskError> {
        let p = DynamoParameters::parse(parameters).map_err(|e| bad_parameters("DynamoDB", e))?;
        let client = &self.clients.dynamodb;
        let result: Result<Value, TaskError> = match operation {
            "getItem" => client
                .get_item()
                .table_name(&p.table)
                .set_key(p.key)
                .set_projection_expression(p.projection)
                .set_expression_attribute_names(p.names)
                .set_consistent_read(p.consistent_read)
                .send()
                .await
                .map(|out| match out.item {
                    Some(item) => json!({"Item": item_to_json(&item)}),
                    None => json!({}),
                })
                .map_err(|e| dynamodb_error(&e)),
            "putItem" => client
                .put_item()
                .table_name(&p.table)
                .set_item(p.item)
                .set_condition_expression(p.condition)
                .set_expression_attribute_names(p.names)
                .set_expression_attribute_values(p.values)
                .set_return_values(p.return_values)
                .send()
                .await
                .map(|out| attributes_output(out.attributes))
                .map_err(|e| dynamodb_error(&e)),
            "updateItem" => client
                .update_item()
                .table_name(&p.table)
                .set_key(p.key)
                .set_update_expression(p.update)
                .set_condition_expression(p.condition)
                .set_expression_attribute_names(p.names)
                .set_expression_attribute_values(p.values)
                .set_return_values(p.return_values)
                .send()
                .await
                .map(|out| attributes_output(out.attributes))
                .map_err(|e| dynamodb_error(&e)),
            "deleteItem" => client
                .delete_item()
                .table_name(&p.table)
                .set_key(p.key)
                .set_condition_expression(p.condition)
                .set_expression_attribute_names(p.names)
                .set_expression_attribute_values(p.values)
                .set_return_values(p.return_values)
                .send()
                .await
                .map(|out| attributes_output(out.attributes))
                .map_err(|e| dynamodb_error(&e)),
            other => Err(unsupported(&format!("{STATES_PREFIX}dynamodb:{other}"))),
        };
        result
    }

    async fn sqs_send_message(
        &self,
        parameters: &Value,
        trace: Option<saga_telemetry::TraceContext>,
    ) -> Result<Value, TaskError> {
        let queue_url = parameters
            .get("QueueUrl")
            .and_then(Value::as_str)
            .ok_or_else(|| bad_parameters("SQS", "QueueUrl is required"))?;
        let body = match parameters.get("MessageBody") {
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
            None => return Err(bad_parameters("SQS", "MessageBody is required")),
        };
        let text = |key: &str| {
            parameters
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let delay = parameters
            .get("DelaySeconds")
            .and_then(Value::as_i64)
            .and_then(|d| i32::try_from(d).ok());
        let sent = self
            .clients
            .sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(&body)
            .set_delay_seconds(delay)
            .set_message_group_id(text("MessageGroupId"))
            .set_message_deduplication_id(text("MessageDeduplicationId"))
            // The consumer continues the execution's trace from here.
            .set_message_system_attributes(trace.map(|context| {
                std::collections::HashMap::from([(
                    aws_sdk_sqs::types::MessageSystemAttributeNameForSends::AwsTraceHeader,
                    aws_sdk_sqs::types::MessageSystemAttributeValue::builder()
                        .data_type("String")
                        .string_value(context.to_xray())
                        .build()
                        .expect("data_type is set"),
                )])
            }))
            .send()
            .await
            .map_err(|e| {
                let code = e.code().unwrap_or("SdkClientException").to_owned();
                let message = e.message().map_or_else(|| e.to_string(), str::to_owned);
                TaskError::new(
                    format!("SQS.{code}"),
                    format!(
                        "{message} (Service: AmazonSQS, Status Code: 400, Request ID: {})",
                        request_id()
                    ),
                )
            })?;
        let id = request_id();
        Ok(json!({
            "MD5OfMessageBody": sent.md5_of_message_body,
            "MessageId": sent.message_id,
            "SdkHttpMetadata": sdk_http_metadata(&id, 0),
            "SdkResponseMetadata": {"RequestId": id},
        }))
    }
}

fn attributes_output(attributes: Option<HashMap<String, AttributeValue>>) -> Value {
    match attributes {
        Some(attributes) => json!({"Attributes": item_to_json(&attributes)}),
        None => json!({}),
    }
}

fn dynamodb_error<E: ProvideErrorMetadata + std::fmt::Display>(error: &E) -> TaskError {
    let code = error.code().unwrap_or("SdkClientException");
    let message = error
        .message()
        .map_or_else(|| error.to_string(), str::to_owned);
    TaskError::new(
        format!("DynamoDB.{code}"),
        format!(
            "{message} (Service: DynamoDb, Status Code: 400, Request ID: {})",
            request_id()
        ),
    )
}

/// The DynamoDB request fields the integrations use.
struct DynamoParameters {
    table: String,
    key: Option<HashMap<String, AttributeValue>>,
    item: Option<HashMap<String, AttributeValue>>,
    update: Option<String>,
    condition: Option<String>,
    projection: Option<String>,
    names: Option<HashMap<String, String>>,
    values: Option<HashMap<String, AttributeValue>>,
    return_values: Option<ReturnValue>,
    consistent_read: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
enum DynamoParameterError {
    #[error("TableName is required")]
    NoTable,
    #[error(transparent)]
    Attribute(#[from] AttributeJsonError),
    #[error("ExpressionAttributeNames must map names to strings")]
    Names,
}

impl DynamoParameters {
    fn parse(parameters: &Value) -> Result<Self, DynamoParameterError> {
        let text = |key: &str| {
            parameters
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let items =
            |key: &str| -> Result<Option<HashMap<String, AttributeValue>>, DynamoParameterError> {
                Ok(parameters
                    .get(key)
                    .map(|v| item_from_json(key, v))
                    .transpose()?)
            };
        let names = match parameters.get("ExpressionAttributeNames") {
            None => None,
            Some(Value::Object(map)) => Some(
                map.iter()
                    .map(|(k, v)| {
                        v.as_str()
                            .map(|s| (k.clone(), s.to_owned()))
                            .ok_or(DynamoParameterError::Names)
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Some(_) => return Err(DynamoParameterError::Names),
        };
        Ok(Self {
            table: text("TableName").ok_or(DynamoParameterError::NoTable)?,
            key: items("Key")?,
            item: items("Item")?,
            update: text("UpdateExpression"),
            condition: text("ConditionExpression"),
            projection: text("ProjectionExpression"),
            names,
            values: items("ExpressionAttributeValues")?,
            return_values: text("ReturnValues").map(|r| ReturnValue::from(r.as_str())),
            consistent_read: parameters.get("ConsistentRead").and_then(Value::as_bool),
        })
    }
}

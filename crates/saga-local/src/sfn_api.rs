//! The Step Functions API on the wire, as `aws-sdk-sfn` and the AWS CLI speak
//! it: AWS JSON 1.0 (`POST /`, `X-Amz-Target: AWSStepFunctions.<Operation>`,
//! `Content-Type: application/x-amz-json-1.0`), timestamps as epoch seconds,
//! errors as HTTP 400 with `{"__type": "<ErrorName>", "message": "..."}`.
//!
//! Executions run on the `asl` engine. StartExecution is idempotent by name
//! as AWS's Standard workflows are: the same name and input while the
//! execution runs returns it again; anything else is `ExecutionAlreadyExists`.

use std::sync::Arc;

use asl::{EngineError, ExecutionDescription, ExecutionStatus, TaskError};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::cloud::Cloud;

/// The JSON 1.0 content type.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// The `X-Amz-Target` prefix of Step Functions operations.
pub const TARGET_PREFIX: &str = "AWSStepFunctions.";

/// An error in AWS's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// `__type`, e.g. `ExecutionDoesNotExist`.
    pub kind: &'static str,
    /// `message`.
    pub message: String,
}

impl ApiError {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        Self::new(error.aws_name(), error.message())
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

/// Answers one Step Functions API call.
pub async fn handle(cloud: Arc<Cloud>, headers: &HeaderMap, body: &[u8]) -> Response {
    let operation = operation_of(headers).to_owned();
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(value @ Value::Object(_)) => value,
            Ok(_) | Err(_) => {
                return error_response(&ApiError::new(
                    "SerializationException",
                    "the request body is not a JSON object",
                ));
            }
        }
    };
    match call(&cloud, &operation, &input) {
        Ok(output) => json_response(StatusCode::OK, &output),
        Err(error) => {
            tracing::debug!(operation, kind = error.kind, message = %error.message, "Step Functions API error");
            error_response(&error)
        }
    }
}

/// A `callback-twice` fault's endpoint: a task callback (SendTaskSuccess,
/// SendTaskFailure) is applied twice and the caller gets the second answer,
/// as when an SDK retries a callback whose first answer was lost; any
/// other call is served once.
pub async fn handle_callback_twice(
    cloud: Arc<Cloud>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if matches!(operation_of(headers), "SendTaskSuccess" | "SendTaskFailure") {
        let first = handle(Arc::clone(&cloud), headers, body).await;
        tracing::info!(status = %first.status(), "fault injected: the task callback is sent again, its first answer lost");
    }
    handle(cloud, headers, body).await
}

/// The operation an `X-Amz-Target` names (`AWSStepFunctions.<operation>`),
/// or empty.
fn operation_of(headers: &HeaderMap) -> &str {
    headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .unwrap_or_default()
}

fn error_response(error: &ApiError) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"__type": error.kind, "message": error.message}),
    )
}

fn call(cloud: &Arc<Cloud>, operation: &str, input: &Value) -> Result<Value, ApiError> {
    match operation {
        "StartExecution" => start_execution(cloud, request(input)?),
        "DescribeExecution" => describe_execution(cloud, request(input)?),
        "ListExecutions" => list_executions(cloud, request(input)?),
        "GetExecutionHistory" => get_execution_history(cloud, request(input)?),
        "StopExecution" => stop_execution(cloud, request(input)?),
        "RedriveExecution" => redrive_execution(cloud, request(input)?),
        "SendTaskSuccess" => send_task_success(cloud, request(input)?),
        "SendTaskFailure" => send_task_failure(cloud, request(input)?),
        "SendTaskHeartbeat" => {
            let input: TaskHeartbeatRequest = request(input)?;
            cloud
                .engine
                .send_task_heartbeat(&required(input.task_token, "taskToken")?)?;
            Ok(json!({}))
        }
        "DescribeStateMachine" => describe_state_machine(cloud, request(input)?),
        "ListStateMachines" => Ok(json!({
            "stateMachines": cloud.machines.iter().map(|m| json!({
                "stateMachineArn": m.reference.arn, "name": m.reference.name, "type": "STANDARD",
                "creationDate": epoch(cloud.started_at),
            })).collect::<Vec<_>>()
        })),
        "" => Err(ApiError::new(
            "UnknownOperationException",
            "X-Amz-Target names no AWSStepFunctions operation",
        )),
        other => Err(ApiError::new(
            "UnknownOperationException",
            format!("the local cloud does not implement {other}"),
        )),
    }
}

/// Reads the request body into the operation's typed request. A member of
/// the wrong JSON type is a `SerializationException`, as AWS answers it;
/// unknown members are ignored, as AWS's JSON protocol does.
fn request<T: DeserializeOwned>(input: &Value) -> Result<T, ApiError> {
    T::deserialize(input).map_err(|e| ApiError::new("SerializationException", e.to_string()))
}

/// A required member: absent is AWS's "Member must not be null".
fn required(value: Option<String>, field: &str) -> Result<String, ApiError> {
    value.ok_or_else(|| ApiError::validation(format!("1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null")))
}

/// StartExecution's members.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartExecutionRequest {
    state_machine_arn: Option<String>,
    name: Option<String>,
    input: Option<String>,
    /// X-Ray's trace header: the execution continues that trace.
    trace_header: Option<String>,
}

/// DescribeExecution's and RedriveExecution's members.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionRequest {
    execution_arn: Option<String>,
}

/// A page of a list: `maxResults` (0 or absent: 100) and `nextToken`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    max_results: Option<u64>,
    next_token: Option<String>,
}

/// ListExecutions' members.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListExecutionsRequest {
    state_machine_arn: Option<String>,
    status_filter: Option<String>,
    #[serde(flatten)]
    page: Page,
}

/// GetExecutionHistory's members.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryRequest {
    execution_arn: Option<String>,
    reverse_order: Option<bool>,
    include_execution_data: Option<bool>,
    #[serde(flatten)]
    page: Page,
}

/// StopExecution's members.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StopRequest {
    execution_arn: Option<String>,
    error: Option<String>,
    cause: Option<String>,
}

/// SendTaskSuccess's members.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskSuccessRequest {
    task_token: Option<String>,
    output: Option<String>,
}

/// SendTaskFailure's members.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskFailureRequest {
    task_token: Option<String>,
    error: Option<String>,
    cause: Option<String>,
}

/// SendTaskHeartbeat's members.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskHeartbeatRequest {
    task_token: Option<String>,
}

/// DescribeStateMachine's members.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateMachineRequest {
    state_machine_arn: Option<String>,
}

/// Epoch seconds with milliseconds, as AWS JSON 1.0 sends timestamps.
pub fn epoch(time: DateTime<Utc>) -> f64 {
    time.timestamp_millis() as f64 / 1000.0
}

fn valid_execution_name(name: &str) -> bool {
    const FORBIDDEN: &str = "<>{}[]?*\"#%\\^|~`$&,;:/";
    (1..=80).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !FORBIDDEN.contains(c))
}

fn start_execution(cloud: &Arc<Cloud>, input: StartExecutionRequest) -> Result<Value, ApiError> {
    let arn = required(input.state_machine_arn, "stateMachineArn")?;
    let machine = cloud.machine(&arn).ok_or_else(|| {
        ApiError::new(
            "StateMachineDoesNotExist",
            format!("State Machine Does Not Exist: '{arn}'"),
        )
    })?;
    let name = input.name.as_deref();
    if let Some(name) = name
        && !valid_execution_name(name)
    {
        return Err(ApiError::new(
            "InvalidName",
            format!("Invalid Name: '{name}'"),
        ));
    }
    let text = input.input.as_deref().unwrap_or("{}");
    let execution_input: Value = serde_json::from_str(text).map_err(|e| {
        ApiError::new(
            "InvalidExecutionInput",
            format!("Invalid State Machine Execution Input: '{e}'"),
        )
    })?;
    if text.len() > asl::errors::MAX_PAYLOAD_BYTES {
        return Err(ApiError::new(
            "InvalidExecutionInput",
            "the input is larger than 256 KiB",
        ));
    }
    let trace = match input.trace_header.as_deref() {
        None => None,
        Some(header) => Some(
            saga_telemetry::TraceContext::from_xray(header).ok_or_else(|| {
                ApiError::new(
                    "ValidationException",
                    format!("traceHeader is not an X-Ray trace header: '{header}'"),
                )
            })?,
        ),
    };
    let execution_arn = cloud
        .engine
        .start_execution(&machine.reference, name, execution_input)?;
    if let Some(trace) = trace {
        crate::traces::store().start_execution(&execution_arn, trace);
    }
    let described = cloud.engine.describe(&execution_arn)?;
    Ok(json!({"executionArn": execution_arn, "startDate": epoch(described.start_date)}))
}

fn is_redrivable(status: ExecutionStatus) -> bool {
    matches!(
        status,
        ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted
    )
}

/// DescribeExecution's output for `description`.
pub fn describe_json(cloud: &Cloud, description: &ExecutionDescription) -> Value {
    let mut out = Map::new();
    out.insert("executionArn".into(), json!(description.execution_arn));
    out.insert(
        "stateMachineArn".into(),
        json!(description.state_machine_arn),
    );
    out.insert("name".into(), json!(description.name));
    out.insert("status".into(), json!(description.status.as_str()));
    out.insert("startDate".into(), json!(epoch(description.start_date)));
    if let Some(stop) = description.stop_date {
        out.insert("stopDate".into(), json!(epoch(stop)));
    }
    out.insert("input".into(), json!(description.input.to_string()));
    out.insert("inputDetails".into(), json!({"included": true}));
    if let Some(output) = &description.output {
        out.insert("output".into(), json!(output.to_string()));
        out.insert("outputDetails".into(), json!({"included": true}));
    }
    if let Some(error) = &description.error {
        out.insert("error".into(), json!(error));
    }
    if let Some(cause) = &description.cause {
        out.insert("cause".into(), json!(cause));
    }
    out.insert("redriveCount".into(), json!(description.redrive_count));
    if let Some(date) = cloud.redrive_date(&description.execution_arn) {
        out.insert("redriveDate".into(), json!(epoch(date)));
    }
    let redrivable = is_redrivable(description.status);
    out.insert(
        "redriveStatus".into(),
        json!(if redrivable {
            "REDRIVABLE"
        } else {
            "NOT_REDRIVABLE"
        }),
    );
    if !redrivable && description.status != ExecutionStatus::Running {
        out.insert(
            "redriveStatusReason".into(),
            json!("Execution is SUCCEEDED and cannot be redriven"),
        );
    }
    Value::Object(out)
}

fn describe_execution(cloud: &Arc<Cloud>, input: ExecutionRequest) -> Result<Value, ApiError> {
    let arn = required(input.execution_arn, "executionArn")?;
    let description = cloud.engine.describe(&arn)?;
    Ok(describe_json(cloud, &description))
}

fn page_bounds(page: &Page, total: usize) -> Result<(usize, usize), ApiError> {
    let max = match page.max_results {
        None | Some(0) => 100,
        Some(n) if n > 1000 => {
            return Err(ApiError::validation("maxResults must be at most 1000"));
        }
        Some(n) => n as usize,
    };
    let start = match page.next_token.as_deref() {
        None => 0,
        Some(token) => token
            .strip_prefix("page-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= total)
            .ok_or_else(|| ApiError::new("InvalidToken", format!("Invalid Token: '{token}'")))?,
    };
    Ok((start, (start + max).min(total)))
}

fn list_executions(cloud: &Arc<Cloud>, input: ListExecutionsRequest) -> Result<Value, ApiError> {
    let arn = required(input.state_machine_arn, "stateMachineArn")?;
    if cloud.machine(&arn).is_none() {
        return Err(ApiError::new(
            "StateMachineDoesNotExist",
            format!("State Machine Does Not Exist: '{arn}'"),
        ));
    }
    let filter = input.status_filter.as_deref();
    if let Some(filter) = filter
        && ![
            "RUNNING",
            "SUCCEEDED",
            "FAILED",
            "TIMED_OUT",
            "ABORTED",
            "PENDING_REDRIVE",
        ]
        .contains(&filter)
    {
        return Err(ApiError::validation(format!(
            "statusFilter {filter:?} is not a valid status"
        )));
    }
    let executions: Vec<ExecutionDescription> = cloud
        .executions()
        .into_iter()
        .filter(|d| d.state_machine_arn == arn)
        .filter(|d| filter.is_none_or(|f| d.status.as_str() == f))
        .collect();
    let (start, end) = page_bounds(&input.page, executions.len())?;
    let items: Vec<Value> = executions[start..end]
        .iter()
        .map(|d| {
            let mut item = json!({
                "executionArn": d.execution_arn, "stateMachineArn": d.state_machine_arn,
                "name": d.name, "status": d.status.as_str(), "startDate": epoch(d.start_date),
                "redriveCount": d.redrive_count,
            });
            if let Some(stop) = d.stop_date {
                item["stopDate"] = json!(epoch(stop));
            }
            item
        })
        .collect();
    let mut out = json!({"executions": items});
    if end < executions.len() {
        out["nextToken"] = json!(format!("page-{end}"));
    }
    Ok(out)
}

/// The history events in the wire shape (timestamps as epoch seconds).
pub fn history_json(events: &[asl::HistoryEvent]) -> Vec<Value> {
    events
        .iter()
        .map(|event| {
            let mut json = event.to_aws_json();
            json["timestamp"] = json!(epoch(event.timestamp));
            json
        })
        .collect()
}

fn get_execution_history(cloud: &Arc<Cloud>, input: HistoryRequest) -> Result<Value, ApiError> {
    let arn = required(input.execution_arn, "executionArn")?;
    let mut events = history_json(&cloud.engine.history(&arn)?);
    if input.reverse_order == Some(true) {
        events.reverse();
    }
    if input.include_execution_data == Some(false) {
        for event in &mut events {
            if let Some(object) = event.as_object_mut() {
                for details in object.values_mut().filter(|v| v.is_object()) {
                    if let Some(d) = details.as_object_mut() {
                        for key in [
                            "input",
                            "output",
                            "parameters",
                            "inputDetails",
                            "outputDetails",
                        ] {
                            d.remove(key);
                        }
                    }
                }
            }
        }
    }
    let (start, end) = page_bounds(&input.page, events.len())?;
    let mut out = json!({"events": events[start..end]});
    if end < events.len() {
        out["nextToken"] = json!(format!("page-{end}"));
    }
    Ok(out)
}

fn stop_execution(cloud: &Arc<Cloud>, input: StopRequest) -> Result<Value, ApiError> {
    let arn = required(input.execution_arn, "executionArn")?;
    cloud.engine.stop(&arn, input.error, input.cause)?;
    let description = cloud.engine.describe(&arn)?;
    Ok(json!({"stopDate": epoch(description.stop_date.unwrap_or_else(Utc::now))}))
}

fn redrive_execution(cloud: &Arc<Cloud>, input: ExecutionRequest) -> Result<Value, ApiError> {
    let arn = required(input.execution_arn, "executionArn")?;
    let now = cloud.redrive(&arn)?;
    Ok(json!({"redriveDate": epoch(now)}))
}

fn send_task_success(cloud: &Arc<Cloud>, input: TaskSuccessRequest) -> Result<Value, ApiError> {
    let token = required(input.task_token, "taskToken")?;
    let output = required(input.output, "output")?;
    let output: Value = serde_json::from_str(&output)
        .map_err(|e| ApiError::new("InvalidOutput", format!("Invalid Output: '{e}'")))?;
    cloud.engine.send_task_success(&token, output)?;
    Ok(json!({}))
}

fn send_task_failure(cloud: &Arc<Cloud>, input: TaskFailureRequest) -> Result<Value, ApiError> {
    let token = required(input.task_token, "taskToken")?;
    let error = TaskError {
        error: input.error.unwrap_or_default(),
        cause: input.cause,
    };
    cloud.engine.send_task_failure(&token, error)?;
    Ok(json!({}))
}

fn describe_state_machine(
    cloud: &Arc<Cloud>,
    input: StateMachineRequest,
) -> Result<Value, ApiError> {
    let arn = required(input.state_machine_arn, "stateMachineArn")?;
    let machine = cloud.machine(&arn).ok_or_else(|| {
        ApiError::new(
            "StateMachineDoesNotExist",
            format!("State Machine Does Not Exist: '{arn}'"),
        )
    })?;
    Ok(json!({
        "stateMachineArn": machine.reference.arn,
        "name": machine.reference.name,
        "status": "ACTIVE",
        "definition": machine.definition_text,
        "roleArn": format!("arn:aws:iam::{}:role/saga-local", saga_template::LOCAL_ACCOUNT),
        "type": "STANDARD",
        "creationDate": epoch(cloud.started_at),
    }))
}

#[cfg(test)]
mod tests {
    use asl::tokens::TokenError;

    use super::*;

    #[test]
    fn execution_names_follow_aws_rules() {
        let cases = [
            ("ord_01J9", true),
            ("a-b_c", true),
            ("", false),
            ("has space", false),
            ("a/b", false),
            ("x{y}", false),
            (&"a".repeat(81), false),
            (&"a".repeat(80), true),
        ];
        for (name, valid) in cases {
            assert_eq!(valid_execution_name(name), valid, "{name:?}");
        }
    }

    #[test]
    fn requests_are_typed_and_errors_say_which_member() {
        let history: HistoryRequest = request(&json!({
            "executionArn": "arn:x", "reverseOrder": true, "maxResults": 5,
            "nextToken": "page-5", "somethingNew": 1
        }))
        .unwrap();
        assert_eq!(history.execution_arn.as_deref(), Some("arn:x"));
        assert_eq!(history.reverse_order, Some(true));
        assert_eq!(history.page.max_results, Some(5));
        assert_eq!(page_bounds(&history.page, 12).unwrap(), (5, 10));

        let wrong_type = request::<ExecutionRequest>(&json!({"executionArn": 5})).unwrap_err();
        assert_eq!(wrong_type.kind, "SerializationException");
        let missing = required(
            request::<ExecutionRequest>(&json!({}))
                .unwrap()
                .execution_arn,
            "executionArn",
        )
        .unwrap_err();
        assert_eq!(missing.kind, "ValidationException");
        assert!(
            missing.message.contains("'executionArn'"),
            "{}",
            missing.message
        );
        let bad_token = page_bounds(
            &Page {
                max_results: None,
                next_token: Some("nope".into()),
            },
            3,
        )
        .unwrap_err();
        assert_eq!(bad_token.kind, "InvalidToken");
    }

    #[test]
    fn engine_errors_keep_their_aws_names() {
        let cases = [
            (
                EngineError::ExecutionDoesNotExist("arn".into()),
                "ExecutionDoesNotExist",
            ),
            (
                EngineError::ExecutionAlreadyExists("arn".into()),
                "ExecutionAlreadyExists",
            ),
            (
                EngineError::ExecutionNotRedrivable("arn".into(), "SUCCEEDED".into()),
                "ExecutionNotRedrivable",
            ),
            (
                EngineError::Token(TokenError::TaskDoesNotExist("t".into())),
                "TaskDoesNotExist",
            ),
        ];
        for (error, kind) in cases {
            let api = ApiError::from(error);
            assert_eq!(api.kind, kind);
            assert!(!api.message.starts_with(kind), "{}", api.message);
            assert!(
                api.message.contains("'"),
                "names the execution or token: {}",
                api.message
            );
        }
    }
}

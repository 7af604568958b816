//! The Lambda Invoke API on its wire protocol, so `aws lambda invoke
//! --endpoint-url`, boto3 and aws-sdk-lambda invoke the template's functions
//! here unchanged, as they do against `sam local start-lambda`:
//!
//! `POST /2015-03-31/functions/{FunctionName}/invocations[?Qualifier=$LATEST]`
//! with the event as the body, where `FunctionName` is a logical id
//! (`ReserveFunction`), the function's local name, its ARN (with `:$LATEST`
//! or not) or its binary name.
//!
//! - `X-Amz-Invocation-Type`: `RequestResponse` (the default) answers 200
//!   with the function's response; `Event` answers 202 at once and runs the
//!   function in the background (no retries: a failure is only logged);
//!   `DryRun` answers 204 once the function and payload check out.
//! - A function error answers 200 with `X-Amz-Function-Error: Unhandled` and
//!   the payload `{"errorType", "errorMessage"}`, as Lambda does for errors a
//!   runtime reports (the Rust runtime reports every handler error that way).
//! - `X-Amz-Log-Type: Tail` adds `X-Amz-Log-Result`: the last 4 KB of the
//!   invocation's log (its `START`, the function's own lines, `END`,
//!   `REPORT`), base64-encoded.
//! - Errors of the request itself are Lambda's REST-JSON errors: the name in
//!   `X-Amzn-ErrorType`, the body `{"Type": "User", "message": ...}`.
//!
//! Faults set with `/local/faults` apply, as for every other caller.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use saga_template::{LOCAL_ACCOUNT, LOCAL_REGION};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::Instrument as _;

use crate::cloud::Cloud;
use crate::functions::{Function, FunctionError, Functions};
use crate::invocation_logs::{self, Capture};

/// The largest payload of a synchronous invocation, as on Lambda (6 MB).
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
/// The largest payload of an asynchronous (`Event`) invocation (256 KB).
pub const MAX_ASYNC_PAYLOAD: usize = 256 * 1024;
/// How much of the log `X-Amz-Log-Type: Tail` returns.
pub const LOG_TAIL_BYTES: usize = 4 * 1024;

/// The Invoke API's routes.
pub fn router() -> Router<Arc<Cloud>> {
    Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        // Above the limit, so an oversized payload gets Lambda's own error.
        .layer(DefaultBodyLimit::max(MAX_SYNC_PAYLOAD + 1024))
}

/// How the caller wants the function run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

/// The query string: only `Qualifier`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InvokeQuery {
    qualifier: Option<String>,
}

/// An error of the Invoke request itself (not of the function).
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    name: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, name: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            name,
            message: message.into(),
        }
    }

    fn not_found(name: &str) -> Self {
        let arn = if name.starts_with("arn:") {
            name.to_owned()
        } else {
            format!("arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{name}")
        };
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!("Function not found: {arn}"),
        )
    }

    fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            message,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            axum::Json(json!({"Type": "User", "message": self.message})),
        )
            .into_response();
        response
            .headers_mut()
            .insert("x-amzn-errortype", HeaderValue::from_static(self.name));
        response
    }
}

/// `POST /2015-03-31/functions/{name}/invocations`.
async fn invoke(
    State(cloud): State<Arc<Cloud>>,
    Path(name): Path<String>,
    Query(query): Query<InvokeQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match prepare(&cloud.functions, &name, query, &headers, &body) {
        Ok(call) => run(&cloud.functions, call).await,
        Err(error) => error.into_response(),
    }
}

/// A checked request, ready to run.
struct Call {
    function: Arc<Function>,
    event: Value,
    invocation_type: InvocationType,
    tail: bool,
}

fn prepare(
    functions: &Functions,
    name: &str,
    query: InvokeQuery,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Call, ApiError> {
    let function = functions
        .find(name)
        .ok_or_else(|| ApiError::not_found(name))?;
    if let Some(qualifier) = query.qualifier.filter(|q| q != "$LATEST") {
        // Versions and aliases are not published locally: only $LATEST runs.
        return Err(ApiError::not_found(&format!(
            "{}:{qualifier}",
            function.spec.arn
        )));
    }
    let invocation_type = match header(headers, "x-amz-invocation-type")? {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        Some("Event") => InvocationType::Event,
        Some("DryRun") => InvocationType::DryRun,
        Some(other) => {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid invocation type {other:?}: use RequestResponse, Event or DryRun"
            )));
        }
    };
    let tail = match header(headers, "x-amz-log-type")? {
        None | Some("None") => false,
        Some("Tail") => true,
        Some(other) => {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid log type {other:?}: use None or Tail"
            )));
        }
    };
    let limit = match invocation_type {
        InvocationType::Event => MAX_ASYNC_PAYLOAD,
        _ => MAX_SYNC_PAYLOAD,
    };
    if body.len() > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
        ));
    }
    Ok(Call {
        function: Arc::clone(function),
        event: parse_payload(body)?,
        invocation_type,
        tail,
    })
}

/// The event: the body as JSON; an empty body is the empty object, which is
/// what an SDK call without a payload delivers.
fn parse_payload(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            format!("Could not parse request body into json: {error}"),
        )
    })
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, ApiError> {
    headers
        .get(name)
        .map(|value| {
            value
                .to_str()
                .map_err(|_| ApiError::invalid_parameter(format!("{name} is not ASCII")))
        })
        .transpose()
}

async fn run(functions: &Arc<Functions>, call: Call) -> Response {
    match call.invocation_type {
        InvocationType::DryRun => StatusCode::NO_CONTENT.into_response(),
        InvocationType::Event => {
            let functions = Arc::clone(functions);
            tokio::spawn(async move {
                let (_, outcome) = invoke_logged(&functions, &call.function, call.event).await;
                if let Err(error) = outcome {
                    tracing::warn!(function = %call.function.spec.name, %error, "asynchronous invocation failed");
                }
            });
            StatusCode::ACCEPTED.into_response()
        }
        InvocationType::RequestResponse => {
            let (logs, outcome) = invoke_logged(functions, &call.function, call.event).await;
            respond(outcome, call.tail.then_some(logs.as_str()))
        }
    }
}

/// Runs one invocation inside a [`invocation_logs::SPAN_NAME`] span and gives
/// its log, framed by the platform's `START`, `END` and `REPORT` lines.
async fn invoke_logged(
    functions: &Functions,
    function: &Function,
    event: Value,
) -> (String, Result<Value, FunctionError>) {
    let request_id = uuid::Uuid::new_v4().to_string();
    let capture = Capture::start(&request_id);
    capture.platform_line(&format!("START RequestId: {request_id} Version: $LATEST"));
    let started = Instant::now();
    let span = tracing::info_span!(
        invocation_logs::SPAN_NAME,
        request_id = %request_id,
        function = %function.spec.name,
    );
    let outcome = functions.invoke(function, event).instrument(span).await;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    capture.platform_line(&format!("END RequestId: {request_id}"));
    capture.platform_line(&format!(
        "REPORT RequestId: {request_id}\tDuration: {elapsed:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\t",
        elapsed.ceil(),
        function.spec.memory_size,
    ));
    (capture.finish(), outcome)
}

fn respond(outcome: Result<Value, FunctionError>, logs: Option<&str>) -> Response {
    let (body, function_error) = match outcome {
        Ok(output) => (output.to_string(), false),
        Err(error) => (error.payload_text(), true),
    };
    let mut response =
        (StatusCode::OK, [("content-type", "application/json")], body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    if function_error {
        headers.insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
    }
    if let Some(logs) = logs {
        let encoded = STANDARD.encode(invocation_logs::tail(logs, LOG_TAIL_BYTES));
        if let Ok(value) = HeaderValue::from_str(&encoded) {
            headers.insert("x-amz-log-result", value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_function_error_is_unhandled_with_the_documented_payload() {
        let response = respond(
            Err(FunctionError::new("InsufficientStock", "SKU-RARE: 1 left")),
            Some("START\nline\n"),
        );
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        assert_eq!(headers["x-amz-function-error"], "Unhandled");
        assert_eq!(headers["x-amz-executed-version"], "$LATEST");
        let logs = STANDARD
            .decode(headers["x-amz-log-result"].as_bytes())
            .unwrap();
        assert_eq!(logs, b"START\nline\n");
        assert_eq!(
            body_of(response).await,
            json!({"errorType": "InsufficientStock", "errorMessage": "SKU-RARE: 1 left"})
        );
    }

    #[tokio::test]
    async fn a_success_has_no_function_error_and_no_log_unless_asked() {
        let response = respond(Ok(json!({"ok": true})), None);
        assert!(response.headers().get("x-amz-function-error").is_none());
        assert!(response.headers().get("x-amz-log-result").is_none());
        assert_eq!(body_of(response).await, json!({"ok": true}));
    }

    #[tokio::test]
    async fn request_errors_name_the_exception_in_the_header() {
        let response = ApiError::not_found("NoSuchFunction").into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            response.headers()["x-amzn-errortype"],
            "ResourceNotFoundException"
        );
        assert_eq!(
            body_of(response).await,
            json!({"Type": "User", "message": "Function not found: arn:aws:lambda:us-east-1:123456789012:function:NoSuchFunction"})
        );
    }

    #[test]
    fn payloads_parse_as_json_and_an_empty_one_is_the_empty_object() {
        assert_eq!(parse_payload(b"").unwrap(), json!({}));
        assert_eq!(parse_payload(b" \n").unwrap(), json!({}));
        assert_eq!(parse_payload(b"[1]").unwrap(), json!([1]));
        let error = parse_payload(b"{not json").unwrap_err();
        assert_eq!(error.name, "InvalidRequestContentException");
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
    }
}

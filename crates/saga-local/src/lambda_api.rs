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
//! - A request a browser could send from any web page without a CORS
//!   preflight (no `Authorization`, no `X-Amz-*` header, and no
//!   `Content-Type` or a form or `text/plain` one) is refused with 415
//!   `UnsupportedMediaTypeException` (why this and not JSON: in `invoke`).
//!
//! Faults set with `/local/faults` apply, as for every other caller.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
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

use crate::browser_guard::could_be_sent_without_preflight;
use crate::cloud::Cloud;
use crate::functions::{Function, FunctionError, Functions};
use crate::invocation_logs::{self, Capture};

/// The largest payload of a synchronous invocation, as on Lambda (6 MB).
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
/// The largest payload of an asynchronous (`Event`) invocation (1 MB).
pub const MAX_ASYNC_PAYLOAD: usize = 1024 * 1024;
/// How much of the log `X-Amz-Log-Type: Tail` returns.
pub const LOG_TAIL_BYTES: usize = 4 * 1024;

/// The Invoke API's routes.
pub fn router() -> Router<Arc<Cloud>> {
    Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        // Past the limit axum refuses the body; the handler turns that into
        // Lambda's own error.
        .layer(DefaultBodyLimit::max(MAX_SYNC_PAYLOAD))
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

    fn not_found(arn: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!("Function not found: {arn}"),
        )
    }

    /// A header or name outside what the API's model allows, as Lambda's
    /// request validation words it.
    fn validation(value: &str, member: &str, constraint: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            format!(
                "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
            ),
        )
    }

    fn too_large(message: String) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
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
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // Requiring JSON would refuse boto3, which sends the payload with no
    // Content-Type; but it signs every call (`Authorization`, `X-Amz-Date`),
    // as the CLI and every AWS SDK do, and `cargo xtask invoke` sends JSON
    // and `X-Amz-Log-Type`. A page can send none of those without a CORS
    // preflight, which this server never grants, so only what a page can
    // send unasked is refused.
    if could_be_sent_without_preflight(&headers) {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaTypeException",
            "send the event as Content-Type: application/json (or sign the request as an AWS \
             SDK does): a form or text/plain body is what a web page can send here unasked",
        )
        .into_response();
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return ApiError::too_large(sync_limit_message()).into_response();
        }
        Err(rejection) => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                rejection.body_text(),
            )
            .into_response();
        }
    };
    match prepare(&cloud.functions, &name, query, &headers, &body) {
        Ok(call) => run(&cloud.functions, call).await,
        Err(error) => error.into_response(),
    }
}

fn sync_limit_message() -> String {
    format!(
        "Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation"
    )
}

/// A function name as the Invoke API takes it: `name`, `name:qualifier`,
/// `account:function:name[:qualifier]` or
/// `arn:aws:lambda:region:account:function:name[:qualifier]`.
#[derive(Debug, PartialEq, Eq)]
struct FunctionName {
    name: String,
    qualifier: Option<String>,
}

impl FunctionName {
    /// Parses `text`; an ARN of another region or account names no function
    /// here.
    fn parse(text: &str) -> Result<Self, ApiError> {
        let malformed = || {
            ApiError::validation(
                text,
                "functionName",
                "Member must satisfy regular expression pattern: \
                 (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
            )
        };
        let parts: Vec<&str> = text.split(':').collect();
        let (account, region, name, qualifier) = match parts.as_slice() {
            [name] => (None, None, *name, None),
            [name, qualifier] => (None, None, *name, Some(*qualifier)),
            [account, "function", name] => (Some(*account), None, *name, None),
            [account, "function", name, qualifier] => {
                (Some(*account), None, *name, Some(*qualifier))
            }
            ["arn", _, "lambda", region, account, "function", name] => {
                (Some(*account), Some(*region), *name, None)
            }
            [
                "arn",
                _,
                "lambda",
                region,
                account,
                "function",
                name,
                qualifier,
            ] => (Some(*account), Some(*region), *name, Some(*qualifier)),
            _ => return Err(malformed()),
        };
        if name.is_empty() || qualifier.is_some_and(str::is_empty) {
            return Err(malformed());
        }
        if account.is_some_and(|a| a != LOCAL_ACCOUNT) || region.is_some_and(|r| r != LOCAL_REGION)
        {
            return Err(ApiError::not_found(text));
        }
        Ok(Self {
            name: name.to_owned(),
            qualifier: qualifier.map(str::to_owned),
        })
    }

    /// The ARN Lambda names in its errors, with the qualifier if any.
    fn arn(&self) -> String {
        let base = format!(
            "arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{}",
            self.name
        );
        match &self.qualifier {
            Some(qualifier) => format!("{base}:{qualifier}"),
            None => base,
        }
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
    // Lambda validates the request before it looks the function up.
    let invocation_type = match header(headers, "x-amz-invocation-type")? {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        Some("Event") => InvocationType::Event,
        Some("DryRun") => InvocationType::DryRun,
        Some(other) => {
            return Err(ApiError::validation(
                other,
                "invocationType",
                "Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
            ));
        }
    };
    let tail = match header(headers, "x-amz-log-type")? {
        None | Some("None") => false,
        Some("Tail") => true,
        Some(other) => {
            return Err(ApiError::validation(
                other,
                "logType",
                "Member must satisfy enum value set: [Tail, None]",
            ));
        }
    };
    let mut target = FunctionName::parse(name)?;
    match (&target.qualifier, query.qualifier) {
        (Some(derived), Some(given)) if *derived != given => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                "The derived qualifier from the function name does not match the specified qualifier.",
            ));
        }
        (None, given) => target.qualifier = given,
        _ => {}
    }
    let function = functions
        .find(&target.name)
        .ok_or_else(|| ApiError::not_found(&target.arn()))?;
    if target.qualifier.as_deref().is_some_and(|q| q != "$LATEST") {
        // Versions and aliases are not published locally: only $LATEST runs.
        return Err(ApiError::not_found(&target.arn()));
    }
    if invocation_type == InvocationType::Event && body.len() > MAX_ASYNC_PAYLOAD {
        return Err(ApiError::too_large(format!(
            "{} byte payload is too large for the Event invocation type (limit {MAX_ASYNC_PAYLOAD} bytes)",
            body.len()
        )));
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
                .map_err(|_| ApiError::validation("(not ASCII)", name, "Member must be ASCII text"))
        })
        .transpose()
}

async fn run(functions: &Arc<Functions>, call: Call) -> Response {
    if call.invocation_type == InvocationType::DryRun {
        return StatusCode::NO_CONTENT.into_response();
    }
    // The invocation runs on a task of its own, so a caller that hangs up
    // does not cut it short halfway (on Lambda it runs to its end too).
    let functions = Arc::clone(functions);
    let function = Arc::clone(&call.function);
    let invocation = tokio::spawn(async move {
        let invocation = invoke_logged(&functions, &function, call.event).await;
        if let Err(error) = &invocation.outcome {
            tracing::debug!(function = %function.spec.name, %error, "the invocation failed");
        }
        invocation
    });
    if call.invocation_type == InvocationType::Event {
        // Not retried: the failure is only logged (Lambda retries twice).
        return StatusCode::ACCEPTED.into_response();
    }
    match invocation.await {
        Ok(invocation) => respond(invocation, call.tail),
        Err(error) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            format!("the invocation did not finish: {error}"),
        )
        .into_response(),
    }
}

/// One finished invocation: its request id, log and outcome.
struct Invocation {
    request_id: String,
    logs: String,
    outcome: Result<Value, FunctionError>,
}

/// Runs one invocation inside a [`invocation_logs::SPAN_NAME`] span and gives
/// its log, framed by the platform's `START`, `END` and `REPORT` lines.
async fn invoke_logged(functions: &Functions, function: &Function, event: Value) -> Invocation {
    let request_id = uuid::Uuid::new_v4().to_string();
    let capture = Capture::start(&request_id);
    capture.platform_line(&format!("START RequestId: {request_id} Version: $LATEST"));
    let started = Instant::now();
    let span = tracing::info_span!(
        invocation_logs::SPAN_NAME,
        request_id = %request_id,
        function = %function.spec.name,
    );
    let outcome = functions
        .invoke(function, event, None)
        .instrument(span)
        .await;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    capture.platform_line(&format!("END RequestId: {request_id}"));
    capture.platform_line(&format!(
        "REPORT RequestId: {request_id}\tDuration: {elapsed:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\t",
        elapsed.ceil(),
        function.spec.memory_size,
    ));
    Invocation {
        request_id,
        logs: capture.finish(),
        outcome,
    }
}

fn respond(invocation: Invocation, tail: bool) -> Response {
    let (body, function_error) = match invocation.outcome {
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
    if let Ok(value) = HeaderValue::from_str(&invocation.request_id) {
        headers.insert("x-amzn-requestid", value);
    }
    if function_error {
        headers.insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
    }
    if tail {
        let encoded = STANDARD.encode(invocation_logs::tail(&invocation.logs, LOG_TAIL_BYTES));
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
            Invocation {
                request_id: "req-1".to_owned(),
                logs: "START\nline\n".to_owned(),
                outcome: Err(FunctionError::new("InsufficientStock", "SKU-RARE: 1 left")),
            },
            true,
        );
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        assert_eq!(headers["x-amz-function-error"], "Unhandled");
        assert_eq!(headers["x-amz-executed-version"], "$LATEST");
        assert_eq!(headers["x-amzn-requestid"], "req-1");
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
        let response = respond(
            Invocation {
                request_id: "req-2".to_owned(),
                logs: "START\n".to_owned(),
                outcome: Ok(json!({"ok": true})),
            },
            false,
        );
        assert!(response.headers().get("x-amz-function-error").is_none());
        assert!(response.headers().get("x-amz-log-result").is_none());
        assert_eq!(body_of(response).await, json!({"ok": true}));
    }

    #[tokio::test]
    async fn request_errors_name_the_exception_in_the_header() {
        let missing = FunctionName::parse("NoSuchFunction").unwrap();
        let response = ApiError::not_found(&missing.arn()).into_response();
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
    fn function_names_take_every_documented_form() {
        let parsed = |text: &str| FunctionName::parse(text).map_err(|e| (e.name, e.message));
        let name = |name: &str, qualifier: Option<&str>| {
            Ok(FunctionName {
                name: name.to_owned(),
                qualifier: qualifier.map(str::to_owned),
            })
        };
        let arn = "arn:aws:lambda:us-east-1:123456789012:function";
        assert_eq!(parsed("ReserveFunction"), name("ReserveFunction", None));
        assert_eq!(parsed("reserve:$LATEST"), name("reserve", Some("$LATEST")));
        assert_eq!(parsed("123456789012:function:f"), name("f", None));
        assert_eq!(
            parsed("123456789012:function:f:prod"),
            name("f", Some("prod"))
        );
        assert_eq!(parsed(&format!("{arn}:f")), name("f", None));
        assert_eq!(parsed(&format!("{arn}:f:7")), name("f", Some("7")));
        for foreign in [
            "arn:aws:lambda:eu-west-1:123456789012:function:f",
            "arn:aws:lambda:us-east-1:999999999999:function:f",
            "999999999999:function:f",
        ] {
            let (error, message) = parsed(foreign).unwrap_err();
            assert_eq!(error, "ResourceNotFoundException", "{foreign}");
            assert_eq!(message, format!("Function not found: {foreign}"));
        }
        for malformed in ["", "a:b:c", "f:", "arn:aws:s3:::bucket"] {
            assert_eq!(
                parsed(malformed).unwrap_err().0,
                "ValidationException",
                "{malformed:?}"
            );
        }
        assert_eq!(
            FunctionName::parse("f:prod").unwrap().arn(),
            format!("{arn}:f:prod")
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

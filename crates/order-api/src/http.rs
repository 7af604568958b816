//! The HTTP edge: reading what API Gateway hands over (caller, headers,
//! body, query) and building responses.
//!
//! Nothing here trusts the request: the customer comes only from the claims
//! API Gateway's JWT authorizer verified; a body is size-checked before and
//! after base64 decoding, must be UTF-8 JSON and is parsed into a
//! `serde_json::Value` first, so the handlers can name each bad field.

use std::collections::BTreeMap;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine as _;
use saga_domain::CustomerId;
use serde::Serialize;
use serde_json::Value;

use crate::problem::{Problem, ProblemBody, ProblemType};

/// The largest request body accepted, after base64 decoding.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// What a response is about, for problem bodies and logs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestInfo<'a> {
    /// API Gateway's request id.
    pub request_id: Option<&'a str>,
    /// The raw path.
    pub path: &'a str,
}

/// The verified caller: the `sub` claim of the JWT authorizer.
pub(crate) fn caller(request: &ApiGatewayV2httpRequest) -> Result<CustomerId, Problem> {
    let sub = request
        .request_context
        .authorizer
        .as_ref()
        .and_then(|authorizer| authorizer.jwt.as_ref())
        .and_then(|jwt| jwt.claims.get("sub"));
    let unauthenticated = |detail: &str| {
        Problem::field(
            ProblemType::Unauthenticated,
            "headers.Authorization",
            detail,
        )
    };
    match sub {
        None => Err(unauthenticated(
            "The request carries no verified identity: send a valid bearer token.",
        )),
        Some(sub) => CustomerId::try_from(sub.as_str()).map_err(|_| {
            unauthenticated("The token's subject is not a customer id this API accepts.")
        }),
    }
}

/// A header's value as text; `Err` when present but not visible ASCII.
pub(crate) fn header<'r>(
    request: &'r ApiGatewayV2httpRequest,
    name: &str,
) -> Option<Result<&'r str, ()>> {
    request
        .headers
        .get(name)
        .map(|value| value.to_str().map_err(|_| ()))
}

/// Rejects a body over [`MAX_BODY_BYTES`] before any other check, so an
/// oversized request costs no decoding.
pub(crate) fn check_body_size(request: &ApiGatewayV2httpRequest) -> Result<(), Problem> {
    let Some(body) = request.body.as_deref() else {
        return Ok(());
    };
    // Base64 carries 3 bytes in 4 characters; allow padding and line breaks.
    let limit = if request.is_base64_encoded {
        MAX_BODY_BYTES.div_ceil(3) * 4 + 64
    } else {
        MAX_BODY_BYTES
    };
    if body.len() > limit {
        return Err(too_large(body.len()));
    }
    Ok(())
}

fn too_large(size: usize) -> Problem {
    Problem::field(
        ProblemType::PayloadTooLarge,
        "body",
        format!("The body is {size} bytes; at most {MAX_BODY_BYTES} are accepted."),
    )
}

/// The body as JSON: `Content-Type: application/json`, at most
/// [`MAX_BODY_BYTES`], base64 decoded when API Gateway encoded it, UTF-8.
pub(crate) fn json_body(request: &ApiGatewayV2httpRequest) -> Result<Value, Problem> {
    check_content_type(request)?;
    check_body_size(request)?;
    let text = request.body.as_deref().unwrap_or_default();
    let decoded;
    let bytes: &[u8] = if request.is_base64_encoded {
        let compact: String = text.split_ascii_whitespace().collect();
        decoded = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| {
                Problem::field(
                    ProblemType::MalformedBody,
                    "body",
                    "The body is marked base64-encoded but is not valid base64.",
                )
            })?;
        &decoded
    } else {
        text.as_bytes()
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(too_large(bytes.len()));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::field(
            ProblemType::MalformedBody,
            "body",
            "A JSON body is required.",
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|error| {
        Problem::field(
            ProblemType::MalformedBody,
            "body",
            format!(
                "The body is not valid UTF-8 (at byte {}).",
                error.valid_up_to()
            ),
        )
    })?;
    serde_json::from_str(text).map_err(|error| {
        Problem::field(
            ProblemType::MalformedBody,
            "body",
            format!(
                "The body is not valid JSON: {} at line {} column {}.",
                json_error_category(&error),
                error.line(),
                error.column()
            ),
        )
    })
}

fn json_error_category(error: &serde_json::Error) -> &'static str {
    match error.classify() {
        serde_json::error::Category::Eof => "unexpected end of input",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data | serde_json::error::Category::Io => "unreadable value",
    }
}

fn check_content_type(request: &ApiGatewayV2httpRequest) -> Result<(), Problem> {
    let unsupported = |detail: String| {
        Problem::field(
            ProblemType::UnsupportedMediaType,
            "headers.Content-Type",
            detail,
        )
    };
    match header(request, "content-type") {
        None => Err(unsupported(
            "The body must be sent with Content-Type: application/json.".to_owned(),
        )),
        Some(Err(())) => Err(unsupported(
            "The Content-Type header is not readable text.".to_owned(),
        )),
        Some(Ok(value)) => {
            let essence = value.split(';').next().unwrap_or_default().trim();
            if essence.eq_ignore_ascii_case("application/json") {
                Ok(())
            } else {
                Err(unsupported(format!(
                    "Content-Type {essence:?} is not supported; send application/json."
                )))
            }
        }
    }
}

/// The query parameters, each at most once, all of them in `allowed`.
pub(crate) fn query_parameters<'r>(
    request: &'r ApiGatewayV2httpRequest,
    allowed: &[&str],
) -> Result<BTreeMap<&'r str, &'r str>, Problem> {
    let mut parameters = BTreeMap::new();
    let mut errors = Vec::new();
    for (name, value) in request.query_string_parameters.iter() {
        if !allowed.contains(&name) {
            errors.push(crate::problem::FieldError::new(
                format!("query.{name}"),
                if allowed.is_empty() {
                    "Unknown query parameter; this route takes none.".to_owned()
                } else {
                    format!(
                        "Unknown query parameter; this route accepts: {}.",
                        allowed.join(", ")
                    )
                },
            ));
        } else if parameters.insert(name, value).is_some() {
            errors.push(crate::problem::FieldError::new(
                format!("query.{name}"),
                "Give this parameter at most once.",
            ));
        }
    }
    if errors.is_empty() {
        Ok(parameters)
    } else {
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        errors.dedup();
        Err(Problem::fields(
            ProblemType::InvalidRequest,
            "The query string is invalid.",
            errors,
        ))
    }
}

/// `limit` from the query: 1..=`max`, `default` when absent.
pub(crate) fn page_limit(
    parameters: &BTreeMap<&str, &str>,
    default: usize,
    max: usize,
) -> Result<usize, Problem> {
    match parameters.get("limit") {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=max).contains(&limit) => Ok(limit),
            _ => Err(Problem::field(
                ProblemType::InvalidRequest,
                "query.limit",
                format!("Must be a whole number from 1 to {max}."),
            )),
        },
    }
}

/// A JSON response with `status` and extra `headers`.
pub(crate) fn json_response(
    status: u16,
    body: &impl Serialize,
    headers: &[(&'static str, String)],
) -> ApiGatewayV2httpResponse {
    // Serialising the API's own view types cannot fail (string keys only);
    // should it ever, the client still gets valid JSON.
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    response(status, "application/json", text, headers)
}

/// The problem as `application/problem+json`.
pub(crate) fn problem_response(
    problem: &Problem,
    info: RequestInfo<'_>,
) -> ApiGatewayV2httpResponse {
    let body = ProblemBody {
        type_uri: problem.kind.uri(),
        title: problem.kind.title(),
        status: problem.kind.status(),
        detail: &problem.detail,
        instance: Some(info.path),
        request_id: info.request_id,
        errors: &problem.errors,
    };
    let mut headers = Vec::new();
    if !problem.allow.is_empty() {
        headers.push(("allow", problem.allow.join(", ")));
    }
    if let Some(seconds) = problem.retry_after.or(problem.kind.retry_after_seconds()) {
        headers.push(("retry-after", seconds.to_string()));
    }
    let text = serde_json::to_string(&body).unwrap_or_else(|_| "{}".to_owned());
    response(
        problem.kind.status(),
        "application/problem+json",
        text,
        &headers,
    )
}

fn response(
    status: u16,
    content_type: &'static str,
    body: String,
    headers: &[(&'static str, String)],
) -> ApiGatewayV2httpResponse {
    let mut map = HeaderMap::new();
    map.insert("content-type", HeaderValue::from_static(content_type));
    // Orders are personal and change as the saga runs: never cache them.
    map.insert("cache-control", HeaderValue::from_static("no-store"));
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            map.insert(HeaderName::from_static(name), value);
        }
    }
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(status);
    response.headers = map;
    response.body = Some(Body::Text(body));
    response.is_base64_encoded = false;
    response
}

//! The HTTP API (API Gateway HTTP API, payload format 2.0) in front of the
//! functions whose template events are `Type: HttpApi`.
//!
//! A request is matched to a route as API Gateway does (exact segments
//! beat `{param}`, which beats `{proxy+}`; the method must match or the route
//! be `ANY`), checked by the JWT authorizer when the route has one (401
//! `{"message":"Unauthorized"}` otherwise), turned into the v2 event API
//! Gateway sends (lower-cased headers, `requestContext` with `requestId`,
//! `http`, `routeKey`, the authorizer's claims as strings,
//! `pathParameters`, `queryStringParameters`, `isBase64Encoded`), and the
//! function's response is mapped back: a `{statusCode, headers, body}`
//! object as is, anything else as a 200 JSON body, a function error as
//! 500 `{"message":"Internal Server Error"}`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::functions::{Function, Functions};
use crate::jwt::{DevTokens, claims_as_strings};
use saga_template::LOCAL_ACCOUNT;
use saga_template::stack::{FunctionSpec, RouteSpec};

/// A route and the function behind it.
#[derive(Debug, Clone)]
pub struct Route {
    /// The template's route.
    pub spec: RouteSpec,
    /// The function's logical id.
    pub function: String,
}

/// Every route of every function.
pub fn routes(functions: &BTreeMap<String, FunctionSpec>) -> Vec<Route> {
    functions
        .values()
        .flat_map(|f| {
            f.routes.iter().map(|r| Route {
                spec: r.clone(),
                function: f.logical_id.clone(),
            })
        })
        .collect()
}

/// How specific a matched route is: higher wins.
fn match_path(pattern: &str, path: &str) -> Option<(u32, Map<String, Value>)> {
    let pattern_segments: Vec<&str> = pattern
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let path_segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let mut parameters = Map::new();
    let mut score = 0;
    for (index, segment) in pattern_segments.iter().enumerate() {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
            let rest = path_segments.get(index..).filter(|r| !r.is_empty())?;
            parameters.insert(name.to_owned(), json!(rest.join("/")));
            return Some((score, parameters));
        }
        let actual = path_segments.get(index)?;
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            parameters.insert(name.to_owned(), json!(percent_decode(actual)));
            score += 1;
        } else if segment == actual {
            score += 2;
        } else {
            return None;
        }
    }
    (pattern_segments.len() == path_segments.len()).then_some((score + 1, parameters))
}

/// The best route for `method` and `path`, with its path parameters.
pub fn find_route<'a>(
    routes: &'a [Route],
    method: &str,
    path: &str,
) -> Option<(&'a Route, Map<String, Value>)> {
    routes
        .iter()
        .filter(|r| r.spec.method == method || r.spec.method == "ANY")
        .filter_map(|r| {
            let (score, parameters) = match_path(&r.spec.path, path)?;
            let method_bonus = u32::from(r.spec.method != "ANY");
            Some((score * 2 + method_bonus, r, parameters))
        })
        .max_by_key(|(score, _, _)| *score)
        .map(|(_, r, p)| (r, p))
}

/// Decodes `%XX` escapes as API Gateway does for path and query
/// parameters; invalid escapes stay as written, invalid UTF-8 becomes U+FFFD.
pub fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

fn gateway_message(status: StatusCode, message: &str) -> Response {
    let mut response = (status, json!({"message": message}).to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn is_text(content_type: Option<&str>) -> bool {
    content_type.is_none_or(|t| {
        let t = t.to_ascii_lowercase();
        t.starts_with("text/")
            || t.contains("json")
            || t.contains("xml")
            || t.contains("x-www-form-urlencoded")
            || t.contains("javascript")
    })
}

/// One HTTP request as the HTTP API receives it.
pub struct ApiRequest<'a> {
    /// Method.
    pub method: &'a Method,
    /// URI (path and query).
    pub uri: &'a Uri,
    /// Headers.
    pub headers: &'a HeaderMap,
    /// Body bytes.
    pub body: &'a [u8],
    /// The client's address.
    pub peer: SocketAddr,
}

/// Builds the v2 event for `request` on `route`.
///
/// Built as JSON rather than with `aws_lambda_events`'s request type: that
/// type also serializes the REST/custom-authorizer fields (`httpMethod`,
/// `type`, `methodArn`, ...) that an HTTP API never sends.
pub fn build_event(
    request: &ApiRequest<'_>,
    route: &Route,
    path_parameters: Map<String, Value>,
    claims: Option<&Map<String, Value>>,
) -> Value {
    let (headers, cookies) = headers_and_cookies(request.headers);
    let raw_query = request.uri.query().unwrap_or_default();
    let query = query_parameters(raw_query);
    let route_key = route.spec.route_key();
    let mut context = request_context(request, &headers, &route_key);
    if let Some(claims) = claims {
        context["authorizer"] =
            json!({"jwt": {"claims": claims_as_strings(claims), "scopes": null}});
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.uri.path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = json!(query);
    }
    if !path_parameters.is_empty() {
        event["pathParameters"] = Value::Object(path_parameters);
    }
    if !request.body.is_empty() {
        let content_type = request
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        match std::str::from_utf8(request.body) {
            Ok(text) if is_text(content_type) => event["body"] = json!(text),
            _ => {
                event["body"] = json!(STANDARD.encode(request.body));
                event["isBase64Encoded"] = json!(true);
            }
        }
    }
    event
}

/// Headers as payload 2.0 gives them: names lower-cased, repeated headers
/// joined with commas; `Cookie` goes to `cookies` instead, one per entry.
fn headers_and_cookies(request_headers: &HeaderMap) -> (BTreeMap<String, String>, Vec<String>) {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in request_headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty()),
            );
            continue;
        }
        headers
            .entry(name.as_str().to_ascii_lowercase())
            .and_modify(|existing| {
                existing.push(',');
                existing.push_str(&value);
            })
            .or_insert(value);
    }
    (headers, cookies)
}

/// `queryStringParameters`: decoded, repeated keys joined with commas.
fn query_parameters(raw_query: &str) -> BTreeMap<String, String> {
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        query
            .entry(percent_decode(key))
            .and_modify(|existing| {
                existing.push(',');
                existing.push_str(&percent_decode(value));
            })
            .or_insert_with(|| percent_decode(value));
    }
    query
}

/// `requestContext` without the authorizer: the local API's ids, the HTTP
/// details and a fresh request id.
fn request_context(
    request: &ApiRequest<'_>,
    headers: &BTreeMap<String, String>,
    route_key: &str,
) -> Value {
    let now = Utc::now();
    let host = headers
        .get("host")
        .cloned()
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    json!({
        "accountId": LOCAL_ACCOUNT,
        "apiId": "local",
        "domainName": host,
        "domainPrefix": host.split('.').next().unwrap_or_default(),
        "http": {
            "method": request.method.as_str(),
            "path": request.uri.path(),
            "protocol": "HTTP/1.1",
            "sourceIp": request.peer.ip().to_string(),
            "userAgent": headers.get("user-agent").cloned().unwrap_or_default(),
        },
        "requestId": uuid::Uuid::new_v4().to_string(),
        "routeKey": route_key,
        "stage": "$default",
        "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
        "timeEpoch": now.timestamp_millis(),
    })
}

/// Maps a function's result to the HTTP response, as payload format 2.0 does.
pub fn map_response(result: &Value) -> Response {
    let Some(status) = result.get("statusCode").and_then(Value::as_u64) else {
        // Anything without a statusCode is the body of a 200 JSON answer.
        let body = match result {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let mut response = (StatusCode::OK, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return response;
    };
    let Ok(status) = StatusCode::from_u16(u16::try_from(status).unwrap_or(500)) else {
        return gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let body_text = result
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let body = if result.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        match STANDARD.decode(body_text) {
            Ok(bytes) => bytes,
            Err(_) => {
                return gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
            }
        }
    } else {
        body_text.as_bytes().to_vec()
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Some(map) = result.get("headers").and_then(Value::as_object) {
        for (name, value) in map {
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            if let (Ok(name), Ok(value)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(text),
            ) {
                headers.insert(name, value);
            }
        }
    }
    if let Some(map) = result.get("multiValueHeaders").and_then(Value::as_object) {
        for (name, values) in map {
            for value in values
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if let (Ok(name), Ok(value)) = (
                    HeaderName::try_from(name.as_str()),
                    HeaderValue::try_from(value),
                ) {
                    headers.append(name, value);
                }
            }
        }
    }
    for cookie in result
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Ok(value) = HeaderValue::try_from(cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    if !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    response
}

/// Answers one HTTP API request; `None` when no route matches.
pub async fn handle(
    routes: &[Route],
    functions: &Arc<Functions>,
    tokens: &DevTokens,
    request: ApiRequest<'_>,
) -> Option<Response> {
    let (route, parameters) = find_route(routes, request.method.as_str(), request.uri.path())?;
    let claims = if route.spec.authorized {
        let authorization = request
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match tokens.verify_header(authorization, Utc::now()) {
            Ok(claims) => Some(claims),
            Err(reason) => {
                tracing::info!(route = %route.spec.route_key(), %reason, "JWT authorizer refused the request");
                let mut response = gateway_message(StatusCode::UNAUTHORIZED, "Unauthorized");
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return Some(response);
            }
        }
    } else {
        None
    };
    let Some(function): Option<&Arc<Function>> = functions.find(&route.function) else {
        let problem = json!({
            "type": "about:blank",
            "title": "Not Implemented",
            "status": 501,
            "detail": format!("the local cloud has no code for function {} yet (crate order-api)", route.function),
        });
        let mut response = (StatusCode::NOT_IMPLEMENTED, problem.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        return Some(response);
    };
    let event = build_event(&request, route, parameters, claims.as_ref());
    Some(match functions.invoke(function, event, None).await {
        Ok(result) => map_response(&result),
        Err(error) => {
            tracing::error!(function = %function.spec.name, %error, "the API function failed");
            gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> Route {
        Route {
            spec: RouteSpec {
                method: method.to_owned(),
                path: path.to_owned(),
                authorized: true,
            },
            function: "Api".to_owned(),
        }
    }

    #[test]
    fn routes_match_as_api_gateway_picks_them() {
        let routes = vec![
            route("POST", "/orders"),
            route("GET", "/orders"),
            route("GET", "/orders/{id}"),
            route("GET", "/orders/special"),
            route("ANY", "/{proxy+}"),
        ];
        let cases = [
            ("GET", "/orders", Some(("GET /orders", json!({})))),
            ("POST", "/orders/", Some(("POST /orders", json!({})))),
            (
                "GET",
                "/orders/o%2D1",
                Some(("GET /orders/{id}", json!({"id": "o-1"}))),
            ),
            (
                "GET",
                "/orders/special",
                Some(("GET /orders/special", json!({}))),
            ),
            (
                "DELETE",
                "/orders/1",
                Some(("ANY /{proxy+}", json!({"proxy": "orders/1"}))),
            ),
        ];
        for (method, path, expected) in cases {
            let found = find_route(&routes, method, path)
                .map(|(r, p)| (r.spec.route_key(), Value::Object(p)));
            let expected = expected.map(|(k, p)| (k.to_owned(), p));
            assert_eq!(found, expected, "{method} {path}");
        }
        assert!(find_route(&routes[..4], "DELETE", "/orders").is_none());
    }

    #[test]
    fn percent_escapes_decode_and_invalid_ones_stay() {
        let cases = [
            ("a%20b", "a b"),
            ("%C3%A9t%C3%A9", "été"),
            ("%41%zz%", "A%zz%"),
            ("100%", "100%"),
            ("%FF", "\u{FFFD}"),
            ("a+b", "a+b"),
        ];
        for (text, expected) in cases {
            assert_eq!(percent_decode(text), expected, "{text}");
        }
    }

    #[test]
    fn events_have_the_v2_shape() {
        let mut headers = HeaderMap::new();
        headers.insert("Content-Type", HeaderValue::from_static("application/json"));
        headers.insert("Idempotency-Key", HeaderValue::from_static("k1"));
        headers.insert("host", HeaderValue::from_static("127.0.0.1:9"));
        let uri: Uri = "/orders/o1?x=1&x=2&y=a%20b".parse().unwrap();
        let request = ApiRequest {
            method: &Method::GET,
            uri: &uri,
            headers: &headers,
            body: b"{\"a\":1}",
            peer: "127.0.0.1:5000".parse().unwrap(),
        };
        let claims = json!({"sub": "user-1", "exp": 10});
        let mut parameters = Map::new();
        parameters.insert("id".into(), json!("o1"));
        let event = build_event(
            &request,
            &route("GET", "/orders/{id}"),
            parameters,
            claims.as_object(),
        );
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "GET /orders/{id}");
        assert_eq!(event["headers"]["idempotency-key"], "k1");
        assert_eq!(
            event["queryStringParameters"],
            json!({"x": "1,2", "y": "a b"})
        );
        assert_eq!(event["pathParameters"], json!({"id": "o1"}));
        assert_eq!(event["requestContext"]["http"]["method"], "GET");
        assert_eq!(
            event["requestContext"]["authorizer"]["jwt"]["claims"]["exp"],
            "10"
        );
        assert_eq!(event["body"], "{\"a\":1}");
        assert_eq!(event["isBase64Encoded"], false);
        assert!(
            event["requestContext"]["requestId"]
                .as_str()
                .is_some_and(|id| !id.is_empty())
        );
    }

    #[test]
    fn responses_map_as_payload_format_2() {
        let structured = map_response(
            &json!({"statusCode": 422, "headers": {"content-type": "application/problem+json"}, "body": "{}"}),
        );
        assert_eq!(structured.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            structured.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let plain = map_response(&json!({"ok": true}));
        assert_eq!(plain.status(), StatusCode::OK);
        assert_eq!(plain.headers()[header::CONTENT_TYPE], "application/json");
    }
}

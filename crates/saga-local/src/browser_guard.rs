//! Keeps web pages out of the local cloud. It listens on 127.0.0.1 only,
//! but any page the developer visits runs in their browser, on their
//! machine, and can send requests to every loopback port. This middleware,
//! in front of every route, refuses what such a page could get through:
//!
//! - a `Host` that is not this server (`127.0.0.1`, `localhost` or `[::1]`
//!   with its port): 421. DNS rebinding points a foreign name at 127.0.0.1,
//!   which makes the local cloud that name's origin in the browser, so the
//!   page may read the answers; the foreign name still arrives in `Host`. A
//!   request without one (an HTTP/1.0 client) passes: browsers always send it.
//! - an `Origin` other than this server's, or `Sec-Fetch-Site` `cross-site`
//!   or `same-site` (on loopback every other port is the same site), on
//!   every method that changes state, and on every `/local/*` request, which
//!   hand out dev tokens and order records: 403. Browsers send `Origin` on
//!   same-origin POSTs too; the server's own passes.
//! - a `POST`, `PUT` or `PATCH` under `/local/` whose body is not
//!   `application/json`: 415. A form or a `text/plain` fetch is a "simple"
//!   request, which no CORS preflight holds back; JSON needs a preflight,
//!   and this server never answers one.
//!
//! The console's forms cannot send JSON: they carry a CSRF token instead
//! (`console`). The Invoke API refuses simple requests itself
//! ([`could_be_sent_without_preflight`], used by `lambda_api`), and the Step
//! Functions endpoint needs `X-Amz-Target`, which no simple request has.

use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, HOST, ORIGIN};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::local_api::problem;

/// The names this server answers to, each with its port.
const LOOPBACK_NAMES: [&str; 3] = ["127.0.0.1", "localhost", "[::1]"];

/// The content types a page may send cross-site without a CORS preflight
/// (the Fetch standard's CORS-safelisted `Content-Type` values).
const SIMPLE_CONTENT_TYPES: [&str; 3] = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
];

/// This server: loopback on `port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loopback {
    port: u16,
}

impl Loopback {
    /// The server listening on `port`.
    pub fn new(port: u16) -> Self {
        Self { port }
    }

    /// Whether `authority` (`host[:port]`, as in `Host` or an origin) names
    /// this server. Names are case-insensitive; no port means 80.
    fn is_own_authority(self, authority: &str) -> bool {
        let authority = authority.to_ascii_lowercase();
        // An IPv6 literal holds colons of its own: the port follows `]`.
        let (name, port) = match authority.rfind(':') {
            Some(colon) if !authority[colon..].contains(']') => {
                (&authority[..colon], Some(&authority[colon + 1..]))
            }
            _ => (authority.as_str(), None),
        };
        let port = match port {
            None => 80,
            Some(port) => match port.parse::<u16>() {
                Ok(port) => port,
                Err(_) => return false,
            },
        };
        port == self.port && LOOPBACK_NAMES.contains(&name)
    }

    /// Whether `origin` is this server's own (`http://` and one of its names).
    fn is_own_origin(self, origin: &str) -> bool {
        origin
            .strip_prefix("http://")
            .is_some_and(|authority| self.is_own_authority(authority))
    }

    /// The refusal of a request a web page could have sent, or `None`.
    fn refusal(self, method: &Method, path: &str, headers: &HeaderMap) -> Option<Response> {
        if let Some(host) = headers.get(HOST) {
            let host = host.to_str().unwrap_or_default();
            if !self.is_own_authority(host) {
                return Some(problem(
                    StatusCode::MISDIRECTED_REQUEST,
                    format!(
                        "Host {host:?} is not this local cloud, which answers only to \
                         127.0.0.1:{port}, localhost:{port} and [::1]:{port} \
                         (a foreign Host is how DNS rebinding reaches a loopback server)",
                        port = self.port
                    ),
                ));
            }
        }
        let local = path.starts_with("/local/");
        if !method.is_safe() || local {
            if let Some(origin) = headers.get(ORIGIN) {
                let origin = origin.to_str().unwrap_or_default();
                if !self.is_own_origin(origin) {
                    return Some(problem(
                        StatusCode::FORBIDDEN,
                        format!(
                            "Origin {origin:?} is not this local cloud: a web page of another \
                             origin may not drive it (send no Origin, or http://127.0.0.1:{})",
                            self.port
                        ),
                    ));
                }
            }
            let site = headers
                .get("sec-fetch-site")
                .and_then(|site| site.to_str().ok());
            if let Some(site @ ("cross-site" | "same-site")) = site {
                return Some(problem(
                    StatusCode::FORBIDDEN,
                    format!(
                        "Sec-Fetch-Site {site:?}: a page of another origin may not drive this local cloud"
                    ),
                ));
            }
        }
        let has_body = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
        if local && has_body && media_type(headers).as_deref() != Some("application/json") {
            return Some(problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "{method} {path} takes a JSON body: send Content-Type: application/json \
                     (a form or text/plain body is what a web page can send here unasked)"
                ),
            ));
        }
        None
    }
}

/// The middleware: answers a request a web page could have sent with its
/// refusal, and passes every other on.
pub async fn refuse_foreign(
    State(loopback): State<Loopback>,
    request: Request,
    next: Next,
) -> Response {
    match loopback.refusal(request.method(), request.uri().path(), request.headers()) {
        Some(refusal) => refusal,
        None => next.run(request).await,
    }
}

/// The request's media type, lower-cased and without parameters
/// (`text/plain;charset=UTF-8` is `text/plain`); `None` when absent.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().unwrap_or_default();
    let essence = value.split(';').next().unwrap_or_default();
    Some(essence.trim().to_ascii_lowercase())
}

/// Whether a page of any origin could have had a browser send these headers
/// without a CORS preflight: no `Authorization`, no `X-Amz-*` header, and no
/// `Content-Type` or one of the three a form or plain `fetch` may use.
pub fn could_be_sent_without_preflight(headers: &HeaderMap) -> bool {
    let aws_client = headers.contains_key(axum::http::header::AUTHORIZATION)
        || headers
            .keys()
            .any(|name| name.as_str().starts_with("x-amz-"));
    !aws_client
        && media_type(headers).is_none_or(|media| SIMPLE_CONTENT_TYPES.contains(&media.as_str()))
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::middleware::from_fn_with_state;
    use axum::routing::{get, post};
    use tower::ServiceExt as _;

    use super::*;

    const PORT: u16 = 4000;

    /// Headers a request carries.
    type Headers<'a> = &'a [(&'a str, &'a str)];

    /// Routes of each kind behind the guard, each answering 200.
    fn guarded() -> Router {
        Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/local/info", get(|| async { "ok" }))
            .route("/local/token", post(|| async { "ok" }))
            .route("/console", get(|| async { "ok" }))
            .route("/console/redrive", post(|| async { "ok" }))
            .fallback(|| async { "ok" })
            .layer(from_fn_with_state(Loopback::new(PORT), refuse_foreign))
    }

    async fn status(method: Method, path: &str, headers: Headers<'_>) -> u16 {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = guarded()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        response.status().as_u16()
    }

    #[test]
    fn only_loopback_names_with_the_servers_port_are_its_own() {
        let loopback = Loopback::new(PORT);
        let cases = [
            ("127.0.0.1:4000", true),
            ("localhost:4000", true),
            ("LOCALHOST:4000", true),
            ("[::1]:4000", true),
            ("127.0.0.1:4001", false),
            ("127.0.0.1", false),
            ("[::1]", false),
            ("127.0.0.1:", false),
            ("127.0.0.1:x", false),
            ("rebind.example:4000", false),
            ("127.0.0.1.rebind.example:4000", false),
            ("localhost.rebind.example:4000", false),
            ("0.0.0.0:4000", false),
            ("", false),
        ];
        for (authority, own) in cases {
            assert_eq!(loopback.is_own_authority(authority), own, "{authority}");
        }
        assert!(Loopback::new(80).is_own_authority("localhost"));
        for (origin, own) in [
            ("http://127.0.0.1:4000", true),
            ("http://localhost:4000", true),
            ("https://127.0.0.1:4000", false),
            ("http://127.0.0.1:4000/", false),
            ("null", false),
            ("http://127.0.0.1:3000", false),
        ] {
            assert_eq!(loopback.is_own_origin(origin), own, "{origin}");
        }
    }

    #[tokio::test]
    async fn foreign_hosts_origins_and_sites_are_refused_where_they_matter() {
        let json = ("content-type", "application/json");
        let form = ("content-type", "application/x-www-form-urlencoded");
        let foreign = ("origin", "https://attacker.example");
        let own = ("origin", "http://127.0.0.1:4000");
        let cross_site = ("sec-fetch-site", "cross-site");
        let cases: [(Method, &str, Headers, u16); 22] = [
            // Host, on every kind of route, the fallback included.
            (
                Method::GET,
                "/health",
                &[("host", "rebind.example:4000")],
                421,
            ),
            (Method::GET, "/console", &[("host", "evil:4000")], 421),
            (Method::POST, "/", &[("host", "evil:4000"), json], 421),
            (Method::GET, "/health", &[("host", "localhost:4000")], 200),
            (Method::GET, "/health", &[], 200),
            // Origin and Sec-Fetch-Site: every method that changes state...
            (Method::POST, "/local/token", &[json, foreign], 403),
            (Method::POST, "/console/redrive", &[form, foreign], 403),
            (Method::POST, "/orders", &[json, foreign], 403),
            (Method::DELETE, "/local/faults", &[foreign], 403),
            (Method::POST, "/console/redrive", &[form, cross_site], 403),
            (
                Method::POST,
                "/console/redrive",
                &[form, ("sec-fetch-site", "same-site")],
                403,
            ),
            (Method::POST, "/local/token", &[json, own], 200),
            (
                Method::POST,
                "/console/redrive",
                &[form, own, ("sec-fetch-site", "same-origin")],
                200,
            ),
            // ...and reading /local/*, but not a console page.
            (Method::GET, "/local/info", &[foreign], 403),
            (Method::GET, "/local/info", &[cross_site], 403),
            (Method::GET, "/local/info", &[own], 200),
            (Method::GET, "/console", &[foreign], 200),
            (Method::GET, "/console", &[cross_site], 200),
            // JSON bodies under /local/ only.
            (
                Method::POST,
                "/local/token",
                &[("content-type", "text/plain;charset=UTF-8")],
                415,
            ),
            (Method::POST, "/local/token", &[], 415),
            (Method::POST, "/local/token", &[form], 415),
            (Method::POST, "/console/redrive", &[form], 200),
        ];
        for (method, path, headers, expected) in cases {
            assert_eq!(
                status(method.clone(), path, headers).await,
                expected,
                "{method} {path} {headers:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_refusal_is_a_problem_that_says_why() {
        let response = guarded()
            .oneshot(
                Request::builder()
                    .uri("/health")
                    .header("host", "rebind.example:4000")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["status"], 421);
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("\"rebind.example:4000\"") && detail.contains("DNS rebinding"),
            "{detail}"
        );
    }

    #[test]
    fn aws_clients_and_json_need_a_preflight_forms_and_plain_text_do_not() {
        let cases: [(Headers, bool); 9] = [
            (&[], true),
            (&[("content-type", "text/plain")], true),
            (&[("content-type", "Text/Plain; charset=utf-8")], true),
            (
                &[("content-type", "application/x-www-form-urlencoded")],
                true,
            ),
            (&[("content-type", "multipart/form-data; boundary=x")], true),
            (&[("content-type", "application/json")], false),
            (&[("content-type", "application/x-amz-json-1.0")], false),
            (&[("authorization", "AWS4-HMAC-SHA256 ...")], false),
            (
                &[("x-amz-log-type", "Tail"), ("content-type", "text/plain")],
                false,
            ),
        ];
        for (headers, simple) in cases {
            let mut map = HeaderMap::new();
            for (name, value) in headers {
                map.insert(
                    axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    value.parse().unwrap(),
                );
            }
            assert_eq!(could_be_sent_without_preflight(&map), simple, "{headers:?}");
        }
    }
}

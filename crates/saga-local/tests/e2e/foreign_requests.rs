//! What a web page the developer happens to visit could make their browser
//! send to the local cloud, and that the local cloud refuses: a foreign
//! `Host` (DNS rebinding), a foreign `Origin` or `Sec-Fetch-Site`, a
//! `/local/*` body that is not JSON (a form or `text/plain` needs no CORS
//! preflight), a console form without its CSRF token, and an Invoke call a
//! browser could send without a preflight. Each case sits beside the
//! same-origin request that must still pass.

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HOST, ORIGIN};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::LocalCloud;

/// The cloud's port, from its `http://127.0.0.1:<port>` URL.
fn port_of(cloud: &LocalCloud) -> u16 {
    cloud
        .url
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {}", cloud.url))
}

/// Headers a request adds.
type Headers<'a> = &'a [(&'a str, &'a str)];
/// A request's content type and body, if it has one.
type Body<'a> = Option<(&'a str, &'a str)>;

/// A client that shows redirects instead of following them: a console form
/// answers 303 when it was accepted.
fn no_redirects() -> reqwest::Client {
    saga_stripe::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A request with `headers` and, when given, a body of `content_type`; its
/// status.
async fn status_of(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    headers: Headers<'_>,
    body: Body<'_>,
) -> u16 {
    let mut request = http.request(method, url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some((content_type, body)) = body {
        request = request
            .header(CONTENT_TYPE, content_type)
            .body(body.to_owned());
    }
    request.send().await.unwrap().status().as_u16()
}

/// The console's CSRF token, read from its front page's fault form (empty
/// when the page carries none).
async fn console_csrf_token(cloud: &LocalCloud) -> String {
    let page = cloud
        .http
        .get(cloud.at("/console"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_host_is_refused_on_every_kind_of_route() {
    let cloud = LocalCloud::start(&[]).await;
    let port = port_of(&cloud);
    let json = Some(("application/json", "{\"sub\": \"rebinding\"}"));
    let sfn = [("x-amz-target", "AWSStepFunctions.ListStateMachines")];
    // (method, path, extra headers, body): one route of each kind.
    let routes: [(Method, &str, Headers, Body); 7] = [
        (Method::GET, "/health", &[], None),
        (Method::POST, "/local/token", &[], json),
        (Method::GET, "/local/orders/ord_x", &[], None),
        (Method::GET, "/console", &[], None),
        (
            Method::POST,
            "/",
            &sfn,
            Some(("application/x-amz-json-1.0", "{}")),
        ),
        (
            Method::POST,
            "/2015-03-31/functions/reserve/invocations",
            &[("x-amz-invocation-type", "DryRun")],
            Some(("application/json", "{}")),
        ),
        (Method::GET, "/products", &[], None),
    ];
    let foreign_hosts = [
        format!("rebind.example:{port}"),
        format!("127.0.0.1.rebind.example:{port}"),
        "rebind.example".to_owned(),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
    ];
    for (method, path, headers, body) in &routes {
        for host in &foreign_hosts {
            let mut with_host = headers.to_vec();
            with_host.push((HOST.as_str(), host));
            let status = status_of(
                &cloud.http,
                method.clone(),
                &cloud.at(path),
                &with_host,
                *body,
            )
            .await;
            assert_eq!(status, 421, "{method} {path} with Host {host}");
        }
    }
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let status = status_of(
            &cloud.http,
            Method::GET,
            &cloud.at("/health"),
            &[(HOST.as_str(), &host)],
            None,
        )
        .await;
        assert_eq!(status, 200, "GET /health with Host {host}");
    }
    // An HTTP/1.0 client may send no Host at all.
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream
        .write_all(b"GET /health HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_origin_or_cross_site_fetch_is_refused_and_the_same_origin_passes() {
    let cloud = LocalCloud::start(&[]).await;
    let port = port_of(&cloud);
    let http = no_redirects();
    let csrf = console_csrf_token(&cloud).await;
    let token_body = Some(("application/json", "{\"sub\": \"origin\"}"));
    let fault_body = Some((
        "application/json",
        "{\"function\": \"ship\", \"mode\": \"transient\", \"count\": 1}",
    ));
    let clear_form = format!("function=ship&csrf={csrf}");
    let console_body = Some(("application/x-www-form-urlencoded", clear_form.as_str()));
    // (method, path, body, status when the same origin asks).
    let requests = [
        (Method::POST, "/local/token", token_body, 200),
        (Method::POST, "/local/faults", fault_body, 200),
        (Method::DELETE, "/local/faults", None, 204),
        (Method::GET, "/local/info", None, 200),
        (Method::GET, "/local/orders/ord_x", None, 200),
        (Method::POST, "/console/faults/clear", console_body, 303),
    ];
    let foreign_origin = "https://attacker.example";
    let other_local_port = format!("http://127.0.0.1:{}", port.wrapping_add(1));
    let refused: [Headers; 4] = [
        &[(ORIGIN.as_str(), foreign_origin)],
        &[(ORIGIN.as_str(), "null")],
        &[(ORIGIN.as_str(), &other_local_port)],
        &[("sec-fetch-site", "cross-site")],
    ];
    let own_origin = format!("http://127.0.0.1:{port}");
    let own_localhost = format!("http://localhost:{port}");
    let localhost = format!("localhost:{port}");
    let accepted: [Headers; 4] = [
        &[],
        &[(ORIGIN.as_str(), &own_origin)],
        &[
            (ORIGIN.as_str(), &own_localhost),
            (HOST.as_str(), &localhost),
        ],
        &[
            (ORIGIN.as_str(), &own_origin),
            ("sec-fetch-site", "same-origin"),
        ],
    ];
    for (method, path, body, same_origin_status) in &requests {
        for headers in refused {
            let status = status_of(&http, method.clone(), &cloud.at(path), headers, *body).await;
            assert_eq!(status, 403, "{method} {path} with {headers:?}");
        }
        for headers in accepted {
            let status = status_of(&http, method.clone(), &cloud.at(path), headers, *body).await;
            assert_eq!(
                status, *same_origin_status,
                "{method} {path} with {headers:?}"
            );
        }
    }
    // Reading a page of the console is not refused for a foreign Origin: a
    // foreign page cannot read the answer, and a link from one is a plain
    // navigation.
    let status = status_of(
        &http,
        Method::GET,
        &cloud.at("/console"),
        &[("sec-fetch-site", "cross-site")],
        None,
    )
    .await;
    assert_eq!(status, 200, "GET /console from a link on another site");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_bodies_must_be_json() {
    let cloud = LocalCloud::start(&[]).await;
    let http = no_redirects();
    let fault = "{\"function\": \"ship\", \"mode\": \"transient\", \"count\": 1}";
    // What a cross-site form or a no-preflight fetch can send.
    for content_type in [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        for (method, path, body) in [
            (Method::POST, "/local/faults", fault),
            (Method::POST, "/local/token", "{\"sub\": \"form\"}"),
            (
                Method::PUT,
                "/local/stock/SKU-TEE-M",
                "{\"available\": 1, \"priceMinor\": 1}",
            ),
        ] {
            let status = status_of(
                &http,
                method.clone(),
                &cloud.at(path),
                &[],
                Some((content_type, body)),
            )
            .await;
            assert_eq!(status, 415, "{method} {path} as {content_type}");
        }
    }
    let status = status_of(
        &http,
        Method::POST,
        &cloud.at("/local/faults"),
        &[],
        Some(("application/json; charset=utf-8", fault)),
    )
    .await;
    assert_eq!(status, 200, "POST /local/faults as JSON");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_forms_must_carry_the_csrf_token() {
    let cloud = LocalCloud::start(&[]).await;
    let http = no_redirects();
    let csrf = console_csrf_token(&cloud).await;
    let arn = "arn:aws:states:us-east-1:123456789012:execution:none:none";
    let form = "application/x-www-form-urlencoded";
    // (path, form without the token): every form the console has.
    let forms = [
        ("/console/redrive", format!("arn={arn}")),
        (
            "/console/queues/redrive",
            "queue=ShippingDeadLetterQueue".to_owned(),
        ),
        (
            "/console/faults",
            "function=ship&mode=transient&count=1&delayMs=".to_owned(),
        ),
        ("/console/faults/clear", "function=ship".to_owned()),
    ];
    for (path, fields) in &forms {
        let wrong = "0".repeat(64);
        for body in [
            fields.clone(),
            format!("{fields}&csrf="),
            format!("{fields}&csrf={wrong}"),
        ] {
            let status = status_of(
                &http,
                Method::POST,
                &cloud.at(path),
                &[],
                Some((form, &body)),
            )
            .await;
            assert_eq!(status, 403, "POST {path} with {body}");
        }
        let body = format!("{fields}&csrf={csrf}");
        let status = status_of(
            &http,
            Method::POST,
            &cloud.at(path),
            &[],
            Some((form, &body)),
        )
        .await;
        assert_ne!(status, 403, "POST {path} with the token");
    }
    assert_eq!(csrf.len(), 64, "the front page's token: {csrf:?}");
    for page in ["/console", "/console/queues"] {
        let html = cloud
            .http
            .get(cloud.at(page))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            html.matches("<form ").count(),
            html.matches(&format!("name=\"csrf\" value=\"{csrf}\""))
                .count(),
            "every form of {page} carries the token: {html}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoke_a_browser_could_send_without_a_preflight_is_refused() {
    let cloud = LocalCloud::start(&[]).await;
    let http = no_redirects();
    let url = cloud.at("/2015-03-31/functions/reserve/invocations");
    let event = "{\"orderId\": \"ord_x\", \"items\": []}";
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let status = status_of(&http, Method::POST, &url, &[], Some((content_type, event))).await;
        assert_eq!(status, 415, "invoke as {content_type}");
    }
    // No Content-Type and no header of an AWS client: a `fetch` of a Blob.
    let status = http
        .post(&url)
        .body(event)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 415, "invoke without a Content-Type");
    // What xtask sends (JSON), and what boto3 sends (no Content-Type, signed).
    let callers: [(Headers, Body); 2] = [
        (
            &[("x-amz-log-type", "Tail")],
            Some(("application/json", event)),
        ),
        (
            &[
                (
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=x/20250101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=0",
                ),
                ("x-amz-date", "20250101T000000Z"),
            ],
            None,
        ),
    ];
    for (headers, body) in callers {
        let mut request = http.post(&url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request = match body {
            Some((content_type, body)) => request.header(CONTENT_TYPE, content_type).body(body),
            None => request.body(event),
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "invoke with {headers:?}");
        assert_eq!(
            response.headers()["x-amz-function-error"],
            "Unhandled",
            "reserve ran and refused the empty order"
        );
    }
}

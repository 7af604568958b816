//! Export from a Lambda function: spans wait in a [`SpanBuffer`] while the
//! invocation runs, and [`Exporter::flush`] sends them, before the
//! invocation's answer, as one OTLP/HTTP JSON request to the collector.
//!
//! On AWS the collector is the Lambda extension of the AWS Distro for
//! OpenTelemetry (the template's `OtelCollectorLayerArn`), which listens on
//! `http://localhost:4318` inside the sandbox and forwards to X-Ray; in the
//! local cloud it is the local cloud's own `/v1/traces`. Both are plain
//! HTTP on the same host, so this is a minimal HTTP/1.1 client (one
//! request per connection), not a TLS stack: an `https` endpoint is refused
//! when the function starts, naming the variable.
//!
//! The endpoint is `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given, or
//! `OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/traces` appended, as the
//! OpenTelemetry specification says. A flush that fails (no collector,
//! timeout, an error status) loses that invocation's spans with one
//! warning, never the invocation: a trace is not worth failing an order for.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::layer::{FinishedSpan, SpanSink};
use crate::otlp;

/// Finished spans waiting for the next flush.
#[derive(Default)]
pub struct SpanBuffer {
    spans: Mutex<Vec<FinishedSpan>>,
}

/// More spans than this between two flushes are dropped (a runaway loop
/// must not exhaust the function's memory).
pub const MAX_BUFFERED: usize = 4096;

impl SpanBuffer {
    /// Takes every buffered span.
    pub fn take(&self) -> Vec<FinishedSpan> {
        std::mem::take(&mut *self.spans.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl SpanSink for SpanBuffer {
    fn accept(&self, span: FinishedSpan) {
        let mut spans = self.spans.lock().unwrap_or_else(PoisonError::into_inner);
        if spans.len() < MAX_BUFFERED {
            spans.push(span);
        }
    }
}

/// Why the exporter cannot be configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointError {
    /// The variable that holds the endpoint.
    pub variable: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for EndpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.variable, self.reason)
    }
}

impl std::error::Error for EndpointError {}

/// An OTLP/HTTP traces endpoint: `http://host:port/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address.
    pub host: String,
    /// Port (80 when not given).
    pub port: u16,
    /// Path, `/v1/traces` by default.
    pub path: String,
}

impl Endpoint {
    /// The traces endpoint the environment names, `None` when it names
    /// none (export is off).
    pub fn from_environment(
        vars: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, EndpointError> {
        let set = |name: &str| vars(name).filter(|value| !value.trim().is_empty());
        if let Some(url) = set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            return Self::parse(&url, None)
                .map(Some)
                .map_err(|reason| EndpointError {
                    variable: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    reason,
                });
        }
        if let Some(url) = set("OTEL_EXPORTER_OTLP_ENDPOINT") {
            return Self::parse(&url, Some("v1/traces"))
                .map(Some)
                .map_err(|reason| EndpointError {
                    variable: "OTEL_EXPORTER_OTLP_ENDPOINT",
                    reason,
                });
        }
        Ok(None)
    }

    /// `url` (`http://host[:port][/path]`), with `signal` appended to the
    /// path when given.
    fn parse(url: &str, signal: Option<&str>) -> Result<Self, String> {
        let url = url.trim();
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(format!(
                "{url:?} is not an http:// URL; the functions export to a collector on the same host \
                 (the collector extension's http://localhost:4318), without TLS"
            ));
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .map_err(|_| format!("{url:?} has an invalid port"))?,
            ),
            None => (authority, 80),
        };
        if host.is_empty() {
            return Err(format!("{url:?} has no host"));
        }
        let mut path = format!("/{}", path.trim_end_matches('/'));
        if let Some(signal) = signal {
            if !path.ends_with('/') {
                path.push('/');
            }
            path.push_str(signal);
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            path,
        })
    }
}

/// Sends buffered spans to the endpoint.
pub struct Exporter {
    buffer: Arc<SpanBuffer>,
    endpoint: Endpoint,
    timeout: Duration,
}

/// How long one flush may take before its spans are dropped.
pub const FLUSH_TIMEOUT: Duration = Duration::from_millis(500);

impl Exporter {
    /// Exports what `buffer` holds to `endpoint`.
    pub fn new(buffer: Arc<SpanBuffer>, endpoint: Endpoint) -> Self {
        Self {
            buffer,
            endpoint,
            timeout: FLUSH_TIMEOUT,
        }
    }

    /// Sends every buffered span; failures are logged and the spans lost.
    pub async fn flush(&self) {
        let spans = self.buffer.take();
        if spans.is_empty() {
            return;
        }
        let body = otlp::export_request(&spans).to_string();
        match tokio::time::timeout(self.timeout, self.post(body.as_bytes())).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(spans = spans.len(), %error, "trace export failed; spans lost");
            }
            Err(_) => tracing::warn!(
                spans = spans.len(),
                timeout_ms = self.timeout.as_millis(),
                "trace export timed out; spans lost"
            ),
        }
    }

    async fn post(&self, body: &[u8]) -> std::io::Result<()> {
        let Endpoint { host, port, path } = &self.endpoint;
        let mut stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        stream.flush().await?;
        // The status line is all that matters: read up to the end of the
        // headers (or the connection's), not to a close the collector may
        // delay.
        let mut response = Vec::new();
        let mut chunk = [0_u8; 1024];
        while !response.windows(4).any(|w| w == b"\r\n\r\n") && response.len() < 64 * 1024 {
            let read = stream.read(&mut chunk).await?;
            if read == 0 {
                break;
            }
            response.extend_from_slice(&chunk[..read]);
        }
        let status_line = response
            .split(|b| *b == b'\n')
            .next()
            .map(|line| String::from_utf8_lossy(line).trim().to_owned())
            .unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok());
        match status {
            Some(200..=299) => Ok(()),
            _ => Err(std::io::Error::other(format!(
                "the collector answered {status_line:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(vars: &[(&str, &str)]) -> Result<Option<Endpoint>, EndpointError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Endpoint::from_environment(&|name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn the_endpoint_comes_from_the_otel_variables() {
        assert_eq!(endpoint(&[]), Ok(None));
        assert_eq!(
            endpoint(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")]),
            Ok(Some(Endpoint {
                host: "localhost".to_owned(),
                port: 4318,
                path: "/v1/traces".to_owned()
            }))
        );
        assert_eq!(
            endpoint(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9000/otlp/")])
                .unwrap()
                .unwrap()
                .path,
            "/otlp/v1/traces"
        );
        // The signal's own variable wins and is used as given.
        assert_eq!(
            endpoint(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://collector/traces"
                ),
            ]),
            Ok(Some(Endpoint {
                host: "collector".to_owned(),
                port: 80,
                path: "/traces".to_owned()
            }))
        );
        let error =
            endpoint(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://otlp.example.com")]).unwrap_err();
        assert_eq!(error.variable, "OTEL_EXPORTER_OTLP_ENDPOINT");
        assert!(error.to_string().contains("not an http:// URL"), "{error}");
        assert!(endpoint(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://host:port")]).is_err());
    }

    #[tokio::test]
    async fn a_flush_posts_the_buffered_spans_as_otlp_json_once() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut chunk = [0; 4096];
            loop {
                let read = socket.read(&mut chunk).await.unwrap();
                request.extend_from_slice(&chunk[..read]);
                let text = String::from_utf8_lossy(&request);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .unwrap()
                        .parse()
                        .unwrap();
                    if body.len() >= length {
                        break;
                    }
                }
            }
            socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                .await
                .unwrap();
            String::from_utf8(request).unwrap()
        });
        let buffer = Arc::new(SpanBuffer::default());
        let context = crate::TraceContext::new_trace();
        buffer.accept(crate::layer::FinishedSpan {
            trace_id: context.trace_id,
            span_id: crate::SpanId::random(),
            parent: None,
            name: "reserve".to_owned(),
            kind: crate::layer::SpanKind::Server,
            service: Arc::from("reserve"),
            start: std::time::SystemTime::UNIX_EPOCH,
            end: std::time::SystemTime::UNIX_EPOCH,
            attributes: vec![],
            events: vec![],
            status: crate::layer::Status::Unset,
        });
        let exporter = Exporter::new(
            Arc::clone(&buffer),
            Endpoint {
                host: "127.0.0.1".to_owned(),
                port,
                path: "/v1/traces".to_owned(),
            },
        );
        exporter.flush().await;
        let request = server.await.unwrap();
        assert!(
            request.starts_with("POST /v1/traces HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains("Content-Type: application/json\r\n"));
        let body: serde_json::Value =
            serde_json::from_str(request.split_once("\r\n\r\n").unwrap().1).unwrap();
        assert_eq!(
            body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"],
            context.trace_id.to_string()
        );
        assert!(buffer.take().is_empty(), "flushed spans leave the buffer");
    }
}

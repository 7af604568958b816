//! The Lambda-facing side of the saga: raw events in, step outputs or
//! `Diagnostic`s out, plus per-function config and logging setup.
//!
//! - [`handlers`]: one handler per function, generic over the ports.
//! - [`config`]: one typed config per function, from the environment.
//! - [`metrics`]: CloudWatch Embedded Metric Format lines.
//! - [`init_tracing`]: JSON logs for CloudWatch and the function's trace
//!   spans ([`Telemetry`]).
//!
//! Only this crate, `order-api`, the binaries and the local cloud know
//! `lambda_runtime` and Lambda event types; the steps themselves live in
//! `saga-domain`.

pub mod config;
pub mod handlers;
pub mod metrics;

/// What [`init_tracing`] set up for traces: the buffer the function's
/// spans wait in, and where they go after each invocation.
pub struct Telemetry {
    buffer: std::sync::Arc<saga_telemetry::export::SpanBuffer>,
    exporter: Option<saga_telemetry::export::Exporter>,
}

impl Telemetry {
    /// Sends the spans of the invocation that just ended to the collector,
    /// or drops them when no endpoint is configured. Call it before the
    /// invocation answers: Lambda may freeze the sandbox right after.
    pub async fn flush(&self) {
        match &self.exporter {
            Some(exporter) => exporter.flush().await,
            None => drop(self.buffer.take()),
        }
    }

    /// Whether spans leave the function.
    pub fn exports(&self) -> bool {
        self.exporter.is_some()
    }
}

/// Installs the logs and traces every function uses, and gives what to
/// flush after each invocation.
///
/// - Logs: one JSON object per event, level from `RUST_LOG` (default
///   `info`), no ANSI colours, no timestamps (CloudWatch adds its own), and
///   the open spans' fields (`spans`), so every line inside an invocation
///   carries its `trace_id`, `request_id` and `order_id`.
/// - Traces: [`saga_telemetry::SpanLayer`] records the spans of traced work
///   (the invocation's root span and what opens inside it, the AWS SDK's
///   operations included, whatever `RUST_LOG` says) into a buffer, exported
///   to `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
///   `OTEL_EXPORTER_OTLP_ENDPOINT` (see [`saga_telemetry::export`]). An
///   endpoint that is not `http://` is an error naming the variable.
///
/// `RUST_LOG` is read as comma-separated `level` and `target=level`
/// directives (`info,aws_smithy_runtime=warn`); one that does not parse
/// leaves the default. Not `EnvFilter`: its span and field filters, which no
/// function uses, link a regex engine into every binary. A second call finds
/// a subscriber already set and installs nothing; its spans are not
/// exported.
pub fn init_tracing() -> Result<Telemetry, saga_telemetry::export::EndpointError> {
    let vars = |name: &str| std::env::var(name).ok();
    let endpoint = saga_telemetry::export::Endpoint::from_environment(&vars)?;
    let buffer = std::sync::Arc::new(saga_telemetry::export::SpanBuffer::default());
    let sink: std::sync::Arc<dyn saga_telemetry::SpanSink> = buffer.clone();
    let installed = tracing::subscriber::set_global_default(subscriber(
        std::env::var("RUST_LOG").ok().as_deref(),
        sink,
        std::io::stdout,
    ))
    .is_ok();
    let exporter = endpoint
        .filter(|_| installed)
        .map(|endpoint| saga_telemetry::export::Exporter::new(buffer.clone(), endpoint));
    Ok(Telemetry { buffer, exporter })
}

/// The subscriber [`init_tracing`] installs, writing logs to `writer`.
pub fn subscriber<W>(
    rust_log: Option<&str>,
    sink: std::sync::Arc<dyn saga_telemetry::SpanSink>,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::{FilterExt as _, LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt as _;

    let filter = rust_log
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_ansi(false)
        .with_current_span(false)
        .with_span_list(true)
        .without_time()
        .with_target(false)
        .with_writer(writer)
        // The trace's root span whatever the level, so that every line
        // names its trace.
        .with_filter(filter.or(tracing_subscriber::filter::filter_fn(|metadata| {
            metadata.is_span() && metadata.name() == "trace_root"
        })));
    tracing_subscriber::registry()
        .with(logs)
        .with(saga_telemetry::SpanLayer::new(sink).with_filter(saga_telemetry::span_filter()))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use saga_telemetry::{FinishedSpan, SpanSink, TraceContext};

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[derive(Default)]
    struct Spans(Mutex<Vec<FinishedSpan>>);

    impl SpanSink for Spans {
        fn accept(&self, span: FinishedSpan) {
            self.0.lock().unwrap().push(span);
        }
    }

    #[test]
    fn every_log_line_of_an_invocation_names_its_trace_and_its_spans_are_recorded() {
        let lines = Lines::default();
        let spans = Arc::new(Spans::default());
        let writer = lines.clone();
        let subscriber = super::subscriber(Some("warn"), spans.clone(), move || writer.clone());
        let context = TraceContext::from_header(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .unwrap();
        tracing::subscriber::with_default(subscriber, || {
            let span = saga_telemetry::root_span("reserve", "server", "reserve", &context);
            span.record("order_id", "ord-1");
            span.in_scope(|| {
                tracing::info_span!("inner").in_scope(|| {
                    tracing::info!("below RUST_LOG: not written");
                    tracing::warn!(sku = "SKU-1", "low stock");
                });
                // An SDK operation is traced whatever RUST_LOG says.
                tracing::debug_span!(
                    target: "aws_sdk_dynamodb::operation::get_item",
                    "DynamoDB.GetItem",
                    "rpc.service" = "DynamoDB"
                )
                .in_scope(|| {});
            });
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let written: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect();
        assert_eq!(written.len(), 1, "{text}");
        let line = &written[0];
        assert_eq!(line["fields"]["message"], "low stock");
        assert_eq!(
            line["spans"][0]["trace_id"],
            "5759e988bd862e3fe1be46a994272793"
        );
        assert_eq!(line["spans"][0]["order_id"], "ord-1");

        let recorded = spans.0.lock().unwrap();
        let names: Vec<&str> = recorded.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["inner", "DynamoDB.GetItem", "reserve"]);
        assert!(recorded.iter().all(|s| s.trace_id == context.trace_id));
    }
}

//! Traces for the order saga, in OpenTelemetry's model and wire format,
//! from the `tracing` spans the code already opens.
//!
//! - [`context`]: a trace's and a span's ids, and the X-Ray and W3C headers
//!   that carry them between services ([`TraceContext`]);
//! - [`layer`]: [`SpanLayer`], which records traced `tracing` spans (and the
//!   AWS SDK's per-operation spans) as OpenTelemetry spans;
//! - [`otlp`]: their OTLP/JSON encoding;
//! - [`export`]: a buffer flushed after each invocation to an OTLP/HTTP
//!   endpoint (the collector extension on Lambda, the local cloud here).
//!
//! Why not the `opentelemetry` crates: a saga step needs a few dozen spans
//! per invocation, a trace context it can pass through Step Functions and
//! SQS in X-Ray's header, and one synchronous export before it answers.
//! The SDK, its batch processor and an HTTP client stack would cost every
//! function hundreds of kilobytes and cold-start time for that; this crate
//! speaks the same OTLP, so any collector or backend reads it.
//!
//! Code opens a trace's local root with [`root_span`] and reads the
//! context to pass on with [`current_context`]; everything else is plain
//! `tracing`.

pub mod context;
pub mod export;
pub mod layer;
pub mod otlp;

pub use context::{SpanId, TraceContext, TraceId};
pub use layer::{FinishedSpan, SpanLayer, SpanSink};

use tracing_subscriber::registry::LookupSpan as _;

/// Opens the first span of `context`'s trace in this process: a span of
/// kind `kind` (`server` for an invocation, `consumer` for a queue
/// message) named `name`, running in `service`, child of the context's
/// parent. Spans opened inside it (and the AWS SDK's operations) join the
/// trace. Its other fields start empty and can be recorded later:
/// `request_id`, `order_id`, `messaging.message.id`, and
/// `otel.status_code`/`otel.status_message` for a failure.
///
/// Every log line written inside it carries `trace_id` (JSON logs list the
/// open spans' fields).
pub fn root_span(
    name: &str,
    kind: &'static str,
    service: &str,
    context: &TraceContext,
) -> tracing::Span {
    let parent = context.parent.map(|id| id.to_string()).unwrap_or_default();
    tracing::info_span!(
        "trace_root",
        otel.name = name,
        otel.kind = kind,
        service.name = service,
        trace_id = %context.trace_id,
        parent_span_id = %parent,
        trace_sampled = context.sampled,
        request_id = tracing::field::Empty,
        order_id = tracing::field::Empty,
        messaging.message.id = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        otel.status_message = tracing::field::Empty,
    )
}

/// What a [`SpanLayer`] needs to see, as a per-layer filter: spans at
/// `INFO` and above, the AWS SDK's operation spans (`debug`, and their
/// attempts, which it passes through), and warnings and errors (a span's
/// events), whatever the log filter (`RUST_LOG`) says.
pub fn span_filter() -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    Targets::new()
        .with_default(LevelFilter::INFO)
        .with_target("aws_sdk_dynamodb", LevelFilter::DEBUG)
        .with_target("aws_sdk_sfn", LevelFilter::DEBUG)
        .with_target("aws_sdk_sqs", LevelFilter::DEBUG)
        .with_target("aws_sdk_ssm", LevelFilter::DEBUG)
}

/// Marks `span` failed with `message` (an error type).
pub fn record_error(span: &tracing::Span, message: &str) {
    span.record("otel.status_code", "ERROR");
    span.record("otel.status_message", message);
}

/// The context a call made inside `span` passes on: its trace, with the
/// nearest recorded span (`span` or an ancestor) as the parent. `None`
/// outside any trace, or without a [`SpanLayer`] installed.
pub fn span_context(span: &tracing::Span) -> Option<TraceContext> {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let span = registry.span(id)?;
        span.scope().find_map(|ancestor| {
            ancestor
                .extensions()
                .get::<layer::InTrace>()
                .map(layer::InTrace::context)
        })
    })
    .flatten()
}

/// The trace `span` is in, as [`SpanLayer`] recorded it; `None` outside a
/// trace. For log formatters that print the trace id on every line.
pub fn trace_id_of<S>(span: &tracing_subscriber::registry::SpanRef<'_, S>) -> Option<TraceId>
where
    S: for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    span.extensions()
        .get::<layer::InTrace>()
        .map(|in_trace| in_trace.trace_id)
}

/// [`span_context`] of the current span: what to put in StartExecution's
/// `traceHeader` or an outgoing request's `traceparent`.
pub fn current_context() -> Option<TraceContext> {
    span_context(&tracing::Span::current())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;
    use crate::layer::{AttributeValue, SpanKind, Status};

    #[derive(Default)]
    struct Collected(Mutex<Vec<FinishedSpan>>);

    impl SpanSink for Collected {
        fn accept(&self, span: FinishedSpan) {
            self.0.lock().unwrap().push(span);
        }
    }

    fn collect(work: impl FnOnce()) -> Vec<FinishedSpan> {
        let sink = Arc::new(Collected::default());
        let subscriber = tracing_subscriber::registry()
            .with(SpanLayer::new(Arc::clone(&sink) as Arc<dyn SpanSink>));
        tracing::subscriber::with_default(subscriber, work);
        sink.0.lock().unwrap().clone()
    }

    fn named<'a>(spans: &'a [FinishedSpan], name: &str) -> &'a FinishedSpan {
        spans
            .iter()
            .find(|span| span.name == name)
            .unwrap_or_else(|| panic!("no span {name}"))
    }

    #[test]
    fn a_root_span_starts_a_tree_that_sdk_operations_join_through_debug_spans() {
        let remote = TraceContext::from_header(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .unwrap();
        let mut passed_on = None;
        let spans = collect(|| {
            tracing::info_span!("not traced").in_scope(|| {
                let root = root_span("reserve", "server", "reserve-fn", &remote);
                root.in_scope(|| {
                    root.record("order_id", "ord-1");
                    tracing::debug_span!(
                        "DynamoDB.TransactWriteItems",
                        "rpc.service" = "DynamoDB",
                        "rpc.method" = "TransactWriteItems"
                    )
                    .in_scope(|| {
                        // The SDK's attempt span is not recorded; what opens
                        // inside it hangs from the operation.
                        tracing::debug_span!("try_attempt", attempt = 1).in_scope(|| {
                            tracing::info_span!("inside the attempt").in_scope(|| {});
                            tracing::warn!(code = "ThrottlingException", "throttled");
                        });
                    });
                    tracing::info_span!("start", otel.kind = "producer").in_scope(|| {
                        passed_on = current_context();
                    });
                    record_error(&root, "OutOfStock");
                });
            });
        });
        assert_eq!(spans.len(), 4, "{spans:#?}");
        let root = named(&spans, "reserve");
        let operation = named(&spans, "DynamoDB.TransactWriteItems");
        let inner = named(&spans, "inside the attempt");
        let start = named(&spans, "start");
        assert!(spans.iter().all(|span| span.trace_id == remote.trace_id));
        assert_eq!(root.parent, remote.parent);
        assert_eq!(root.kind, SpanKind::Server);
        assert_eq!(&*root.service, "reserve-fn");
        assert_eq!(root.status, Status::Error("OutOfStock".to_owned()));
        assert!(root.attributes.contains(&(
            "order_id".to_owned(),
            AttributeValue::String("ord-1".to_owned())
        )));
        assert_eq!(operation.parent, Some(root.span_id));
        assert_eq!(operation.kind, SpanKind::Client);
        assert_eq!(&*operation.service, "reserve-fn");
        assert_eq!(inner.parent, Some(operation.span_id));
        assert_eq!(
            operation.events.len(),
            1,
            "the warning is the operation's event"
        );
        assert_eq!(operation.events[0].name, "throttled");
        assert_eq!(start.kind, SpanKind::Producer);
        assert_eq!(
            passed_on,
            Some(TraceContext {
                trace_id: remote.trace_id,
                parent: Some(start.span_id),
                sampled: true
            })
        );
    }

    #[test]
    fn spans_outside_a_trace_and_in_an_unsampled_one_are_not_recorded() {
        let unsampled = TraceContext {
            sampled: false,
            ..TraceContext::new_trace()
        };
        let mut passed_on = None;
        let spans = collect(|| {
            tracing::info_span!("outside").in_scope(|| {
                tracing::info_span!("still outside").in_scope(|| {
                    assert_eq!(current_context(), None);
                });
            });
            root_span("ship", "consumer", "ship-fn", &unsampled).in_scope(|| {
                tracing::info_span!("work").in_scope(|| passed_on = current_context());
            });
        });
        assert!(spans.is_empty(), "{spans:#?}");
        assert_eq!(passed_on.map(|c| c.sampled), Some(false));
        assert_eq!(passed_on.map(|c| c.trace_id), Some(unsampled.trace_id));
    }

    #[test]
    fn a_nested_root_continues_the_remote_trace_it_is_given() {
        let local_platform = TraceContext::new_trace();
        let spans = collect(|| {
            let platform = root_span("charge invoke", "server", "lambda", &local_platform);
            let handed_over = span_context(&platform).unwrap();
            platform.in_scope(|| {
                root_span("charge", "server", "charge-fn", &handed_over).in_scope(|| {});
            });
        });
        let platform = named(&spans, "charge invoke");
        let function = named(&spans, "charge");
        assert_eq!(function.parent, Some(platform.span_id));
        assert_eq!(function.trace_id, platform.trace_id);
        assert_eq!(&*function.service, "charge-fn");
    }
}

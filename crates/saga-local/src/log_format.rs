//! The local cloud's log lines on stderr: time, level, the trace the line
//! belongs to (`trace_id=...`, as every function's JSON line on Lambda
//! carries it), the open spans with their fields, then the event's fields.
//!
//! The traces' root spans (`trace_root`, [`saga_telemetry::root_span`]) are
//! left out of the span list: their dozen fields are for the trace store,
//! and the trace id they carry is already at the front of the line.

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The format. See the module documentation.
pub struct LocalFormat;

impl<S, N> FormatEvent<S, N> for LocalFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        write!(
            writer,
            "{} {:>5} ",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ"),
            event.metadata().level()
        )?;
        if let Some(scope) = ctx.event_scope() {
            let spans: Vec<_> = scope.from_root().collect();
            if let Some(trace_id) = spans.iter().rev().find_map(saga_telemetry::trace_id_of) {
                write!(writer, "trace_id={trace_id} ")?;
            }
            let mut listed = false;
            for span in spans.iter().filter(|span| span.name() != "trace_root") {
                writer.write_str(span.name())?;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(writer, "{{{fields}}}")?;
                }
                writer.write_char(':')?;
                listed = true;
            }
            if listed {
                writer.write_char(' ')?;
            }
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

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

    struct Nowhere;

    impl saga_telemetry::SpanSink for Nowhere {
        fn accept(&self, _span: saga_telemetry::FinishedSpan) {}
    }

    #[test]
    fn a_line_inside_a_trace_names_it_and_leaves_the_root_spans_out() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(LocalFormat)
                    .with_ansi(false)
                    .with_writer(move || writer.clone()),
            )
            .with(saga_telemetry::SpanLayer::new(Arc::new(Nowhere)));
        let context = saga_telemetry::TraceContext::from_header(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(port = 4000, "outside any trace");
            saga_telemetry::root_span("reserve", "server", "reserve", &context).in_scope(|| {
                tracing::info_span!("sweep_order", order_id = "ord-1").in_scope(|| {
                    tracing::warn!(sku = "SKU-1", "low stock");
                });
            });
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let written: Vec<&str> = text.lines().collect();
        assert_eq!(written.len(), 2, "{text}");
        assert!(
            written[0].ends_with(" INFO outside any trace port=4000"),
            "{}",
            written[0]
        );
        assert!(
            written[1].ends_with(
                " WARN trace_id=5759e988bd862e3fe1be46a994272793 sweep_order{order_id=\"ord-1\"}: low stock sku=\"SKU-1\""
            ),
            "{}",
            written[1]
        );
    }
}

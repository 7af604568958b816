//! The logs of one invocation, for the Invoke API's `X-Amz-Log-Type: Tail`.
//!
//! The functions run in the local cloud's process and log through `tracing`
//! like everything else. [`CaptureLayer`] (installed by the command line next
//! to the stderr formatter) copies every event logged inside a span named
//! [`SPAN_NAME`] into the buffer that [`Capture::start`] registered under the
//! span's `request_id`, one line per event in the layout Lambda's text logs
//! use (`timestamp  request id  LEVEL  message fields`). Events outside such a
//! span, and captures nobody started, cost a span lookup and nothing else.
//! What a function logs from a task it spawns is not inside the span, so it
//! is not in the tail (the functions here spawn none).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The span an invocation runs in; its `request_id` field names the capture.
pub const SPAN_NAME: &str = "lambda_invocation";

/// The lines so far; `None` once the capture finished, so a span that
/// outlives its invocation (a task it spawned) cannot write into it.
type Buffer = Arc<Mutex<Option<String>>>;

/// Captures in progress, by request id.
static CAPTURES: LazyLock<Mutex<HashMap<String, Buffer>>> = LazyLock::new(Default::default);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The log lines of one invocation, collected while it runs.
pub struct Capture {
    request_id: String,
    buffer: Buffer,
}

impl Capture {
    /// Starts collecting what is logged inside a [`SPAN_NAME`] span whose
    /// `request_id` is `request_id`. Open that span after this call.
    pub fn start(request_id: &str) -> Self {
        let buffer: Buffer = Arc::new(Mutex::new(Some(String::new())));
        let earlier = lock(&CAPTURES).insert(request_id.to_owned(), Arc::clone(&buffer));
        debug_assert!(earlier.is_none(), "request ids are unique");
        Self {
            request_id: request_id.to_owned(),
            buffer,
        }
    }

    /// Appends a line the platform writes itself (`START`, `END`, `REPORT`).
    pub fn platform_line(&self, line: &str) {
        if let Some(buffer) = lock(&self.buffer).as_mut() {
            buffer.push_str(line);
            buffer.push('\n');
        }
    }

    /// Stops collecting and gives what was logged.
    pub fn finish(self) -> String {
        lock(&CAPTURES).remove(&self.request_id);
        lock(&self.buffer).take().unwrap_or_default()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        lock(&CAPTURES).remove(&self.request_id);
    }
}

/// The last `limit` bytes of `logs`, cut at a character boundary: what
/// Lambda returns as the log tail (its limit is 4 KB).
pub fn tail(logs: &str, limit: usize) -> &str {
    let mut start = logs.len().saturating_sub(limit);
    while !logs.is_char_boundary(start) {
        start += 1;
    }
    &logs[start..]
}

/// The `tracing` layer that fills the captures.
pub struct CaptureLayer;

/// The capture a [`SPAN_NAME`] span writes to, kept in the span's extensions.
struct SpanCapture {
    request_id: String,
    buffer: Buffer,
}

impl<S> Layer<S> for CaptureLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        if attributes.metadata().name() != SPAN_NAME {
            return;
        }
        let mut fields = Fields::default();
        attributes.record(&mut fields);
        let Some(request_id) = fields.request_id else {
            return;
        };
        let Some(buffer) = lock(&CAPTURES).get(&request_id).cloned() else {
            return;
        };
        if let Some(span) = context.span(id) {
            span.extensions_mut()
                .insert(SpanCapture { request_id, buffer });
        }
    }

    fn on_event(&self, event: &Event<'_>, context: Context<'_, S>) {
        let Some(scope) = context.event_scope(event) else {
            return;
        };
        for span in scope {
            let extensions = span.extensions();
            let Some(capture) = extensions.get::<SpanCapture>() else {
                continue;
            };
            let mut fields = Fields::default();
            event.record(&mut fields);
            let line = format!(
                "{}\t{}\t{}\t{}{}\n",
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                capture.request_id,
                event.metadata().level(),
                fields.message,
                fields.others,
            );
            if let Some(buffer) = lock(&capture.buffer).as_mut() {
                buffer.push_str(&line);
            }
            return;
        }
    }
}

/// The fields of a span or an event, as text.
#[derive(Default)]
struct Fields {
    request_id: Option<String>,
    message: String,
    others: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "request_id" => self.request_id = Some(value.to_owned()),
            "message" if self.message.is_empty() => self.message = value.to_owned(),
            name => {
                let _ = write!(self.others, " {name}={value:?}");
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "request_id" => self.request_id = Some(format!("{value:?}")),
            "message" if self.message.is_empty() => self.message = format!("{value:?}"),
            name => {
                let _ = write!(self.others, " {name}={value:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing::Instrument as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    #[tokio::test]
    async fn events_inside_the_invocation_span_are_captured_and_others_are_not() {
        let subscriber = tracing_subscriber::registry().with(CaptureLayer);
        let _default = tracing::subscriber::set_default(subscriber);
        let capture = Capture::start("req-1");
        capture.platform_line("START RequestId: req-1 Version: $LATEST");
        tracing::info!("outside any invocation");
        async {
            tracing::warn!(sku = "SKU-MUG", "stock is low");
            tracing::info_span!("inner").in_scope(|| tracing::error!("deep inside"));
        }
        .instrument(tracing::info_span!(SPAN_NAME, request_id = "req-1"))
        .await;
        tracing::info_span!(SPAN_NAME, request_id = "req-2")
            .in_scope(|| tracing::info!("someone else's invocation"));
        let logs = capture.finish();
        let lines: Vec<&str> = logs.lines().collect();
        assert_eq!(lines.len(), 3, "{logs}");
        assert_eq!(lines[0], "START RequestId: req-1 Version: $LATEST");
        assert!(
            lines[1].ends_with("\treq-1\tWARN\tstock is low sku=\"SKU-MUG\""),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].ends_with("\treq-1\tERROR\tdeep inside"),
            "{}",
            lines[2]
        );
        assert!(
            !lock(&CAPTURES).contains_key("req-1"),
            "finish deregisters the capture"
        );
    }

    #[test]
    fn the_tail_is_the_last_bytes_cut_at_a_character() {
        assert_eq!(tail("abcdef", 4), "cdef");
        assert_eq!(tail("ab", 4), "ab");
        assert_eq!(tail("aé", 1), "");
        assert_eq!(tail("aéb", 2), "b");
    }
}

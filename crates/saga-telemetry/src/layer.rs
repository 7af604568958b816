//! [`SpanLayer`]: a `tracing` layer that records the spans of traced work
//! as OpenTelemetry spans and hands each, once closed, to a [`SpanSink`].
//!
//! A span is traced when it starts a trace or has a traced ancestor:
//!
//! - it **starts** one (in this process) when it has a `trace_id` field
//!   (32 hex digits), with `parent_span_id` (16 hex digits) naming its
//!   remote parent, if any: [`crate::root_span`] makes such spans from a
//!   [`TraceContext`]. `service.name` names the service its subtree runs in;
//! - otherwise it is a **child** of the nearest traced ancestor. It is
//!   recorded when it is at `INFO` or above, or is an AWS SDK operation
//!   (the SDK's `debug` span named `DynamoDB.PutItem` and so on, with
//!   `rpc.service`); other `debug`/`trace` spans (the SDK's attempts,
//!   serialisation) are passed through: their recorded descendants hang
//!   from the nearest recorded ancestor.
//!
//! Fields become attributes, except the ones that say how to record the
//! span: `otel.name` (its name, instead of the static one), `otel.kind`
//! (`server`, `client`, `producer`, `consumer`, `internal`; an SDK
//! operation is `client`), `otel.status_code` (`ERROR` or `OK`) and
//! `otel.status_message`. Warnings and errors logged inside a recorded span
//! become its events. An unsampled trace (`Sampled=0`) records nothing.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::context::{SpanId, TraceContext, TraceId};

/// What a finished span is handed to: a buffer to export after the
/// invocation (on Lambda), or the local cloud's trace store.
pub trait SpanSink: Send + Sync + 'static {
    /// Takes one finished span.
    fn accept(&self, span: FinishedSpan);
}

/// A span's kind, as OTLP numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// Work inside one service.
    Internal = 1,
    /// Handling a request (an invocation).
    Server = 2,
    /// A call to another service.
    Client = 3,
    /// Sending a message.
    Producer = 4,
    /// Processing a message.
    Consumer = 5,
}

impl SpanKind {
    fn parse(kind: &str) -> Option<Self> {
        Some(match kind.to_ascii_lowercase().as_str() {
            "internal" => Self::Internal,
            "server" => Self::Server,
            "client" => Self::Client,
            "producer" => Self::Producer,
            "consumer" => Self::Consumer,
            _ => return None,
        })
    }
}

/// An attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// Text.
    String(String),
    /// A whole number.
    Int(i64),
    /// A number.
    Double(f64),
    /// A flag.
    Bool(bool),
}

/// A span's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Status {
    /// Not said.
    #[default]
    Unset,
    /// Said to have succeeded.
    Ok,
    /// Failed, with why.
    Error(String),
}

/// Something that happened at one instant inside a span (a warning or an
/// error logged in it).
#[derive(Debug, Clone, PartialEq)]
pub struct SpanEvent {
    /// The message.
    pub name: String,
    /// When.
    pub time: SystemTime,
    /// The event's fields and `level`.
    pub attributes: Vec<(String, AttributeValue)>,
}

/// A span once closed.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedSpan {
    /// Its trace.
    pub trace_id: TraceId,
    /// Its id.
    pub span_id: SpanId,
    /// Its parent, in this process or remote.
    pub parent: Option<SpanId>,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: SpanKind,
    /// The service it ran in (`service.name` of its local root).
    pub service: Arc<str>,
    /// When it opened.
    pub start: SystemTime,
    /// When it closed.
    pub end: SystemTime,
    /// Its fields.
    pub attributes: Vec<(String, AttributeValue)>,
    /// The warnings and errors logged in it (at most [`MAX_EVENTS`]).
    pub events: Vec<SpanEvent>,
    /// Its outcome.
    pub status: Status,
}

/// At most this many events are kept per span.
pub const MAX_EVENTS: usize = 32;

/// The layer. See the module documentation.
pub struct SpanLayer {
    sink: Arc<dyn SpanSink>,
}

impl SpanLayer {
    /// Records into `sink`.
    pub fn new(sink: Arc<dyn SpanSink>) -> Self {
        Self { sink }
    }
}

/// A recorded span, while open (in the span's extensions).
struct Open {
    span: FinishedSpan,
}

/// The trace a span is in, for its descendants: kept on recorded and
/// passed-through spans alike.
#[derive(Clone)]
pub(crate) struct InTrace {
    pub(crate) trace_id: TraceId,
    /// The nearest recorded span (this one, or an ancestor); `None` in a
    /// trace that is not sampled, or under a root that was not recorded.
    pub(crate) span_id: Option<SpanId>,
    pub(crate) sampled: bool,
    pub(crate) service: Arc<str>,
}

impl InTrace {
    pub(crate) fn context(&self) -> TraceContext {
        TraceContext {
            trace_id: self.trace_id,
            parent: self.span_id,
            sampled: self.sampled,
        }
    }
}

/// The fields of a new span, sorted into what they say.
#[derive(Default)]
struct Fields {
    trace_id: Option<String>,
    parent_span_id: Option<String>,
    sampled: Option<bool>,
    name: Option<String>,
    kind: Option<String>,
    service: Option<String>,
    status_code: Option<String>,
    status_message: Option<String>,
    rpc: bool,
    attributes: Vec<(String, AttributeValue)>,
}

impl Fields {
    fn set(&mut self, field: &Field, value: AttributeValue) {
        let text = || match &value {
            AttributeValue::String(text) => text.clone(),
            AttributeValue::Int(n) => n.to_string(),
            AttributeValue::Double(n) => n.to_string(),
            AttributeValue::Bool(b) => b.to_string(),
        };
        match field.name() {
            "trace_id" => self.trace_id = Some(text()),
            "parent_span_id" => self.parent_span_id = Some(text()),
            "trace_sampled" => self.sampled = Some(text() != "false"),
            "otel.name" => self.name = Some(text()),
            "otel.kind" => self.kind = Some(text()),
            "service.name" => self.service = Some(text()),
            "otel.status_code" => self.status_code = Some(text()),
            "otel.status_message" => self.status_message = Some(text()),
            name => {
                if name == "rpc.service" {
                    self.rpc = true;
                }
                upsert(&mut self.attributes, name, value);
            }
        }
    }
}

fn upsert(attributes: &mut Vec<(String, AttributeValue)>, key: &str, value: AttributeValue) {
    match attributes.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => attributes.push((key.to_owned(), value)),
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, AttributeValue::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field, AttributeValue::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(
            field,
            i64::try_from(value).map_or_else(
                |_| AttributeValue::String(value.to_string()),
                AttributeValue::Int,
            ),
        );
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field, AttributeValue::Double(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field, AttributeValue::Bool(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.set(field, AttributeValue::String(format!("{value:?}")));
    }
}

fn status_of(code: Option<&str>, message: Option<String>) -> Option<Status> {
    match code? {
        "ERROR" | "error" => Some(Status::Error(message.unwrap_or_default())),
        "OK" | "ok" => Some(Status::Ok),
        _ => None,
    }
}

impl<S> Layer<S> for SpanLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        attributes.record(&mut fields);
        let metadata = attributes.metadata();

        let (trace, parent, is_root) =
            if let Some(trace_id) = fields.trace_id.as_deref().and_then(TraceId::from_hex) {
                let parent = fields.parent_span_id.as_deref().and_then(SpanId::from_hex);
                let inherited = span
                    .parent()
                    .and_then(|parent| parent.extensions().get::<InTrace>().cloned());
                // An empty `service.name` keeps the enclosing span's service.
                let service: Arc<str> = fields
                    .service
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .map_or_else(
                        || inherited.map_or_else(|| Arc::from("unknown"), |t| t.service),
                        Arc::from,
                    );
                let trace = InTrace {
                    trace_id,
                    span_id: None,
                    sampled: fields.sampled.unwrap_or(true),
                    service,
                };
                (trace, parent, true)
            } else {
                let Some(inherited) = span
                    .parent()
                    .and_then(|parent| parent.extensions().get::<InTrace>().cloned())
                else {
                    return;
                };
                let parent = inherited.span_id;
                (inherited, parent, false)
            };

        let recorded = trace.sampled && (is_root || fields.rpc || *metadata.level() <= Level::INFO);
        let mut extensions = span.extensions_mut();
        if !recorded {
            extensions.insert(trace);
            return;
        }
        let span_id = SpanId::random();
        let kind = fields
            .kind
            .as_deref()
            .and_then(SpanKind::parse)
            .unwrap_or(if fields.rpc {
                SpanKind::Client
            } else {
                SpanKind::Internal
            });
        let status =
            status_of(fields.status_code.as_deref(), fields.status_message).unwrap_or_default();
        let now = SystemTime::now();
        let name = fields.name.unwrap_or_else(|| metadata.name().to_owned());
        extensions.insert(InTrace {
            span_id: Some(span_id),
            service: Arc::clone(&trace.service),
            ..trace.clone()
        });
        extensions.insert(Open {
            span: FinishedSpan {
                trace_id: trace.trace_id,
                span_id,
                parent,
                name,
                kind,
                service: trace.service,
                start: now,
                end: now,
                attributes: fields.attributes,
                events: Vec::new(),
                status,
            },
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        let Some(open) = extensions.get_mut::<Open>() else {
            return;
        };
        let mut fields = Fields::default();
        values.record(&mut fields);
        for (key, value) in fields.attributes {
            upsert(&mut open.span.attributes, &key, value);
        }
        if let Some(name) = fields.name {
            open.span.name = name;
        }
        match (fields.status_code.as_deref(), fields.status_message) {
            // The message recorded after the code.
            (None, Some(message)) => {
                if let Status::Error(current) = &mut open.span.status {
                    *current = message;
                }
            }
            (code, message) => {
                if let Some(status) = status_of(code, message) {
                    open.span.status = status;
                }
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() > Level::WARN {
            return;
        }
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        for span in scope {
            let mut extensions = span.extensions_mut();
            let Some(open) = extensions.get_mut::<Open>() else {
                continue;
            };
            if open.span.events.len() < MAX_EVENTS {
                let mut fields = EventFields::default();
                event.record(&mut fields);
                let mut attributes = fields.attributes;
                attributes.push((
                    "level".to_owned(),
                    AttributeValue::String(event.metadata().level().to_string()),
                ));
                open.span.events.push(SpanEvent {
                    name: fields.message.unwrap_or_else(|| "event".to_owned()),
                    time: SystemTime::now(),
                    attributes,
                });
            }
            return;
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(open) = span.extensions_mut().remove::<Open>() else {
            return;
        };
        let mut finished = open.span;
        finished.end = SystemTime::now();
        self.sink.accept(finished);
    }
}

/// An event's message and other fields.
#[derive(Default)]
struct EventFields {
    message: Option<String>,
    attributes: Vec<(String, AttributeValue)>,
}

impl EventFields {
    fn set(&mut self, field: &Field, value: Cow<'_, str>) {
        if field.name() == "message" {
            self.message = Some(value.into_owned());
        } else {
            self.attributes.push((
                field.name().to_owned(),
                AttributeValue::String(value.into_owned()),
            ));
        }
    }
}

impl Visit for EventFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, Cow::Borrowed(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.set(field, Cow::Owned(format!("{value:?}")));
    }
}

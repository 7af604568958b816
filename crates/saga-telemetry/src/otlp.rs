//! Finished spans as an OTLP/JSON `ExportTraceServiceRequest`: what
//! `POST /v1/traces` with `Content-Type: application/json` carries to an
//! OpenTelemetry collector (the Lambda collector extension on AWS, the
//! local cloud here).
//!
//! The JSON mapping of OTLP's protobuf messages: ids as lowercase hex
//! (not base64), 64-bit times as decimal strings, enums as numbers, field
//! names in lowerCamelCase. One `resourceSpans` entry per service
//! (`service.name`, plus `cloud.provider` and `faas.name` on Lambda).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::layer::{AttributeValue, FinishedSpan, Status};

/// The instrumentation scope every span is reported under.
pub const SCOPE: &str = "saga-telemetry";

/// `spans` as one export request, grouped by service.
pub fn export_request(spans: &[FinishedSpan]) -> Value {
    let mut by_service: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for span in spans {
        by_service
            .entry(&span.service)
            .or_default()
            .push(span_json(span));
    }
    let resource_spans: Vec<Value> = by_service
        .into_iter()
        .map(|(service, spans)| {
            json!({
                "resource": {"attributes": [
                    attribute("service.name", &AttributeValue::String(service.to_owned())),
                    attribute("cloud.provider", &AttributeValue::String("aws".to_owned())),
                    attribute("faas.name", &AttributeValue::String(service.to_owned())),
                ]},
                "scopeSpans": [{"scope": {"name": SCOPE}, "spans": spans}],
            })
        })
        .collect();
    json!({"resourceSpans": resource_spans})
}

/// One span in OTLP/JSON.
pub fn span_json(span: &FinishedSpan) -> Value {
    let mut value = json!({
        "traceId": span.trace_id.to_string(),
        "spanId": span.span_id.to_string(),
        "name": span.name,
        "kind": span.kind as i32,
        "startTimeUnixNano": nanos(span.start),
        "endTimeUnixNano": nanos(span.end),
        "attributes": span.attributes.iter().map(|(k, v)| attribute(k, v)).collect::<Vec<_>>(),
        "status": match &span.status {
            Status::Unset => json!({}),
            Status::Ok => json!({"code": 1}),
            Status::Error(message) => json!({"code": 2, "message": message}),
        },
    });
    if let Some(parent) = span.parent {
        value["parentSpanId"] = json!(parent.to_string());
    }
    if !span.events.is_empty() {
        value["events"] = span
            .events
            .iter()
            .map(|event| {
                json!({
                    "name": event.name,
                    "timeUnixNano": nanos(event.time),
                    "attributes": event.attributes.iter().map(|(k, v)| attribute(k, v)).collect::<Vec<_>>(),
                })
            })
            .collect();
    }
    value
}

/// A `KeyValue`.
pub fn attribute(key: &str, value: &AttributeValue) -> Value {
    let value = match value {
        AttributeValue::String(text) => json!({"stringValue": text}),
        AttributeValue::Int(n) => json!({"intValue": n.to_string()}),
        AttributeValue::Double(n) => json!({"doubleValue": n}),
        AttributeValue::Bool(b) => json!({"boolValue": b}),
    };
    json!({"key": key, "value": value})
}

/// Nanoseconds since the epoch, as OTLP/JSON writes a `fixed64`.
pub fn nanos(time: SystemTime) -> String {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos())
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::context::{SpanId, TraceId};
    use crate::layer::{SpanEvent, SpanKind};

    #[test]
    fn a_span_is_written_as_the_otlp_json_mapping_says() {
        let start = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let span = FinishedSpan {
            trace_id: TraceId::from_hex("5759e988bd862e3fe1be46a994272793").unwrap(),
            span_id: SpanId::from_hex("53995c3f42cd8ad8").unwrap(),
            parent: SpanId::from_hex("0102030405060708"),
            name: "DynamoDB.PutItem".to_owned(),
            kind: SpanKind::Client,
            service: Arc::from("reserve"),
            start,
            end: start + Duration::from_millis(7),
            attributes: vec![
                (
                    "rpc.method".to_owned(),
                    AttributeValue::String("PutItem".to_owned()),
                ),
                ("attempt".to_owned(), AttributeValue::Int(2)),
            ],
            events: vec![SpanEvent {
                name: "throttled".to_owned(),
                time: start,
                attributes: vec![],
            }],
            status: Status::Error("ProvisionedThroughputExceededException".to_owned()),
        };
        let request = export_request(&[span]);
        let resource = &request["resourceSpans"][0];
        assert_eq!(
            resource["resource"]["attributes"][0],
            json!({"key": "service.name", "value": {"stringValue": "reserve"}})
        );
        let span = &resource["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "5759e988bd862e3fe1be46a994272793");
        assert_eq!(span["spanId"], "53995c3f42cd8ad8");
        assert_eq!(span["parentSpanId"], "0102030405060708");
        assert_eq!(span["kind"], 3);
        assert_eq!(span["startTimeUnixNano"], "1700000000123000000");
        assert_eq!(span["endTimeUnixNano"], "1700000000130000000");
        assert_eq!(
            span["attributes"][1],
            json!({"key": "attempt", "value": {"intValue": "2"}})
        );
        assert_eq!(span["status"]["code"], 2);
        assert_eq!(span["events"][0]["name"], "throttled");
    }
}

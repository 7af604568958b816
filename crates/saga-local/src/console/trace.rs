//! `/console/trace/{orderId}`: the order's trace as a waterfall, one row per
//! span in tree order (each under its parent, indented), with a bar placed
//! on the trace's time axis, the span's service and duration, failures in
//! red, and each span's attributes and logged warnings one click away.

use maud::{Markup, PreEscaped, html};

use crate::traces::SpanView;

use super::layout::page;

/// The page's own styles: the time axis and the bars (a constant, never
/// input).
const STYLE: &str = ".wf td{padding:3px 8px;font-size:13px}.wf .name{white-space:nowrap}\
.wf .axis{position:relative;height:16px;min-width:420px;background:#f6f7f9}\
.wf .bar{position:absolute;top:3px;height:10px;border-radius:2px;min-width:2px}\
.k1{background:#85929e}.k2{background:#2e86c1}.k3{background:#ec7211}.k4{background:#8e44ad}.k5{background:#16a085}\
.wf tr.failed .bar{background:#c0392b}.wf tr.failed .name{color:#78281f}\
.svc{display:inline-block;font-size:11px;padding:0 6px;border-radius:8px;background:#eef0f3;color:#424949;margin-left:6px}\
.wf details{font-size:12px}.wf summary{cursor:pointer;color:#5d6d7e}\
.sw{display:inline-block;width:14px;height:10px;border-radius:2px;vertical-align:middle;margin:0 4px 0 10px}.sw.k0{background:#c0392b}";

/// Milliseconds, as the page shows a duration.
pub fn duration_text(nanos: u128) -> String {
    let millis = nanos as f64 / 1e6;
    if millis >= 1000.0 {
        format!("{:.2} s", millis / 1000.0)
    } else if millis >= 10.0 {
        format!("{millis:.0} ms")
    } else {
        format!("{millis:.1} ms")
    }
}

/// Where a span's bar sits on the axis: left edge and width, in percent of
/// the trace's duration from `start` to `end`.
pub fn bar(span: &SpanView, start: u128, end: u128) -> (f64, f64) {
    let total = end.saturating_sub(start).max(1) as f64;
    let left = span.start.saturating_sub(start) as f64 / total * 100.0;
    let width = span.end.saturating_sub(span.start) as f64 / total * 100.0;
    (
        left.clamp(0.0, 100.0),
        width.clamp(0.0, 100.0 - left.clamp(0.0, 100.0)),
    )
}

fn kind_name(kind: i64) -> &'static str {
    match kind {
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "internal",
    }
}

/// The page.
pub fn trace_page(order_id: &str, trace_id: &str, spans: &[SpanView]) -> Markup {
    let start = spans.iter().map(|s| s.start).min().unwrap_or(0);
    let end = spans.iter().map(|s| s.end).max().unwrap_or(start);
    let failed = spans.iter().filter(|s| s.error.is_some()).count();
    let mut services: Vec<&str> = spans.iter().map(|s| s.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();
    page(
        &format!("Trace of order {order_id}"),
        html! {
            style { (PreEscaped(STYLE)) }
            div.box {
                "Trace " code #trace-id { (trace_id) } " · "
                strong { (spans.len()) } " spans in " strong { (services.len()) } " services · "
                strong { (duration_text(end.saturating_sub(start))) } " end to end"
                @if failed > 0 { " · " span.err { (failed) " failed" } }
                br;
                a href={ "/console/order/" (order_id) } { "Order" } " · "
                a href={ "/local/traces/" (order_id) } { "OTLP JSON" }
                p.note {
                    "Bars:"
                    span.sw.k2 {} "invocation"
                    span.sw.k3 {} "AWS or provider call"
                    span.sw.k5 {} "queue message"
                    span.sw.k1 {} "state or step"
                    span.sw.k0 {} "failed. "
                    "The state machine's spans are built from the execution's history."
                }
            }
            table.wf {
                thead { tr { th { "Span" } th { "Duration" } th { "Timeline" } } }
                tbody {
                    @for span in spans {
                        @let (left, width) = bar(span, start, end);
                        tr.failed[span.error.is_some()] data-span=(span.span_id) data-depth=(span.depth) {
                            td.name style={ "padding-left:" (8 + 18 * span.depth) "px" } {
                                (span.name)
                                span.svc { (span.service) }
                                @if !span.attributes.is_empty() || !span.events.is_empty() || span.error.is_some() {
                                    details {
                                        summary { (kind_name(span.kind)) " · details" }
                                        @if let Some(error) = &span.error { div.err { "error: " (error) } }
                                        @for (key, value) in &span.attributes { div { code { (key) } " = " (value) } }
                                        @for event in &span.events { div { "event: " (event) } }
                                    }
                                }
                            }
                            td { (duration_text(span.end.saturating_sub(span.start))) }
                            td {
                                div.axis {
                                    div class={ "bar k" (span.kind) }
                                        style=(format!("left:{left:.3}%;width:{width:.3}%")) {}
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(name: &str, start: u128, end: u128, error: Option<&str>) -> SpanView {
        SpanView {
            span_id: name.to_owned(),
            parent: None,
            name: name.to_owned(),
            service: "svc".to_owned(),
            kind: 2,
            start,
            end,
            error: error.map(str::to_owned),
            attributes: vec![("order_id".to_owned(), "<ord>".to_owned())],
            events: vec![],
            depth: 1,
        }
    }

    #[test]
    fn bars_sit_on_the_traces_time_axis() {
        let (left, width) = bar(&span("a", 250, 750, None), 0, 1000);
        assert!((left - 25.0).abs() < 1e-9 && (width - 50.0).abs() < 1e-9);
        // A zero-length trace does not divide by zero.
        assert_eq!(bar(&span("b", 5, 5, None), 5, 5), (0.0, 0.0));
        assert_eq!(duration_text(1_234_000), "1.2 ms");
        assert_eq!(duration_text(45_000_000), "45 ms");
        assert_eq!(duration_text(2_500_000_000), "2.50 s");
    }

    #[test]
    fn the_page_marks_failures_and_escapes_what_it_shows() {
        let html = trace_page(
            "ord-1",
            "5759e988bd862e3fe1be46a994272793",
            &[
                span("ok", 0, 10, None),
                span("bad", 2, 8, Some("OutOfStock")),
            ],
        )
        .into_string();
        assert!(
            html.contains(r#"<tr class="failed" data-span="bad""#),
            "{html}"
        );
        assert!(html.contains("&lt;ord&gt;"), "attributes are escaped");
        assert!(html.contains("1 failed"));
        assert!(html.contains(r#"href="/local/traces/ord-1""#));
    }
}

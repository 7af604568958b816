//! One order's page, `/console/order/{orderId}`: everything the local cloud
//! knows about it in one place. Its execution (named after the order) with
//! status, start, stop and the state machine's graph marked with its path;
//! links to the execution's page, the order's trace and the JSON of its
//! records (`GET /local/orders/{orderId}`); then its item in every service
//! table (Orders, the inventory reservation, Payments, Shipments), each a
//! key/value table with the DynamoDB attribute values decoded, or "none"
//! where that service holds nothing for it (a rejected order has no
//! shipment).
//!
//! `#status`, `#execution-link`, `#trace-link`, `section.record#record-<kind>`
//! and its `tr[data-attribute]` rows are what `tests/browser/order.mjs` reads.

use asl::ExecutionDescription;
use maud::{Markup, PreEscaped, html};
use serde_json::{Map, Value};

use super::graph::{Graph, mark};
use super::graph_svg::figure;
use super::history::{StepView, duration_text};
use super::layout::{DATE_TIME, NBSP, badge, encode_query, page, pretty};

/// The records an order leaves: the member of `order_records`' JSON, the
/// heading, the template's table (logical id) and the item's key attribute.
pub const RECORDS: [(&str, &str, &str, &str); 4] = [
    ("order", "Order", "OrdersTable", "orderId"),
    (
        "reservation",
        "Inventory reservation",
        crate::cloud::INVENTORY_TABLE,
        "pk",
    ),
    ("payment", "Payment", "PaymentsTable", "orderId"),
    ("shipment", "Shipment", "ShipmentsTable", "orderId"),
];

const STYLE: &str = ".records{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:12px}\
.record{background:#fff;border:1px solid #e3e6ea;padding:10px 12px}.record h3{margin:0 0 6px}\
.record{min-width:0;overflow-x:auto}.record td,.record th{overflow-wrap:anywhere}\
.kv .kv td{overflow-wrap:normal;font-size:13px}\
.kv th{width:30%;background:#f6f7f9}.kv .kv th{width:auto}.none{color:#5d6d7e;font-style:italic}";

/// One table's item for the order.
#[derive(Debug)]
pub struct RecordView<'a> {
    /// `order`, `reservation`, ... (the section's id is `record-<kind>`).
    pub kind: &'static str,
    /// Heading.
    pub title: &'static str,
    /// The table's name in this stack, when the template has it.
    pub table: Option<&'a str>,
    /// The key attribute, shown first.
    pub key: &'static str,
    /// The item as plain JSON; `Null` when the table has none.
    pub item: &'a Value,
}

/// What the order page shows.
#[derive(Debug)]
pub struct OrderView<'a> {
    /// The order id, also the execution's name.
    pub order_id: &'a str,
    /// Its execution, with its history grouped by state.
    pub execution: Option<(&'a ExecutionDescription, &'a [StepView])>,
    /// The execution's state machine.
    pub graph: Option<&'a Graph>,
    /// Its records, or why they could not be read.
    pub records: Result<Vec<RecordView<'a>>, &'a str>,
}

/// The page of one order.
pub fn order_page(view: &OrderView) -> Markup {
    page(
        &format!("Order {}", view.order_id),
        html! {
            style { (PreEscaped(STYLE)) }
            (execution_box(view))
            @if let (Some((description, steps)), Some(graph)) = (view.execution, view.graph) {
                h2 { "Path" }
                (figure(graph, &mark(graph, steps, description.status)))
            }
            h2 { "Records" }
            @match &view.records {
                Ok(records) => div class="records" {
                    @for record in records { (record_section(record)) }
                },
                Err(error) => p class="err" { "The records could not be read: " (error) },
            }
        },
    )
}

fn execution_box(view: &OrderView) -> Markup {
    let id = encode_query(view.order_id);
    html! {
        div class="box" {
            @if let Some((description, _)) = view.execution {
                p {
                    "Execution: "
                    span id="status" { (badge(description.status.as_str())) }
                    " " (NBSP) " Started: " (description.start_date.format(DATE_TIME))
                    @if let Some(stopped) = description.stop_date {
                        " " (NBSP) " Stopped: " (stopped.format(DATE_TIME))
                        " " (NBSP) " Took: "
                        (duration_text(u64::try_from((stopped - description.start_date).num_milliseconds()).unwrap_or(0)))
                    }
                }
                @if let Some(error) = &description.error {
                    p class="err" { "Error: " strong { (error) } }
                }
                p {
                    a id="execution-link" href={ "/console/execution?arn=" (encode_query(&description.execution_arn)) } {
                        "Execution"
                    }
                    " " (NBSP) " "
                    a id="trace-link" href={ "/console/trace/" (id) } { "Trace" }
                    " " (NBSP) " "
                    a href={ "/local/orders/" (id) } { "Records as JSON" }
                }
            } @else {
                p id="status" class="note" { "No execution is named after this order." }
                p {
                    a id="trace-link" href={ "/console/trace/" (id) } { "Trace" }
                    " " (NBSP) " "
                    a href={ "/local/orders/" (id) } { "Records as JSON" }
                }
            }
        }
    }
}

fn record_section(record: &RecordView) -> Markup {
    html! {
        section class="record" id={ "record-" (record.kind) } {
            h3 { (record.title) }
            p class="note" { (record.table.unwrap_or("(no such table in this template)")) }
            @match record.item {
                Value::Object(item) => (key_values(item, Some(record.key))),
                _ => p class="none" { "none" },
            }
        }
    }
}

/// An item (or a nested map) as rows of attribute and value: `first` (the
/// key attribute) on top, the others by name.
fn key_values(map: &Map<String, Value>, first: Option<&str>) -> Markup {
    let mut names: Vec<&String> = map.keys().collect();
    names.sort_by_key(|name| (Some(name.as_str()) != first, name.as_str()));
    html! {
        table class="kv" {
            tbody {
                @for name in names {
                    tr data-attribute=(name) {
                        th { (name) }
                        td { (value(&map[name.as_str()])) }
                    }
                }
            }
        }
    }
}

/// A decoded attribute value: text as is (JSON text indented), a map as
/// nested rows, a list of
/// maps (the order's timeline, a reservation's lines) as a table with a
/// column per attribute, a list of plain values comma-separated, anything
/// else as JSON.
fn value(value: &Value) -> Markup {
    match value {
        // JSON kept as text (the execution input an order stores) reads
        // better indented.
        Value::String(text) if text.starts_with(['{', '[']) => html! { pre { (pretty(text)) } },
        Value::String(text) => html! { (text) },
        Value::Null => html! { span class="note" { "null" } },
        Value::Bool(_) | Value::Number(_) => html! { (value.to_string()) },
        Value::Object(map) => key_values(map, None),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            rows(items)
        }
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            let texts: Vec<String> = items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect();
            html! { (texts.join(", ")) }
        }
        Value::Array(_) => html! { pre { (pretty(&value.to_string())) } },
    }
}

/// A list of maps as a table: one column per attribute any of them has.
fn rows(items: &[Value]) -> Markup {
    let mut columns: Vec<&str> = Vec::new();
    for item in items.iter().filter_map(Value::as_object) {
        for name in item.keys() {
            if !columns.contains(&name.as_str()) {
                columns.push(name);
            }
        }
    }
    html! {
        table class="kv" {
            thead { tr { @for column in &columns { th { (column) } } } }
            tbody {
                @for item in items {
                    tr {
                        @for column in &columns {
                            td {
                                @if let Some(cell) = item.get(*column) { (value(cell)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};
    use serde_json::json;

    use super::*;

    const HOSTILE: &str = "<script>alert(1)</script>";
    const ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";

    fn description() -> ExecutionDescription {
        ExecutionDescription {
            execution_arn: "arn:aws:states:us-east-1:000000000000:execution:m:o-1".to_owned(),
            state_machine_arn: "arn:aws:states:us-east-1:000000000000:stateMachine:m".to_owned(),
            name: "o-1".to_owned(),
            status: asl::ExecutionStatus::Succeeded,
            input: json!({}),
            output: None,
            error: None,
            cause: None,
            start_date: Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap(),
            stop_date: Some(Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 7).unwrap()),
            redrive_count: 0,
        }
    }

    fn render(order_id: &str, items: &[Value; 4], with_execution: bool) -> String {
        let description = description();
        let records = RECORDS
            .iter()
            .zip(items)
            .map(|((kind, title, table, key), item)| RecordView {
                kind,
                title,
                table: Some(table),
                key,
                item,
            })
            .collect();
        order_page(&OrderView {
            order_id,
            execution: with_execution.then_some((&description, &[][..])),
            graph: None,
            records: Ok(records),
        })
        .into_string()
    }

    #[test]
    fn records_read_as_attribute_rows_and_missing_ones_say_none() {
        let order = json!({
            "status": "REJECTED",
            "orderId": "o-1",
            "total": {"amountMinor": 2500, "currency": "USD"},
            "timeline": [
                {"step": "ReserveInventory", "status": "RESERVED"},
                {"step": "RejectOrder", "status": "REJECTED", "at": "t"}
            ],
            "tags": ["a", 1],
            "input": "{\"a\":1}"
        });
        let html = render("o-1", &[order, Value::Null, Value::Null, Value::Null], true);
        for expected in [
            // The key attribute first.
            "<tbody><tr data-attribute=\"orderId\"><th>orderId</th><td>o-1</td></tr>",
            "<tr data-attribute=\"status\"><th>status</th><td>REJECTED</td></tr>",
            "<tr data-attribute=\"amountMinor\"><th>amountMinor</th><td>2500</td></tr>",
            // A column per attribute, in the order the items first have them.
            "<th>status</th><th>step</th><th>at</th>",
            "<td>REJECTED</td><td>RejectOrder</td><td>t</td>",
            "<td>a, 1</td>",
            "<td><pre>{\n  &quot;a&quot;: 1\n}</pre></td>",
            "<section class=\"record\" id=\"record-shipment\"><h3>Shipment</h3><p class=\"note\">ShipmentsTable</p><p class=\"none\">none</p>",
            "Took: 2.0 s",
            "href=\"/console/trace/o-1\"",
            "href=\"/console/execution?arn=arn%3Aaws%3Astates%3Aus-east-1%3A000000000000%3Aexecution%3Am%3Ao-1\"",
        ] {
            assert!(html.contains(expected), "{expected}: {html}");
        }
        assert_eq!(
            html.matches("<p class=\"none\">none</p>").count(),
            3,
            "{html}"
        );
    }

    #[test]
    fn every_value_from_outside_is_escaped() {
        let item =
            json!({HOSTILE: HOSTILE, "nested": {HOSTILE: [HOSTILE]}, "list": [{HOSTILE: HOSTILE}]});
        let html = render(
            HOSTILE,
            &[item, Value::Null, Value::Null, Value::Null],
            false,
        );
        assert!(!html.contains("<script>"), "{html}");
        // Title and heading; the attribute (row id, name) and its value;
        // the nested map's attribute (row id, name) and list; the list of
        // maps' column and cell.
        assert_eq!(html.matches(ESCAPED).count(), 10, "{html}");
        assert!(
            html.contains("No execution is named after this order."),
            "{html}"
        );
        assert!(
            html.contains("href=\"/console/trace/%3Cscript%3Ealert%281%29%3C%2Fscript%3E\""),
            "{html}"
        );
    }
}

//! The console's front page, `/console`: the executions (newest first) with
//! status filters and a link to each one's order, the dead-letter queues'
//! depths, and the faults in force with the form that sets or clears them.
//!
//! Rendering only: the handler gathers the data (some of it from SQS) into
//! [`FrontPage`], so the page itself is a pure function that tests can call.

use std::collections::BTreeMap;

use asl::ExecutionDescription;
use maud::{Markup, html};

use super::layout::{DATE_TIME, badge, csrf_field, encode_query, page};
use crate::faults::ActiveFault;

/// The filter links, in order; `ALL` is no filter.
const STATUSES: [&str; 6] = [
    "ALL",
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "TIMED_OUT",
    "ABORTED",
];

/// Rows shown at most: a load test leaves thousands of executions, and the
/// newest are the ones an operator looks for.
const MAX_ROWS: usize = 500;

/// Everything the front page shows.
pub struct FrontPage<'a> {
    /// The status filter, `None` for all.
    pub filter: Option<&'a str>,
    /// Every execution, newest first.
    pub executions: &'a [ExecutionDescription],
    /// One line per dead-letter queue.
    pub dead_letters: &'a [DeadLetterDepth],
    /// The faults in force, by function.
    pub faults: &'a BTreeMap<String, ActiveFault>,
    /// The functions a fault can be set on.
    pub binaries: &'a [String],
    /// The CSRF token the forms carry.
    pub csrf: &'a str,
}

/// A dead-letter queue's name and its depth (visible plus in flight), or why
/// SQS could not say.
pub struct DeadLetterDepth {
    /// Queue name.
    pub queue: String,
    /// Messages in it.
    pub depth: Result<u64, String>,
}

/// The `/console` page.
pub fn front_page(view: &FrontPage) -> Markup {
    page(
        "Executions",
        html! {
            (status_filters(view.executions, view.filter))
            (executions_table(view.executions, view.filter))
            (dead_letter_summary(view.dead_letters))
            (faults_box(view.faults, view.binaries, view.csrf))
        },
    )
}

/// One link per status with its count; the current filter in bold.
fn status_filters(all: &[ExecutionDescription], filter: Option<&str>) -> Markup {
    let current = filter.unwrap_or("ALL");
    html! {
        p.filters {
            "Status: "
            @for status in STATUSES {
                @let count = all
                    .iter()
                    .filter(|d| status == "ALL" || d.status.as_str() == status)
                    .count();
                a href=(filter_href(status)) {
                    @if status == current {
                        strong { (status) " (" (count) ")" }
                    } @else {
                        (status) " (" (count) ")"
                    }
                }
            }
        }
    }
}

fn filter_href(status: &str) -> String {
    if status == "ALL" {
        "/console".to_owned()
    } else {
        format!("/console?status={status}")
    }
}

fn executions_table(all: &[ExecutionDescription], filter: Option<&str>) -> Markup {
    let shown: Vec<&ExecutionDescription> = all
        .iter()
        .filter(|d| filter.is_none_or(|f| d.status.as_str() == f))
        .take(MAX_ROWS)
        .collect();
    html! {
        table {
            thead {
                tr {
                    th { "Name" } th { "Status" } th { "Started" } th { "Stopped" }
                    th { "Redrives" } th { "Error" } th { "Order" }
                }
            }
            tbody {
                @for description in &shown {
                    (execution_row(description))
                }
                @if shown.is_empty() {
                    tr {
                        td colspan="7" class="note" {
                            "No executions yet. Place an order (POST /orders) to start one."
                        }
                    }
                }
            }
        }
    }
}

/// A row whose name links to the execution's page (the browser test finds
/// the row by that link's text and clicks it).
fn execution_row(description: &ExecutionDescription) -> Markup {
    let href = format!(
        "/console/execution?arn={}",
        encode_query(&description.execution_arn)
    );
    html! {
        tr {
            td { a href=(href) { (description.name) } }
            td { (badge(description.status.as_str())) }
            td { (description.start_date.format(DATE_TIME)) }
            td {
                @if let Some(stopped) = description.stop_date {
                    (stopped.format("%H:%M:%S%.3f"))
                }
            }
            td { (description.redrive_count) }
            td class="err" { (description.error.as_deref().unwrap_or_default()) }
            // The execution's name is the order id.
            td { a class="order-link" href={ "/console/order/" (encode_query(&description.name)) } { "order" } }
        }
    }
}

fn dead_letter_summary(queues: &[DeadLetterDepth]) -> Markup {
    html! {
        div class="box" {
            h2 { "Dead-letter queues" }
            @for queue in queues {
                p {
                    a href="/console/queues" { (queue.queue) }
                    ": "
                    span class="dlq-depth" {
                        @match &queue.depth {
                            Ok(messages) => { (messages) " messages" }
                            Err(error) => { "unavailable: " (error) }
                        }
                    }
                }
            }
        }
    }
}

/// The faults in force and the form that sets one; forms POST and come back
/// to `#faults`, so this box needs no script.
fn faults_box(faults: &BTreeMap<String, ActiveFault>, binaries: &[String], csrf: &str) -> Markup {
    html! {
        div class="box" id="faults" {
            h2 { "Fault injection" }
            @if faults.is_empty() {
                p class="note" { "No faults in force." }
            } @else {
                table {
                    thead {
                        tr {
                            th { "Function" } th { "Mode" } th { "Left" } th { "Injected" } th {}
                        }
                    }
                    tbody {
                        @for (function, fault) in faults {
                            (fault_row(function, fault, csrf))
                        }
                    }
                }
            }
            (fault_form(binaries, csrf))
        }
    }
}

fn fault_row(function: &str, fault: &ActiveFault, csrf: &str) -> Markup {
    let mode = fault.describe();
    html! {
        tr {
            td { (function) }
            td { (mode) }
            td {
                @match fault.remaining {
                    Some(left) => { (left) }
                    None => { "until cleared" }
                }
            }
            td { (fault.injected) }
            td {
                form method="post" action="/console/faults/clear" {
                    input type="hidden" name="function" value=(function);
                    (csrf_field(csrf))
                    button { "Clear" }
                }
            }
        }
    }
}

/// An empty field is absent: no `count` means until cleared, and `delayMs`
/// matters (and is required) only for a delay.
fn fault_form(binaries: &[String], csrf: &str) -> Markup {
    html! {
        form method="post" action="/console/faults" {
            (csrf_field(csrf))
            p {
                "Make "
                select name="function" {
                    @for binary in binaries {
                        option { (binary) }
                    }
                }
                " "
                select name="mode" {
                    option value="transient" { "fail transiently" }
                    option value="permanent" { "fail permanently" }
                    option value="delay" { "run late" }
                    option value="outage" { "run with its AWS services down" }
                    option value="crash" { "crash after its effect" }
                    option value="timeout" { "time out after its effect" }
                    option value="service" { "meet a Lambda service error" }
                    option value="duplicate" { "be delivered twice at once" }
                    option value="lost-answer" { "lose the payment provider's answer (charge, refund)" }
                    option value="forget-keys" { "lose the provider's answer, then its idempotency keys (charge, refund)" }
                    option value="callback-twice" { "send each task callback twice (ship)" }
                }
                " for the next "
                input name="count" size="4" placeholder="all";
                " invocations (delay "
                input name="delayMs" size="6" placeholder="ms";
                ") "
                button { "Set fault" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use asl::ExecutionStatus;
    use chrono::{TimeZone as _, Utc};
    use serde_json::json;

    use super::*;
    use crate::faults::FaultMode;

    const HOSTILE: &str = "<script>alert(1)</script>\"'&";
    const ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;";

    fn execution(name: &str, status: ExecutionStatus, error: Option<&str>) -> ExecutionDescription {
        ExecutionDescription {
            execution_arn: format!("arn:aws:states:us-east-1:000000000000:execution:m:{name}"),
            state_machine_arn: "arn:aws:states:us-east-1:000000000000:stateMachine:m".to_owned(),
            name: name.to_owned(),
            status,
            input: json!({}),
            output: None,
            error: error.map(str::to_owned),
            cause: None,
            start_date: Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap(),
            stop_date: None,
            redrive_count: 0,
        }
    }

    fn render(filter: Option<&str>, executions: &[ExecutionDescription]) -> String {
        let faults = BTreeMap::from([(
            HOSTILE.to_owned(),
            ActiveFault {
                mode: FaultMode::Permanent,
                remaining: Some(1),
                delay_ms: 0,
                services: Vec::new(),
                injected: 0,
            },
        )]);
        let dead_letters = [DeadLetterDepth {
            queue: HOSTILE.to_owned(),
            depth: Err(HOSTILE.to_owned()),
        }];
        front_page(&FrontPage {
            filter,
            executions,
            dead_letters: &dead_letters,
            faults: &faults,
            binaries: &[HOSTILE.to_owned()],
            csrf: "t0ken",
        })
        .into_string()
    }

    #[test]
    fn every_value_from_outside_is_escaped() {
        let executions = [execution(HOSTILE, ExecutionStatus::Failed, Some(HOSTILE))];
        let html = render(None, &executions);
        assert!(!html.contains("<script>"), "{html}");
        // The execution's name and error, the queue and its error, the fault's
        // function (cell and hidden input) and the function to choose.
        assert_eq!(html.matches(ESCAPED).count(), 7, "{html}");
        assert!(
            html.contains(&format!(
                "<input type=\"hidden\" name=\"function\" value=\"{ESCAPED}\">"
            )),
            "{html}"
        );
        // The fault's clear form and the set-fault form carry the token.
        assert_eq!(html.matches("<form ").count(), 2, "{html}");
        assert_eq!(
            html.matches("<input type=\"hidden\" name=\"csrf\" value=\"t0ken\">")
                .count(),
            2,
            "{html}"
        );
        // In the link the name is percent-encoded, not just escaped.
        assert!(
            html.contains("execution%3Am%3A%3Cscript%3Ealert%281%29%3C%2Fscript%3E%22%27%26\""),
            "{html}"
        );
    }

    #[test]
    fn the_filter_shows_its_rows_and_counts_all() {
        let executions = [
            execution("ok", ExecutionStatus::Succeeded, None),
            execution("bad", ExecutionStatus::Failed, Some("InjectedFault")),
        ];
        let cases = [
            (None, vec!["ok", "bad"], "<strong>ALL (2)</strong>"),
            (Some("FAILED"), vec!["bad"], "<strong>FAILED (1)</strong>"),
            (
                Some("SUCCEEDED"),
                vec!["ok"],
                "<strong>SUCCEEDED (1)</strong>",
            ),
        ];
        for (filter, shown, current) in cases {
            let html = render(filter, &executions);
            assert!(html.contains(current), "{filter:?}: {html}");
            for name in ["ok", "bad"] {
                let link = format!("%3A{name}\">{name}</a>");
                assert_eq!(
                    html.contains(&link),
                    shown.contains(&name),
                    "{filter:?} {name}"
                );
            }
        }
        let html = render(Some("ABORTED"), &executions);
        assert!(html.contains("No executions yet."), "{html}");
    }
}

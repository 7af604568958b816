//! One execution's page, `/console/execution?arn=...`: its status, error and
//! input, links to its order's page and trace (the execution's name is the
//! order id), the state machine's graph marked with the path it took, then
//! every state it entered with that state's duration, input, output and
//! each attempt's error (so retries are visible), and on a failed, timed-out
//! or aborted execution a Redrive button.
//!
//! The ids `status`, `message` and `redrive`, the `step` rows and the badges'
//! classes are what the browser test (`tests/browser/console.mjs`) reads;
//! the graph's marks are read by `tests/browser/graph.mjs`.

use asl::{ExecutionDescription, ExecutionStatus};
use maud::{Markup, html};

use super::graph::{Graph, mark};
use super::graph_svg::figure;
use super::history::{StepView, duration_text};
use super::layout::{DATE_TIME, NBSP, badge, csrf_field, encode_query, page, pretty};

/// The page of one execution; `graph` is its state machine's (when known);
/// `message` is the outcome of the form that redirected here (a redrive),
/// shown on top; `csrf` goes in the form.
pub fn execution_page(
    description: &ExecutionDescription,
    steps: &[StepView],
    graph: Option<&Graph>,
    message: Option<&str>,
    csrf: &str,
) -> Markup {
    page(
        &format!("Execution {}", description.name),
        html! {
            @if let Some(message) = message {
                div class="box" id="message" { (message) }
            }
            (summary(description, csrf))
            @if let Some(graph) = graph {
                h2 { "Graph" }
                (figure(graph, &mark(graph, steps, description.status)))
            }
            h2 { "Input" }
            pre { (pretty(&description.input.to_string())) }
            h2 { "States" }
            (states_table(steps))
            @if let Some(output) = &description.output {
                h2 { "Output" }
                pre { (pretty(&output.to_string())) }
            }
        },
    )
}

fn summary(description: &ExecutionDescription, csrf: &str) -> Markup {
    html! {
        div class="box" {
            p {
                "Status: "
                span id="status" { (badge(description.status.as_str())) }
                " " (NBSP) " Redrives: " (description.redrive_count)
                " " (NBSP) " Started: " (description.start_date.format(DATE_TIME))
            }
            p { (order_links(&description.name)) }
            @if let Some(error) = &description.error {
                p class="err" { "Error: " strong { (error) } }
                pre { (pretty(description.cause.as_deref().unwrap_or_default())) }
            }
            // Step Functions redrives only these; the engine would refuse the
            // others, so the button is not offered.
            @if matches!(
                description.status,
                ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted
            ) {
                (redrive_form(&description.execution_arn, csrf))
            }
            p class="note" { (description.execution_arn) }
        }
    }
}

/// Links to the order whose id is the execution's name: its page and its
/// trace.
pub fn order_links(order_id: &str) -> Markup {
    let id = encode_query(order_id);
    html! {
        a id="order-link" href={ "/console/order/" (id) } { "Order " (order_id) }
        " " (NBSP) " "
        a id="trace-link" href={ "/console/trace/" (id) } { "Trace" }
    }
}

fn redrive_form(execution_arn: &str, csrf: &str) -> Markup {
    html! {
        form method="post" action="/console/redrive" {
            input type="hidden" name="arn" value=(execution_arn);
            (csrf_field(csrf))
            button id="redrive" { "Redrive" }
            " "
            span class="note" {
                "continues from the state that failed; steps that succeeded are not run again"
            }
        }
    }
}

fn states_table(steps: &[StepView]) -> Markup {
    html! {
        table {
            thead {
                tr {
                    th { "#" } th { "State" } th { "Status" } th { "Duration" } th { "Attempts" }
                    th { "Input" } th { "Output / errors" }
                }
            }
            tbody {
                @for (index, step) in steps.iter().enumerate() {
                    (step_row(index + 1, step))
                }
            }
        }
    }
}

/// One state's run; a redriven run says which redrive it belongs to.
fn step_row(number: usize, step: &StepView) -> Markup {
    let retries = step.attempts.len().saturating_sub(1);
    html! {
        tr class="step" {
            td { (number) }
            td {
                strong { (step.name) }
                br;
                span class="note" {
                    (step.state_type)
                    @if step.redrive > 0 { ", redrive " (step.redrive) }
                }
            }
            td { (badge(&step.status)) }
            td class="duration" { (step.duration_ms.map(duration_text).unwrap_or_default()) }
            td {
                (step.attempts.len())
                @if retries > 0 { " (" (retries) " retries)" }
            }
            td { pre { (pretty(step.input.as_deref().unwrap_or_default())) } }
            td { (step_result(step)) }
        }
    }
}

/// Every failed attempt's error and cause, then the output once it exited.
fn step_result(step: &StepView) -> Markup {
    html! {
        @for (number, attempt) in step.attempts.iter().enumerate() {
            @if let Some(error) = &attempt.error {
                p class="err" { "attempt " (number + 1) ": " strong { (error) } }
                pre { (pretty(attempt.cause.as_deref().unwrap_or_default())) }
            }
        }
        @if let Some(output) = &step.output {
            pre { (pretty(output)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};
    use serde_json::json;

    use super::super::history::Attempt;
    use super::*;

    const HOSTILE: &str = "<script>alert(1)</script>";
    const ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";
    const TOKEN: &str = "t0ken";

    fn description(status: ExecutionStatus) -> ExecutionDescription {
        ExecutionDescription {
            execution_arn: format!("arn:aws:states:us-east-1:000000000000:execution:m:\"{HOSTILE}"),
            state_machine_arn: "arn:aws:states:us-east-1:000000000000:stateMachine:m".to_owned(),
            name: HOSTILE.to_owned(),
            status,
            input: json!({"note": HOSTILE}),
            output: Some(json!({"note": HOSTILE})),
            error: Some(HOSTILE.to_owned()),
            cause: Some(HOSTILE.to_owned()),
            start_date: Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap(),
            stop_date: None,
            redrive_count: 1,
        }
    }

    fn step(status: &str, redrive: u32, attempts: Vec<Attempt>) -> StepView {
        StepView {
            name: HOSTILE.to_owned(),
            state_type: "Task".to_owned(),
            status: status.to_owned(),
            input: Some(json!({"note": HOSTILE}).to_string()),
            output: (status == "SUCCEEDED").then(|| HOSTILE.to_owned()),
            attempts,
            redrive,
            entered_at: "2025-01-02T03:04:05+00:00".to_owned(),
            duration_ms: Some(1_234),
        }
    }

    fn failed_attempt() -> Attempt {
        Attempt {
            error: Some(HOSTILE.to_owned()),
            cause: Some(HOSTILE.to_owned()),
            succeeded: false,
        }
    }

    #[test]
    fn every_value_from_outside_is_escaped() {
        let steps = [step("FAILED", 0, vec![failed_attempt()])];
        let html = execution_page(
            &description(ExecutionStatus::Failed),
            &steps,
            None,
            Some(HOSTILE),
            TOKEN,
        )
        .into_string();
        assert!(!html.contains("<script>"), "{html}");
        // Title and heading, message, the order link, error, cause, input,
        // output, the ARN (hidden input and note), the step's name, input,
        // error and cause.
        assert_eq!(html.matches(ESCAPED).count(), 14, "{html}");
        assert!(
            html.contains(&format!(
                "<input type=\"hidden\" name=\"arn\" value=\"arn:aws:states:us-east-1:000000000000:execution:m:&quot;{ESCAPED}\">"
            )),
            "{html}"
        );
    }

    #[test]
    fn redrive_is_offered_only_where_step_functions_allows_it() {
        let cases = [
            (ExecutionStatus::Failed, true),
            (ExecutionStatus::TimedOut, true),
            (ExecutionStatus::Aborted, true),
            (ExecutionStatus::Running, false),
            (ExecutionStatus::Succeeded, false),
        ];
        for (status, offered) in cases {
            let html = execution_page(&description(status), &[], None, None, TOKEN).into_string();
            assert_eq!(html.contains("id=\"redrive\""), offered, "{status:?}");
            assert_eq!(
                html.contains("<input type=\"hidden\" name=\"csrf\" value=\"t0ken\">"),
                offered,
                "the redrive form carries the token: {status:?}"
            );
            assert!(!html.contains("id=\"message\""), "{status:?}");
        }
    }

    #[test]
    fn a_step_row_shows_its_retries_redrive_and_status() {
        let success = Attempt {
            error: None,
            cause: None,
            succeeded: true,
        };
        let steps = [step(
            "SUCCEEDED",
            2,
            vec![failed_attempt(), failed_attempt(), success],
        )];
        let html = execution_page(
            &description(ExecutionStatus::Succeeded),
            &steps,
            None,
            None,
            TOKEN,
        )
        .into_string();
        for expected in [
            "<tr class=\"step\"><td>1</td>",
            "<span class=\"note\">Task, redrive 2</span>",
            "<span class=\"s SUCCEEDED\">SUCCEEDED</span>",
            "<td class=\"duration\">1.2 s</td>",
            "<td>3 (2 retries)</td>",
            "attempt 2: <strong>",
        ] {
            assert!(html.contains(expected), "{expected}: {html}");
        }
    }
}

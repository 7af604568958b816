//! The dead-letter queues' page, `/console/queues`: per queue, what it
//! serves (a source queue, or a function's failed asynchronous events), up
//! to ten of its messages, and a button that moves them all back to that
//! source queue, or replays them to that function.
//!
//! Rendering only: the handler peeks at the messages through SQS and hands
//! them over as [`DeadLetterQueue`]s.

use maud::{Markup, html};

use super::layout::{csrf_field, page, pretty};

/// A dead-letter queue as the page shows it.
pub struct DeadLetterQueue {
    /// Queue name.
    pub name: String,
    /// Its logical id in the template, which the redrive form sends back.
    pub logical_id: String,
    /// What it serves: the URL of its source queue, or the function whose
    /// failed events it holds.
    pub source: DeadLetterSource,
    /// `(message id, sent, body)` of the first messages, or why SQS refused.
    pub messages: Result<Vec<(String, String, String)>, String>,
}

/// What a dead-letter queue serves.
pub enum DeadLetterSource {
    /// A queue's redrive policy (its URL): redriving moves messages back.
    Queue(String),
    /// A function's on-failure destination (its name): redriving replays
    /// each event to the function.
    FailedEventsOf(String),
}

/// The `/console/queues` page; `csrf` goes in every form.
pub fn queues_page(queues: &[DeadLetterQueue], csrf: &str) -> Markup {
    page(
        "Dead-letter queues",
        html! {
            @for queue in queues {
                (queue_box(queue, csrf))
            }
            @if queues.is_empty() {
                p class="note" { "The template has no dead-letter queue." }
            }
        },
    )
}

fn queue_box(queue: &DeadLetterQueue, csrf: &str) -> Markup {
    html! {
        div class="box" {
            h2 { (queue.name) }
            @match &queue.source {
                DeadLetterSource::Queue(url) => p class="note" { "Dead-letter queue of " (url) },
                DeadLetterSource::FailedEventsOf(function) => p class="note" { "Failed events of the function " (function) ": each message is a Lambda invocation record" },
            }
            @match &queue.messages {
                Ok(messages) => { (messages_table(messages)) }
                Err(error) => { p class="err" { (error) } }
            }
            form method="post" action="/console/queues/redrive" {
                input type="hidden" name="queue" value=(queue.logical_id);
                (csrf_field(csrf))
                @match &queue.source {
                    DeadLetterSource::Queue(_) => button { "Move all messages back to the source queue" },
                    DeadLetterSource::FailedEventsOf(_) => button { "Replay every event to the function" },
                }
            }
        }
    }
}

fn messages_table(messages: &[(String, String, String)]) -> Markup {
    html! {
        @if messages.is_empty() {
            p class="note" { "Empty." }
        } @else {
            table {
                thead {
                    tr { th { "Message id" } th { "Sent" } th { "Body" } }
                }
                tbody {
                    @for (id, sent, body) in messages {
                        tr class="dlq-message" {
                            td { (id) }
                            td { (sent) }
                            td { pre { (pretty(body)) } }
                        }
                    }
                }
            }
            // Peeking receives with a visibility timeout of zero, at most ten.
            p class="note" { "Showing up to 10." }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "<script>alert(1)</script>";
    const ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";
    const TOKEN: &str = "t0ken";

    fn queue(messages: Result<Vec<(String, String, String)>, String>) -> DeadLetterQueue {
        DeadLetterQueue {
            name: HOSTILE.to_owned(),
            logical_id: HOSTILE.to_owned(),
            source: DeadLetterSource::Queue(HOSTILE.to_owned()),
            messages,
        }
    }

    #[test]
    fn every_value_from_outside_is_escaped() {
        let message = (HOSTILE.to_owned(), HOSTILE.to_owned(), HOSTILE.to_owned());
        let html = queues_page(
            &[queue(Ok(vec![message])), queue(Err(HOSTILE.to_owned()))],
            TOKEN,
        )
        .into_string();
        assert!(!html.contains("<script>"), "{html}");
        // Per queue its name, source and logical id; then the message's
        // id, sent time and body, and the other queue's error.
        assert_eq!(html.matches(ESCAPED).count(), 3 + 3 + 3 + 1, "{html}");
        assert!(html.contains("<tr class=\"dlq-message\">"), "{html}");
        // Both redrive forms carry the token.
        assert_eq!(html.matches("<form ").count(), 2, "{html}");
        assert_eq!(
            html.matches("<input type=\"hidden\" name=\"csrf\" value=\"t0ken\">")
                .count(),
            2,
            "{html}"
        );
    }

    #[test]
    fn empty_queues_and_no_queues_say_so() {
        let html = queues_page(&[queue(Ok(Vec::new()))], TOKEN).into_string();
        assert!(html.contains("Empty."), "{html}");
        assert!(!html.contains("dlq-message"), "{html}");
        let html = queues_page(&[], TOKEN).into_string();
        assert!(
            html.contains("The template has no dead-letter queue."),
            "{html}"
        );
    }
}

//! Logs: JSON lines, each with the API Gateway request id and (for order
//! requests) the order id; never the payment method, the token, the
//! address or the idempotency key.

use std::io::Write;
use std::sync::{Arc, Mutex};

use order_api::handle_request;
use serde_json::Value;

use crate::support::cases::send;
use crate::support::{Dependency, FakeWorld, World, load_event};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The JSON lines logged while handling `event` (current-thread runtime).
async fn lines_of(world: &FakeWorld, event: &str) -> (Vec<Value>, String) {
    let captured = Captured::default();
    let writer = captured.clone();
    // The subscriber `saga_lambda::init_tracing` installs in the function
    // (its spans go nowhere here).
    let subscriber = saga_lambda::subscriber(
        None,
        Arc::new(saga_telemetry::export::SpanBuffer::default()),
        move || writer.clone(),
    );
    let guard = tracing::subscriber::set_default(subscriber);
    let answer = send(world, event).await;
    drop(guard);
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    (
        lines,
        answer.body["orderId"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn span_field<'a>(line: &'a Value, field: &str) -> Option<&'a str> {
    line["spans"]
        .as_array()?
        .iter()
        .find_map(|span| span[field].as_str())
}

#[tokio::test]
async fn every_line_names_the_request_and_order_and_no_secret() {
    let world = FakeWorld::new().await;
    let cases: [(&str, bool); 6] = [
        ("post-orders--accepted.json", true),
        ("get-order--pending.json", true),
        ("post-orders--key-reused-with-other-body.json", true),
        ("post-orders--invalid-fields.json", false),
        ("list-orders--newest-first.json", false),
        ("post-orders--step-functions-unavailable.json", true),
    ];
    let forbidden = [
        "pm_card_visa",
        "Bearer",
        "eyJhbGci",
        "Ada Lovelace",
        "Main St",
        "alice-order-1",
        "10115",
    ];
    for (event, names_order) in cases {
        if event.contains("unavailable") {
            world.set_down(Some(Dependency::StepFunctions));
        }
        let (lines, order_id) = lines_of(&world, event).await;
        world.set_down(None);
        let request_id = load_event(event).request_context.request_id.unwrap();
        assert!(!lines.is_empty(), "{event}: logged nothing");
        for line in &lines {
            assert_eq!(
                span_field(line, "request_id"),
                Some(request_id.as_str()),
                "{event}: {line}"
            );
            if names_order {
                assert!(
                    span_field(line, "order_id").is_some_and(|id| id.starts_with("ord_")),
                    "{event}: {line}"
                );
                if !order_id.is_empty() {
                    assert_eq!(
                        span_field(line, "order_id"),
                        Some(order_id.as_str()),
                        "{event}"
                    );
                }
            }
            let text = line.to_string();
            for secret in forbidden {
                assert!(!text.contains(secret), "{event}: logged {secret:?}: {text}");
            }
        }
    }
    // Sanity: the handler itself is usable without a subscriber.
    let answer = handle_request(world.api(), load_event("list-products--catalog.json")).await;
    assert_eq!(answer.status_code, 200);
}

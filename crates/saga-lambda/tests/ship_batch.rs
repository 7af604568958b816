//! A batch of shipping messages is processed at once: it lasts as long as
//! its slowest record, not the sum of them, so ten slow task callbacks do
//! not add up past the function's timeout. Measured on tokio's paused
//! clock, so the test takes no real time and cannot flake.

use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use saga_domain::PortError;
use saga_domain::TaskToken;
use saga_domain::fakes::{InMemoryShipments, ManualClock, RecordingTaskReporter};
use saga_domain::ports::{ReportOutcome, TaskReporter};
use saga_lambda::handlers;
use serde_json::{Value, json};

/// Each callback takes a second, then goes to the recording reporter.
struct SlowReporter(RecordingTaskReporter);

const CALLBACK: Duration = Duration::from_secs(1);

impl TaskReporter for SlowReporter {
    async fn send_task_success(
        &self,
        token: &TaskToken,
        output: &Value,
    ) -> Result<ReportOutcome, PortError> {
        tokio::time::sleep(CALLBACK).await;
        self.0.send_task_success(token, output).await
    }

    async fn send_task_failure(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> Result<ReportOutcome, PortError> {
        tokio::time::sleep(CALLBACK).await;
        self.0.send_task_failure(token, error, cause).await
    }
}

fn batch(records: usize) -> SqsEvent {
    let records: Vec<Value> = (0..records)
        .map(|index| {
            let body = json!({
                "taskToken": format!("token-{index}"),
                "orderId": format!("ord-batch-{index}"),
                "items": [{"sku": "SKU-MUG", "quantity": 1}],
                "shippingAddress": {"name": "Ada Lovelace", "line1": "Main St 1", "city": "Berlin", "postalCode": "10115", "country": "DE"},
            });
            json!({"messageId": format!("m-{index}"), "body": body.to_string(), "eventSource": "aws:sqs"})
        })
        .collect();
    serde_json::from_value(json!({"Records": records})).unwrap()
}

#[tokio::test(start_paused = true)]
async fn ten_records_take_as_long_as_one() {
    let shipments = InMemoryShipments::new();
    let reporter = SlowReporter(RecordingTaskReporter::new());
    let clock = ManualClock::at_rfc3339("2026-03-01T12:00:00Z");
    let started = tokio::time::Instant::now();
    let response = handlers::handle_ship(&shipments, &reporter, &clock, batch(10))
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(reporter.0.reports().len(), 10, "every task completed");
    assert_eq!(shipments.len(), 10);
    assert!(
        took < CALLBACK * 2,
        "ten one-second callbacks took {took:?} of virtual time: processed one after another"
    );
}

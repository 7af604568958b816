//! The SQS event source mapping, as Lambda runs it: up to
//! `MaximumConcurrency` pollers long-poll the queue, hand each batch (up to
//! `BatchSize`) to the function in Lambda's SQS event shape, delete the
//! messages that succeeded, and leave the ones listed in
//! `batchItemFailures` (or the whole batch when the function fails) for
//! redelivery after the visibility timeout. The queue's redrive policy then
//! moves a message that keeps failing to its dead-letter queue, exactly as
//! in AWS, because moto counts the receives.
//!
//! A response whose `batchItemFailures` names a message not in the batch,
//! or an item without an identifier, fails the whole batch, as Lambda does.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::functions::{Function, Functions};
use saga_template::LOCAL_REGION;

/// One running mapping's settings.
#[derive(Clone)]
pub struct QueueMapping {
    /// The function that consumes the queue.
    pub function: Arc<Function>,
    /// The queue's URL.
    pub queue_url: String,
    /// The queue's ARN (`eventSourceARN`).
    pub queue_arn: String,
    /// Messages per batch (1..=10).
    pub batch_size: i32,
    /// Whether the function reports partial failures.
    pub report_batch_item_failures: bool,
    /// Concurrent pollers.
    pub concurrency: usize,
    /// Visibility timeout to receive with; `None` keeps the queue's own.
    pub visibility_timeout: Option<i32>,
}

/// Lambda's SQS record for one message.
pub fn sqs_record(message: &Message, queue_arn: &str) -> Value {
    let attributes: Map<String, Value> = message
        .attributes
        .iter()
        .flatten()
        .map(|(name, value)| (name.as_str().to_owned(), json!(value)))
        .collect();
    let message_attributes: Map<String, Value> = message
        .message_attributes
        .iter()
        .flatten()
        .map(|(name, value)| {
            let mut attribute = json!({
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.data_type(),
            });
            if let Some(text) = value.string_value() {
                attribute["stringValue"] = json!(text);
            }
            if let Some(bytes) = value.binary_value() {
                use base64::Engine as _;
                attribute["binaryValue"] =
                    json!(base64::engine::general_purpose::STANDARD.encode(bytes.as_ref()));
            }
            (name.clone(), attribute)
        })
        .collect();
    json!({
        "messageId": message.message_id(),
        "receiptHandle": message.receipt_handle(),
        "body": message.body().unwrap_or_default(),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.md5_of_body(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": LOCAL_REGION,
    })
}

/// Which messages of a batch to leave on the queue, from the function's result.
pub fn messages_to_retry(
    result: Result<&Value, ()>,
    batch_ids: &[String],
    report_batch_item_failures: bool,
) -> HashSet<String> {
    let everything = || batch_ids.iter().cloned().collect();
    let Ok(response) = result else {
        return everything();
    };
    if !report_batch_item_failures {
        return HashSet::new();
    }
    let Some(failures) = response.get("batchItemFailures") else {
        return HashSet::new();
    };
    let Some(failures) = failures.as_array() else {
        return everything();
    };
    let mut retry = HashSet::new();
    for failure in failures {
        match failure.get("itemIdentifier").and_then(Value::as_str) {
            Some(id) if batch_ids.iter().any(|b| b == id) => {
                retry.insert(id.to_owned());
            }
            // An unknown or empty identifier fails the whole batch.
            _ => return everything(),
        }
    }
    retry
}

/// Starts the mapping's pollers; they stop when `shutdown` turns true.
pub fn spawn(
    mapping: QueueMapping,
    functions: Arc<Functions>,
    sqs: aws_sdk_sqs::Client,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    // One ReceiveMessage at a time per queue; the batches still run
    // concurrently. moto moves a message past maxReceiveCount to the
    // dead-letter queue inside ReceiveMessage without a lock, so two receives
    // at once both try, one fails with a 500, and under load the queue backs
    // up (seen in a 2,000-order fault campaign). SQS has no such race, and
    // serial receives of up to 10 messages each cost nothing locally.
    let receiving = Arc::new(tokio::sync::Mutex::new(()));
    (0..mapping.concurrency.max(1))
        .map(|_| {
            let receiving = Arc::clone(&receiving);
            let mapping = mapping.clone();
            let functions = Arc::clone(&functions);
            let sqs = sqs.clone();
            let mut shutdown = shutdown.clone();
            tokio::spawn(async move {
                loop {
                    if *shutdown.borrow() {
                        return;
                    }
                    tokio::select! {
                        () = poll_once(&mapping, &functions, &sqs, &receiving) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            })
        })
        .collect()
}

async fn poll_once(
    mapping: &QueueMapping,
    functions: &Functions,
    sqs: &aws_sdk_sqs::Client,
    receiving: &tokio::sync::Mutex<()>,
) {
    let receive_turn = receiving.lock().await;
    let received = sqs
        .receive_message()
        .queue_url(&mapping.queue_url)
        .max_number_of_messages(mapping.batch_size)
        .wait_time_seconds(1)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .set_visibility_timeout(mapping.visibility_timeout)
        .send()
        .await;
    drop(receive_turn);
    let messages = match received {
        Ok(output) => output.messages.unwrap_or_default(),
        Err(error) => {
            tracing::warn!(queue = %mapping.queue_url, error = %aws_sdk_sqs::error::DisplayErrorContext(&error), "cannot receive from the queue; retrying in 1 s");
            tokio::time::sleep(Duration::from_secs(1)).await;
            return;
        }
    };
    if messages.is_empty() {
        return;
    }
    let records: Vec<Value> = messages
        .iter()
        .map(|m| sqs_record(m, &mapping.queue_arn))
        .collect();
    let ids: Vec<String> = messages
        .iter()
        .filter_map(|m| m.message_id().map(str::to_owned))
        .collect();
    let result = functions
        .invoke(&mapping.function, json!({"Records": records}), None)
        .await;
    if let Err(error) = &result {
        tracing::info!(function = %mapping.function.spec.name, %error, messages = ids.len(), "batch failed; its messages return after the visibility timeout");
    }
    let retry = messages_to_retry(
        result.as_ref().map_err(|_| ()),
        &ids,
        mapping.report_batch_item_failures,
    );
    let entries: Vec<DeleteMessageBatchRequestEntry> = messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m.message_id().is_some_and(|id| !retry.contains(id)))
        .filter_map(|(index, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(format!("m{index}"))
                .set_receipt_handle(m.receipt_handle().map(str::to_owned))
                .build()
                .ok()
        })
        .collect();
    if entries.is_empty() {
        return;
    }
    if let Err(error) = sqs
        .delete_message_batch()
        .queue_url(&mapping.queue_url)
        .set_entries(Some(entries))
        .send()
        .await
    {
        tracing::warn!(queue = %mapping.queue_url, error = %aws_sdk_sqs::error::DisplayErrorContext(&error), "cannot delete processed messages; they will be delivered again");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_batch_responses_decide_what_is_retried() {
        let ids: Vec<String> = vec!["a".into(), "b".into(), "c".into()];
        let set = |items: &[&str]| {
            items
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<HashSet<_>>()
        };
        let cases: Vec<(Result<Value, ()>, bool, HashSet<String>)> = vec![
            (Ok(json!({"batchItemFailures": []})), true, set(&[])),
            (
                Ok(json!({"batchItemFailures": [{"itemIdentifier": "b"}]})),
                true,
                set(&["b"]),
            ),
            (
                Ok(json!({"batchItemFailures": [{"itemIdentifier": "zz"}]})),
                true,
                set(&["a", "b", "c"]),
            ),
            (
                Ok(json!({"batchItemFailures": [{"itemIdentifier": ""}]})),
                true,
                set(&["a", "b", "c"]),
            ),
            (Ok(json!({})), true, set(&[])),
            (
                Ok(json!({"batchItemFailures": [{"itemIdentifier": "b"}]})),
                false,
                set(&[]),
            ),
            (Err(()), true, set(&["a", "b", "c"])),
        ];
        for (result, report, expected) in cases {
            assert_eq!(
                messages_to_retry(result.as_ref().map_err(|_| ()), &ids, report),
                expected,
                "{result:?}"
            );
        }
    }
}

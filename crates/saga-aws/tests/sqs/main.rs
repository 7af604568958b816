//! SQS against moto: the dead-letter redrive the shipping queue relies on.
//!
//! The shipping queue has a redrive policy with `maxReceiveCount` 3: a message
//! received three times without being deleted (the `ship` Lambda failed it
//! each time) must move to the dead-letter queue, where the alarm sees it.
//! These tests prove the emulator behaves that way, so the local cloud's
//! queues can be trusted to.

#[path = "../support/mod.rs"]
mod support;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;

/// The shipping queue's `maxReceiveCount`.
const MAX_RECEIVE_COUNT: usize = 3;

struct QueuePair {
    queue_url: String,
    dead_letter_url: String,
}

async fn sqs_client() -> Client {
    Client::new(&support::emulator_config("AWS_ENDPOINT_URL_SQS").await)
}

/// A fresh queue whose redrive policy sends to a fresh dead-letter queue after
/// `MAX_RECEIVE_COUNT` receives. A zero visibility timeout makes an undeleted
/// message visible again at once, so the test needs no waiting.
async fn queue_with_dead_letter_queue(client: &Client) -> QueuePair {
    let dead_letter_url = client
        .create_queue()
        .queue_name(support::unique_name("shipping-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dead_letter_arn = client
        .get_queue_attributes()
        .queue_url(&dead_letter_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()
        .remove(&QueueAttributeName::QueueArn)
        .unwrap();
    let redrive_policy = format!(
        r#"{{"deadLetterTargetArn":"{dead_letter_arn}","maxReceiveCount":"{MAX_RECEIVE_COUNT}"}}"#
    );
    let queue_url = client
        .create_queue()
        .queue_name(support::unique_name("shipping"))
        .attributes(QueueAttributeName::RedrivePolicy, redrive_policy)
        .attributes(QueueAttributeName::VisibilityTimeout, "0")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    QueuePair {
        queue_url,
        dead_letter_url,
    }
}

/// Receives at most one message body from `queue_url`, without deleting it.
async fn receive_one(client: &Client, queue_url: &str) -> Option<String> {
    let received = client
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(1)
        .wait_time_seconds(0)
        .send()
        .await
        .unwrap();
    let messages = received.messages.unwrap_or_default();
    assert!(
        messages.len() <= 1,
        "asked for one message, got {messages:?}"
    );
    messages
        .into_iter()
        .next()
        .map(|message| message.body.unwrap())
}

#[tokio::test]
async fn a_message_received_max_receive_count_times_moves_to_the_dead_letter_queue() {
    let client = sqs_client().await;
    let queues = queue_with_dead_letter_queue(&client).await;
    let body = r#"{"orderId":"ord-dlq-1","taskToken":"token-1"}"#;
    client
        .send_message()
        .queue_url(&queues.queue_url)
        .message_body(body)
        .send()
        .await
        .unwrap();

    // Each receive without a delete is one failed delivery.
    for receive in 1..=MAX_RECEIVE_COUNT {
        assert_eq!(
            receive_one(&client, &queues.queue_url).await.as_deref(),
            Some(body),
            "receive {receive} of {MAX_RECEIVE_COUNT} should deliver the message"
        );
    }

    // The next receive finds it gone from the queue and in the dead-letter queue.
    assert_eq!(receive_one(&client, &queues.queue_url).await, None);
    assert_eq!(
        receive_one(&client, &queues.dead_letter_url)
            .await
            .as_deref(),
        Some(body)
    );
}

#[tokio::test]
async fn a_message_deleted_before_max_receive_count_never_reaches_the_dead_letter_queue() {
    let client = sqs_client().await;
    let queues = queue_with_dead_letter_queue(&client).await;
    client
        .send_message()
        .queue_url(&queues.queue_url)
        .message_body("shipped on the second try")
        .send()
        .await
        .unwrap();

    // First delivery fails (no delete); the second succeeds and deletes it.
    assert!(receive_one(&client, &queues.queue_url).await.is_some());
    let received = client
        .receive_message()
        .queue_url(&queues.queue_url)
        .max_number_of_messages(1)
        .send()
        .await
        .unwrap();
    let message = received.messages.unwrap().into_iter().next().unwrap();
    client
        .delete_message()
        .queue_url(&queues.queue_url)
        .receipt_handle(message.receipt_handle.unwrap())
        .send()
        .await
        .unwrap();

    assert_eq!(receive_one(&client, &queues.queue_url).await, None);
    assert_eq!(receive_one(&client, &queues.dead_letter_url).await, None);
}

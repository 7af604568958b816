//! The ceiling the store puts on the local cloud: DynamoDB requests per
//! second a DynamoDB endpoint answers at a number of concurrent clients, and
//! the orders per second that allows at the saga's requests per order.
//!
//! Each client repeats the shapes the saga's writes and reads take: a
//! conditional `PutItem` of a new item, a strongly consistent `GetItem` of
//! it, and a conditional `UpdateItem` that increments a counter. The table
//! is made for the run (on-demand) and deleted after it. The first second is
//! a warm-up (the JVM of DynamoDB Local compiles its hot paths) and is not
//! counted.
//!
//! This is an upper bound for the local cloud: during a real run the same
//! cores also run `saga-local`, moto and the clients.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use serde::Serialize;

/// Not counted: the time DynamoDB Local's JIT needs to warm up.
const WARM_UP: Duration = Duration::from_secs(1);

/// The figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct StoreFigure {
    /// The endpoint measured.
    pub endpoint: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Counted seconds (after the warm-up).
    pub seconds: f64,
    /// Requests answered in them.
    pub requests: u64,
    /// `requests / seconds`.
    pub requests_per_second: f64,
    /// DynamoDB requests one order makes on the happy path (README, "Cost
    /// per order").
    pub requests_per_order: u32,
    /// `requests_per_second / requests_per_order`: more orders per second
    /// than this, the store cannot answer, whatever else is made faster.
    pub orders_per_second_ceiling: f64,
}

/// Measures `endpoint` for `seconds` (after a warm-up) with `clients`
/// concurrent clients.
pub async fn measure(
    endpoint: &str,
    clients: usize,
    seconds: f64,
    requests_per_order: u32,
) -> Result<StoreFigure> {
    let shared = crate::aws::sdk_config().await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&shared)
            .endpoint_url(endpoint)
            .build(),
    );
    let table = format!("saga-bench-store-{}", uuid::Uuid::new_v4().simple());
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()?,
        )
        .send()
        .await
        .with_context(|| format!("creating {table} at {endpoint}"))?;

    let counted = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let counting_from = started + WARM_UP;
    let until = counting_from + Duration::from_secs_f64(seconds);
    let mut workers = Vec::with_capacity(clients);
    for worker in 0..clients {
        let client = client.clone();
        let table = table.clone();
        let counted = Arc::clone(&counted);
        workers.push(tokio::spawn(async move {
            let mut round = 0_u64;
            while Instant::now() < until {
                let key = AttributeValue::S(format!("{worker}-{round}"));
                round += 1;
                client
                    .put_item()
                    .table_name(&table)
                    .item("pk", key.clone())
                    .item("n", AttributeValue::N("0".to_owned()))
                    .item("status", AttributeValue::S("PENDING".to_owned()))
                    .condition_expression("attribute_not_exists(pk)")
                    .send()
                    .await
                    .context("PutItem")?;
                client
                    .get_item()
                    .table_name(&table)
                    .key("pk", key.clone())
                    .consistent_read(true)
                    .send()
                    .await
                    .context("GetItem")?;
                client
                    .update_item()
                    .table_name(&table)
                    .key("pk", key)
                    .update_expression("SET n = n + :one, #s = :next")
                    .condition_expression("#s = :current")
                    .expression_attribute_names("#s", "status")
                    .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
                    .expression_attribute_values(":next", AttributeValue::S("DONE".to_owned()))
                    .expression_attribute_values(
                        ":current",
                        AttributeValue::S("PENDING".to_owned()),
                    )
                    .send()
                    .await
                    .context("UpdateItem")?;
                // A round counts when it ends inside the measured window.
                let now = Instant::now();
                if now >= counting_from && now < until {
                    counted.fetch_add(3, Ordering::Relaxed);
                }
            }
            anyhow::Ok(())
        }));
    }
    let mut failure = None;
    for worker in workers {
        if let Err(error) = worker.await.context("a client task")? {
            failure.get_or_insert(error);
        }
    }
    let deleted = client.delete_table().table_name(&table).send().await;
    if let Some(error) = failure {
        return Err(error);
    }
    deleted.with_context(|| format!("deleting {table}"))?;

    let requests = counted.load(Ordering::Relaxed);
    #[allow(clippy::cast_precision_loss)]
    let requests_per_second = requests as f64 / seconds;
    Ok(StoreFigure {
        endpoint: endpoint.to_owned(),
        clients,
        seconds,
        requests,
        requests_per_second,
        requests_per_order,
        orders_per_second_ceiling: requests_per_second / f64::from(requests_per_order),
    })
}

//! Orders per second through a running local cloud, end to end, and the
//! latency of `POST /orders`, at a number of concurrent clients.
//!
//! Every order is one line of a fresh SKU stocked for all of them, paid
//! with a card that succeeds, by its own customer (the API caps orders in
//! flight per customer); tokens are fetched before the clock starts. The
//! clients place the orders as fast as they are answered; then every
//! order's execution is awaited (`/local/executions/{id}/wait`). Orders per
//! second is completed orders over the time from the first POST to the last
//! execution's end. The state transitions of one order are read from its
//! execution history through the local cloud's Step Functions API.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use futures::StreamExt as _;
use serde::Serialize;
use serde_json::{Value, json};

use super::{millis, quantile};
use crate::chaos::client::{CloudClient, Placed};

/// How long one execution may take to finish once placed.
const EXECUTION_WAIT_SECONDS: u64 = 600;

/// The figures of one load run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadFigure {
    /// Orders placed.
    pub orders: usize,
    /// Concurrent clients.
    pub clients: usize,
    /// Orders whose execution succeeded.
    pub completed: usize,
    /// POSTs answered with something else than an order, after retries.
    pub refused: usize,
    /// POSTs retried (5xx, 409, 429, no answer), in all.
    pub retries: u32,
    /// From the first POST to the last POST's answer.
    pub placing_seconds: f64,
    /// From the first POST to the last execution's end.
    pub seconds: f64,
    /// `completed / seconds`.
    pub orders_per_second: f64,
    /// `POST /orders`, milliseconds (a retried POST counts once, with its
    /// retries).
    pub post_p50_ms: f64,
    /// The 99th percentile.
    pub post_p99_ms: f64,
    /// The slowest.
    pub post_max_ms: f64,
    /// State transitions (states entered) of the first completed order.
    pub happy_path_transitions: usize,
    /// Their names, in order.
    pub happy_path_states: Vec<String>,
}

/// Places `orders` orders from `clients` clients on the local cloud at
/// `url` and waits for them all.
pub async fn run(url: &str, orders: usize, clients: usize) -> Result<LoadFigure> {
    if orders == 0 || clients == 0 {
        bail!("at least one order and one client are needed");
    }
    let client = CloudClient::new(url)?;
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let sku = format!("BENCH-{run}");
    client
        .set_stock(&sku, u64::try_from(orders).unwrap_or(u64::MAX))
        .await
        .with_context(|| format!("stocking {sku}: is the local cloud running at {url}?"))?;
    let tokens: Vec<String> = futures::stream::iter(0..orders)
        .map(|index| {
            let client = client.clone();
            let customer = format!("bench-{run}-{index}");
            async move { client.token(&customer).await }
        })
        .buffered(clients)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    let tokens = Arc::new(tokens);

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (client, tokens, next, sku, run) = (
            client.clone(),
            Arc::clone(&tokens),
            Arc::clone(&next),
            sku.clone(),
            run.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut placed = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(token) = tokens.get(index) else {
                    return placed;
                };
                let body = json!({
                    "items": [{"sku": sku, "quantity": 1}],
                    "paymentMethod": "pm_card_visa",
                    "shippingAddress": {"name": "Bench Customer", "line1": "1 Load Street", "city": "Dublin", "postalCode": "D01 B3N4", "country": "IE"},
                });
                let sent = Instant::now();
                let answer = client
                    .place(token, &format!("bench-{run}-{index}"), &body)
                    .await;
                placed.push((millis(sent.elapsed()), answer));
            }
        }));
    }
    let mut latencies = Vec::with_capacity(orders);
    let mut order_ids = Vec::with_capacity(orders);
    let (mut refused, mut retries) = (0, 0);
    for worker in workers {
        for (latency, answer) in worker.await.context("a client panicked")? {
            latencies.push(latency);
            match answer {
                Placed::Order {
                    order_id,
                    retries: again,
                } => {
                    retries += again;
                    order_ids.push(order_id);
                }
                Placed::Refused { status, body } => {
                    refused += 1;
                    tracing::warn!(status, body, "an order was refused");
                }
                Placed::GaveUp { last } => {
                    refused += 1;
                    tracing::warn!(last, "a client gave up on an order");
                }
            }
        }
    }
    let placing_seconds = started.elapsed().as_secs_f64();

    let outcomes: Vec<Result<Value>> = futures::stream::iter(order_ids.iter())
        .map(|order_id| {
            let client = client.clone();
            async move {
                client
                    .get(&format!(
                        "/local/executions/{order_id}/wait?timeout_seconds={EXECUTION_WAIT_SECONDS}"
                    ))
                    .await
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let mut completed = 0;
    let mut first_succeeded = None;
    for outcome in outcomes {
        let description = outcome?;
        if description["status"] == "SUCCEEDED" {
            completed += 1;
            if first_succeeded.is_none() {
                first_succeeded = description["executionArn"].as_str().map(str::to_owned);
            }
        }
    }
    let states = match first_succeeded {
        Some(arn) => states_entered(url, &arn).await?,
        None => Vec::new(),
    };
    #[allow(clippy::cast_precision_loss)]
    let orders_per_second = completed as f64 / seconds;
    Ok(LoadFigure {
        orders,
        clients,
        completed,
        refused,
        retries,
        placing_seconds,
        seconds,
        orders_per_second,
        post_p50_ms: quantile(&latencies, 0.5).unwrap_or(f64::NAN),
        post_p99_ms: quantile(&latencies, 0.99).unwrap_or(f64::NAN),
        post_max_ms: quantile(&latencies, 1.0).unwrap_or(f64::NAN),
        happy_path_transitions: states.len(),
        happy_path_states: states,
    })
}

/// The states `execution_arn` entered, in order, from the local cloud's
/// Step Functions API.
async fn states_entered(url: &str, execution_arn: &str) -> Result<Vec<String>> {
    let sfn = crate::aws::sfn_client(url).await;
    let mut states = Vec::new();
    let mut token = None;
    loop {
        let page = sfn
            .get_execution_history()
            .execution_arn(execution_arn)
            .set_next_token(token)
            .send()
            .await
            .with_context(|| format!("GetExecutionHistory of {execution_arn}"))?;
        states.extend(page.events.iter().filter_map(|event| {
            event
                .r#type
                .as_str()
                .ends_with("StateEntered")
                .then_some(event.state_entered_event_details.as_ref())
                .flatten()
                .map(|details| details.name.clone())
        }));
        token = page.next_token;
        if token.is_none() {
            return Ok(states);
        }
    }
}

//! The campaign's view of a running local cloud: its HTTP API as a customer
//! uses it, and its `/local/*` endpoints as an operator and an auditor use
//! them. Every call has a timeout; a customer's POST is retried on the
//! answers a real client retries (5xx, 409 in progress, 429, no answer).

use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// How often a customer sends the same POST before giving up.
const POST_ATTEMPTS: u32 = 10;
/// The longest `Retry-After` the client waits (the breaker's reset is 30 s).
const MAX_RETRY_AFTER_SECONDS: u64 = 60;

/// How often a `/local/*` call or a customer's GET is repeated after a 5xx
/// or no answer.
const LOCAL_ATTEMPTS: u32 = 6;

/// Why a call failed, and whether repeating it could help.
enum CallError {
    Retriable(anyhow::Error),
    Final(anyhow::Error),
}

/// A client of one local cloud.
#[derive(Debug, Clone)]
pub struct CloudClient {
    url: String,
    http: reqwest::Client,
}

/// What a customer's POST came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    /// The order id, after this many retries.
    Order { order_id: String, retries: u32 },
    /// A 4xx the client cannot fix by retrying.
    Refused { status: u16, body: String },
    /// No usable answer after every attempt.
    GaveUp { last: String },
}

impl CloudClient {
    /// A client of the local cloud at `url` (e.g. `http://127.0.0.1:4000`).
    pub fn new(url: &str) -> Result<Self> {
        saga_stripe::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// One `/local/*` call, repeated (every one is idempotent) while the
    /// local cloud answers 5xx or not at all: under a campaign's load on
    /// two cores, moto or DynamoDB Local sometimes answer the local cloud
    /// late, and a campaign is not about the operator's own tooling.
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        self.call_as(None, method, path, body).await
    }

    /// [`Self::call`] with a bearer token.
    async fn call_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let mut attempt = 0;
        loop {
            match self.call_once(token, method.clone(), path, body).await {
                Ok(value) => return Ok(value),
                Err(CallError::Final(e)) => return Err(e),
                Err(CallError::Retriable(e)) if attempt >= LOCAL_ATTEMPTS => return Err(e),
                Err(CallError::Retriable(_)) => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
                }
            }
        }
    }

    async fn call_once(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CallError> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))
            .map_err(CallError::Retriable)?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("{method} {path}: reading the body"))
            .map_err(CallError::Retriable)?;
        if status.is_server_error() {
            return Err(CallError::Retriable(anyhow!(
                "{method} {path}: {status}: {text}"
            )));
        }
        if !status.is_success() {
            return Err(CallError::Final(anyhow!(
                "{method} {path}: {status}: {text}"
            )));
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text)
            .with_context(|| format!("{method} {path}: {text}"))
            .map_err(CallError::Final)
    }

    /// `GET path` as JSON.
    pub async fn get(&self, path: &str) -> Result<Value> {
        self.call(Method::GET, path, None).await
    }

    /// A dev token for the customer `sub`.
    pub async fn token(&self, sub: &str) -> Result<String> {
        let body = self
            .call(Method::POST, "/local/token", Some(&json!({"sub": sub})))
            .await?;
        body["token"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("/local/token answered without a token: {body}"))
    }

    /// Stocks `sku` with `available` units.
    pub async fn set_stock(&self, sku: &str, available: u64) -> Result<()> {
        self.call(
            Method::PUT,
            &format!("/local/stock/{sku}"),
            Some(&json!({"available": available, "priceMinor": 1250})),
        )
        .await
        .map(drop)
    }

    /// `(available, reserved)` of `sku`.
    pub async fn stock(&self, sku: &str) -> Result<(u64, u64)> {
        let stock = self.get(&format!("/local/stock/{sku}")).await?;
        match (stock["available"].as_u64(), stock["reserved"].as_u64()) {
            (Some(available), Some(reserved)) => Ok((available, reserved)),
            _ => bail!("/local/stock/{sku}: {stock}"),
        }
    }

    /// Sets a fault (the body of `POST /local/faults`).
    pub async fn set_fault(&self, fault: &Value) -> Result<()> {
        self.call(Method::POST, "/local/faults", Some(fault))
            .await
            .map(drop)
    }

    /// Clears every fault.
    pub async fn clear_faults(&self) -> Result<()> {
        self.call(Method::DELETE, "/local/faults", None)
            .await
            .map(drop)
    }

    /// The function binary names faults can be set on.
    pub async fn functions(&self) -> Result<Vec<String>> {
        let faults = self.get("/local/faults").await?;
        serde_json::from_value(faults["functions"].clone())
            .with_context(|| format!("/local/faults: {faults}"))
    }

    /// `POST /orders` as the holder of `token`, retried as a client would:
    /// after the `Retry-After` the answer gives (a 503 while the payment
    /// provider's circuit breaker is open says when it will probe), else
    /// after a short growing pause.
    pub async fn place(&self, token: &str, key: &str, body: &Value) -> Placed {
        let mut last = String::new();
        let mut retry_after: Option<Duration> = None;
        for attempt in 0..POST_ATTEMPTS {
            if attempt > 0 {
                let pause = retry_after
                    .take()
                    .unwrap_or_else(|| Duration::from_millis(200 * u64::from(attempt)));
                tokio::time::sleep(pause).await;
            }
            let response = self
                .http
                .post(format!("{}/orders", self.url))
                .bearer_auth(token)
                .header("Idempotency-Key", key)
                .json(body)
                .send()
                .await;
            let response = match response {
                Ok(response) => response,
                Err(e) => {
                    last = format!("no answer: {e}");
                    continue;
                }
            };
            let status = response.status();
            // Only a 503's: a 429 (too many orders in flight) keeps the
            // short pauses, as the campaign has always sent them.
            retry_after = (status == StatusCode::SERVICE_UNAVAILABLE)
                .then(|| response.headers().get("retry-after"))
                .flatten()
                .and_then(|value| value.to_str().ok())
                .and_then(|seconds| seconds.trim().parse::<u64>().ok())
                .map(|seconds| Duration::from_secs(seconds.clamp(1, MAX_RETRY_AFTER_SECONDS)));
            let text = response.text().await.unwrap_or_default();
            if status.is_success() {
                let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                return match parsed["orderId"].as_str() {
                    Some(order_id) => Placed::Order {
                        order_id: order_id.to_owned(),
                        retries: attempt,
                    },
                    None => Placed::Refused {
                        status: status.as_u16(),
                        body: text,
                    },
                };
            }
            let retriable = status.is_server_error()
                || status == StatusCode::CONFLICT
                || status == StatusCode::TOO_MANY_REQUESTS;
            if !retriable {
                return Placed::Refused {
                    status: status.as_u16(),
                    body: text,
                };
            }
            last = format!("{status}: {text}");
        }
        Placed::GaveUp { last }
    }

    /// `GET /orders/{id}` as its owner.
    pub async fn order(&self, token: &str, order_id: &str) -> Result<Value> {
        self.call_as(
            Some(token),
            Method::GET,
            &format!("/orders/{order_id}"),
            None,
        )
        .await
    }

    /// Every execution as `(name, status)`.
    pub async fn executions(&self) -> Result<Vec<(String, String)>> {
        let listed = self.get("/local/executions").await?;
        let Some(executions) = listed["executions"].as_array() else {
            bail!("/local/executions: {listed}");
        };
        Ok(executions
            .iter()
            .filter_map(|execution| {
                Some((
                    execution["name"].as_str()?.to_owned(),
                    execution["status"].as_str()?.to_owned(),
                ))
            })
            .collect())
    }

    /// Redrives the execution `name`.
    pub async fn redrive_execution(&self, name: &str) -> Result<()> {
        self.call(
            Method::POST,
            &format!("/local/executions/{name}/redrive"),
            Some(&json!({})),
        )
        .await
        .map(drop)
    }

    /// `(logical id, visible messages)` of every dead-letter queue.
    pub async fn dead_letter_queues(&self) -> Result<Vec<(String, u64)>> {
        let listed = self.get("/local/queues").await?;
        let Some(queues) = listed["queues"].as_array() else {
            bail!("/local/queues: {listed}");
        };
        Ok(queues
            .iter()
            .filter(|queue| {
                !queue["deadLetterSource"].is_null() || !queue["failedEventsOf"].is_null()
            })
            .filter_map(|queue| {
                Some((
                    queue["logicalId"].as_str()?.to_owned(),
                    queue["visible"].as_u64()?,
                ))
            })
            .collect())
    }

    /// The queues of functions' failed asynchronous events, as
    /// `(logical id, visible messages)`.
    pub async fn failed_event_queues(&self) -> Result<Vec<(String, u64)>> {
        let listed = self.get("/local/queues").await?;
        let Some(queues) = listed["queues"].as_array() else {
            bail!("/local/queues: {listed}");
        };
        Ok(queues
            .iter()
            .filter(|queue| !queue["failedEventsOf"].is_null())
            .filter_map(|queue| {
                Some((
                    queue["logicalId"].as_str()?.to_owned(),
                    queue["visible"].as_u64()?,
                ))
            })
            .collect())
    }

    /// Moves a dead-letter queue's messages back to its source.
    pub async fn redrive_queue(&self, logical_id: &str) -> Result<()> {
        self.call(
            Method::POST,
            &format!("/local/queues/{logical_id}/redrive"),
            Some(&json!({})),
        )
        .await
        .map(drop)
    }

    /// Every service's records of an order, and the provider's statement.
    pub async fn records(&self, order_id: &str) -> Result<Value> {
        self.get(&format!("/local/orders/{order_id}")).await
    }

    /// Invocations affected by faults, by function and mode.
    pub async fn injected(&self) -> Result<Value> {
        Ok(self.get("/local/faults").await?["injected"].clone())
    }
}

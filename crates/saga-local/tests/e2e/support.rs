//! The harness: starts a local cloud process and talks to it over HTTP.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

const HOW_TO_RUN: &str = "the e2e tests need DynamoDB Local and moto: run `cargo xtask test --tier e2e`, \
     or start both and set AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SQS";

fn endpoint(variable: &str) -> String {
    match std::env::var(variable) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => panic!("{variable} is not set: {HOW_TO_RUN}"),
    }
}

/// A running local cloud, stopped when dropped.
pub struct LocalCloud {
    pub url: String,
    pub http: reqwest::Client,
    pub log: std::path::PathBuf,
    _child: Child,
}

impl LocalCloud {
    /// Starts `saga-local` with the demo catalog and `extra` arguments.
    pub async fn start(extra: &[&str]) -> Self {
        let dynamodb = endpoint("AWS_ENDPOINT_URL_DYNAMODB");
        let sqs = endpoint("AWS_ENDPOINT_URL_SQS");
        let stack = format!("e2e-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let template = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
        let log = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{stack}.log"));
        let log_file = std::fs::File::create(&log).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_saga-local"))
            .args([
                "--template",
                template,
                "--port",
                "0",
                "--stack-name",
                &stack,
                "--seed-demo",
            ])
            .args(["--dynamodb-endpoint", &dynamodb, "--sqs-endpoint", &sqs])
            .args(extra)
            .env("RUST_LOG", "info,aws_config=warn,aws_smithy_runtime=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "saga-local did not start within 60 s; log: {}",
                    log.display()
                )
            })
            .unwrap();
        let Some(url) = first
            .as_deref()
            .and_then(|l| l.strip_prefix("saga-local: ready on "))
        else {
            panic!(
                "saga-local failed to start ({first:?}); {HOW_TO_RUN}; log: {}\n{}",
                log.display(),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        saga_stripe::install_crypto_provider();
        let cloud = Self {
            url: url.trim().to_owned(),
            http: reqwest::Client::new(),
            log,
            _child: child,
        };
        let health = cloud.http.get(cloud.at("/health")).send().await.unwrap();
        assert_eq!(health.status(), 200, "/health after the ready line");
        cloud
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.http.get(self.at(path)).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> (u16, Value) {
        let response = self
            .http
            .request(method, self.at(path))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A dev token for `sub`.
    pub async fn token(&self, sub: &str) -> String {
        let (status, body) = self
            .send_json(reqwest::Method::POST, "/local/token", &json!({"sub": sub}))
            .await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn set_stock(&self, sku: &str, available: u64) {
        let (status, body) = self
            .send_json(
                reqwest::Method::PUT,
                &format!("/local/stock/{sku}"),
                &json!({"available": available, "priceMinor": 1500}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// (available, reserved) of a SKU.
    pub async fn stock(&self, sku: &str) -> (u64, u64) {
        let stock = self.get_json(&format!("/local/stock/{sku}")).await;
        (
            stock["available"].as_u64().unwrap(),
            stock["reserved"].as_u64().unwrap(),
        )
    }

    pub async fn set_fault(&self, fault: Value) {
        let (status, body) = self
            .send_json(reqwest::Method::POST, "/local/faults", &fault)
            .await;
        assert_eq!(status, 200, "{body}");
    }

    pub async fn clear_faults(&self) {
        let response = self
            .http
            .delete(self.at("/local/faults"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }

    /// `POST /orders`; (status, body).
    pub async fn place_order(&self, token: &str, key: &str, order: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.at("/orders"))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(order)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// `GET /orders/{id}` as the owner.
    pub async fn order(&self, token: &str, order_id: &str) -> Value {
        let response = self
            .http
            .get(self.at(&format!("/orders/{order_id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET /orders/{order_id}");
        response.json().await.unwrap()
    }

    /// Waits (long poll, no sleeping) until the order's execution ends; its description.
    pub async fn wait_for_execution(&self, name: &str, timeout_seconds: u64) -> Value {
        let response = self
            .http
            .get(self.at(&format!(
                "/local/executions/{name}/wait?timeoutSeconds={timeout_seconds}"
            )))
            .timeout(Duration::from_secs(timeout_seconds + 30))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            status,
            200,
            "waiting for {name}: {body}; log: {}",
            self.log.display()
        );
        body
    }

    /// Every service's record of an order.
    pub async fn records(&self, order_id: &str) -> Value {
        self.get_json(&format!("/local/orders/{order_id}")).await
    }

    /// (visible, in flight) of a queue by logical id.
    pub async fn queue_depth(&self, logical_id: &str) -> (u64, u64) {
        let queues = self.get_json("/local/queues").await;
        let queue = queues["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["logicalId"] == logical_id)
            .unwrap_or_else(|| panic!("no queue {logical_id}"))
            .clone();
        (
            queue["visible"].as_u64().unwrap(),
            queue["inFlight"].as_u64().unwrap(),
        )
    }

    pub async fn state_machine_arn(&self) -> String {
        let info = self.get_json("/local/info").await;
        info["stateMachines"][0]["arn"].as_str().unwrap().to_owned()
    }
}

/// An order body for `sku` x `quantity` paid with `payment_method`.
pub fn order_body(sku: &str, quantity: u64, payment_method: &str) -> Value {
    json!({
        "items": [{"sku": sku, "quantity": quantity}],
        "paymentMethod": payment_method,
        "shippingAddress": {"name": "Ada Lovelace", "line1": "1 Analytical St", "city": "London", "postalCode": "N1 9GU", "country": "GB"},
    })
}

/// A fresh idempotency key.
pub fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl LocalCloud {
    /// Redrives the order's execution as the operator does, and waits for
    /// it to end: the execution.
    pub async fn redrive_and_wait(&self, order_id: &str) -> Value {
        let (status, body) = self
            .send_json(
                reqwest::Method::POST,
                &format!("/local/executions/{order_id}/redrive"),
                &json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        self.wait_for_execution(order_id, 120).await
    }

    /// Places `order` as the holder of `token` (answered 202) and waits for
    /// its execution to end FAILED: the order id and the execution.
    pub async fn place_until_failed(&self, token: &str, order: &Value) -> (String, Value) {
        let (status, placed) = self.place_order(token, &new_key(), order).await;
        assert_eq!(status, 202, "{placed}");
        let order_id = placed["orderId"].as_str().unwrap().to_owned();
        let failed = self.wait_for_execution(&order_id, 120).await;
        assert_eq!(failed["status"], "FAILED", "{failed}");
        (order_id, failed)
    }
}

/// The event EventBridge sends a scheduled function.
pub fn scheduled_event() -> Value {
    serde_json::json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": "2026-03-01T12:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:000000000000:rule/e2e"],
        "detail": {},
    })
}

/// Runs `tests/browser/<script>` with `args` in Node, against Debian's
/// Chromium through playwright-core, and fails the test with the script's
/// output unless it succeeds; first fails, saying how to install it, when
/// Chromium or playwright-core is missing.
pub async fn run_browser_script(script: &str, args: &[&std::ffi::OsStr]) {
    let browser_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        std::path::Path::new("/usr/bin/chromium").is_file(),
        "/usr/bin/chromium is missing: apt-get install chromium"
    );
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: npm ci --prefix {}",
        browser_dir.display()
    );
    let output = Command::new("node")
        .arg(browser_dir.join(script))
        .args(args)
        .output()
        .await
        .expect("node (Node.js 18+) is needed for the browser tests");
    assert!(
        output.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Where the browser tests save their screenshots (removing an older one
/// named `name`, so the check after the run sees this run's).
pub fn fresh_screenshot(name: &str) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// Fails unless `path` holds a real PNG screenshot.
pub fn assert_screenshot(path: &std::path::Path) {
    let png =
        std::fs::read(path).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", path.display()));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot at {}",
        path.display()
    );
}

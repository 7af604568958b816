//! What the handler tests share: loading `events/api/*.json`, a [`World`]
//! that builds the API over some implementation of its ports (in-memory
//! fakes, or DynamoDB Local and a Step Functions stand-in), and the route
//! table of cases that runs unchanged against each.

#![allow(dead_code)] // Each test binary uses a different part of this module.

pub mod cases;
pub mod openapi;
pub mod scenarios;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use chrono::{DateTime, Utc};
use order_api::OrderApi;
use order_api::config::DEFAULT_MAX_ORDERS_IN_FLIGHT;
use saga_domain::fakes::{InMemoryInventory, InMemoryOrders, ManualClock, RecordingExecutions};
use saga_domain::ports::{
    Catalog, Clock, ExecutionStarter, OrderStatus, OrderStore, ShipmentRef, StartOutcome, StockItem,
};
use saga_domain::{Money, OrderId, PortError};
use serde_json::Value;

/// The instant every test starts at.
pub const START: &str = "2026-01-01T10:00:00Z";

/// `events/api/`.
pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events/api")
}

/// Every event file name in `events/api/`, sorted.
pub fn event_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// The event `name` from `events/api/`, parsed as Lambda parses it.
pub fn load_event(name: &str) -> ApiGatewayV2httpRequest {
    let path = events_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{name} is not an event: {error}"))
}

/// A response, taken apart for assertions.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Answer {
    pub fn of(response: &ApiGatewayV2httpResponse) -> Self {
        let text = match &response.body {
            Some(Body::Text(text)) => text.clone(),
            other => panic!("expected a text body, got {other:?}"),
        };
        let headers: Vec<(String, String)> = response
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    value.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        Self {
            status: u16::try_from(response.status_code).unwrap(),
            content_type: header_of(&headers, "content-type").unwrap_or_default(),
            headers,
            body: serde_json::from_str(&text)
                .unwrap_or_else(|error| panic!("body is not JSON ({error}): {text}")),
        }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        header_of(&self.headers, name)
    }

    /// The `type` slug of a problem body.
    pub fn problem_slug(&self) -> Option<&str> {
        self.body["type"]
            .as_str()
            .and_then(|uri| uri.strip_prefix(order_api::problem::PROBLEM_TYPE_BASE))
    }

    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|error| error["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn order_id(&self) -> OrderId {
        self.body["orderId"]
            .as_str()
            .unwrap_or_else(|| panic!("no orderId in {}", self.body))
            .parse()
            .unwrap()
    }
}

fn header_of(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.clone())
}

/// A clock several owners share.
#[derive(Debug, Clone)]
pub struct SharedClock(pub Arc<ManualClock>);

impl SharedClock {
    pub fn at_start() -> Self {
        Self(Arc::new(ManualClock::at_rfc3339(START)))
    }
}

impl Clock for SharedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
}

/// Simulates the api process dying right before it sends StartExecution
/// (after the order write and the start claim): armed, the next
/// StartExecution announces it was reached and never completes, so the test
/// can abort the request there.
#[derive(Debug, Default)]
pub struct CrashSwitch {
    armed: AtomicBool,
    reached: tokio::sync::Notify,
}

impl CrashSwitch {
    /// The next StartExecution hangs instead of being sent.
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Returns once a request hangs at the armed StartExecution.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }
}

/// An [`ExecutionStarter`] with a [`CrashSwitch`] in front.
#[derive(Debug)]
pub struct CrashableExecutions<E> {
    pub inner: E,
    pub crash: Arc<CrashSwitch>,
}

impl<E: ExecutionStarter> ExecutionStarter for CrashableExecutions<E> {
    async fn start_execution(
        &self,
        name: &OrderId,
        input: &str,
    ) -> Result<StartOutcome, PortError> {
        if self.crash.armed.swap(false, Ordering::SeqCst) {
            self.crash.reached.notify_one();
            std::future::pending::<()>().await;
        }
        self.inner.start_execution(name, input).await
    }
}

/// A dependency a case can take down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    /// The Orders table.
    Orders,
    /// The catalog (Inventory table).
    Catalog,
    /// Step Functions.
    StepFunctions,
}

/// The API over one set of port implementations, with the controls the
/// cases need.
pub trait World: Send + Sync {
    type Orders: OrderStore;
    type Catalog: Catalog;
    type Executions: ExecutionStarter;

    /// The API as it is now (with the dependency taken down, if any).
    fn api(&self) -> &OrderApi<Self::Orders, Self::Catalog, Self::Executions, SharedClock>;

    /// Takes `dependency` down (every call fails as unreachable), or brings
    /// everything back with `None`.
    fn set_down(&self, dependency: Option<Dependency>);

    /// What the state machine writes after a step.
    fn record_progress(
        &self,
        order_id: &OrderId,
        step: &str,
        status: OrderStatus,
        at: &str,
        reason: Option<&str>,
        shipment: Option<ShipmentRef>,
    ) -> impl Future<Output = ()> + Send;

    /// The switch in front of StartExecution.
    fn crash(&self) -> &CrashSwitch;

    /// Every StartExecution call that reached Step Functions: (name, input).
    fn start_calls(&self) -> Vec<(String, String)>;

    /// The distinct executions that exist.
    fn executions_started(&self) -> usize;
}

/// The catalog every case starts with.
pub fn catalog_items() -> Vec<StockItem> {
    let item = |sku: &str, name: &str, price: i64, currency: &str, available: u64| StockItem {
        sku: sku.parse().unwrap(),
        name: name.to_owned(),
        available,
        reserved: 0,
        unit_price: Money::new(price, currency.parse().unwrap()).unwrap(),
    };
    vec![
        item("SKU-TEE-M", "T-shirt, size M", 1500, "EUR", 100),
        item("SKU-MUG", "Mug", 900, "EUR", 5),
        item("SKU-POSTER", "Poster", 2500, "EUR", 0),
        item("SKU-CAP-USD", "Cap (US store)", 2000, "USD", 10),
        item("SKU-SOCKS", "Socks", 500, "EUR", 50),
    ]
}

pub async fn seed_catalog(catalog: &impl Catalog) {
    for item in catalog_items() {
        catalog.put_stock_item(&item).await.unwrap();
    }
}

/// The in-memory world: every port a fake with a fault switch.
pub struct FakeWorld {
    pub api: OrderApi<
        InMemoryOrders,
        InMemoryInventory,
        CrashableExecutions<RecordingExecutions>,
        SharedClock,
    >,
}

impl FakeWorld {
    pub async fn new() -> Self {
        let api = OrderApi {
            orders: InMemoryOrders::new(),
            catalog: InMemoryInventory::new(),
            executions: CrashableExecutions {
                inner: RecordingExecutions::new(),
                crash: Arc::default(),
            },
            clock: SharedClock::at_start(),
            max_orders_in_flight: DEFAULT_MAX_ORDERS_IN_FLIGHT,
            payments_gate: None,
        };
        seed_catalog(&api.catalog).await;
        Self { api }
    }
}

impl World for FakeWorld {
    type Orders = InMemoryOrders;
    type Catalog = InMemoryInventory;
    type Executions = CrashableExecutions<RecordingExecutions>;

    fn api(&self) -> &OrderApi<InMemoryOrders, InMemoryInventory, Self::Executions, SharedClock> {
        &self.api
    }

    fn crash(&self) -> &CrashSwitch {
        &self.api.executions.crash
    }

    fn set_down(&self, dependency: Option<Dependency>) {
        self.api
            .orders
            .faults
            .set_unavailable(dependency == Some(Dependency::Orders));
        self.api
            .catalog
            .faults
            .set_unavailable(dependency == Some(Dependency::Catalog));
        self.api
            .executions
            .inner
            .faults
            .set_unavailable(dependency == Some(Dependency::StepFunctions));
    }

    async fn record_progress(
        &self,
        order_id: &OrderId,
        step: &str,
        status: OrderStatus,
        at: &str,
        reason: Option<&str>,
        shipment: Option<ShipmentRef>,
    ) {
        self.api
            .orders
            .record_progress(order_id, step, status, at, reason, shipment);
    }

    fn start_calls(&self) -> Vec<(String, String)> {
        self.api
            .executions
            .inner
            .calls()
            .into_iter()
            .map(|call| (call.name.to_string(), call.input))
            .collect()
    }

    fn executions_started(&self) -> usize {
        self.api.executions.inner.executions().len()
    }
}

/// `event` as sent by `sub` (`None`: no verified token).
pub fn as_caller(mut event: ApiGatewayV2httpRequest, sub: Option<&str>) -> ApiGatewayV2httpRequest {
    match sub {
        Some(sub) => {
            let authorizer = event
                .request_context
                .authorizer
                .get_or_insert_with(Default::default);
            let jwt = authorizer.jwt.get_or_insert_with(Default::default);
            jwt.claims.insert("sub".to_owned(), sub.to_owned());
        }
        None => event.request_context.authorizer = None,
    }
    event
}

/// `GET /orders/{id}` by `sub`.
pub fn get_order_event(id: &str, sub: &str) -> ApiGatewayV2httpRequest {
    let mut event = load_event("get-order--pending.json");
    let path = format!("/orders/{id}");
    event.raw_path = Some(path.clone());
    event.request_context.http.path = Some(path);
    event.path_parameters = [("id".to_owned(), id.to_owned())].into();
    as_caller(event, Some(sub))
}

/// `GET /orders` by `sub` with these query parameters.
pub fn list_orders_event(sub: &str, query: &[(&str, &str)]) -> ApiGatewayV2httpRequest {
    let mut event = load_event("list-orders--newest-first.json");
    let map: std::collections::HashMap<String, String> = query
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    event.query_string_parameters = map.into();
    as_caller(event, Some(sub))
}

/// The accepted POST with another `Idempotency-Key`, sent by `sub`.
pub fn post_event(sub: &str, key: &str) -> ApiGatewayV2httpRequest {
    let mut event = load_event("post-orders--accepted.json");
    event
        .headers
        .insert("idempotency-key", key.parse().unwrap());
    as_caller(event, Some(sub))
}

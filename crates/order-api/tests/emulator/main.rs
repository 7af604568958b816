//! The handler against DynamoDB Local (Orders and Inventory tables, fresh
//! per case) and a Step Functions stand-in this test runs on 127.0.0.1 that
//! speaks the StartExecution wire protocol to the real aws-sdk-sfn client,
//! records every call and keeps Step Functions' idempotency rules.
//!
//! Needs DynamoDB Local: run through `cargo xtask test --tier api`,
//! which starts it and sets `AWS_ENDPOINT_URL_DYNAMODB`. Without that
//! variable every test fails at once saying so.

#[path = "../support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use order_api::OrderApi;
use order_api::config::DEFAULT_MAX_ORDERS_IN_FLIGHT;
use saga_aws::{DynamoInventory, DynamoOrders, SfnExecutions};
use saga_domain::OrderId;
use saga_domain::ports::{ExecutionStarter, OrderStatus, ShipmentRef, StartOutcome};
use serde_json::{Value, json};

use support::cases::run_all;
use support::openapi::Document;
use support::{
    CrashSwitch, CrashableExecutions, Dependency, SharedClock, World, scenarios, seed_catalog,
};

const STATE_MACHINE_ARN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:OrderSaga";

// ---------------------------------------------------------------- stand-in

/// What the Step Functions stand-in has seen.
#[derive(Default)]
struct StandInState {
    calls: Mutex<Vec<(String, String)>>,
    executions: Mutex<HashMap<String, String>>,
}

fn error(code: &str, message: &str) -> axum::response::Response {
    let body = json!({"__type": code, "message": message}).to_string();
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/x-amz-json-1.0")],
        body,
    )
        .into_response()
}

async fn step_functions(
    State(state): State<Arc<StandInState>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if target != "AWSStepFunctions.StartExecution" {
        return error("UnknownOperationException", target);
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error("SerializationException", "body is not JSON");
    };
    if request["stateMachineArn"] != STATE_MACHINE_ARN {
        return error("StateMachineDoesNotExist", "unknown state machine");
    }
    let name = request["name"].as_str().unwrap_or_default().to_owned();
    let input = request["input"].as_str().unwrap_or_default().to_owned();
    state
        .calls
        .lock()
        .unwrap()
        .push((name.clone(), input.clone()));
    let mut executions = state.executions.lock().unwrap();
    // Step Functions: same name and input is the same execution; a known
    // name with other input is ExecutionAlreadyExists.
    match executions.get(&name) {
        Some(existing) if *existing != input => {
            return error("ExecutionAlreadyExists", "Execution Already Exists");
        }
        Some(_) => {}
        None => {
            executions.insert(name.clone(), input);
        }
    }
    let arn = format!("arn:aws:states:us-east-1:123456789012:execution:OrderSaga:{name}");
    let body = json!({"executionArn": arn, "startDate": 1_767_261_600.0}).to_string();
    (
        StatusCode::OK,
        [("content-type", "application/x-amz-json-1.0")],
        body,
    )
        .into_response()
}

/// Starts the stand-in on a free port of 127.0.0.1; it runs until the
/// test's runtime ends.
async fn start_stand_in() -> (String, Arc<StandInState>) {
    let state = Arc::new(StandInState::default());
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/", axum::routing::post(step_functions))
        .with_state(Arc::clone(&state));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, state)
}

/// An endpoint nothing listens on: every call is refused at once.
fn dead_endpoint() -> String {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

// ---------------------------------------------------------------- world

type DynamoApi =
    OrderApi<DynamoOrders, DynamoInventory, CrashableExecutions<SfnExecutions>, SharedClock>;

struct DynamoWorld {
    /// Normal, orders down, catalog down, Step Functions down.
    apis: [DynamoApi; 4],
    down: AtomicU8,
    dynamodb: aws_sdk_dynamodb::Client,
    orders_table: String,
    stand_in: Arc<StandInState>,
    crash: Arc<CrashSwitch>,
}

/// Fails loudly without the emulator (never skips).
async fn emulator_config() -> SdkConfig {
    match std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        Ok(endpoint) if !endpoint.is_empty() => {}
        _ => panic!(
            "AWS_ENDPOINT_URL_DYNAMODB is not set: these tests need DynamoDB Local. Run them \
             with `cargo xtask test --tier api` (or `cargo xtask test`), which installs \
             and starts it and sets the AWS_* variables."
        ),
    }
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

impl DynamoWorld {
    async fn new() -> Self {
        let config = emulator_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let dead_dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&config)
                .endpoint_url(dead_endpoint())
                .retry_config(RetryConfig::disabled())
                .build(),
        );
        let orders_table = unique("orders");
        let inventory_table = unique("inventory");
        create_table(&dynamodb, "OrdersTable", &orders_table).await;
        create_table(&dynamodb, "InventoryTable", &inventory_table).await;
        let (url, stand_in) = start_stand_in().await;
        let sfn = |endpoint: String, retry: RetryConfig| {
            aws_sdk_sfn::Client::from_conf(
                aws_sdk_sfn::config::Builder::from(&config)
                    .endpoint_url(endpoint)
                    .retry_config(retry)
                    .build(),
            )
        };
        let live_sfn = sfn(url, RetryConfig::standard());
        let dead_sfn = sfn(dead_endpoint(), RetryConfig::disabled());
        let clock = SharedClock::at_start();
        let crash = Arc::new(CrashSwitch::default());
        let api = |orders: &aws_sdk_dynamodb::Client,
                   catalog: &aws_sdk_dynamodb::Client,
                   sfn: &aws_sdk_sfn::Client| OrderApi {
            orders: DynamoOrders::new(orders.clone(), &orders_table),
            catalog: DynamoInventory::new(catalog.clone(), &inventory_table),
            executions: CrashableExecutions {
                inner: SfnExecutions::new(sfn.clone(), STATE_MACHINE_ARN),
                crash: Arc::clone(&crash),
            },
            clock: clock.clone(),
            max_orders_in_flight: DEFAULT_MAX_ORDERS_IN_FLIGHT,
            payments_gate: None,
        };
        let apis = [
            api(&dynamodb, &dynamodb, &live_sfn),
            api(&dead_dynamodb, &dynamodb, &live_sfn),
            api(&dynamodb, &dead_dynamodb, &live_sfn),
            api(&dynamodb, &dynamodb, &dead_sfn),
        ];
        seed_catalog(&apis[0].catalog).await;
        Self {
            apis,
            down: AtomicU8::new(0),
            dynamodb,
            orders_table,
            stand_in,
            crash,
        }
    }
}

impl World for DynamoWorld {
    type Orders = DynamoOrders;
    type Catalog = DynamoInventory;
    type Executions = CrashableExecutions<SfnExecutions>;

    fn api(&self) -> &DynamoApi {
        &self.apis[usize::from(self.down.load(Ordering::SeqCst))]
    }

    fn set_down(&self, dependency: Option<Dependency>) {
        let index = match dependency {
            None => 0,
            Some(Dependency::Orders) => 1,
            Some(Dependency::Catalog) => 2,
            Some(Dependency::StepFunctions) => 3,
        };
        self.down.store(index, Ordering::SeqCst);
    }

    /// The UpdateItem the state machine's `Mark*`/`RejectOrder` states send
    /// (`infra/order-saga.asl.json`), attribute for attribute.
    async fn record_progress(
        &self,
        order_id: &OrderId,
        step: &str,
        status: OrderStatus,
        at: &str,
        reason: Option<&str>,
        shipment: Option<ShipmentRef>,
    ) {
        let s = |text: &str| AttributeValue::S(text.to_owned());
        let entry = AttributeValue::M(HashMap::from([
            ("step".to_owned(), s(step)),
            ("status".to_owned(), s(status.as_str())),
            ("at".to_owned(), s(at)),
        ]));
        let mut expression = "SET #status = :status, updatedAt = :at, timeline = \
                              list_append(if_not_exists(timeline, :empty), :entry)"
            .to_owned();
        let mut update = self
            .dynamodb
            .update_item()
            .table_name(&self.orders_table)
            .key("orderId", s(order_id.as_str()))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":at", s(at))
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":entry", AttributeValue::L(vec![entry]));
        if let Some(reason) = reason {
            expression.push_str(", reason = :reason");
            update = update.expression_attribute_values(":reason", s(reason));
        }
        if let Some(shipment) = shipment {
            expression.push_str(", shipmentId = :shipmentId, trackingNumber = :trackingNumber");
            update = update
                .expression_attribute_values(":shipmentId", s(&shipment.shipment_id))
                .expression_attribute_values(":trackingNumber", s(&shipment.tracking_number));
        }
        update.update_expression(expression).send().await.unwrap();
    }

    fn crash(&self) -> &CrashSwitch {
        &self.crash
    }

    fn start_calls(&self) -> Vec<(String, String)> {
        self.stand_in.calls.lock().unwrap().clone()
    }

    fn executions_started(&self) -> usize {
        self.stand_in.executions.lock().unwrap().len()
    }
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_of_the_route_table_holds_against_dynamodb_local() {
    let produced = run_all(DynamoWorld::new).await;
    let document = Document::load();
    for answer in &produced {
        document.validate(answer);
    }
    println!(
        "emulator route table: {} cases passed and validated against openapi.yaml",
        produced.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_identical_posts_make_one_order_and_one_execution() {
    let calls = scenarios::concurrent_identical_posts(Arc::new(DynamoWorld::new().await), 50).await;
    println!(
        "DynamoDB Local: 50 concurrent identical POSTs -> 1 order, 1 execution, \
         {calls} StartExecution call(s) received by the stand-in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_after_a_crash_before_start_execution_starts_it_once() {
    scenarios::replay_after_crash_completes_the_start(&DynamoWorld::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_start_execution_is_completed_once_after_the_lease_expires() {
    scenarios::crash_before_start_execution_is_completed_after_the_lease(Arc::new(
        DynamoWorld::new().await,
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_walk_every_order_once_newest_first() {
    scenarios::pages_walk_every_order_once(&DynamoWorld::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_reads_another_customers_order() {
    scenarios::no_route_reads_another_customers_order(&DynamoWorld::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_in_flight_are_capped() {
    scenarios::orders_in_flight_are_capped(&DynamoWorld::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_execution_maps_step_functions_answers() {
    let world = DynamoWorld::new().await;
    let executions = &world.api().executions;
    let name: OrderId = "ord_adapter".parse().unwrap();
    let cases = [
        (r#"{"a":1}"#, StartOutcome::Started),
        (r#"{"a":1}"#, StartOutcome::Started),
        (r#"{"a":2}"#, StartOutcome::AlreadyExists),
    ];
    for (input, expected) in cases {
        let outcome = executions.start_execution(&name, input).await.unwrap();
        assert_eq!(outcome, expected, "input {input}");
    }
    world.set_down(Some(Dependency::StepFunctions));
    let down = world.api().executions.start_execution(&name, "{}").await;
    assert!(
        matches!(down, Err(saga_domain::PortError::Unavailable { .. })),
        "{down:?}"
    );
}

/// Creates `name` in DynamoDB Local as a copy of the template's table
/// `logical_id`, read from `template.yaml` by `saga-template`.
async fn create_table(client: &aws_sdk_dynamodb::Client, logical_id: &str, name: &str) {
    let spec = saga_template::project_table(logical_id).unwrap_or_else(|error| panic!("{error}"));
    saga_template::create_table(client, &spec.named(name))
        .await
        .unwrap_or_else(|error| panic!("{error}"));
}

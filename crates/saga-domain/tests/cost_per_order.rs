//! The counts README.md's "Cost per order" rests on, counted from the code
//! and the definition rather than written down:
//!
//! - state transitions per path: the definition (`infra/order-saga.asl.json`)
//!   walked with the listed tasks failing every attempt, each state entered
//!   and each retry counted, as Step Functions Standard bills them;
//! - requests per order: the step functions run against the in-memory fakes,
//!   whose call logs give every store call a step makes; each call is priced
//!   in DynamoDB requests and request units by [`dynamodb_cost`], which
//!   follows the DynamoDB adapters in `saga-aws` (one place to edit when an
//!   adapter changes). The state machine's own `dynamodb:updateItem` states,
//!   Lambda invocations and SQS requests come from the walked path.
//!
//! The test fails when a step adds a store call, when a state is added on a
//! path, or when README's table says something else.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};

use saga_domain::breaker::{
    BreakerSettings, CircuitBreaker, GuardedProvider, InMemoryBreakerStore,
};
use saga_domain::fakes::{
    InMemoryInventory, InMemoryPayments, InMemoryShipments, ManualClock, RecordingTaskReporter,
};
use saga_domain::ports::{Catalog, StockItem};
use saga_domain::simulated_provider::SimulatedPaymentProvider;
use saga_domain::steps::{
    ReservationTtl, charge_payment, confirm_reservation, process_ship_message, release_reservation,
    reserve_inventory,
};
use saga_domain::{Currency, Money, OrderId, Sku};

fn repo_file(relative: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn definition() -> Value {
    serde_json::from_str(&repo_file("infra/order-saga.asl.json")).expect("definition is JSON")
}

// ------------------------------------------------------------ transitions

/// Whether a retrier or catcher's `ErrorEquals` matches `error`.
fn matches(error_equals: &Value, error: &str) -> bool {
    error_equals.as_array().into_iter().flatten().any(|name| {
        let name = name.as_str().unwrap_or_default();
        name == error
            || name == "States.ALL"
            || (name == "States.TaskFailed" && error != "States.Timeout")
    })
}

/// The states entered on the path where each `(state, error)` task fails
/// every attempt, every other task succeeds: one entry per billed state
/// transition (a retry is an entry of its own), and how the execution ends.
fn walk(definition: &Value, failures: &[(&str, &str)]) -> (Vec<String>, String) {
    let states = &definition["States"];
    let mut name = definition["StartAt"].as_str().expect("StartAt").to_owned();
    let mut entered = Vec::new();
    for _ in 0..200 {
        let state = &states[&name];
        assert!(state.is_object(), "no state {name}");
        entered.push(name.clone());
        let kind = state["Type"].as_str().unwrap_or_default();
        match kind {
            "Task" | "Pass" => {}
            "Succeed" => return (entered, "succeeded".to_owned()),
            "Fail" => return (entered, format!("FAILED at {name}")),
            other => panic!("this walk does not model {other} states ({name})"),
        }
        if let Some((_, error)) = failures.iter().find(|(failing, _)| *failing == name) {
            let retries = state["Retry"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| matches(&r["ErrorEquals"], error))
                .map_or(0, |r| r["MaxAttempts"].as_u64().unwrap_or(3));
            entered.extend(std::iter::repeat_n(name.clone(), retries as usize));
            let catcher = state["Catch"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| matches(&c["ErrorEquals"], error));
            match catcher {
                Some(catcher) => {
                    name = catcher["Next"].as_str().expect("Catch Next").to_owned();
                    continue;
                }
                None => return (entered, format!("FAILED at {name}")),
            }
        }
        if state["End"] == true {
            return (entered, "succeeded".to_owned());
        }
        name = state["Next"].as_str().expect("Next or End").to_owned();
    }
    panic!("no end after 200 states");
}

/// The rows of the README table under `heading`: the first cell, then the
/// other cells, header and separator rows left out.
fn readme_table(heading: &str) -> Vec<Vec<String>> {
    let readme = repo_file("README.md");
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README.md has no {heading:?}"));
    readme[start..]
        .lines()
        .skip(1)
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect()
        })
        .collect()
}

/// `"State: Error; State: Error"` or `-`.
fn failures_of(cell: &str) -> Vec<(&str, &str)> {
    if cell == "-" {
        return Vec::new();
    }
    cell.split(';')
        .map(|pair| {
            let (state, error) = pair
                .split_once(':')
                .unwrap_or_else(|| panic!("`{pair}` is not `State: Error`"));
            (
                state.trim().trim_matches('`'),
                error.trim().trim_matches('`'),
            )
        })
        .collect()
}

/// README's "State transitions per path" table: `| path | failing | transitions | ends |`.
#[test]
fn readme_transitions_per_path_are_the_definitions() {
    let definition = definition();
    let rows = readme_table("### State transitions per path");
    assert!(
        rows.len() >= 6,
        "the table lists the happy path and the rejections"
    );
    let mut problems = Vec::new();
    for row in &rows {
        let failures = failures_of(&row[1]);
        let (entered, ending) = walk(&definition, &failures);
        let documented: usize = row[2]
            .parse()
            .unwrap_or_else(|_| panic!("count in {row:?}"));
        if entered.len() != documented || ending != row[3] {
            problems.push(format!(
                "{}: README says {documented}, {}; the definition enters {} ({}), {ending}",
                row[0],
                row[3],
                entered.len(),
                entered.join(", ")
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let (happy, _) = walk(&definition, &[]);
    assert!(
        happy.len() <= 8,
        "the happy path takes at most 8 transitions (issue #15): {happy:?}"
    );
}

// ------------------------------------------------------------- requests

/// What one store call costs in DynamoDB, as the `saga-aws` adapter makes it
/// on the path the test runs (no failed condition): requests and request
/// units, base table and index writes together. Items are under 1 KB (the
/// demo order, one line), so a write is 1 WRU, a transactional write 2 per
/// item, a strongly consistent read 1 RRU, an eventually consistent index
/// query 0.5 RRU per 4 KB read.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Cost {
    reads: u32,
    writes: u32,
    rru: f64,
    wru: f64,
}

const LINES: u32 = 1;

fn dynamodb_cost(operation: &str) -> Cost {
    let read = |rru| Cost {
        reads: 1,
        rru,
        ..Cost::default()
    };
    let write = |wru| Cost {
        writes: 1,
        wru,
        ..Cost::default()
    };
    match operation {
        // Orders (`saga-aws/src/orders.rs`); the ByCustomer index projects
        // ALL, so every Orders write also writes it (+1 WRU); AwaitingStart
        // (keys only) gets an entry with the order and loses it at the start.
        "get_order" => read(1.0),                    // GetItem, consistent
        "count_in_flight" => read(0.5),              // Query ByCustomer, COUNT, limit 5
        "create_order" => write(1.0 + 1.0 + 1.0),    // PutItem + ByCustomer + AwaitingStart
        "claim_execution_start" => write(1.0 + 1.0), // UpdateItem + ByCustomer
        "mark_execution_started" => write(1.0 + 1.0 + 1.0), // + AwaitingStart delete
        "orders:updateItem" => write(1.0 + 1.0),     // the state machine's status writes
        // Inventory (`saga-aws/src/inventory.rs`)
        "stock_items" => read(f64::from(LINES)), // BatchGetItem, consistent, 1 per SKU
        // TransactWriteItems: reservation put + one stock update per line, 2
        // WRU each; the PENDING reservation enters ByExpiry (ALL).
        "reserve" => write(2.0 * f64::from(1 + LINES) + 1.0),
        // UpdateItem PENDING -> CONFIRMED, REMOVE expiryShard: leaves ByExpiry.
        "confirm_reservation" => write(1.0 + 1.0),
        // GetItem, then TransactWriteItems (reservation + stock lines); a
        // PENDING one leaves ByExpiry.
        "release_reservation" => Cost {
            reads: 1,
            writes: 1,
            rru: 1.0,
            wru: 2.0 * f64::from(1 + LINES) + 1.0,
        },
        // Payments (`saga-aws/src/payments.rs`)
        "record_intent" => write(1.0), // PutItem, conditional
        "mark_captured" | "mark_declined" | "mark_refunded" => write(1.0), // UpdateItem
        "get_payment" => read(1.0),
        // Breaker (`saga-aws/src/breaker.rs`): load is a consistent GetItem;
        // count_call is one UpdateItem (ADD) within a window, two at the
        // window's first call (a failed condition still costs its WRU).
        "load" => read(1.0),
        "count_call" => write(1.0),
        "replace" => write(1.0),
        // Shipments (`saga-aws/src/shipments.rs`)
        "create_shipment" => write(1.0), // PutItem, conditional
        other => panic!("no DynamoDB cost for `{other}`: add the adapter's requests here"),
    }
}

/// The api's store calls for a new `POST /orders`
/// (`order-api/src/place_order.rs`): the replay check, the catalog prices,
/// the in-flight cap, the payment breaker's gate, the put, then the start
/// under its lease (`saga_domain::steps::start_order_execution`).
const API_NEW_ORDER: [&str; 7] = [
    "get_order",
    "stock_items",
    "count_in_flight",
    "load",
    "create_order",
    "claim_execution_start",
    "mark_execution_started",
];

#[derive(Debug, Default, PartialEq)]
struct PerOrder {
    transitions: usize,
    lambda: u32,
    reads: u32,
    writes: u32,
    rru: f64,
    wru: f64,
    sqs: u32,
}

impl PerOrder {
    fn add(&mut self, calls: &[&'static str]) {
        for call in calls {
            let cost = dynamodb_cost(call);
            self.reads += cost.reads;
            self.writes += cost.writes;
            self.rru += cost.rru;
            self.wru += cost.wru;
        }
    }
}

fn order_id() -> OrderId {
    "ord_cost_1".parse().expect("order id")
}

async fn stocked() -> InMemoryInventory {
    let inventory = InMemoryInventory::new();
    let item = StockItem {
        sku: "SKU-MUG".parse::<Sku>().expect("sku"),
        name: "Mug".to_owned(),
        available: 10,
        reserved: 0,
        unit_price: Money::new(1500, "EUR".parse::<Currency>().expect("currency")).expect("money"),
    };
    inventory.put_stock_item(&item).await.expect("stocked");
    inventory.faults.clear_calls();
    inventory
}

/// Runs the path's steps on fakes, adds the api's calls and the state
/// machine's own requests from the walked path.
async fn per_order(payment_method: &str, failures: &[(&str, &str)]) -> PerOrder {
    let definition = definition();
    let (entered, _) = walk(&definition, failures);
    let clock = ManualClock::at_rfc3339("2026-03-01T12:00:00Z");
    let inventory = stocked().await;
    let payments = InMemoryPayments::new();
    let shipments = InMemoryShipments::new();
    let reporter = RecordingTaskReporter::new();
    let breaker_store = Arc::new(InMemoryBreakerStore::default());
    let provider = GuardedProvider::new(
        SimulatedPaymentProvider::new(),
        CircuitBreaker::new(
            breaker_store.clone(),
            &clock,
            BreakerSettings::default(),
            Arc::new(|_| {}),
        ),
    );
    let order = order_id();
    let mut total = PerOrder {
        transitions: entered.len(),
        // The api, and the watcher at the execution's end (its status-change
        // event: the completed, rejected and failed order counts).
        lambda: 2,
        ..PerOrder::default()
    };
    total.add(&API_NEW_ORDER);
    for state in &entered {
        let resource = definition["States"][state]["Resource"]
            .as_str()
            .unwrap_or_default();
        match resource {
            "arn:aws:states:::lambda:invoke" => total.lambda += 1,
            "arn:aws:states:::dynamodb:updateItem" => total.add(&["orders:updateItem"]),
            // SendMessage by the state machine; the event source mapping's
            // ReceiveMessage and DeleteMessage (one message per receive at
            // low volume, an upper bound: batches of up to 10); one ship
            // invocation.
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken" => {
                total.sqs += 3;
                total.lambda += 1;
            }
            "" => {}
            other => panic!("{state}: price the resource {other}"),
        }
        match state.as_str() {
            "ReserveInventory" => {
                let input = serde_json::from_value(json!({"orderId": order.as_str(), "items": [{"sku": "SKU-MUG", "quantity": 1}]})).expect("input");
                reserve_inventory(&inventory, &clock, ReservationTtl::DEFAULT, input)
                    .await
                    .expect("reserved");
            }
            "ChargePayment" => {
                let input = serde_json::from_value(json!({"orderId": order.as_str(), "total": {"amountMinor": 1500, "currency": "EUR"}, "paymentMethod": payment_method})).expect("input");
                let _ = charge_payment(&payments, &provider, &clock, input).await;
            }
            "ConfirmReservation" => {
                let input =
                    serde_json::from_value(json!({"orderId": order.as_str()})).expect("input");
                confirm_reservation(&inventory, &clock, input)
                    .await
                    .expect("confirmed");
            }
            "ReleaseInventory" => {
                let input =
                    serde_json::from_value(json!({"orderId": order.as_str()})).expect("input");
                release_reservation(&inventory, &clock, input)
                    .await
                    .expect("released");
            }
            "ShipOrder" => {
                let body = json!({
                    "taskToken": "token-cost-1",
                    "orderId": order.as_str(),
                    "items": [{"sku": "SKU-MUG", "quantity": 1}],
                    "shippingAddress": {"name": "A", "line1": "B 1", "city": "C", "postalCode": "10115", "country": "DE"},
                });
                let outcome =
                    process_ship_message(&shipments, &reporter, &clock, &body.to_string()).await;
                assert!(!outcome.leaves_message_on_queue(), "{outcome:?}");
            }
            _ => {}
        }
    }
    total.add(&inventory.faults.calls());
    total.add(&payments.faults.calls());
    total.add(&breaker_store.calls());
    total.add(&shipments.faults.calls());
    // SendTaskSuccess is a Step Functions API call: not billed.
    assert!(reporter.faults.calls().len() <= 1);
    total
}

fn number(cell: &str) -> f64 {
    cell.trim_start_matches('$')
        .replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {cell:?}"))
}

/// README's "Requests per order" table: `| per order | happy path | payment declined |`.
#[tokio::test]
async fn readme_requests_per_order_are_the_codes() {
    let happy = per_order("pm_card_visa", &[]).await;
    let declined = per_order(
        "pm_card_chargeDeclined",
        &[("ChargePayment", "PaymentDeclined")],
    )
    .await;
    let rows: BTreeMap<String, (f64, f64)> = readme_table("### Requests per order")
        .into_iter()
        .map(|row| (row[0].clone(), (number(&row[1]), number(&row[2]))))
        .collect();
    let counted = |f: fn(&PerOrder) -> f64| (f(&happy), f(&declined));
    let expected: [(&str, (f64, f64)); 7] = [
        ("state transitions", counted(|p| p.transitions as f64)),
        ("Lambda invocations", counted(|p| f64::from(p.lambda))),
        ("DynamoDB read requests", counted(|p| f64::from(p.reads))),
        ("DynamoDB write requests", counted(|p| f64::from(p.writes))),
        ("read request units (RRU)", counted(|p| p.rru)),
        ("write request units (WRU)", counted(|p| p.wru)),
        ("SQS requests", counted(|p| f64::from(p.sqs))),
    ];
    let mut problems = Vec::new();
    for (name, counted) in expected {
        match rows.get(name) {
            Some(documented) if *documented == counted => {}
            documented => problems.push(format!(
                "{name}: README {documented:?}, counted {counted:?}"
            )),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

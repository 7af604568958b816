//! Every file in `events/<function>/` goes through that function's handler
//! against the fakes, and the outcome must be the one the file's name states.
//!
//! Naming: `<outcome>[--<what it shows>].json`, where `<outcome>` is
//! - `success` for a step that returns its output;
//! - for `release`, `refund` and `watcher`, the `outcome` field in kebab
//!   case (`released`, `nothing-to-release`, `already-refunded`,
//!   `recorded`, `unknown-order`, ...);
//! - a step error name in kebab case (`insufficient-stock`, `invalid-order`,
//!   `transient-error`, ...) for a step that fails with that `errorType`;
//! - for `ship`: `success` (task completed), `invalid-order` (task failed
//!   with that error), `left-on-queue` (the record is in `batchItemFailures`).
//!
//! Files ending in `--store-unavailable` run with every store failing.
//!
//! Every file runs in the same fresh world (see [`World::new`]): a catalog
//! and orders in each state, so a file picks its situation by `orderId`.
//!
//! Every EMF metric line a handler writes on the way must be valid
//! (`support::problems`), and together the samples must make every metric
//! the handlers emit, each where ARCHITECTURE.md says.

mod support;

use std::collections::BTreeSet;

use std::path::{Path, PathBuf};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use chrono::TimeDelta;
use saga_domain::contract::orders::new_order;
use saga_domain::fakes::{
    InMemoryInventory, InMemoryOrders, InMemoryPayments, InMemoryShipments, ManualClock,
    RecordingExecutions, RecordingTaskReporter, TaskReport,
};
use saga_domain::ports::{
    Catalog, ExpireOutcome, OrderStore, ReservationExpiry, StockItem, whole_seconds,
};
use saga_domain::simulated_provider::SimulatedPaymentProvider;
use saga_domain::step_io::WatchOutcome;
use saga_domain::steps::{self, ReaperSettings, ReservationTtl, SweepSettings};
use saga_domain::{Money, STEP_ERROR_NAMES};
use saga_lambda::handlers;
use serde_json::{Value, json};

const NOW: &str = "2026-03-01T12:00:00Z";

/// The state every sample event runs against.
struct World {
    inventory: InMemoryInventory,
    payments: InMemoryPayments,
    shipments: InMemoryShipments,
    orders: InMemoryOrders,
    executions: RecordingExecutions,
    reporter: RecordingTaskReporter,
    provider: SimulatedPaymentProvider,
    clock: ManualClock,
}

impl World {
    /// Catalog: SKU-TEE-M ×10, SKU-MUG ×5, SKU-RARE ×1 (EUR). Reservations:
    /// `ord_pending`, `ord_confirmed`, `ord_released`, `ord_expired` (by the
    /// reaper) and `ord_lapsed` (PENDING, an hour old, not yet reaped).
    /// Payments: `ord_captured` (30.00 EUR), `ord_declined`, `ord_refunded`.
    /// Orders: `ord_unstarted` (PENDING, an hour old, its execution never
    /// started), `ord_completed` (COMPLETED). The clock reads [`NOW`].
    async fn new() -> World {
        let world = World {
            inventory: InMemoryInventory::new(),
            payments: InMemoryPayments::new(),
            shipments: InMemoryShipments::new(),
            orders: InMemoryOrders::new(),
            executions: RecordingExecutions::new(),
            reporter: RecordingTaskReporter::new(),
            provider: SimulatedPaymentProvider::new(),
            clock: ManualClock::at_rfc3339(NOW),
        };
        for (sku, available, price) in [
            ("SKU-TEE-M", 10, 1500),
            ("SKU-MUG", 5, 900),
            ("SKU-RARE", 1, 9900),
        ] {
            world
                .inventory
                .put_stock_item(&StockItem {
                    sku: sku.parse().unwrap(),
                    name: sku.to_owned(),
                    available,
                    reserved: 0,
                    unit_price: Money::new(price, "EUR".parse().unwrap()).unwrap(),
                })
                .await
                .unwrap();
        }
        world.clock.advance(TimeDelta::hours(-1));
        let mut unstarted = new_order("ord_unstarted", "user-123", 0);
        unstarted.created_at = world.clock_now();
        world.orders.create_order(&unstarted).await.unwrap();
        let mut completed = new_order("ord_completed", "user-123", 0);
        completed.created_at = world.clock_now();
        world.orders.create_order(&completed).await.unwrap();
        world
            .orders
            .mark_execution_started(&completed.order_id, world.clock_now())
            .await
            .unwrap();
        world.orders.record_progress(
            &completed.order_id,
            "MarkCompleted",
            saga_domain::ports::OrderStatus::Completed,
            "2026-03-01T11:00:05.000Z",
            None,
            None,
        );
        world.reserve("ord_lapsed", "SKU-MUG").await;
        world.clock.advance(TimeDelta::minutes(40));
        world.reserve("ord_expired", "SKU-TEE-M").await;
        world.clock.advance(TimeDelta::minutes(19));
        let expired = world
            .inventory
            .expire_reservation(
                &"ord_expired".parse().unwrap(),
                whole_seconds(world.clock_now()),
            )
            .await
            .unwrap();
        assert_eq!(expired, ExpireOutcome::Expired);
        world.reserve("ord_pending", "SKU-TEE-M").await;
        world.reserve("ord_confirmed", "SKU-MUG").await;
        steps::confirm_reservation(&world.inventory, &world.clock, order_ref("ord_confirmed"))
            .await
            .unwrap();
        world.reserve("ord_released", "SKU-TEE-M").await;
        steps::release_reservation(&world.inventory, &world.clock, order_ref("ord_released"))
            .await
            .unwrap();
        world.charge("ord_captured", "pm_card_visa").await;
        world.charge("ord_declined", "pm_card_chargeDeclined").await;
        world.charge("ord_refunded", "pm_card_visa").await;
        steps::refund_payment(
            &world.payments,
            &world.provider,
            &world.clock,
            order_ref("ord_refunded"),
        )
        .await
        .unwrap();
        world.clock.advance(TimeDelta::minutes(1));
        world
    }

    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        saga_domain::ports::Clock::now(&self.clock)
    }

    async fn reserve(&self, order_id: &str, sku: &str) {
        let input = serde_json::from_value(
            json!({"orderId": order_id, "items": [{"sku": sku, "quantity": 1}]}),
        )
        .unwrap();
        steps::reserve_inventory(&self.inventory, &self.clock, ReservationTtl::DEFAULT, input)
            .await
            .unwrap();
    }

    async fn charge(&self, order_id: &str, method: &str) {
        let input = serde_json::from_value(json!({"orderId": order_id, "total": {"amountMinor": 3000, "currency": "EUR"}, "paymentMethod": method})).unwrap();
        let _ = steps::charge_payment(&self.payments, &self.provider, &self.clock, input).await;
    }

    fn make_stores_unavailable(&self) {
        self.inventory.faults.set_unavailable(true);
        self.payments.faults.set_unavailable(true);
        self.shipments.faults.set_unavailable(true);
        self.orders.faults.set_unavailable(true);
    }
}

fn order_ref(order_id: &str) -> saga_domain::step_io::OrderRef {
    saga_domain::step_io::OrderRef {
        order_id: order_id.parse().unwrap(),
    }
}

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn sample_files(function: &str) -> Vec<PathBuf> {
    let dir = events_dir().join(function);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

/// The outcome a file's name states: the part before `--`.
fn stated_outcome(path: &Path) -> String {
    stem(path).split("--").next().unwrap().to_owned()
}

/// `insufficient-stock` → `InsufficientStock`, if that is a step error name.
fn step_error_named(outcome: &str) -> Option<&'static str> {
    let pascal: String = outcome
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    STEP_ERROR_NAMES
        .iter()
        .map(|(name, _)| *name)
        .find(|name| *name == pascal)
}

/// The result of one handler call, reduced to what the name can state.
fn describe(result: Result<Value, lambda_runtime::Diagnostic>) -> String {
    match result {
        Ok(output) => match output.get("outcome").and_then(Value::as_str) {
            Some(outcome) => outcome.to_lowercase().replace('_', "-"),
            None => "success".to_owned(),
        },
        Err(diagnostic) => {
            assert!(!diagnostic.error_message.is_empty(), "empty errorMessage");
            format!("error:{}", diagnostic.error_type)
        }
    }
}

fn expected_description(path: &Path) -> String {
    let outcome = stated_outcome(path);
    match step_error_named(&outcome) {
        Some(error_type) => format!("error:{error_type}"),
        None => outcome,
    }
}

async fn run_step_sample(function: &str, path: &Path) -> String {
    let payload: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let world = World::new().await;
    if stem(path).ends_with("--store-unavailable") {
        world.make_stores_unavailable();
    }
    let w = &world;
    let result = match function {
        "reserve" => to_json(
            handlers::handle_reserve(&w.inventory, &w.clock, ReservationTtl::DEFAULT, payload)
                .await,
        ),
        "charge" => {
            to_json(handlers::handle_charge(&w.payments, &w.provider, &w.clock, payload).await)
        }
        "confirm" => to_json(handlers::handle_confirm(&w.inventory, &w.clock, payload).await),
        "release" => to_json(handlers::handle_release(&w.inventory, &w.clock, payload).await),
        "refund" => {
            to_json(handlers::handle_refund(&w.payments, &w.provider, &w.clock, payload).await)
        }
        "reaper" => {
            let event: EventBridgeEvent<Value> = serde_json::from_value(payload).unwrap();
            let result =
                handlers::handle_reaper(&w.inventory, &w.clock, ReaperSettings::default(), event)
                    .await;
            if let Ok(report) = &result {
                // The world has exactly one lapsed reservation.
                assert_eq!(
                    (report.expired, report.batches),
                    (1, 1),
                    "{}",
                    path.display()
                );
            }
            to_json(result)
        }
        "sweeper" => {
            let event: EventBridgeEvent<Value> = serde_json::from_value(payload).unwrap();
            let result = handlers::handle_sweeper(
                &w.orders,
                &w.executions,
                &w.clock,
                SweepSettings::default(),
                "OrderSaga/test",
                event,
            )
            .await;
            if let Ok(report) = &result {
                // The world has exactly one order nobody started, and none stalled.
                assert_eq!(
                    (report.found, report.started, report.stalled),
                    (1, 1, 0),
                    "{}",
                    path.display()
                );
                assert_eq!(w.executions.calls().len(), 1, "{}", path.display());
            }
            to_json(result)
        }
        "watcher" => {
            let event: EventBridgeEvent<Value> = serde_json::from_value(payload).unwrap();
            let result = handlers::handle_watcher(&w.orders, event).await;
            if let Ok(report) = &result {
                let stalled = w.orders.stalled_orders(10).await.unwrap();
                let expected: Vec<_> = report
                    .order_id
                    .iter()
                    .filter(|_| report.outcome == WatchOutcome::Recorded)
                    .cloned()
                    .collect();
                assert_eq!(stalled, expected, "{}", path.display());
            }
            to_json(result)
        }
        other => panic!("no handler for {other}"),
    };
    describe(result)
}

fn to_json<T: serde::Serialize>(
    result: Result<T, lambda_runtime::Diagnostic>,
) -> Result<Value, lambda_runtime::Diagnostic> {
    result.map(|output| serde_json::to_value(output).unwrap())
}

/// Checks the EMF lines one sample wrote and returns their metric names.
fn check_metric_lines(path: &Path, lines: Vec<String>) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in lines {
        let problems = support::problems(&line);
        assert!(
            problems.is_empty(),
            "{}: {problems:?}\n{line}",
            path.display()
        );
        let line: Value = serde_json::from_str(&line).unwrap();
        for definition in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
        {
            names.insert(definition["Name"].as_str().unwrap().to_owned());
        }
    }
    names
}

/// The names of `metrics`.
fn names(metrics: &[&saga_lambda::metrics::Metric]) -> BTreeSet<String> {
    metrics
        .iter()
        .map(|metric| metric.name.to_owned())
        .collect()
}

#[tokio::test]
async fn every_step_sample_event_has_the_outcome_its_name_states() {
    use saga_lambda::metrics::*;
    let (captured, _guard) = support::capture();
    let mut emitted = BTreeSet::new();
    for function in [
        "reserve", "charge", "confirm", "release", "refund", "reaper", "sweeper", "watcher",
    ] {
        let files = sample_files(function);
        assert!(
            files
                .iter()
                .any(|f| step_error_named(&stated_outcome(f)).is_some()),
            "{function}: needs a failure sample"
        );
        assert!(
            files
                .iter()
                .any(|f| step_error_named(&stated_outcome(f)).is_none()),
            "{function}: needs a success sample"
        );
        for path in files {
            let got = run_step_sample(function, &path).await;
            assert_eq!(got, expected_description(&path), "{}", path.display());
            let metrics = check_metric_lines(&path, captured.take());
            if ["reserve", "charge", "confirm", "release", "refund"].contains(&function) {
                assert!(metrics.contains(STEP_LATENCY.name), "{}", path.display());
            }
            emitted.extend(metrics);
        }
    }
    let expected = names(&[
        &STEP_LATENCY,
        &STEP_ERRORS,
        &COMPENSATIONS_RUN,
        &STALLED_ORDERS,
        &NEVER_STARTED_ORDERS,
        &ORDERS_COMPLETED,
        &ORDERS_REJECTED,
        &FAILED_ORDERS,
    ]);
    assert_eq!(emitted, expected, "the metrics the step samples make");
}

#[tokio::test]
async fn every_ship_sample_event_has_the_outcome_its_name_states() {
    use saga_lambda::metrics::{STEP_ERRORS, STEP_LATENCY};
    let (captured, _guard) = support::capture();
    let files = sample_files("ship");
    assert!(files.len() >= 2, "ship needs success and failure samples");
    for path in files {
        let event: SqsEvent =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let record_ids: Vec<String> = event
            .records
            .iter()
            .map(|r| r.message_id.clone().unwrap())
            .collect();
        let world = World::new().await;
        if stem(&path).ends_with("--store-unavailable") {
            world.make_stores_unavailable();
        }
        let response =
            handlers::handle_ship(&world.shipments, &world.reporter, &world.clock, event)
                .await
                .unwrap_or_else(|d| panic!("{}: {d:?}", path.display()));
        let redelivered: Vec<String> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        let reports = world.reporter.reports();
        let name = path.display();
        // One latency per record, and an error for each record that failed.
        let lines = captured.take();
        let metrics = check_metric_lines(&path, lines.clone());
        let latencies = lines
            .iter()
            .filter(|l| l.contains(STEP_LATENCY.name))
            .count();
        assert_eq!(latencies, record_ids.len(), "{name}");
        let failed = stated_outcome(&path) != "success";
        assert_eq!(metrics.contains(STEP_ERRORS.name), failed, "{name}");
        match stated_outcome(&path).as_str() {
            "success" => {
                assert!(redelivered.is_empty(), "{name}: {redelivered:?}");
                assert_eq!(reports.len(), record_ids.len(), "{name}");
                assert!(
                    reports
                        .iter()
                        .all(|r| matches!(r, TaskReport::Success { .. })),
                    "{name}: {reports:?}"
                );
                assert_eq!(world.shipments.len(), record_ids.len(), "{name}");
            }
            "invalid-order" => {
                assert!(redelivered.is_empty(), "{name}: {redelivered:?}");
                assert!(
                    !reports.is_empty()
                        && reports.iter().all(|r| matches!(r, TaskReport::Failure { error, .. } if error == "InvalidOrder")),
                    "{name}: {reports:?}"
                );
                assert!(world.shipments.is_empty(), "{name}");
            }
            "left-on-queue" => {
                assert_eq!(redelivered, record_ids, "{name}");
                assert!(reports.is_empty(), "{name}: {reports:?}");
            }
            other => panic!("{name}: unknown ship outcome {other:?}"),
        }
    }
}

#[test]
fn samples_exist_for_every_function() {
    for function in [
        "charge", "confirm", "reaper", "refund", "release", "reserve", "ship", "sweeper", "watcher",
    ] {
        assert!(
            !sample_files(function).is_empty(),
            "events/{function}/ has no samples"
        );
    }
}

//! The sweep (issue #11, finding 6): an order written PENDING whose
//! execution was never started (the api crashed between the put and
//! StartExecution, or its client gave up after a 503) is found and started
//! once its grace period is over, under the same start lease as a replayed
//! POST, so it is never started twice and never left behind.

use chrono::TimeDelta;
use saga_domain::contract::orders::new_order;
use saga_domain::fakes::{InMemoryOrders, ManualClock, RecordingExecutions};
use saga_domain::ports::{
    Clock, ExecutionStarter, OrderRecord, OrderStore, START_LEASE, StartClaim, StartOutcome,
};
use saga_domain::steps::{ExecutionStart, SweepSettings, start_order_execution, sweep_unstarted};
use saga_domain::{OrderId, StepError};

/// The instant the fixture orders are placed (`new_order(.., 0)`).
const PLACED: &str = "2026-01-01T00:00:00Z";

fn clock() -> ManualClock {
    ManualClock::at_rfc3339(PLACED)
}

fn settings() -> SweepSettings {
    SweepSettings::new(TimeDelta::seconds(120), 10).unwrap()
}

async fn placed(orders: &InMemoryOrders, id: &str) -> OrderRecord {
    orders
        .create_order(&new_order(id, "customer-a", 0))
        .await
        .unwrap();
    orders.get_order(&order_id(id)).await.unwrap().unwrap()
}

fn order_id(id: &str) -> OrderId {
    id.parse().unwrap()
}

async fn stored(orders: &InMemoryOrders, id: &str) -> OrderRecord {
    orders.get_order(&order_id(id)).await.unwrap().unwrap()
}

#[tokio::test]
async fn an_order_never_started_is_started_by_the_sweep_after_the_grace_period_and_not_before() {
    let orders = InMemoryOrders::new();
    let executions = RecordingExecutions::new();
    let clock = clock();
    let order = placed(&orders, "ord-orphan").await;

    clock.advance(TimeDelta::seconds(119));
    let early = sweep_unstarted(&orders, &executions, &clock, settings())
        .await
        .unwrap();
    assert_eq!((early.found, early.started), (0, 0), "inside the grace");
    assert!(executions.calls().is_empty(), "nothing started early");

    clock.advance(TimeDelta::seconds(1));
    let due = sweep_unstarted(&orders, &executions, &clock, settings())
        .await
        .unwrap();
    assert_eq!((due.found, due.started), (1, 1), "at the end of the grace");
    let calls = executions.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].name, order.order_id, "named by the order id");
    assert_eq!(calls[0].input, order.execution_input, "the stored input");
    assert_eq!(
        stored(&orders, "ord-orphan").await.execution_started_at,
        Some(clock.now()),
        "recorded as started"
    );

    clock.advance(TimeDelta::minutes(5));
    let again = sweep_unstarted(&orders, &executions, &clock, settings())
        .await
        .unwrap();
    assert_eq!((again.found, again.started), (0, 0), "swept once");
    assert_eq!(executions.calls().len(), 1);
}

#[tokio::test]
async fn an_order_already_started_is_left_alone() {
    let orders = InMemoryOrders::new();
    let executions = RecordingExecutions::new();
    let clock = clock();
    let order = placed(&orders, "ord-started").await;
    // The POST's own start, as the api makes it.
    let started = start_order_execution(&orders, &executions, &clock, &order)
        .await
        .unwrap();
    assert_eq!(started, ExecutionStart::Started(StartOutcome::Started));

    clock.advance(TimeDelta::hours(1));
    let report = sweep_unstarted(&orders, &executions, &clock, settings())
        .await
        .unwrap();
    assert_eq!((report.found, report.started), (0, 0));
    assert_eq!(executions.calls().len(), 1, "only the POST's call");
}

#[tokio::test]
async fn a_sweep_that_races_the_posts_own_start_starts_it_once() {
    // The POST claimed the lease (slowly, just before the grace ran out) and
    // is about to call StartExecution when the sweep comes.
    let orders = InMemoryOrders::new();
    let executions = RecordingExecutions::new();
    let clock = clock();
    let order = placed(&orders, "ord-race-1").await;
    clock.advance(TimeDelta::seconds(110));
    let StartClaim::Claimed(_) = orders
        .claim_execution_start(&order.order_id, clock.now(), START_LEASE)
        .await
        .unwrap()
    else {
        panic!("the POST claims first")
    };
    clock.advance(TimeDelta::seconds(10));
    let report = sweep_unstarted(&orders, &executions, &clock, settings())
        .await
        .unwrap();
    assert_eq!((report.found, report.started), (1, 0), "the POST holds it");
    assert!(executions.calls().is_empty());
    executions
        .start_execution(&order.order_id, &order.execution_input)
        .await
        .unwrap();
    orders
        .mark_execution_started(&order.order_id, clock.now())
        .await
        .unwrap();
    clock.advance(TimeDelta::minutes(1));
    let after = sweep_unstarted(&orders, &executions, &clock, settings())
        .await
        .unwrap();
    assert_eq!((after.found, after.started), (0, 0));
    assert_eq!(executions.calls().len(), 1, "one StartExecution in all");

    // The other way round: the sweep takes the start, a late replay of the
    // POST finds it held or started and calls nothing.
    let orders = InMemoryOrders::new();
    let executions = RecordingExecutions::new();
    let clock = ManualClock::at_rfc3339(PLACED);
    let order = placed(&orders, "ord-race-2").await;
    clock.advance(TimeDelta::seconds(120));
    let (swept, replayed) = tokio::join!(
        sweep_unstarted(&orders, &executions, &clock, settings()),
        start_order_execution(&orders, &executions, &clock, &order),
    );
    let swept = swept.unwrap();
    let replayed = replayed.unwrap();
    let starts = swept.started + u64::from(matches!(replayed, ExecutionStart::Started(_)));
    assert_eq!(starts, 1, "one of them starts it: {swept:?}, {replayed:?}");
    assert_eq!(executions.calls().len(), 1, "one StartExecution in all");
    assert!(
        stored(&orders, "ord-race-2")
            .await
            .execution_started_at
            .is_some()
    );
}

#[tokio::test]
async fn an_execution_that_exists_unrecorded_counts_as_started() {
    // A POST started the execution and crashed before recording it.
    let orders = InMemoryOrders::new();
    let executions = RecordingExecutions::new();
    let clock = clock();
    let order = placed(&orders, "ord-unrecorded").await;
    executions
        .start_execution(&order.order_id, &order.execution_input)
        .await
        .unwrap();
    clock.advance(TimeDelta::minutes(3));
    let report = sweep_unstarted(&orders, &executions, &clock, settings())
        .await
        .unwrap();
    assert_eq!((report.found, report.started), (1, 1));
    assert_eq!(executions.executions().len(), 1, "the same execution");
    assert!(
        stored(&orders, "ord-unrecorded")
            .await
            .execution_started_at
            .is_some()
    );
}

#[tokio::test]
async fn a_failed_start_releases_the_lease_and_is_retried_by_the_next_sweep() {
    let orders = InMemoryOrders::new();
    let executions = RecordingExecutions::new();
    let clock = clock();
    placed(&orders, "ord-sfn-down").await;
    clock.advance(TimeDelta::minutes(3));
    executions.faults.fail_next(1);
    let error = sweep_unstarted(&orders, &executions, &clock, settings())
        .await
        .unwrap_err();
    assert!(matches!(error, StepError::TransientError { .. }), "{error}");
    assert!(
        stored(&orders, "ord-sfn-down")
            .await
            .execution_started_at
            .is_none()
    );
    // The lease was given back: the next run (a second later) starts it.
    clock.advance(TimeDelta::seconds(1));
    let report = sweep_unstarted(&orders, &executions, &clock, settings())
        .await
        .unwrap();
    assert_eq!((report.found, report.started), (1, 1));
}

#[tokio::test]
async fn a_sweep_takes_the_oldest_orders_a_batch_at_a_time() {
    let orders = InMemoryOrders::new();
    let executions = RecordingExecutions::new();
    let clock = clock();
    for (id, millis) in [("ord-b", 2_000), ("ord-a", 1_000), ("ord-c", 3_000)] {
        orders
            .create_order(&new_order(id, "customer-a", millis))
            .await
            .unwrap();
    }
    clock.advance(TimeDelta::minutes(3));
    let small = SweepSettings::new(TimeDelta::seconds(120), 2).unwrap();
    let first = sweep_unstarted(&orders, &executions, &clock, small)
        .await
        .unwrap();
    assert_eq!((first.found, first.started), (2, 2));
    let names: Vec<String> = executions
        .calls()
        .iter()
        .map(|call| call.name.to_string())
        .collect();
    assert_eq!(names, ["ord-a", "ord-b"], "oldest first");
    let second = sweep_unstarted(&orders, &executions, &clock, small)
        .await
        .unwrap();
    assert_eq!((second.found, second.started), (1, 1));
}

#[test]
fn sweep_settings_refuse_a_zero_grace_or_batch() {
    assert!(SweepSettings::new(TimeDelta::zero(), 10).is_err());
    assert!(SweepSettings::new(TimeDelta::seconds(120), 0).is_err());
    assert!(SweepSettings::new(TimeDelta::seconds(120), 1001).is_err());
    assert!(SweepSettings::from_secs(86_401, 10).is_err(), "over a day");
    assert_eq!(
        SweepSettings::from_secs(120, 100).unwrap(),
        SweepSettings::default()
    );
    let defaults = SweepSettings::default();
    assert_eq!(defaults.grace(), TimeDelta::seconds(120));
    assert_eq!(defaults.batch_size(), 100);
}

fn stop_of(
    order: &str,
    status: &str,
    redrive_count: u32,
    stopped_at: &ManualClock,
) -> saga_domain::step_io::ExecutionStatusChange {
    saga_domain::step_io::ExecutionStatusChange {
        execution_arn: format!("arn:aws:states:us-east-1:000000000000:execution:saga:{order}"),
        name: order.to_owned(),
        status: status.to_owned(),
        stop_date: Some(stopped_at.now().timestamp_millis()),
        error: None,
        cause: Some("found by ListExecutions".to_owned()),
        redrive_count,
    }
}

#[tokio::test]
async fn a_stop_no_event_recorded_is_recorded_by_the_sweep_and_nothing_else_is_touched() {
    use saga_domain::ports::{OrderStatus, Stall, StoppedStatus};
    use saga_domain::steps::{MISSED_STOP_LOOKBACK, record_missed_stops};
    let orders = InMemoryOrders::new();
    let executions = RecordingExecutions::new();
    let clock = clock();
    for id in ["ord-missed", "ord-known", "ord-final", "ord-old"] {
        placed(&orders, id).await;
    }
    // ord-old stopped before the lookback; the others within it.
    executions.add_stopped(stop_of("ord-old", "FAILED", 0, &clock));
    clock.advance(MISSED_STOP_LOOKBACK + TimeDelta::minutes(5));
    executions.add_stopped(stop_of("ord-missed", "TIMED_OUT", 0, &clock));
    executions.add_stopped(stop_of("ord-known", "FAILED", 1, &clock));
    executions.add_stopped(stop_of("ord-final", "FAILED", 0, &clock));
    executions.add_stopped(stop_of("not-an-order!", "ABORTED", 0, &clock));
    // The watcher got ord-known's event, with its error; ord-final finished.
    let known = Stall {
        execution_arn: "arn:known".to_owned(),
        status: StoppedStatus::Failed,
        error: Some("States.TaskFailed".to_owned()),
        cause: Some("from the event".to_owned()),
        stopped_at: clock.now(),
        redrive_count: 1,
    };
    orders
        .record_stall(&"ord-known".parse().unwrap(), &known)
        .await
        .unwrap();
    orders.record_progress(
        &"ord-final".parse().unwrap(),
        "RejectOrder",
        OrderStatus::Rejected,
        "2026-01-01T01:00:00.000Z",
        Some("PaymentDeclined"),
        None,
    );
    clock.advance(TimeDelta::minutes(1));

    let recorded = record_missed_stops(&orders, &executions, &clock)
        .await
        .unwrap();
    assert_eq!(recorded, 1, "only ord-missed");
    let stall_of = |id: &str| {
        let id: OrderId = id.parse().unwrap();
        let orders = &orders;
        async move { orders.get_order(&id).await.unwrap().unwrap().stall }
    };
    let missed = stall_of("ord-missed").await.expect("recorded by the sweep");
    assert_eq!(missed.status, StoppedStatus::TimedOut);
    assert_eq!(
        stall_of("ord-known").await,
        Some(known),
        "the event's error and cause are kept"
    );
    assert_eq!(
        stall_of("ord-final").await,
        None,
        "a final order is never marked"
    );
    assert_eq!(stall_of("ord-old").await, None, "outside the lookback");
    assert_eq!(
        record_missed_stops(&orders, &executions, &clock)
            .await
            .unwrap(),
        0,
        "a second run finds nothing new"
    );
}

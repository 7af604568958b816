//! Contract of [`OrderStore`]: an order is created once per id, reads back
//! exactly as written, its start lease is held by one claimant at a time
//! until it expires, is released or the start is recorded, a customer's
//! orders page newest first without gaps, repeats or other customers' orders,
//! their orders in flight are counted up to a limit, the orders whose
//! start is not recorded are listed oldest first for the sweep, and a stall
//! (the execution stopped) is kept on an order in flight, never on a final
//! one, never overwritten by an earlier attempt's, until the final write.
//!
//! Statuses after PENDING are the state machine's to write, not the port's,
//! so each caller passes, with every fresh store, how the state machine
//! writes one on it ([`StatusWrites`]).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use chrono::TimeDelta;

use super::{at, euros, ok, order_id, sku};
use crate::ids::{CustomerId, OrderId};
use crate::order::{Quantity, ShippingAddress};
use crate::ports::{
    CreateOrderOutcome, NewOrder, OrderPosition, OrderRecord, OrderStatus, OrderStore, PricedLine,
    Stall, StallOutcome, StartClaim, StartLease, StoppedStatus,
};

/// A status write of the state machine (its `Mark*` and `RejectOrder`
/// states), made on a store of type `S` the way its table receives it.
pub trait StatusWrites<S> {
    /// Sets the order's `status` as a state machine step does.
    fn write_status(
        &self,
        store: &S,
        order_id: &OrderId,
        status: OrderStatus,
    ) -> impl Future<Output = ()>;
}

/// Runs every order case, each on a fresh store from `fresh`, which also
/// gives how the state machine writes a status on that store.
pub async fn run_all<S, W, F, Fut>(fresh: F)
where
    S: OrderStore,
    W: StatusWrites<S>,
    F: Fn() -> Fut,
    Fut: Future<Output = (S, W)>,
{
    create_once_then_return_the_original(fresh().await.0).await;
    absent_order_reads_as_none(fresh().await.0).await;
    execution_start_is_recorded_once_and_never_creates(fresh().await.0).await;
    start_lease_is_exclusive_until_it_expires(fresh().await.0).await;
    released_start_lease_can_be_claimed_again(fresh().await.0).await;
    concurrent_start_claims_have_one_winner(fresh().await.0).await;
    customer_orders_page_newest_first(fresh().await.0).await;
    orders_await_their_start_oldest_first_until_it_is_recorded(fresh().await.0).await;
    let (store, writes) = fresh().await;
    in_flight_orders_are_counted_newest_first_up_to_the_limit(store, writes).await;
    let (store, writes) = fresh().await;
    a_stall_is_kept_until_the_final_write(store, writes).await;
}

fn customer(id: &str) -> CustomerId {
    id.parse()
        .unwrap_or_else(|error| panic!("bad customer id {id:?} in the suite: {error}"))
}

fn address(with_optional_lines: bool) -> ShippingAddress {
    let mut value = serde_json::json!({
        "name": "Ada Lovelace", "line1": "Main St 1", "city": "Berlin",
        "postalCode": "10115", "country": "DE"
    });
    if with_optional_lines {
        value["line2"] = "Hinterhaus".into();
        value["region"] = "BE".into();
    }
    serde_json::from_value(value)
        .unwrap_or_else(|error| panic!("bad address in the suite: {error}"))
}

/// An order for `customer` placed `millis` milliseconds into the timeline.
pub fn new_order(order: &str, customer_id: &str, millis: i64) -> NewOrder {
    let quantity = |units: u32| {
        Quantity::try_from(units).unwrap_or_else(|error| panic!("bad quantity: {error}"))
    };
    NewOrder {
        order_id: order_id(order),
        customer_id: customer(customer_id),
        lines: vec![
            PricedLine {
                sku: sku("SKU-TEE-M"),
                quantity: quantity(2),
                unit_price: euros(1500),
            },
            PricedLine {
                sku: sku("SKU-MUG"),
                quantity: quantity(1),
                unit_price: euros(900),
            },
        ],
        total: euros(3900),
        payment_method: "pm_card_visa"
            .parse()
            .unwrap_or_else(|error| panic!("{error}")),
        shipping_address: address(millis % 2 == 0),
        idempotency_key: format!("key-{order}"),
        request_hash: format!("hash-{order}"),
        execution_input: format!(r#"{{"orderId":"{order}"}}"#),
        created_at: at(0) + TimeDelta::milliseconds(millis),
    }
}

/// A second create for the same id writes nothing and returns the first.
pub async fn create_once_then_return_the_original(store: impl OrderStore) {
    let case = "orders::create_once_then_return_the_original";
    let first = new_order("ord-create-1", "customer-a", 0);
    let expected = OrderRecord::pending(&first);
    let created = ok(store.create_order(&first).await, case);
    assert_eq!(
        created,
        CreateOrderOutcome::Created(expected.clone()),
        "{case}: first create"
    );
    let mut second = new_order("ord-create-1", "customer-b", 1);
    second.request_hash = "another-hash".to_owned();
    let again = ok(store.create_order(&second).await, case);
    assert_eq!(
        again,
        CreateOrderOutcome::AlreadyExists(expected.clone()),
        "{case}: second create must return the original unchanged"
    );
    let stored = ok(store.get_order(&first.order_id).await, case);
    assert_eq!(stored, Some(expected), "{case}: stored order");
}

/// Reading an order that was never created gives `None`.
pub async fn absent_order_reads_as_none(store: impl OrderStore) {
    let case = "orders::absent_order_reads_as_none";
    let stored = ok(store.get_order(&order_id("ord-none")).await, case);
    assert_eq!(stored, None, "{case}");
}

/// The first start instant is kept; marking an absent order is refused and
/// creates nothing.
pub async fn execution_start_is_recorded_once_and_never_creates(store: impl OrderStore) {
    let case = "orders::execution_start_is_recorded_once_and_never_creates";
    let absent = order_id("ord-absent");
    assert!(
        store.mark_execution_started(&absent, at(1)).await.is_err(),
        "{case}: marking an absent order must fail"
    );
    assert_eq!(
        ok(store.get_order(&absent).await, case),
        None,
        "{case}: marking must not create the order"
    );
    let order = new_order("ord-start-1", "customer-a", 0);
    ok(store.create_order(&order).await, case);
    ok(
        store.mark_execution_started(&order.order_id, at(5)).await,
        case,
    );
    ok(
        store.mark_execution_started(&order.order_id, at(9)).await,
        case,
    );
    let stored = ok(store.get_order(&order.order_id).await, case)
        .unwrap_or_else(|| panic!("{case}: order vanished"));
    assert_eq!(
        stored.execution_started_at,
        Some(at(5)),
        "{case}: first instant kept"
    );
}

const LEASE: TimeDelta = TimeDelta::seconds(30);

fn claimed(claim: StartClaim, case: &str, what: &str) -> StartLease {
    match claim {
        StartClaim::Claimed(lease) => lease,
        other => panic!("{case}: {what}: expected the lease, got {other:?}"),
    }
}

/// A claim is refused while another lease is live, taken over once it has
/// expired (at exactly `until`), and answers `AlreadyStarted` for good once
/// the start is recorded. Claiming an absent order is refused and creates
/// nothing.
pub async fn start_lease_is_exclusive_until_it_expires(store: impl OrderStore) {
    let case = "orders::start_lease_is_exclusive_until_it_expires";
    let absent = order_id("ord-lease-absent");
    assert!(
        store
            .claim_execution_start(&absent, at(0), LEASE)
            .await
            .is_err(),
        "{case}: claiming an absent order must fail"
    );
    assert_eq!(
        ok(store.get_order(&absent).await, case),
        None,
        "{case}: claiming must not create the order"
    );
    let order = new_order("ord-lease-1", "customer-a", 0);
    ok(store.create_order(&order).await, case);
    let id = &order.order_id;

    let first = claimed(
        ok(store.claim_execution_start(id, at(10), LEASE).await, case),
        case,
        "first claim",
    );
    assert_eq!(
        first,
        StartLease {
            order_id: id.clone(),
            until: at(40)
        },
        "{case}: the lease runs from now"
    );
    for (now, what) in [(at(10), "same instant"), (at(39), "a second before expiry")] {
        assert_eq!(
            ok(store.claim_execution_start(id, now, LEASE).await, case),
            StartClaim::HeldByAnother { until: at(40) },
            "{case}: claim at {what}"
        );
    }
    let taken_over = claimed(
        ok(store.claim_execution_start(id, at(40), LEASE).await, case),
        case,
        "claim at expiry",
    );
    assert_eq!(taken_over.until, at(70), "{case}: the takeover's lease");
    assert_eq!(
        ok(store.claim_execution_start(id, at(41), LEASE).await, case),
        StartClaim::HeldByAnother { until: at(70) },
        "{case}: the takeover holds it now"
    );
    ok(store.mark_execution_started(id, at(42)).await, case);
    for now in [at(43), at(100)] {
        assert_eq!(
            ok(store.claim_execution_start(id, now, LEASE).await, case),
            StartClaim::AlreadyStarted,
            "{case}: claim after the start was recorded"
        );
    }
    let stored =
        ok(store.get_order(id).await, case).unwrap_or_else(|| panic!("{case}: order vanished"));
    assert_eq!(
        stored,
        OrderRecord {
            execution_started_at: Some(at(42)),
            ..OrderRecord::pending(&order)
        },
        "{case}: the lease changes nothing else"
    );
}

/// A released lease can be claimed at once; releasing a lease that was
/// taken over, or of an absent order, changes nothing.
pub async fn released_start_lease_can_be_claimed_again(store: impl OrderStore) {
    let case = "orders::released_start_lease_can_be_claimed_again";
    let order = new_order("ord-lease-2", "customer-a", 0);
    ok(store.create_order(&order).await, case);
    let id = &order.order_id;
    let first = claimed(
        ok(store.claim_execution_start(id, at(0), LEASE).await, case),
        case,
        "first claim",
    );
    ok(store.release_execution_start(&first).await, case);
    let second = claimed(
        ok(store.claim_execution_start(id, at(1), LEASE).await, case),
        case,
        "claim after the release",
    );
    assert_eq!(second.until, at(31), "{case}: the second lease");
    ok(store.release_execution_start(&first).await, case);
    assert_eq!(
        ok(store.claim_execution_start(id, at(2), LEASE).await, case),
        StartClaim::HeldByAnother { until: at(31) },
        "{case}: a stale release must not free the current lease"
    );
    let gone = StartLease {
        order_id: order_id("ord-lease-gone"),
        until: at(30),
    };
    ok(store.release_execution_start(&gone).await, case);
    assert_eq!(
        ok(store.get_order(&gone.order_id).await, case),
        None,
        "{case}: releasing must not create the order"
    );
}

/// Of many claims sent at once, exactly one gets the lease.
pub async fn concurrent_start_claims_have_one_winner(store: impl OrderStore) {
    let case = "orders::concurrent_start_claims_have_one_winner";
    let order = new_order("ord-lease-3", "customer-a", 0);
    ok(store.create_order(&order).await, case);
    let claims = join_all(
        (0..20)
            .map(|_| store.claim_execution_start(&order.order_id, at(5), LEASE))
            .collect(),
    )
    .await;
    let mut winners = 0;
    for claim in claims {
        match ok(claim, case) {
            StartClaim::Claimed(_) => winners += 1,
            StartClaim::HeldByAnother { until } => {
                assert_eq!(until, at(35), "{case}: the winner's lease")
            }
            StartClaim::AlreadyStarted => panic!("{case}: nothing was started"),
        }
    }
    assert_eq!(winners, 1, "{case}: exactly one claim wins");
}

/// Drives every future at once (the suite has no executor of its own) and
/// returns their outputs in order.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pending: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|context| {
        let mut done = true;
        for (future, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(context) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => done = false,
                }
            }
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// Pages of two walk a customer's orders newest first, each exactly once,
/// and never show another customer's orders.
pub async fn customer_orders_page_newest_first(store: impl OrderStore) {
    let case = "orders::customer_orders_page_newest_first";
    // Placed out of order, two in the same millisecond (ties break by id).
    let mine = [
        ("ord-list-c", 3_000),
        ("ord-list-a", 1_000),
        ("ord-list-e", 5_000),
        ("ord-list-b", 3_000),
        ("ord-list-d", 4_000),
    ];
    for (id, millis) in mine {
        ok(
            store
                .create_order(&new_order(id, "customer-list", millis))
                .await,
            case,
        );
    }
    ok(
        store
            .create_order(&new_order("ord-other", "customer-other", 2_000))
            .await,
        case,
    );

    let mut seen = Vec::new();
    let mut after: Option<OrderPosition> = None;
    for _ in 0..10 {
        let page = ok(
            store
                .customer_orders(&customer("customer-list"), after.as_ref(), 2)
                .await,
            case,
        );
        assert!(page.orders.len() <= 2, "{case}: page larger than the limit");
        seen.extend(page.orders.iter().map(|order| order.order_id.to_string()));
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    // The index does not promise an order between orders of the same
    // instant, only that paging visits each once.
    let mut tied: Vec<&str> = seen
        .get(2..4)
        .unwrap_or_default()
        .iter()
        .map(String::as_str)
        .collect();
    tied.sort_unstable();
    assert_eq!(seen.len(), 5, "{case}: each order once: {seen:?}");
    assert_eq!(
        &seen[..2],
        ["ord-list-e", "ord-list-d"],
        "{case}: newest first: {seen:?}"
    );
    assert_eq!(
        tied,
        ["ord-list-b", "ord-list-c"],
        "{case}: the tied pair: {seen:?}"
    );
    assert_eq!(seen[4], "ord-list-a", "{case}: oldest last: {seen:?}");
    let others = ok(
        store
            .customer_orders(&customer("customer-nobody"), None, 10)
            .await,
        case,
    );
    assert!(
        others.orders.is_empty() && others.next_after.is_none(),
        "{case}: empty list"
    );
}

/// Orders not COMPLETED or REJECTED are counted, the customer's own only, and
/// never more than the limit, also when the newest orders are final ones the
/// count has to read past.
pub async fn in_flight_orders_are_counted_newest_first_up_to_the_limit<S, W>(store: S, writes: W)
where
    S: OrderStore,
    W: StatusWrites<S>,
{
    let case = "orders::in_flight_orders_are_counted_newest_first_up_to_the_limit";
    // Newest first: two final orders, then the five statuses in flight, then
    // a final one; and another customer's order in flight among them.
    let placed = [
        ("ord-flight-1", 1_000, OrderStatus::Rejected),
        ("ord-flight-2", 2_000, OrderStatus::Reserved),
        ("ord-flight-3", 3_000, OrderStatus::Shipping),
        ("ord-flight-4", 4_000, OrderStatus::Pending),
        ("ord-flight-5", 5_000, OrderStatus::Confirmed),
        ("ord-flight-6", 6_000, OrderStatus::Paid),
        ("ord-flight-7", 7_000, OrderStatus::Rejected),
        ("ord-flight-8", 8_000, OrderStatus::Completed),
    ];
    for (id, millis, status) in placed {
        let order = new_order(id, "customer-flight", millis);
        ok(store.create_order(&order).await, case);
        if status != OrderStatus::Pending {
            writes.write_status(&store, &order.order_id, status).await;
        }
    }
    ok(
        store
            .create_order(&new_order("ord-flight-other", "customer-other", 6_500))
            .await,
        case,
    );
    let flight = customer("customer-flight");
    for (limit, expected) in [(0, 0), (1, 1), (2, 2), (4, 4), (5, 5), (6, 5), (100, 5)] {
        assert_eq!(
            ok(store.count_in_flight(&flight, limit).await, case),
            expected,
            "{case}: in flight, counting up to {limit}"
        );
    }
    assert_eq!(
        ok(
            store.count_in_flight(&customer("customer-other"), 5).await,
            case
        ),
        1,
        "{case}: the other customer's own"
    );
    assert_eq!(
        ok(
            store.count_in_flight(&customer("customer-nobody"), 5).await,
            case
        ),
        0,
        "{case}: a customer without orders"
    );
    // Finishing an order frees its place.
    writes
        .write_status(&store, &order_id("ord-flight-6"), OrderStatus::Completed)
        .await;
    assert_eq!(
        ok(store.count_in_flight(&flight, 5).await, case),
        4,
        "{case}: after one completed"
    );
}

/// An order is listed as awaiting its start from its creation until its
/// start is recorded (a claimed lease does not end it), oldest first across
/// customers, only when placed at or before the instant asked for, never
/// more than the limit.
pub async fn orders_await_their_start_oldest_first_until_it_is_recorded(store: impl OrderStore) {
    let case = "orders::orders_await_their_start_oldest_first_until_it_is_recorded";
    // Twelve orders, a second apart, placed out of order and by two
    // customers, so the adapter's shards all have something to give.
    let mut placed: Vec<(String, i64)> = (0..12_i64)
        .map(|index| (format!("ord-await-{index:02}"), index * 1_000))
        .collect();
    placed.reverse();
    for (position, (id, millis)) in placed.iter().enumerate() {
        let customer = if position % 2 == 0 {
            "customer-a"
        } else {
            "customer-b"
        };
        ok(
            store.create_order(&new_order(id, customer, *millis)).await,
            case,
        );
    }
    let listed =
        |ids: Vec<OrderId>| -> Vec<String> { ids.iter().map(ToString::to_string).collect() };
    let expected = |range: std::ops::Range<i64>| -> Vec<String> {
        range.map(|index| format!("ord-await-{index:02}")).collect()
    };

    let all = ok(store.orders_awaiting_start(at(100), 100).await, case);
    assert_eq!(
        listed(all),
        expected(0..12),
        "{case}: every order, oldest first"
    );
    let oldest = ok(store.orders_awaiting_start(at(100), 5).await, case);
    assert_eq!(listed(oldest), expected(0..5), "{case}: the oldest five");
    let by_five = ok(store.orders_awaiting_start(at(5), 100).await, case);
    assert_eq!(
        listed(by_five),
        expected(0..6),
        "{case}: placed at or before the instant"
    );
    let early = ok(store.orders_awaiting_start(at(0) - LEASE, 100).await, case);
    assert!(
        early.is_empty(),
        "{case}: none placed that early: {early:?}"
    );

    // A claimed lease leaves the order listed; a recorded start ends it.
    claimed(
        ok(
            store
                .claim_execution_start(&order_id("ord-await-00"), at(50), LEASE)
                .await,
            case,
        ),
        case,
        "claim",
    );
    ok(
        store
            .mark_execution_started(&order_id("ord-await-01"), at(51))
            .await,
        case,
    );
    ok(
        store
            .mark_execution_started(&order_id("ord-await-03"), at(52))
            .await,
        case,
    );
    let after = ok(store.orders_awaiting_start(at(100), 4).await, case);
    assert_eq!(
        listed(after),
        [
            "ord-await-00",
            "ord-await-02",
            "ord-await-04",
            "ord-await-05"
        ],
        "{case}: started orders are no longer listed"
    );
    let none = ok(store.orders_awaiting_start(at(100), 0).await, case);
    assert!(none.is_empty(), "{case}: a limit of zero lists nothing");
}

fn stall(order: &str, status: StoppedStatus, redrive_count: u32) -> Stall {
    Stall {
        execution_arn: format!(
            "arn:aws:states:us-east-1:000000000000:execution:order-saga:{order}"
        ),
        status,
        error: Some("States.TaskFailed".to_owned()),
        cause: Some("ShipOrder: retries exhausted".to_owned()),
        stopped_at: at(60),
        redrive_count,
    }
}

/// A stall is recorded on an order in flight and read back whole, listed
/// oldest first until the state machine's final write removes it; an
/// earlier attempt's never overwrites a later one's; a final order or an
/// absent one gets none.
pub async fn a_stall_is_kept_until_the_final_write<S, W>(store: S, writes: W)
where
    S: OrderStore,
    W: StatusWrites<S>,
{
    let case = "orders::a_stall_is_kept_until_the_final_write";
    for (index, id) in ["ord-stall-a", "ord-stall-b", "ord-stall-c"]
        .iter()
        .enumerate()
    {
        let millis = i64::try_from(index).unwrap_or(0) * 1_000;
        ok(
            store
                .create_order(&new_order(id, "customer-a", millis))
                .await,
            case,
        );
    }
    let (a, b, c) = (
        order_id("ord-stall-a"),
        order_id("ord-stall-b"),
        order_id("ord-stall-c"),
    );
    assert!(
        ok(store.stalled_orders(10).await, case).is_empty(),
        "{case}: no stall yet"
    );

    let failed = stall("ord-stall-b", StoppedStatus::Failed, 1);
    assert_eq!(
        ok(store.record_stall(&b, &failed).await, case),
        StallOutcome::Recorded,
        "{case}: recorded on an order in flight"
    );
    let read = ok(store.get_order(&b).await, case).unwrap_or_else(|| panic!("{case}: b is gone"));
    assert_eq!(
        read.stall.as_ref(),
        Some(&failed),
        "{case}: read back whole"
    );
    assert_eq!(
        read.status,
        OrderStatus::Pending,
        "{case}: the status is unchanged"
    );

    let earlier = stall("ord-stall-b", StoppedStatus::Aborted, 0);
    assert_eq!(
        ok(store.record_stall(&b, &earlier).await, case),
        StallOutcome::Superseded,
        "{case}: an earlier attempt's stop"
    );
    let later = stall("ord-stall-b", StoppedStatus::TimedOut, 2);
    assert_eq!(
        ok(store.record_stall(&b, &later).await, case),
        StallOutcome::Recorded,
        "{case}: a later attempt's stop replaces it"
    );
    let read = ok(store.get_order(&b).await, case).unwrap_or_else(|| panic!("{case}: b is gone"));
    assert_eq!(read.stall, Some(later), "{case}: the later stop is kept");

    ok(
        store
            .record_stall(&a, &stall("ord-stall-a", StoppedStatus::Failed, 0))
            .await,
        case,
    );
    assert_eq!(
        ok(store.stalled_orders(10).await, case),
        vec![a.clone(), b.clone()],
        "{case}: listed oldest placed first"
    );
    assert_eq!(
        ok(store.stalled_orders(1).await, case),
        vec![a.clone()],
        "{case}: up to the limit"
    );

    writes
        .write_status(&store, &a, OrderStatus::Completed)
        .await;
    assert_eq!(
        ok(store.stalled_orders(10).await, case),
        vec![b.clone()],
        "{case}: the final write removes the stall"
    );
    let read = ok(store.get_order(&a).await, case).unwrap_or_else(|| panic!("{case}: a is gone"));
    assert_eq!(read.stall, None, "{case}: a reads back without its stall");
    assert_eq!(
        ok(
            store
                .record_stall(&a, &stall("ord-stall-a", StoppedStatus::Failed, 0))
                .await,
            case
        ),
        StallOutcome::AlreadyFinal(OrderStatus::Completed),
        "{case}: a late stop of a final order"
    );
    writes.write_status(&store, &c, OrderStatus::Rejected).await;
    assert_eq!(
        ok(
            store
                .record_stall(&c, &stall("ord-stall-c", StoppedStatus::Failed, 0))
                .await,
            case
        ),
        StallOutcome::AlreadyFinal(OrderStatus::Rejected),
        "{case}: REJECTED is final too"
    );
    assert_eq!(
        ok(
            store
                .record_stall(
                    &order_id("ord-stall-none"),
                    &stall("ord-stall-none", StoppedStatus::Failed, 0)
                )
                .await,
            case
        ),
        StallOutcome::NotFound,
        "{case}: never creates an order"
    );
    assert_eq!(
        ok(store.stalled_orders(10).await, case),
        vec![b],
        "{case}: only b is still stalled"
    );
}

//! Scenarios beyond single requests, written once for any [`World`]:
//! concurrent identical POSTs, a failed StartExecution, a crash between the
//! order write and StartExecution (the start lease), paging, customer
//! isolation, and the cap on orders in flight.

use std::sync::Arc;

use chrono::TimeDelta;
use order_api::handle_request;
use saga_domain::ports::{Clock, OrderStatus, OrderStore};

use super::{Answer, Dependency, World, get_order_event, list_orders_event, post_event};

async fn send<W: World>(
    world: &W,
    event: aws_lambda_events::apigw::ApiGatewayV2httpRequest,
) -> Answer {
    Answer::of(&handle_request(world.api(), event).await)
}

/// `copies` identical POSTs at once make one order, one execution and
/// exactly one StartExecution call. Returns the StartExecution calls
/// received.
pub async fn concurrent_identical_posts<W: World + 'static>(world: Arc<W>, copies: usize) -> usize {
    let tasks: Vec<_> = (0..copies)
        .map(|_| {
            let world = Arc::clone(&world);
            tokio::spawn(async move {
                send(world.as_ref(), post_event("user-alice", "same-key-50")).await
            })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        let answer = task.await.unwrap();
        assert_eq!(answer.status, 202, "{}", answer.body);
        ids.insert(answer.body["orderId"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1, "all {copies} answers name one order: {ids:?}");
    let customer = "user-alice".parse().unwrap();
    let page = world
        .api()
        .orders
        .customer_orders(&customer, None, 100)
        .await
        .unwrap();
    assert_eq!(page.orders.len(), 1, "one order stored");
    assert_eq!(world.executions_started(), 1, "one execution");
    let calls = world.start_calls();
    assert!(calls.iter().all(|(name, _)| ids.contains(name)));
    let inputs: std::collections::BTreeSet<&String> =
        calls.iter().map(|(_, input)| input).collect();
    assert_eq!(
        inputs.len(),
        1,
        "every StartExecution carried the same input"
    );
    assert_eq!(
        calls.len(),
        1,
        "only the start lease holder calls StartExecution"
    );
    calls.len()
}

/// The first request writes the order and its StartExecution fails (Step
/// Functions unreachable): 503, and it gives the start lease back, so the
/// client's immediate retry completes the start, exactly once, and later
/// retries start nothing.
pub async fn replay_after_crash_completes_the_start<W: World>(world: &W) {
    world.set_down(Some(Dependency::StepFunctions));
    let first = send(world, post_event("user-alice", "crash-key")).await;
    world.set_down(None);
    assert_eq!(first.status, 503, "{}", first.body);
    assert_eq!(first.header("retry-after").as_deref(), Some("2"));
    let customer = "user-alice".parse().unwrap();
    let stored = world
        .api()
        .orders
        .customer_orders(&customer, None, 10)
        .await
        .unwrap();
    assert_eq!(
        stored.orders.len(),
        1,
        "the order was written before the crash"
    );
    assert_eq!(
        stored.orders[0].execution_started_at, None,
        "and not started"
    );
    assert_eq!(world.start_calls().len(), 0);

    let retry = send(world, post_event("user-alice", "crash-key")).await;
    assert_eq!(retry.status, 202, "{}", retry.body);
    assert_eq!(
        retry.order_id(),
        stored.orders[0].order_id,
        "the same order"
    );
    assert_eq!(world.start_calls().len(), 1, "the retry started it");
    assert_eq!(world.executions_started(), 1);
    let input: serde_json::Value = serde_json::from_str(&world.start_calls()[0].1).unwrap();
    assert_eq!(input["orderId"], retry.body["orderId"]);
    assert_eq!(input["customerId"], "user-alice");
    assert_eq!(
        input["total"],
        serde_json::json!({"amountMinor": 3900, "currency": "EUR"})
    );
    assert_eq!(input["items"][0]["unitPrice"]["amountMinor"], 1500);
    assert_eq!(input["paymentMethod"], "pm_card_visa");

    let again = send(world, post_event("user-alice", "crash-key")).await;
    assert_eq!(again.status, 202);
    assert_eq!(
        world.start_calls().len(),
        1,
        "a started order is not started again"
    );
}

/// The first request writes the order, claims the start lease and dies
/// before sending StartExecution. A replay while the lease is live answers
/// 202 with the same order and calls nothing; the first replay once it has
/// expired takes it over and starts the execution exactly once; later
/// replays call nothing.
pub async fn crash_before_start_execution_is_completed_after_the_lease<W: World + 'static>(
    world: Arc<W>,
) {
    let key = "crash-lease-key";
    world.crash().arm();
    let doomed = {
        let world = Arc::clone(&world);
        tokio::spawn(async move { send(world.as_ref(), post_event("user-alice", key)).await })
    };
    world.crash().reached().await;
    doomed.abort();
    assert!(
        doomed.await.is_err_and(|error| error.is_cancelled()),
        "the first request died before answering"
    );
    let customer = "user-alice".parse().unwrap();
    let stored = world
        .api()
        .orders
        .customer_orders(&customer, None, 10)
        .await
        .unwrap();
    assert_eq!(
        stored.orders.len(),
        1,
        "the order was written before the crash"
    );
    let order_id = stored.orders[0].order_id.clone();
    assert_eq!(
        stored.orders[0].execution_started_at, None,
        "and not started"
    );
    assert_eq!(
        world.start_calls().len(),
        0,
        "the crash came before the call"
    );

    // The lease runs 30 s from the crashed request's claim.
    let clock = &world.api().clock.0;
    clock.advance(TimeDelta::seconds(29));
    let early = send(world.as_ref(), post_event("user-alice", key)).await;
    assert_eq!(early.status, 202, "{}", early.body);
    assert_eq!(early.order_id(), order_id, "the same order");
    assert_eq!(early.body["status"], "PENDING");
    assert_eq!(
        world.start_calls().len(),
        0,
        "a replay while the lease is live does not start"
    );

    clock.advance(TimeDelta::seconds(1));
    let late = send(world.as_ref(), post_event("user-alice", key)).await;
    assert_eq!(late.status, 202, "{}", late.body);
    assert_eq!(late.order_id(), order_id, "the same order");
    assert_eq!(
        world.start_calls().len(),
        1,
        "the replay after expiry started it"
    );
    assert_eq!(world.executions_started(), 1);
    let started = world
        .api()
        .orders
        .get_order(&order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(started.execution_started_at, Some(clock.now()), "recorded");

    for _ in 0..3 {
        clock.advance(TimeDelta::seconds(31));
        let again = send(world.as_ref(), post_event("user-alice", key)).await;
        assert_eq!(again.status, 202, "{}", again.body);
        assert_eq!(again.order_id(), order_id);
    }
    assert_eq!(world.start_calls().len(), 1, "later replays call nothing");
}

/// Five orders at distinct instants page newest first, each exactly once.
pub async fn pages_walk_every_order_once<W: World>(world: &W) {
    let mut placed = Vec::new();
    for index in 0..5 {
        world.api().clock.0.advance(TimeDelta::milliseconds(1500));
        let answer = send(
            world,
            post_event("user-alice", &format!("page-key-{index}")),
        )
        .await;
        assert_eq!(answer.status, 202, "{}", answer.body);
        placed.push(answer.body["orderId"].as_str().unwrap().to_owned());
    }
    placed.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut query = vec![("limit", "2")];
        if let Some(cursor) = cursor.as_deref() {
            query.push(("cursor", cursor));
        }
        let page = send(world, list_orders_event("user-alice", &query)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        for order in page.body["orders"].as_array().unwrap() {
            seen.push(order["orderId"].as_str().unwrap().to_owned());
        }
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, placed, "newest first, each once");
}

/// No route shows one customer's order to another.
pub async fn no_route_reads_another_customers_order<W: World>(world: &W) {
    let alice_first = send(world, post_event("user-alice", "iso-1")).await;
    world.api().clock.0.advance(TimeDelta::seconds(1));
    let alice_second = send(world, post_event("user-alice", "iso-2")).await;
    let alice_ids = [
        alice_first.order_id().to_string(),
        alice_second.order_id().to_string(),
    ];

    // GET /orders/{id}: alice's ids are not found for bob, exactly like an unknown id.
    let unknown = send(
        world,
        get_order_event("ord_00000000000000000000000000000000", "user-bob"),
    )
    .await;
    for id in &alice_ids {
        let answer = send(world, get_order_event(id, "user-bob")).await;
        assert_eq!(answer.status, 404, "{}", answer.body);
        assert_eq!(answer.body["type"], unknown.body["type"]);
        assert_eq!(answer.body["detail"], unknown.body["detail"]);
        assert_eq!(
            send(world, get_order_event(id, "user-alice")).await.status,
            200
        );
    }
    // GET /orders: bob's list has none of alice's, even with her cursor.
    let bob_list = send(world, list_orders_event("user-bob", &[])).await;
    assert_eq!(bob_list.body["orders"], serde_json::json!([]));
    let alice_page = send(world, list_orders_event("user-alice", &[("limit", "1")])).await;
    let alice_cursor = alice_page.body["nextCursor"].as_str().unwrap().to_owned();
    let bob_with_cursor = send(
        world,
        list_orders_event("user-bob", &[("cursor", &alice_cursor)]),
    )
    .await;
    assert_eq!(bob_with_cursor.status, 200);
    assert_eq!(bob_with_cursor.body["orders"], serde_json::json!([]));
    // POST /orders: bob reusing alice's key and body gets his own order.
    let bob_post = send(world, post_event("user-bob", "iso-1")).await;
    assert_eq!(bob_post.status, 202, "{}", bob_post.body);
    assert!(!alice_ids.contains(&bob_post.order_id().to_string()));
    let bob_list = send(world, list_orders_event("user-bob", &[])).await;
    let bob_ids: Vec<&str> = bob_list.body["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["orderId"].as_str().unwrap())
        .collect();
    assert_eq!(bob_ids, [bob_post.order_id().as_str()]);
    let alice_list = send(world, list_orders_event("user-alice", &[])).await;
    assert_eq!(alice_list.body["orders"].as_array().unwrap().len(), 2);
}

/// A customer with as many orders in flight as the API allows gets 429
/// (problem, `Retry-After`, the count and the cap in the detail) for a new
/// order, which is neither written nor started; a replay of an order already
/// placed still answers with it; other customers are not affected; and once
/// one of the orders is COMPLETED or REJECTED, a new one is accepted.
pub async fn orders_in_flight_are_capped<W: World>(world: &W) {
    let cap = world.api().max_orders_in_flight;
    let clock = &world.api().clock.0;
    let mut placed = Vec::new();
    for index in 0..cap {
        clock.advance(TimeDelta::milliseconds(10));
        let answer = send(world, post_event("user-alice", &format!("flight-{index}"))).await;
        assert_eq!(
            answer.status, 202,
            "order {index} of {cap}: {}",
            answer.body
        );
        placed.push(answer.order_id());
    }
    let started = world.start_calls().len();

    clock.advance(TimeDelta::milliseconds(10));
    let refused = send(world, post_event("user-alice", "flight-over")).await;
    assert_eq!(refused.status, 429, "one over the cap: {}", refused.body);
    assert_eq!(refused.content_type, "application/problem+json");
    assert_eq!(refused.problem_slug(), Some("too-many-orders-in-flight"));
    assert_eq!(refused.header("retry-after").as_deref(), Some("30"));
    let detail = refused.body["detail"].as_str().unwrap();
    let orders = if cap == 1 { "order" } else { "orders" };
    assert!(
        detail.contains(&format!("You have {cap} {orders} in flight"))
            && detail.contains(&format!("at most {cap} may be")),
        "the detail names the count and the cap: {detail}"
    );
    let customer = "user-alice".parse().unwrap();
    let stored = world
        .api()
        .orders
        .customer_orders(&customer, None, 100)
        .await
        .unwrap();
    assert_eq!(stored.orders.len(), cap, "the refused order is not written");
    assert_eq!(world.start_calls().len(), started, "nor started");

    let replay = send(world, post_event("user-alice", "flight-0")).await;
    assert_eq!(replay.status, 202, "a replay at the cap: {}", replay.body);
    assert_eq!(
        replay.order_id(),
        placed[0],
        "answers with the placed order"
    );
    let bob = send(world, post_event("user-bob", "flight-over")).await;
    assert_eq!(bob.status, 202, "another customer: {}", bob.body);
    let again = send(world, post_event("user-alice", "flight-over")).await;
    assert_eq!(again.status, 429, "still at the cap: {}", again.body);

    let last = cap - 1;
    world
        .record_progress(
            &placed[last],
            "ShipOrder",
            OrderStatus::Completed,
            "2026-01-01T10:05:00.000Z",
            None,
            None,
        )
        .await;
    let after_completed = send(world, post_event("user-alice", "flight-over")).await;
    assert_eq!(
        after_completed.status, 202,
        "one order completed: {}",
        after_completed.body
    );
    let over_again = send(world, post_event("user-alice", "flight-over-2")).await;
    assert_eq!(
        over_again.status, 429,
        "at the cap again: {}",
        over_again.body
    );
    world
        .record_progress(
            &after_completed.order_id(),
            "RejectOrder",
            OrderStatus::Rejected,
            "2026-01-01T10:05:01.000Z",
            Some("InsufficientStock"),
            None,
        )
        .await;
    let after_rejected = send(world, post_event("user-alice", "flight-over-2")).await;
    assert_eq!(
        after_rejected.status, 202,
        "one order rejected: {}",
        after_rejected.body
    );
}

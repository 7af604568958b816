//! While the payment provider's circuit breaker is open, `POST /orders`
//! answers 503 with `Retry-After` and a problem body, and places nothing
//! (no order written, no execution started); a replay of an order placed
//! before still answers; after the retry time new orders are taken again.

use std::sync::Arc;

use chrono::TimeDelta;
use order_api::BreakerGate;
use saga_domain::breaker::{BreakerRecord, BreakerState, BreakerStore, InMemoryBreakerStore};
use saga_domain::ports::Clock;

use crate::support::{Answer, FakeWorld, post_event};

#[tokio::test]
async fn an_open_breaker_refuses_new_orders_with_503_and_retry_after() {
    let mut world = FakeWorld::new().await;
    let breaker = Arc::new(InMemoryBreakerStore::default());
    world.api.payments_gate = Some(Arc::new(BreakerGate(breaker.clone())));

    let before = Answer::of(
        &order_api::handle_request(&world.api, post_event("user-1", "key-before")).await,
    );
    assert_eq!(before.status, 202, "{:?}", before.body);

    let now = world.api.clock.now().timestamp();
    let open = BreakerRecord {
        state: BreakerState::Open,
        version: 1,
        opened_at: now,
        retry_at: now + 30,
        ..BreakerRecord::fresh()
    };
    assert!(breaker.replace(0, &open).await.unwrap());
    world.api.clock.0.advance(TimeDelta::seconds(12));

    let refused =
        Answer::of(&order_api::handle_request(&world.api, post_event("user-1", "key-new")).await);
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("retry-after").as_deref(), Some("18"));
    assert_eq!(refused.content_type, "application/problem+json");
    assert_eq!(refused.problem_slug(), Some("service-unavailable"));
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("payment provider")
    );
    assert_eq!(world.api.orders.len(), 1, "nothing placed while open");
    assert_eq!(
        world.api.executions.inner.calls().len(),
        1,
        "nothing started while open"
    );

    // The order placed before is still answered (a replay places nothing new).
    let replay = Answer::of(
        &order_api::handle_request(&world.api, post_event("user-1", "key-before")).await,
    );
    assert_eq!(replay.status, 202);

    world.api.clock.0.advance(TimeDelta::seconds(18));
    let after =
        Answer::of(&order_api::handle_request(&world.api, post_event("user-1", "key-new")).await);
    assert_eq!(after.status, 202, "due for a probe: orders flow again");
}

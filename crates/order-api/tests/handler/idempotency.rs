//! Idempotency of `POST /orders` against the fakes.

use std::sync::Arc;

use crate::support::FakeWorld;
use crate::support::scenarios;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_identical_posts_make_one_order_and_one_execution() {
    let calls = scenarios::concurrent_identical_posts(Arc::new(FakeWorld::new().await), 50).await;
    println!(
        "fakes: 50 concurrent identical POSTs -> 1 order, 1 execution, {calls} StartExecution \
         call(s)"
    );
}

#[tokio::test]
async fn a_replay_after_a_crash_before_start_execution_starts_it_once() {
    scenarios::replay_after_crash_completes_the_start(&FakeWorld::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_start_execution_is_completed_once_after_the_lease_expires() {
    scenarios::crash_before_start_execution_is_completed_after_the_lease(Arc::new(
        FakeWorld::new().await,
    ))
    .await;
}

#[tokio::test]
async fn pages_walk_every_order_once_newest_first() {
    scenarios::pages_walk_every_order_once(&FakeWorld::new().await).await;
}

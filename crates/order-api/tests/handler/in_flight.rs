//! The cap on orders in flight per customer, against the fakes: at the
//! default cap and at a cap of one.

use crate::support::FakeWorld;
use crate::support::scenarios;

#[tokio::test]
async fn orders_in_flight_are_capped_at_the_default() {
    let world = FakeWorld::new().await;
    assert_eq!(world.api.max_orders_in_flight, 5);
    scenarios::orders_in_flight_are_capped(&world).await;
}

#[tokio::test]
async fn orders_in_flight_are_capped_at_one() {
    let mut world = FakeWorld::new().await;
    world.api.max_orders_in_flight = 1;
    scenarios::orders_in_flight_are_capped(&world).await;
}

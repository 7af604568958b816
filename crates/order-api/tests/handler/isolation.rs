//! No route reads another customer's order (fakes).

use crate::support::FakeWorld;
use crate::support::scenarios;

#[tokio::test]
async fn no_route_reads_another_customers_order() {
    scenarios::no_route_reads_another_customers_order(&FakeWorld::new().await).await;
}

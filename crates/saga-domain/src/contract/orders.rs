//! Contract of [`OrderStore`]: an order is created once per id, reads back
//! exactly as written, and a customer's orders page newest first without
//! gaps, repeats or other customers' orders.

use std::future::Future;

use chrono::TimeDelta;

use super::{at, euros, ok, order_id, sku};
use crate::ids::CustomerId;
use crate::order::{Quantity, ShippingAddress};
use crate::ports::{
    CreateOrderOutcome, NewOrder, OrderPosition, OrderRecord, OrderStore, PricedLine,
};

/// Runs every order case, each on a fresh store from `fresh`.
pub async fn run_all<S, F, Fut>(fresh: F)
where
    S: OrderStore,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    create_once_then_return_the_original(fresh().await).await;
    absent_order_reads_as_none(fresh().await).await;
    execution_start_is_recorded_once_and_never_creates(fresh().await).await;
    customer_orders_page_newest_first(fresh().await).await;
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

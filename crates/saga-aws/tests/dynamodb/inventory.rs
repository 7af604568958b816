//! DynamoInventory against DynamoDB Local: the domain's contract suite, the
//! idempotency of every step's store call, no oversell under 200 concurrent
//! reservations, and the reaper/confirm race.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use futures::future::join_all;
use saga_aws::DynamoInventory;
use saga_domain::contract;
use saga_domain::ports::{
    Catalog, ConfirmOutcome, ExpireOutcome, NewReservation, ReleaseOutcome, ReservationExpiry,
    ReservationStatus, ReservationStore, ReserveOutcome, StockItem,
};
use saga_domain::{Money, OrderId, OrderLine, OrderLines, Quantity, Sku};

use crate::support;

/// A fresh Inventory table of its own.
async fn fresh_inventory() -> DynamoInventory {
    let client = support::dynamodb_client().await;
    let table = support::unique_name("Inventory");
    support::create_table(&client, "InventoryTable", &table).await;
    DynamoInventory::new(client, table)
}

fn sku(name: &str) -> Sku {
    name.parse().unwrap()
}

fn order(id: impl AsRef<str>) -> OrderId {
    id.as_ref().parse().unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    contract::at(seconds)
}

fn one_line(sku_name: &str, units: u32) -> OrderLines {
    OrderLines::try_from(vec![OrderLine {
        sku: sku(sku_name),
        quantity: Quantity::try_from(units).unwrap(),
    }])
    .unwrap()
}

fn new_reservation(order_id: &str, lines: OrderLines, created: i64) -> NewReservation {
    NewReservation {
        order_id: order(order_id),
        lines,
        expires_at: at(created) + TimeDelta::seconds(900),
        created_at: at(created),
    }
}

async fn seed(store: &DynamoInventory, sku_name: &str, available: u64) {
    let currency = "EUR".parse().unwrap();
    store
        .put_stock_item(&StockItem {
            sku: sku(sku_name),
            name: sku_name.to_owned(),
            available,
            reserved: 0,
            unit_price: Money::new(1500, currency).unwrap(),
        })
        .await
        .unwrap();
}

async fn stock(store: &DynamoInventory, sku_name: &str) -> (u64, u64) {
    let items = store.stock_items(&[sku(sku_name)]).await.unwrap();
    (items[0].available, items[0].reserved)
}

#[tokio::test]
async fn dynamo_inventory_meets_the_inventory_contract() {
    contract::inventory::run_all(fresh_inventory).await;
}

#[tokio::test]
async fn every_inventory_call_twice_has_one_effect() {
    let store = fresh_inventory().await;
    seed(&store, "SKU-TWICE", 10).await;
    let request = new_reservation("ord-twice", one_line("SKU-TWICE", 3), 0);
    let id = order("ord-twice");

    let first = store.reserve(&request).await.unwrap();
    let second = store.reserve(&request).await.unwrap();
    let ReserveOutcome::Reserved(reserved) = first else {
        panic!("first reserve: {first:?}");
    };
    assert_eq!(second, ReserveOutcome::AlreadyReserved(reserved));
    assert_eq!(
        stock(&store, "SKU-TWICE").await,
        (7, 3),
        "after reserve twice"
    );

    assert_eq!(
        store.confirm_reservation(&id, at(10)).await.unwrap(),
        ConfirmOutcome::Confirmed
    );
    assert_eq!(
        store.confirm_reservation(&id, at(10)).await.unwrap(),
        ConfirmOutcome::AlreadyConfirmed
    );
    assert_eq!(
        stock(&store, "SKU-TWICE").await,
        (7, 3),
        "after confirm twice"
    );

    assert_eq!(
        store.release_reservation(&id, at(20)).await.unwrap(),
        ReleaseOutcome::Released
    );
    assert_eq!(
        store.release_reservation(&id, at(20)).await.unwrap(),
        ReleaseOutcome::AlreadyReleased
    );
    assert_eq!(
        stock(&store, "SKU-TWICE").await,
        (10, 0),
        "after release twice"
    );

    // Expiry, twice, on a second order.
    let request = new_reservation("ord-expire-twice", one_line("SKU-TWICE", 4), 0);
    let id = order("ord-expire-twice");
    store.reserve(&request).await.unwrap();
    assert_eq!(
        store.expire_reservation(&id, at(900)).await.unwrap(),
        ExpireOutcome::Expired
    );
    assert_eq!(
        store.expire_reservation(&id, at(900)).await.unwrap(),
        ExpireOutcome::NotExpirable {
            status: Some(ReservationStatus::Expired)
        }
    );
    assert_eq!(
        stock(&store, "SKU-TWICE").await,
        (10, 0),
        "after expire twice"
    );
}

/// Orders, stock and outcome counts of the oversell test.
const CONCURRENT_ORDERS: usize = 200;
const INITIAL_STOCK: u64 = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reservations_never_oversell() {
    let store = Arc::new(fresh_inventory().await);
    seed(&store, "SKU-HOT", INITIAL_STOCK).await;
    let calls = (0..CONCURRENT_ORDERS).map(|index| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let request = new_reservation(&format!("ord-hot-{index}"), one_line("SKU-HOT", 1), 0);
            // A conflicting transaction is transient: retry it, as Step Functions would.
            loop {
                match store.reserve(&request).await {
                    Ok(outcome) => return outcome,
                    Err(saga_domain::PortError::Unavailable { .. }) => continue,
                    Err(other) => panic!("reserve failed: {other}"),
                }
            }
        })
    });
    let outcomes: Vec<ReserveOutcome> = join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let reserved = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, ReserveOutcome::Reserved(_)))
        .count();
    let insufficient = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, ReserveOutcome::InsufficientStock { .. }))
        .count();
    let (available, held) = stock(&store, "SKU-HOT").await;
    println!(
        "no oversell: {CONCURRENT_ORDERS} concurrent reserves of 1 unit, stock {INITIAL_STOCK}: \
         {reserved} reserved, {insufficient} InsufficientStock, available {available}, reserved {held}"
    );
    assert_eq!(reserved as u64, INITIAL_STOCK);
    assert_eq!(insufficient, CONCURRENT_ORDERS - reserved);
    assert_eq!((available, held), (0, INITIAL_STOCK));
    assert_eq!(available + held, INITIAL_STOCK);
}

/// Rounds of the reaper/confirm race; each round is a fresh reservation.
const RACE_ROUNDS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reaper_and_confirm_racing_never_both_win() {
    let store = Arc::new(fresh_inventory().await);
    seed(&store, "SKU-RACE", RACE_ROUNDS as u64).await;
    let (mut confirmed, mut expired) = (0_u64, 0_u64);
    for round in 0..RACE_ROUNDS {
        let request = new_reservation(&format!("ord-race-{round}"), one_line("SKU-RACE", 1), 0);
        let id = request.order_id.clone();
        store.reserve(&request).await.unwrap();
        // Clock skew: the confirm's clock is just before expiresAt, the reaper's at it.
        let confirm = {
            let store = Arc::clone(&store);
            let id = id.clone();
            tokio::spawn(async move { store.confirm_reservation(&id, at(899)).await })
        };
        let expire = {
            let store = Arc::clone(&store);
            let id = id.clone();
            tokio::spawn(
                async move { retry_transient(|| store.expire_reservation(&id, at(900))).await },
            )
        };
        let confirm = confirm.await.unwrap().unwrap();
        let expire = expire.await.unwrap();
        match (confirm, expire) {
            (ConfirmOutcome::Confirmed, ExpireOutcome::NotExpirable { .. }) => confirmed += 1,
            (ConfirmOutcome::NotConfirmable { .. }, ExpireOutcome::Expired) => expired += 1,
            other => panic!("round {round}: both or neither won: {other:?}"),
        }
        let status = store.get_reservation(&id).await.unwrap().unwrap().status;
        assert!(
            matches!(
                status,
                ReservationStatus::Confirmed | ReservationStatus::Expired
            ),
            "round {round}: {status:?}"
        );
    }
    let (available, held) = stock(&store, "SKU-RACE").await;
    println!(
        "reaper/confirm race, {RACE_ROUNDS} rounds: confirm won {confirmed}, reaper won {expired}; \
         available {available}, reserved {held}"
    );
    // Stock came back exactly once per expired reservation, never for a confirmed one.
    assert_eq!(held, confirmed);
    assert_eq!(available, expired);
    assert_eq!(available + held, RACE_ROUNDS as u64);
}

async fn retry_transient<T, F, Fut>(call: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, saga_domain::PortError>>,
{
    loop {
        match call().await {
            Ok(value) => return value,
            Err(saga_domain::PortError::Unavailable { .. }) => continue,
            Err(other) => panic!("{other}"),
        }
    }
}

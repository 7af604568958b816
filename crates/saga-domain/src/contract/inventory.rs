//! Contract of the inventory ports ([`ReservationStore`],
//! [`ReservationExpiry`], [`Catalog`]): reservations are all-or-nothing and
//! never doubled, every status move is conditional, and stock is conserved
//! (`available + reserved` per SKU never changes except by seeding).

use std::future::Future;

use super::{at, euros, lines, ok, order_id, sku};
use crate::ids::Sku;
use crate::order::OrderLines;
use crate::ports::{
    Catalog, ConfirmOutcome, ExpireOutcome, NewReservation, ReleaseOutcome, Reservation,
    ReservationExpiry, ReservationStatus, ReservationStore, ReserveOutcome, StockItem,
};

/// Everything an inventory implementation provides.
pub trait InventoryUnderTest: ReservationStore + ReservationExpiry + Catalog {}
impl<T: ReservationStore + ReservationExpiry + Catalog> InventoryUnderTest for T {}

/// Runs every inventory case, each on a fresh store from `fresh`.
pub async fn run_all<S, F, Fut>(fresh: F)
where
    S: InventoryUnderTest,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    reserve_moves_stock_and_writes_pending(fresh().await).await;
    reserve_twice_returns_the_original_and_moves_stock_once(fresh().await).await;
    insufficient_stock_leaves_everything_untouched(fresh().await).await;
    unknown_sku_leaves_everything_untouched(fresh().await).await;
    first_failing_line_is_reported(fresh().await).await;
    confirm_pending_once_then_already_confirmed(fresh().await).await;
    confirm_refuses_absent_lapsed_released_and_expired(fresh().await).await;
    release_restores_stock_once(fresh().await).await;
    release_of_confirmed_restores_stock(fresh().await).await;
    release_of_absent_or_expired_has_nothing_to_release(fresh().await).await;
    expire_due_pending_once(fresh().await).await;
    confirm_wins_over_a_later_expire(fresh().await).await;
    expire_wins_over_a_later_confirm(fresh().await).await;
    find_expired_lists_due_pending_oldest_first_up_to_limit(fresh().await).await;
    catalog_reads_in_request_order_and_pages_in_sku_order(fresh().await).await;
}

const TEE: &str = "SKU-TEE-M";
const MUG: &str = "SKU-MUG";
const RARE: &str = "SKU-RARE";
const TTL: i64 = 900;

/// Seeds the suite's catalog: 10 tees, 5 mugs, 1 rare item.
async fn seed(store: &impl Catalog, case: &str) {
    for (name, available, price) in [(TEE, 10, 1500), (MUG, 5, 900), (RARE, 1, 99_00)] {
        let item = StockItem {
            sku: sku(name),
            name: format!("{name} (contract suite)"),
            available,
            reserved: 0,
            unit_price: euros(price),
        };
        ok(store.put_stock_item(&item).await, case);
    }
}

/// `(available, reserved)` of `name`.
async fn stock_of(store: &impl Catalog, name: &str, case: &str) -> (u64, u64) {
    let items = ok(store.stock_items(&[sku(name)]).await, case);
    match items.as_slice() {
        [item] => (item.available, item.reserved),
        other => panic!("{case}: expected one stock item for {name}, got {other:?}"),
    }
}

async fn assert_stock(store: &impl Catalog, expected: &[(&str, u64, u64)], case: &str, when: &str) {
    for (name, available, reserved) in expected {
        assert_eq!(
            stock_of(store, name, case).await,
            (*available, *reserved),
            "{case}: (available, reserved) of {name} {when}"
        );
    }
}

fn request(order: &str, spec: OrderLines, created: i64) -> NewReservation {
    NewReservation {
        order_id: order_id(order),
        lines: spec,
        expires_at: at(created + TTL),
        created_at: at(created),
    }
}

fn pending(request: &NewReservation) -> Reservation {
    Reservation {
        order_id: request.order_id.clone(),
        lines: request.lines.clone(),
        status: ReservationStatus::Pending,
        expires_at: request.expires_at,
        created_at: request.created_at,
    }
}

async fn reserve_ok(store: &impl ReservationStore, request: &NewReservation, case: &str) {
    let outcome = ok(store.reserve(request).await, case);
    assert_eq!(
        outcome,
        ReserveOutcome::Reserved(pending(request)),
        "{case}: reserving {}",
        request.order_id
    );
}

async fn status_of(
    store: &impl ReservationStore,
    order: &str,
    case: &str,
) -> Option<ReservationStatus> {
    ok(store.get_reservation(&order_id(order)).await, case).map(|r| r.status)
}

/// A reservation takes every line's units from available to reserved and is
/// stored PENDING with its expiry.
pub async fn reserve_moves_stock_and_writes_pending(store: impl InventoryUnderTest) {
    let case = "inventory::reserve_moves_stock_and_writes_pending";
    seed(&store, case).await;
    let first = request("ord-1", lines(&[(TEE, 3), (MUG, 5)]), 0);
    reserve_ok(&store, &first, case).await;
    assert_stock(
        &store,
        &[(TEE, 7, 3), (MUG, 0, 5), (RARE, 1, 0)],
        case,
        "after reserve",
    )
    .await;
    let stored = ok(store.get_reservation(&first.order_id).await, case);
    assert_eq!(stored, Some(pending(&first)), "{case}: stored reservation");
}

/// Reserving again for the same order (even with other lines) returns the
/// original reservation and moves no stock.
pub async fn reserve_twice_returns_the_original_and_moves_stock_once(
    store: impl InventoryUnderTest,
) {
    let case = "inventory::reserve_twice_returns_the_original_and_moves_stock_once";
    seed(&store, case).await;
    let first = request("ord-1", lines(&[(TEE, 2)]), 0);
    reserve_ok(&store, &first, case).await;
    let replay = ok(
        store
            .reserve(&request("ord-1", lines(&[(TEE, 2)]), 30))
            .await,
        case,
    );
    assert_eq!(
        replay,
        ReserveOutcome::AlreadyReserved(pending(&first)),
        "{case}: replay"
    );
    let different = ok(
        store
            .reserve(&request("ord-1", lines(&[(MUG, 1)]), 60))
            .await,
        case,
    );
    assert_eq!(
        different,
        ReserveOutcome::AlreadyReserved(pending(&first)),
        "{case}: replay with other lines"
    );
    assert_stock(&store, &[(TEE, 8, 2), (MUG, 5, 0)], case, "after replays").await;
}

/// A line asking for more than is available fails the whole reservation:
/// no stock moves on any line and no reservation is written. Asking for
/// exactly what is available succeeds.
pub async fn insufficient_stock_leaves_everything_untouched(store: impl InventoryUnderTest) {
    let case = "inventory::insufficient_stock_leaves_everything_untouched";
    seed(&store, case).await;
    let too_many = request("ord-1", lines(&[(TEE, 2), (RARE, 2)]), 0);
    let outcome = ok(store.reserve(&too_many).await, case);
    assert_eq!(
        outcome,
        ReserveOutcome::InsufficientStock { sku: sku(RARE) },
        "{case}"
    );
    assert_stock(&store, &[(TEE, 10, 0), (RARE, 1, 0)], case, "after refusal").await;
    assert_eq!(
        status_of(&store, "ord-1", case).await,
        None,
        "{case}: no reservation"
    );
    let exact = request("ord-2", lines(&[(RARE, 1)]), 0);
    reserve_ok(&store, &exact, case).await;
    assert_stock(&store, &[(RARE, 0, 1)], case, "after exact reservation").await;
    let none_left = ok(
        store
            .reserve(&request("ord-3", lines(&[(RARE, 1)]), 0))
            .await,
        case,
    );
    assert_eq!(
        none_left,
        ReserveOutcome::InsufficientStock { sku: sku(RARE) },
        "{case}: sold out"
    );
}

/// A line naming an unknown SKU fails the whole reservation.
pub async fn unknown_sku_leaves_everything_untouched(store: impl InventoryUnderTest) {
    let case = "inventory::unknown_sku_leaves_everything_untouched";
    seed(&store, case).await;
    let outcome = ok(
        store
            .reserve(&request("ord-1", lines(&[(TEE, 1), ("SKU-NOPE", 1)]), 0))
            .await,
        case,
    );
    assert_eq!(
        outcome,
        ReserveOutcome::UnknownSku {
            sku: sku("SKU-NOPE")
        },
        "{case}"
    );
    assert_stock(&store, &[(TEE, 10, 0)], case, "after refusal").await;
    assert_eq!(
        status_of(&store, "ord-1", case).await,
        None,
        "{case}: no reservation"
    );
}

/// With several failing lines, the first failing line in request order is
/// the one reported.
pub async fn first_failing_line_is_reported(store: impl InventoryUnderTest) {
    let case = "inventory::first_failing_line_is_reported";
    seed(&store, case).await;
    let unknown_first = ok(
        store
            .reserve(&request(
                "ord-1",
                lines(&[(TEE, 1), ("SKU-NOPE", 1), (RARE, 5)]),
                0,
            ))
            .await,
        case,
    );
    assert_eq!(
        unknown_first,
        ReserveOutcome::UnknownSku {
            sku: sku("SKU-NOPE")
        },
        "{case}"
    );
    let short_first = ok(
        store
            .reserve(&request("ord-2", lines(&[(RARE, 5), ("SKU-NOPE", 1)]), 0))
            .await,
        case,
    );
    assert_eq!(
        short_first,
        ReserveOutcome::InsufficientStock { sku: sku(RARE) },
        "{case}"
    );
}

/// PENDING → CONFIRMED once; confirming again is `AlreadyConfirmed`; no stock
/// moves either time.
pub async fn confirm_pending_once_then_already_confirmed(store: impl InventoryUnderTest) {
    let case = "inventory::confirm_pending_once_then_already_confirmed";
    seed(&store, case).await;
    reserve_ok(&store, &request("ord-1", lines(&[(TEE, 3)]), 0), case).await;
    let id = order_id("ord-1");
    assert_eq!(
        ok(store.confirm_reservation(&id, at(60)).await, case),
        ConfirmOutcome::Confirmed,
        "{case}"
    );
    assert_eq!(
        ok(store.confirm_reservation(&id, at(120)).await, case),
        ConfirmOutcome::AlreadyConfirmed,
        "{case}: second confirm"
    );
    assert_eq!(
        status_of(&store, "ord-1", case).await,
        Some(ReservationStatus::Confirmed),
        "{case}"
    );
    assert_stock(&store, &[(TEE, 7, 3)], case, "after confirm").await;
}

/// Absent, lapsed (PENDING at or past `expiresAt`), released and expired
/// reservations are not confirmable, and refusing changes nothing.
pub async fn confirm_refuses_absent_lapsed_released_and_expired(store: impl InventoryUnderTest) {
    let case = "inventory::confirm_refuses_absent_lapsed_released_and_expired";
    seed(&store, case).await;
    assert_eq!(
        ok(
            store
                .confirm_reservation(&order_id("ord-absent"), at(0))
                .await,
            case
        ),
        ConfirmOutcome::NotConfirmable { status: None },
        "{case}: absent"
    );
    reserve_ok(&store, &request("ord-lapsed", lines(&[(TEE, 1)]), 0), case).await;
    assert_eq!(
        ok(
            store
                .confirm_reservation(&order_id("ord-lapsed"), at(TTL))
                .await,
            case
        ),
        ConfirmOutcome::NotConfirmable {
            status: Some(ReservationStatus::Pending)
        },
        "{case}: lapsed at exactly expiresAt"
    );
    assert_eq!(
        status_of(&store, "ord-lapsed", case).await,
        Some(ReservationStatus::Pending),
        "{case}"
    );

    reserve_ok(
        &store,
        &request("ord-released", lines(&[(MUG, 1)]), 0),
        case,
    )
    .await;
    ok(
        store
            .release_reservation(&order_id("ord-released"), at(10))
            .await,
        case,
    );
    assert_eq!(
        ok(
            store
                .confirm_reservation(&order_id("ord-released"), at(20))
                .await,
            case
        ),
        ConfirmOutcome::NotConfirmable {
            status: Some(ReservationStatus::Released)
        },
        "{case}: released"
    );

    reserve_ok(
        &store,
        &request("ord-expired", lines(&[(RARE, 1)]), 0),
        case,
    )
    .await;
    ok(
        store
            .expire_reservation(&order_id("ord-expired"), at(TTL))
            .await,
        case,
    );
    assert_eq!(
        ok(
            store
                .confirm_reservation(&order_id("ord-expired"), at(TTL + 1))
                .await,
            case
        ),
        ConfirmOutcome::NotConfirmable {
            status: Some(ReservationStatus::Expired)
        },
        "{case}: expired"
    );
    assert_stock(
        &store,
        &[(TEE, 9, 1), (MUG, 5, 0), (RARE, 1, 0)],
        case,
        "at the end",
    )
    .await;
}

/// Releasing a PENDING reservation restores its stock once; releasing again
/// is `AlreadyReleased` and restores nothing more.
pub async fn release_restores_stock_once(store: impl InventoryUnderTest) {
    let case = "inventory::release_restores_stock_once";
    seed(&store, case).await;
    reserve_ok(
        &store,
        &request("ord-1", lines(&[(TEE, 3), (MUG, 2)]), 0),
        case,
    )
    .await;
    let id = order_id("ord-1");
    assert_eq!(
        ok(store.release_reservation(&id, at(10)).await, case),
        ReleaseOutcome::Released,
        "{case}"
    );
    assert_stock(&store, &[(TEE, 10, 0), (MUG, 5, 0)], case, "after release").await;
    assert_eq!(
        ok(store.release_reservation(&id, at(20)).await, case),
        ReleaseOutcome::AlreadyReleased,
        "{case}: second release"
    );
    assert_stock(
        &store,
        &[(TEE, 10, 0), (MUG, 5, 0)],
        case,
        "after second release",
    )
    .await;
    assert_eq!(
        status_of(&store, "ord-1", case).await,
        Some(ReservationStatus::Released),
        "{case}"
    );
}

/// A CONFIRMED reservation can still be released by a compensation.
pub async fn release_of_confirmed_restores_stock(store: impl InventoryUnderTest) {
    let case = "inventory::release_of_confirmed_restores_stock";
    seed(&store, case).await;
    reserve_ok(&store, &request("ord-1", lines(&[(TEE, 4)]), 0), case).await;
    let id = order_id("ord-1");
    ok(store.confirm_reservation(&id, at(10)).await, case);
    assert_eq!(
        ok(store.release_reservation(&id, at(20)).await, case),
        ReleaseOutcome::Released,
        "{case}"
    );
    assert_stock(&store, &[(TEE, 10, 0)], case, "after release").await;
}

/// Releasing an absent reservation, or one the reaper expired (stock already
/// back), has nothing to release and moves no stock.
pub async fn release_of_absent_or_expired_has_nothing_to_release(store: impl InventoryUnderTest) {
    let case = "inventory::release_of_absent_or_expired_has_nothing_to_release";
    seed(&store, case).await;
    assert_eq!(
        ok(
            store
                .release_reservation(&order_id("ord-absent"), at(0))
                .await,
            case
        ),
        ReleaseOutcome::NothingToRelease,
        "{case}: absent"
    );
    reserve_ok(&store, &request("ord-1", lines(&[(TEE, 2)]), 0), case).await;
    let id = order_id("ord-1");
    assert_eq!(
        ok(store.expire_reservation(&id, at(TTL)).await, case),
        ExpireOutcome::Expired,
        "{case}"
    );
    assert_eq!(
        ok(store.release_reservation(&id, at(TTL + 5)).await, case),
        ReleaseOutcome::NothingToRelease,
        "{case}: expired"
    );
    assert_stock(&store, &[(TEE, 10, 0)], case, "after expire and release").await;
    assert_eq!(
        status_of(&store, "ord-1", case).await,
        Some(ReservationStatus::Expired),
        "{case}"
    );
}

/// A PENDING reservation is expirable from `expiresAt` on, not before; it is
/// expired once, restoring its stock once, and leaves the expired list.
pub async fn expire_due_pending_once(store: impl InventoryUnderTest) {
    let case = "inventory::expire_due_pending_once";
    seed(&store, case).await;
    reserve_ok(&store, &request("ord-1", lines(&[(MUG, 3)]), 0), case).await;
    let id = order_id("ord-1");
    assert_eq!(
        ok(store.find_expired_reservations(at(TTL - 1), 10).await, case),
        Vec::new(),
        "{case}: nothing due before expiresAt"
    );
    assert_eq!(
        ok(store.expire_reservation(&id, at(TTL - 1)).await, case),
        ExpireOutcome::NotExpirable {
            status: Some(ReservationStatus::Pending)
        },
        "{case}: not yet due"
    );
    assert_eq!(
        ok(store.find_expired_reservations(at(TTL), 10).await, case),
        vec![id.clone()],
        "{case}: due at expiresAt"
    );
    assert_eq!(
        ok(store.expire_reservation(&id, at(TTL)).await, case),
        ExpireOutcome::Expired,
        "{case}"
    );
    assert_stock(&store, &[(MUG, 5, 0)], case, "after expire").await;
    assert_eq!(
        ok(store.expire_reservation(&id, at(TTL + 1)).await, case),
        ExpireOutcome::NotExpirable {
            status: Some(ReservationStatus::Expired)
        },
        "{case}: second expire"
    );
    assert_stock(&store, &[(MUG, 5, 0)], case, "after second expire").await;
    assert_eq!(
        ok(store.find_expired_reservations(at(TTL + 1), 10).await, case),
        Vec::new(),
        "{case}: expired reservations leave the list"
    );
    assert_eq!(
        ok(
            store
                .expire_reservation(&order_id("ord-absent"), at(TTL))
                .await,
            case
        ),
        ExpireOutcome::NotExpirable { status: None },
        "{case}: absent"
    );
}

/// Race, confirm first: a reservation confirmed before the reaper acts is
/// not expired, even though the reaper saw it as due.
pub async fn confirm_wins_over_a_later_expire(store: impl InventoryUnderTest) {
    let case = "inventory::confirm_wins_over_a_later_expire";
    seed(&store, case).await;
    reserve_ok(&store, &request("ord-1", lines(&[(TEE, 2)]), 0), case).await;
    let id = order_id("ord-1");
    // The reaper lists it as due as of a later instant...
    let due = ok(store.find_expired_reservations(at(TTL), 10).await, case);
    assert_eq!(due, vec![id.clone()], "{case}: listed as due");
    // ...the confirm lands first (its own clock is still before expiresAt)...
    assert_eq!(
        ok(store.confirm_reservation(&id, at(TTL - 1)).await, case),
        ConfirmOutcome::Confirmed,
        "{case}"
    );
    // ...so the reaper's conditional expire must leave it alone.
    assert_eq!(
        ok(store.expire_reservation(&id, at(TTL)).await, case),
        ExpireOutcome::NotExpirable {
            status: Some(ReservationStatus::Confirmed)
        },
        "{case}: expire after confirm"
    );
    assert_stock(&store, &[(TEE, 8, 2)], case, "after the race").await;
}

/// Race, expire first: a reservation the reaper expired cannot be confirmed.
pub async fn expire_wins_over_a_later_confirm(store: impl InventoryUnderTest) {
    let case = "inventory::expire_wins_over_a_later_confirm";
    seed(&store, case).await;
    reserve_ok(&store, &request("ord-1", lines(&[(TEE, 2)]), 0), case).await;
    let id = order_id("ord-1");
    assert_eq!(
        ok(store.expire_reservation(&id, at(TTL)).await, case),
        ExpireOutcome::Expired,
        "{case}"
    );
    assert_eq!(
        ok(store.confirm_reservation(&id, at(TTL - 1)).await, case),
        ConfirmOutcome::NotConfirmable {
            status: Some(ReservationStatus::Expired)
        },
        "{case}: confirm after expire, even with an earlier clock"
    );
    assert_stock(&store, &[(TEE, 10, 0)], case, "after the race").await;
}

/// The expired list holds only PENDING reservations due at `now`, oldest
/// first, at most `limit`.
pub async fn find_expired_lists_due_pending_oldest_first_up_to_limit(
    store: impl InventoryUnderTest,
) {
    let case = "inventory::find_expired_lists_due_pending_oldest_first_up_to_limit";
    seed(&store, case).await;
    // Created at 30, 10, 20 and 40 seconds: expiring in that order + TTL.
    for (order, created) in [
        ("ord-c", 30),
        ("ord-a", 10),
        ("ord-b", 20),
        ("ord-late", 500),
    ] {
        reserve_ok(&store, &request(order, lines(&[(TEE, 1)]), created), case).await;
    }
    reserve_ok(
        &store,
        &request("ord-confirmed", lines(&[(MUG, 1)]), 0),
        case,
    )
    .await;
    ok(
        store
            .confirm_reservation(&order_id("ord-confirmed"), at(1))
            .await,
        case,
    );
    reserve_ok(
        &store,
        &request("ord-released", lines(&[(MUG, 1)]), 0),
        case,
    )
    .await;
    ok(
        store
            .release_reservation(&order_id("ord-released"), at(1))
            .await,
        case,
    );

    let now = at(TTL + 30);
    let all_due = ok(store.find_expired_reservations(now, 10).await, case);
    let expected: Vec<_> = ["ord-a", "ord-b", "ord-c"]
        .into_iter()
        .map(order_id)
        .collect();
    assert_eq!(all_due, expected, "{case}: due, oldest first");
    let limited = ok(store.find_expired_reservations(now, 2).await, case);
    assert_eq!(limited, expected[..2].to_vec(), "{case}: limit 2");
}

/// `stock_items` answers in request order and leaves unknown SKUs out;
/// `catalog_page` walks every SKU once in ascending order; `put_stock_item`
/// overwrites.
pub async fn catalog_reads_in_request_order_and_pages_in_sku_order(store: impl InventoryUnderTest) {
    let case = "inventory::catalog_reads_in_request_order_and_pages_in_sku_order";
    seed(&store, case).await;
    let asked = [sku(RARE), sku("SKU-NOPE"), sku(TEE)];
    let found: Vec<Sku> = ok(store.stock_items(&asked).await, case)
        .into_iter()
        .map(|item| item.sku)
        .collect();
    assert_eq!(found, vec![sku(RARE), sku(TEE)], "{case}: stock_items");

    let mut walked = Vec::new();
    let mut after: Option<Sku> = None;
    for _ in 0..10 {
        let page = ok(store.catalog_page(after.as_ref(), 2).await, case);
        assert!(page.items.len() <= 2, "{case}: page larger than the limit");
        walked.extend(page.items.into_iter().map(|item| item.sku));
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(
        walked,
        vec![sku(MUG), sku(RARE), sku(TEE)],
        "{case}: catalog pages"
    );

    let repriced = StockItem {
        sku: sku(MUG),
        name: "Mug, new".to_owned(),
        available: 50,
        reserved: 0,
        unit_price: euros(1000),
    };
    ok(store.put_stock_item(&repriced).await, case);
    let stored = ok(store.stock_items(&[sku(MUG)]).await, case);
    assert_eq!(stored, vec![repriced], "{case}: overwritten item");
}

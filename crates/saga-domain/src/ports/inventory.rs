//! The inventory service's ports: reservations, their expiry, and the catalog.
//!
//! Stock invariant every implementation keeps: for each SKU, the stock put
//! into the catalog equals `available + reserved`, where `reserved` counts the
//! units of PENDING and CONFIRMED reservations. Reserving moves units from
//! `available` to `reserved`; releasing or expiring moves them back; confirming
//! moves nothing. Each of these is one atomic change, so the invariant holds
//! at every instant, not only at quiescent points.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::PortError;
use crate::ids::{OrderId, Sku};
use crate::money::Money;
use crate::order::OrderLines;

/// Where a reservation is in its life. Only PENDING moves: to CONFIRMED
/// (confirm), RELEASED (release) or EXPIRED (reaper); CONFIRMED can still be
/// RELEASED by a compensation. RELEASED and EXPIRED are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReservationStatus {
    /// Stock is held until `expiresAt`.
    Pending,
    /// The order is paid; the stock is the customer's.
    Confirmed,
    /// A compensation returned the stock.
    Released,
    /// The reaper returned the stock after `expiresAt`.
    Expired,
}

impl ReservationStatus {
    /// The stored and wire name, e.g. `PENDING`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Pending => "PENDING",
            ReservationStatus::Confirmed => "CONFIRMED",
            ReservationStatus::Released => "RELEASED",
            ReservationStatus::Expired => "EXPIRED",
        }
    }

    /// Parses the stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            ReservationStatus::Pending,
            ReservationStatus::Confirmed,
            ReservationStatus::Released,
            ReservationStatus::Expired,
        ]
        .into_iter()
        .find(|status| status.as_str() == name)
    }

    /// Whether the reservation still holds stock (PENDING or CONFIRMED).
    pub fn holds_stock(self) -> bool {
        matches!(
            self,
            ReservationStatus::Pending | ReservationStatus::Confirmed
        )
    }
}

/// A stored reservation (`pk = "RESERVATION#<orderId>"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The order that holds the stock.
    pub order_id: OrderId,
    /// The units held, per SKU.
    pub lines: OrderLines,
    /// Current status.
    pub status: ReservationStatus,
    /// When a PENDING reservation lapses (whole seconds).
    pub expires_at: DateTime<Utc>,
    /// When it was made (whole seconds).
    pub created_at: DateTime<Utc>,
}

/// A reservation to make: PENDING, holding `lines` until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReservation {
    /// The order; at most one reservation per order ever exists.
    pub order_id: OrderId,
    /// The units to take from `available`.
    pub lines: OrderLines,
    /// When it lapses (whole seconds).
    pub expires_at: DateTime<Utc>,
    /// Now (whole seconds).
    pub created_at: DateTime<Utc>,
}

/// What [`ReservationStore::reserve`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveOutcome {
    /// The reservation was written and every line's stock moved, atomically.
    Reserved(Reservation),
    /// The order already has a reservation (in any status); it is returned
    /// unchanged and no stock moved. Takes precedence over stock outcomes.
    AlreadyReserved(Reservation),
    /// Nothing was written: this SKU is not in the catalog. When several lines
    /// fail, the first failing line in request order is reported.
    UnknownSku {
        /// The first failing line's SKU.
        sku: Sku,
    },
    /// Nothing was written: this SKU has fewer units available than its line
    /// asks. When several lines fail, the first in request order is reported.
    InsufficientStock {
        /// The first failing line's SKU.
        sku: Sku,
    },
}

/// What [`ReservationStore::confirm_reservation`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmOutcome {
    /// PENDING and not past `expiresAt` → now CONFIRMED.
    Confirmed,
    /// It was already CONFIRMED; nothing changed.
    AlreadyConfirmed,
    /// Not confirmable, nothing changed: EXPIRED, RELEASED, PENDING but past
    /// `expiresAt` at `now` (lapsed, waiting for the reaper), or absent (`None`).
    NotConfirmable {
        /// The status found, `None` when there is no reservation.
        status: Option<ReservationStatus>,
    },
}

/// What releasing a reservation did; also the `outcome` of the release step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReleaseOutcome {
    /// PENDING or CONFIRMED → RELEASED, stock restored, atomically.
    Released,
    /// No reservation, or the reaper already EXPIRED it (and restored stock).
    NothingToRelease,
    /// It was already RELEASED.
    AlreadyReleased,
}

/// What [`ReservationExpiry::expire_reservation`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireOutcome {
    /// PENDING with `expiresAt <= now` → EXPIRED, stock restored, atomically.
    Expired,
    /// Nothing changed: the reservation is not PENDING (for example confirmed
    /// concurrently), not yet due, or absent (`None`).
    NotExpirable {
        /// The status found, `None` when there is no reservation.
        status: Option<ReservationStatus>,
    },
}

/// Reserving, reading, confirming and releasing stock for an order.
pub trait ReservationStore: Send + Sync {
    /// Atomically: put the reservation if the order has none, and for every
    /// line move `quantity` from `available` to `reserved` if the SKU exists
    /// with enough `available`. All or nothing.
    fn reserve(
        &self,
        reservation: &NewReservation,
    ) -> impl Future<Output = Result<ReserveOutcome, PortError>> + Send;

    /// The order's reservation, strongly consistent.
    fn get_reservation(
        &self,
        order_id: &OrderId,
    ) -> impl Future<Output = Result<Option<Reservation>, PortError>> + Send;

    /// PENDING → CONFIRMED, conditional on status PENDING and `expiresAt > now`.
    fn confirm_reservation(
        &self,
        order_id: &OrderId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<ConfirmOutcome, PortError>> + Send;

    /// PENDING or CONFIRMED → RELEASED and every line's units back from
    /// `reserved` to `available`, in one transaction conditional on the status.
    fn release_reservation(
        &self,
        order_id: &OrderId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<ReleaseOutcome, PortError>> + Send;
}

/// Finding and expiring lapsed reservations (the reaper's port).
pub trait ReservationExpiry: Send + Sync {
    /// Up to `limit` orders whose reservation is PENDING with
    /// `expiresAt <= now`, oldest first. May be eventually consistent (a GSI):
    /// callers must rely on [`expire_reservation`](Self::expire_reservation)'s
    /// condition, not on this list.
    fn find_expired_reservations(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OrderId>, PortError>> + Send;

    /// PENDING with `expiresAt <= now` → EXPIRED and every line's units back to
    /// `available`, in one transaction conditional on both. A reservation
    /// confirmed or released concurrently is left alone.
    fn expire_reservation(
        &self,
        order_id: &OrderId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<ExpireOutcome, PortError>> + Send;
}

/// A SKU's catalog entry and stock (`pk = "SKU#<sku>"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockItem {
    /// The SKU.
    pub sku: Sku,
    /// Display name.
    pub name: String,
    /// Units that can still be reserved.
    pub available: u64,
    /// Units held by PENDING and CONFIRMED reservations.
    pub reserved: u64,
    /// Price of one unit; orders are priced from this, never from the client.
    pub unit_price: Money,
}

/// One page of the catalog, in ascending SKU order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogPage {
    /// The items of this page.
    pub items: Vec<StockItem>,
    /// Pass as `after` to get the next page; `None` when no items follow. May
    /// be `Some` when a page ends exactly at the last item (DynamoDB's
    /// `LastEvaluatedKey` does that); the next page is then empty.
    pub next_after: Option<Sku>,
}

/// Reading and seeding the catalog.
pub trait Catalog: Send + Sync {
    /// The items for `skus` that exist, in the order of `skus`; unknown SKUs
    /// are left out. At most 100 SKUs per call.
    fn stock_items(
        &self,
        skus: &[Sku],
    ) -> impl Future<Output = Result<Vec<StockItem>, PortError>> + Send;

    /// Up to `limit` items with SKU greater than `after` (from the start when
    /// `None`), in ascending SKU order.
    fn catalog_page(
        &self,
        after: Option<&Sku>,
        limit: usize,
    ) -> impl Future<Output = Result<CatalogPage, PortError>> + Send;

    /// Creates or overwrites a catalog item (seeding and operations only; the
    /// saga never calls this).
    fn put_stock_item(
        &self,
        item: &StockItem,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

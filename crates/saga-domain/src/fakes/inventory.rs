//! In-memory inventory table: stock items, reservations and the expiry index.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::{Faults, lock};
use crate::error::PortError;
use crate::ids::{OrderId, Sku};
use crate::ports::{
    Catalog, CatalogPage, ConfirmOutcome, ExpireOutcome, NewReservation, ReleaseOutcome,
    Reservation, ReservationExpiry, ReservationStatus, ReservationStore, ReserveOutcome, StockItem,
};

/// Stock and reservations behind one lock, so every operation is atomic the
/// way a DynamoDB transaction is.
#[derive(Debug, Default)]
pub struct InMemoryInventory {
    state: Mutex<InventoryState>,
    /// Fault injection for every operation.
    pub faults: Faults,
}

#[derive(Debug, Default)]
struct InventoryState {
    stock: BTreeMap<Sku, StockItem>,
    reservations: HashMap<OrderId, Reservation>,
}

impl InventoryState {
    /// Moves every line of `reservation` from `reserved` back to `available`.
    fn restore_stock(&mut self, reservation: &Reservation) {
        for line in &reservation.lines {
            if let Some(item) = self.stock.get_mut(&line.sku) {
                let units = u64::from(line.quantity.get());
                item.available = item.available.saturating_add(units);
                item.reserved = item.reserved.saturating_sub(units);
            }
        }
    }
}

impl InMemoryInventory {
    /// An empty inventory.
    pub fn new() -> Self {
        Self::default()
    }
}

impl ReservationStore for InMemoryInventory {
    async fn reserve(&self, request: &NewReservation) -> Result<ReserveOutcome, PortError> {
        self.faults.check("reserve")?;
        let mut state = lock(&self.state);
        if let Some(existing) = state.reservations.get(&request.order_id) {
            return Ok(ReserveOutcome::AlreadyReserved(existing.clone()));
        }
        for line in &request.lines {
            match state.stock.get(&line.sku) {
                None => {
                    return Ok(ReserveOutcome::UnknownSku {
                        sku: line.sku.clone(),
                    });
                }
                Some(item) if item.available < u64::from(line.quantity.get()) => {
                    return Ok(ReserveOutcome::InsufficientStock {
                        sku: line.sku.clone(),
                    });
                }
                Some(_) => {}
            }
        }
        for line in &request.lines {
            if let Some(item) = state.stock.get_mut(&line.sku) {
                let units = u64::from(line.quantity.get());
                item.available -= units;
                item.reserved += units;
            }
        }
        let reservation = Reservation {
            order_id: request.order_id.clone(),
            lines: request.lines.clone(),
            status: ReservationStatus::Pending,
            expires_at: request.expires_at,
            created_at: request.created_at,
        };
        state
            .reservations
            .insert(request.order_id.clone(), reservation.clone());
        Ok(ReserveOutcome::Reserved(reservation))
    }

    async fn get_reservation(&self, order_id: &OrderId) -> Result<Option<Reservation>, PortError> {
        self.faults.check("get_reservation")?;
        Ok(lock(&self.state).reservations.get(order_id).cloned())
    }

    async fn confirm_reservation(
        &self,
        order_id: &OrderId,
        now: DateTime<Utc>,
    ) -> Result<ConfirmOutcome, PortError> {
        self.faults.check("confirm_reservation")?;
        let mut state = lock(&self.state);
        let Some(reservation) = state.reservations.get_mut(order_id) else {
            return Ok(ConfirmOutcome::NotConfirmable { status: None });
        };
        Ok(match reservation.status {
            ReservationStatus::Pending if reservation.expires_at > now => {
                reservation.status = ReservationStatus::Confirmed;
                ConfirmOutcome::Confirmed
            }
            ReservationStatus::Confirmed => ConfirmOutcome::AlreadyConfirmed,
            status => ConfirmOutcome::NotConfirmable {
                status: Some(status),
            },
        })
    }

    async fn release_reservation(
        &self,
        order_id: &OrderId,
        _now: DateTime<Utc>,
    ) -> Result<ReleaseOutcome, PortError> {
        self.faults.check("release_reservation")?;
        let mut state = lock(&self.state);
        let Some(reservation) = state.reservations.get(order_id).cloned() else {
            return Ok(ReleaseOutcome::NothingToRelease);
        };
        Ok(match reservation.status {
            ReservationStatus::Pending | ReservationStatus::Confirmed => {
                state.restore_stock(&reservation);
                if let Some(stored) = state.reservations.get_mut(order_id) {
                    stored.status = ReservationStatus::Released;
                }
                ReleaseOutcome::Released
            }
            ReservationStatus::Released => ReleaseOutcome::AlreadyReleased,
            ReservationStatus::Expired => ReleaseOutcome::NothingToRelease,
        })
    }
}

impl ReservationExpiry for InMemoryInventory {
    async fn find_expired_reservations(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OrderId>, PortError> {
        self.faults.check("find_expired_reservations")?;
        let state = lock(&self.state);
        let mut due: Vec<&Reservation> = state
            .reservations
            .values()
            .filter(|r| r.status == ReservationStatus::Pending && r.expires_at <= now)
            .collect();
        due.sort_by(|a, b| (a.expires_at, &a.order_id).cmp(&(b.expires_at, &b.order_id)));
        Ok(due
            .into_iter()
            .take(limit)
            .map(|r| r.order_id.clone())
            .collect())
    }

    async fn expire_reservation(
        &self,
        order_id: &OrderId,
        now: DateTime<Utc>,
    ) -> Result<ExpireOutcome, PortError> {
        self.faults.check("expire_reservation")?;
        let mut state = lock(&self.state);
        let Some(reservation) = state.reservations.get(order_id).cloned() else {
            return Ok(ExpireOutcome::NotExpirable { status: None });
        };
        if reservation.status != ReservationStatus::Pending || reservation.expires_at > now {
            return Ok(ExpireOutcome::NotExpirable {
                status: Some(reservation.status),
            });
        }
        state.restore_stock(&reservation);
        if let Some(stored) = state.reservations.get_mut(order_id) {
            stored.status = ReservationStatus::Expired;
        }
        Ok(ExpireOutcome::Expired)
    }
}

impl Catalog for InMemoryInventory {
    async fn stock_items(&self, skus: &[Sku]) -> Result<Vec<StockItem>, PortError> {
        self.faults.check("stock_items")?;
        let state = lock(&self.state);
        Ok(skus
            .iter()
            .filter_map(|sku| state.stock.get(sku).cloned())
            .collect())
    }

    async fn catalog_page(
        &self,
        after: Option<&Sku>,
        limit: usize,
    ) -> Result<CatalogPage, PortError> {
        self.faults.check("catalog_page")?;
        let state = lock(&self.state);
        let mut remaining = state
            .stock
            .values()
            .filter(|item| after.is_none_or(|after| &item.sku > after));
        let items: Vec<StockItem> = remaining.by_ref().take(limit).cloned().collect();
        let next_after = if remaining.next().is_some() {
            items.last().map(|item| item.sku.clone())
        } else {
            None
        };
        Ok(CatalogPage { items, next_after })
    }

    async fn put_stock_item(&self, item: &StockItem) -> Result<(), PortError> {
        self.faults.check("put_stock_item")?;
        lock(&self.state)
            .stock
            .insert(item.sku.clone(), item.clone());
        Ok(())
    }
}

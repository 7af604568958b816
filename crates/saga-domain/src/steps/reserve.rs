//! `reserve`: hold stock for every line of an order until `expiresAt`.
//!
//! One atomic store operation takes the stock of all lines and writes the
//! PENDING reservation, or does nothing at all. A replay finds the order's
//! reservation and never moves stock twice: a PENDING or CONFIRMED one is
//! returned as it is; an EXPIRED or RELEASED one no longer holds stock, so the
//! replay (a redrive past the TTL, say) is `ReservationExpired` and the saga
//! rejects the order before charging for stock that is gone. A PENDING one
//! whose `expiresAt` has passed is as good as gone (confirm would refuse it):
//! the replay does the reaper's work on it (EXPIRED, stock back, in the
//! reaper's own conditional transaction) and refuses the same way, rather
//! than letting the saga charge, fail to confirm and refund.

use std::time::Duration;

use chrono::TimeDelta;

use crate::error::{InvalidValue, StepError};
use crate::ports::{
    Clock, ExpireOutcome, NewReservation, ReservationExpiry, ReservationStatus, ReservationStore,
    ReserveOutcome, whole_seconds,
};
use crate::step_io::{ReserveInput, Reserved};

/// How long a PENDING reservation holds stock: 1 second to 1 day, whole
/// seconds; 15 minutes unless configured (`RESERVATION_TTL_SECONDS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservationTtl(u32);

impl ReservationTtl {
    /// The default TTL: 15 minutes.
    pub const DEFAULT: ReservationTtl = ReservationTtl(15 * 60);
    const MAX_SECONDS: u64 = 24 * 60 * 60;

    /// A TTL of `seconds`, refused outside 1..=86400.
    pub fn from_secs(seconds: u64) -> Result<Self, InvalidValue> {
        match u32::try_from(seconds) {
            Ok(secs) if (1..=Self::MAX_SECONDS).contains(&seconds) => Ok(Self(secs)),
            _ => Err(InvalidValue::new(
                "reservationTtlSeconds",
                format!(
                    "must be between 1 and {} seconds, got {seconds}",
                    Self::MAX_SECONDS
                ),
            )),
        }
    }

    /// The TTL as a duration.
    pub fn as_duration(self) -> Duration {
        Duration::from_secs(u64::from(self.0))
    }

    fn as_time_delta(self) -> TimeDelta {
        TimeDelta::seconds(i64::from(self.0))
    }
}

impl Default for ReservationTtl {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Reserves `input.items` for `input.order_id` until now + `ttl`.
///
/// Errors: `UnknownSku` / `InsufficientStock` for the first failing line (no
/// stock moved), `ReservationExpired` when a replay finds the order's
/// reservation EXPIRED or RELEASED, or PENDING past its `expiresAt` (which
/// the replay then expires), `TransientError` when the store is unavailable.
pub async fn reserve_inventory(
    reservations: &(impl ReservationStore + ReservationExpiry),
    clock: &impl Clock,
    ttl: ReservationTtl,
    input: ReserveInput,
) -> Result<Reserved, StepError> {
    let now = whole_seconds(clock.now());
    let request = NewReservation {
        order_id: input.order_id,
        lines: input.items,
        expires_at: now + ttl.as_time_delta(),
        created_at: now,
    };
    match reservations.reserve(&request).await? {
        ReserveOutcome::Reserved(reservation) => {
            tracing::info!(order_id = %reservation.order_id, expires_at = %reservation.expires_at, "stock reserved");
            Ok(reservation_output(reservation))
        }
        ReserveOutcome::AlreadyReserved(reservation) => {
            if reservation.lines != request.lines {
                tracing::warn!(order_id = %reservation.order_id, "replay with different lines; returning the existing reservation");
            }
            if reservation.status == ReservationStatus::Pending && reservation.expires_at <= now {
                // Lapsed, not yet reaped. If a confirm won the race, the
                // reservation is the customer's after all: return it.
                match reservations
                    .expire_reservation(&reservation.order_id, now)
                    .await?
                {
                    ExpireOutcome::Expired => {
                        tracing::warn!(order_id = %reservation.order_id, expires_at = %reservation.expires_at, "replay found the reservation lapsed; expired it");
                        return Err(StepError::ReservationExpired {
                            order_id: reservation.order_id,
                            status: Some(ReservationStatus::Expired),
                        });
                    }
                    ExpireOutcome::NotExpirable { status } => {
                        return match reservations.get_reservation(&reservation.order_id).await? {
                            Some(now_held) if now_held.status.holds_stock() => {
                                Ok(reservation_output(now_held))
                            }
                            _ => Err(StepError::ReservationExpired {
                                order_id: reservation.order_id,
                                status,
                            }),
                        };
                    }
                }
            }
            if !reservation.status.holds_stock() {
                tracing::warn!(order_id = %reservation.order_id, status = reservation.status.as_str(), "replay found the reservation no longer held");
                return Err(StepError::ReservationExpired {
                    order_id: reservation.order_id,
                    status: Some(reservation.status),
                });
            }
            tracing::info!(order_id = %reservation.order_id, status = reservation.status.as_str(), "reservation already exists");
            Ok(reservation_output(reservation))
        }
        ReserveOutcome::UnknownSku { sku } => Err(StepError::UnknownSku { sku }),
        ReserveOutcome::InsufficientStock { sku } => {
            let requested = request.lines.quantity_of(&sku).map_or(0, |q| q.get());
            Err(StepError::InsufficientStock { sku, requested })
        }
    }
}

fn reservation_output(reservation: crate::ports::Reservation) -> Reserved {
    Reserved {
        order_id: reservation.order_id,
        status: reservation.status,
        lines: reservation.lines,
        expires_at: reservation.expires_at,
    }
}

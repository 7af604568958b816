//! `confirm`: turn the PENDING reservation of a paid order into CONFIRMED.
//!
//! Conditional on PENDING and not lapsed, so a reservation the reaper expired
//! (or that lapsed before the reaper got to it) or that was released can never
//! be confirmed: the saga then refunds and releases. Confirming twice succeeds
//! twice.

use crate::error::StepError;
use crate::ports::{Clock, ConfirmOutcome, ReservationStatus, ReservationStore, whole_seconds};
use crate::step_io::{Confirmed, OrderRef};

/// Confirms the order's reservation.
///
/// Errors: `ReservationExpired` when it is EXPIRED, RELEASED, lapsed or
/// absent; `TransientError` when the store is unavailable.
pub async fn confirm_reservation(
    reservations: &impl ReservationStore,
    clock: &impl Clock,
    input: OrderRef,
) -> Result<Confirmed, StepError> {
    let now = whole_seconds(clock.now());
    match reservations
        .confirm_reservation(&input.order_id, now)
        .await?
    {
        ConfirmOutcome::Confirmed | ConfirmOutcome::AlreadyConfirmed => Ok(Confirmed {
            order_id: input.order_id,
            status: ReservationStatus::Confirmed,
        }),
        ConfirmOutcome::NotConfirmable { status } => Err(StepError::ReservationExpired {
            order_id: input.order_id,
            status,
        }),
    }
}

//! `release` (compensation): give a reservation's stock back.
//!
//! Safe any number of times: the store moves PENDING or CONFIRMED to RELEASED
//! with the stock restore in one transaction, and reports an already released,
//! expired or absent reservation as success.

use crate::error::StepError;
use crate::ports::{Clock, ReservationStore, whole_seconds};
use crate::step_io::{OrderRef, Released};

/// Releases the order's reservation, if it still holds stock.
///
/// Errors: only `TransientError`; a compensation has no business failure.
pub async fn release_reservation(
    reservations: &impl ReservationStore,
    clock: &impl Clock,
    input: OrderRef,
) -> Result<Released, StepError> {
    let now = whole_seconds(clock.now());
    let outcome = reservations
        .release_reservation(&input.order_id, now)
        .await?;
    tracing::info!(order_id = %input.order_id, ?outcome, "release done");
    Ok(Released {
        order_id: input.order_id,
        outcome,
    })
}

//! `reaper`: return the stock of reservations still PENDING past `expiresAt`.
//!
//! Runs on a schedule. It looks up lapsed reservations in batches of
//! `batch_size`, at most `max_batches` lookups per run (what is left waits for
//! the next run), and expires each with an operation conditional on PENDING
//! and due, so a reservation confirmed or released concurrently is never
//! expired, and running twice expires nothing twice.

use crate::error::{InvalidValue, StepError};
use crate::ports::{Clock, ExpireOutcome, ReservationExpiry, whole_seconds};
use crate::step_io::ReaperReport;

/// How much one reaper run may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaperSettings {
    batch_size: usize,
    max_batches: usize,
}

impl ReaperSettings {
    /// The default batch size (`REAPER_BATCH_SIZE`).
    pub const DEFAULT_BATCH_SIZE: usize = 100;
    /// The default number of lookups per run.
    pub const DEFAULT_MAX_BATCHES: usize = 10;
    const MAX_BATCH_SIZE: usize = 1000;

    /// Settings with `batch_size` in 1..=1000 and `max_batches` at least 1.
    pub fn new(batch_size: usize, max_batches: usize) -> Result<Self, InvalidValue> {
        if !(1..=Self::MAX_BATCH_SIZE).contains(&batch_size) {
            return Err(InvalidValue::new(
                "reaperBatchSize",
                format!(
                    "must be between 1 and {}, got {batch_size}",
                    Self::MAX_BATCH_SIZE
                ),
            ));
        }
        if max_batches == 0 {
            return Err(InvalidValue::new("reaperMaxBatches", "must be at least 1"));
        }
        Ok(Self {
            batch_size,
            max_batches,
        })
    }

    /// Reservations looked up per batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Lookups per run.
    pub fn max_batches(&self) -> usize {
        self.max_batches
    }
}

impl Default for ReaperSettings {
    fn default() -> Self {
        Self {
            batch_size: Self::DEFAULT_BATCH_SIZE,
            max_batches: Self::DEFAULT_MAX_BATCHES,
        }
    }
}

/// Expires lapsed PENDING reservations as of `clock.now()`.
///
/// Errors: `TransientError` when the store is unavailable; reservations
/// expired before the failure stay expired and the next run continues.
pub async fn expire_lapsed_reservations(
    expiry: &impl ReservationExpiry,
    clock: &impl Clock,
    settings: ReaperSettings,
) -> Result<ReaperReport, StepError> {
    let now = whole_seconds(clock.now());
    let mut report = ReaperReport {
        expired: 0,
        batches: 0,
    };
    for _ in 0..settings.max_batches {
        let due = expiry
            .find_expired_reservations(now, settings.batch_size)
            .await?;
        report.batches += 1;
        let mut expired_in_batch = 0;
        for order_id in &due {
            match expiry.expire_reservation(order_id, now).await? {
                ExpireOutcome::Expired => {
                    expired_in_batch += 1;
                    tracing::info!(%order_id, "reservation expired");
                }
                ExpireOutcome::NotExpirable { status } => {
                    tracing::info!(%order_id, ?status, "reservation no longer expirable; skipped");
                }
            }
        }
        report.expired += expired_in_batch;
        // A short batch means the index is drained; a batch in which nothing
        // could be expired means the index lags behind (it is eventually
        // consistent), and asking again now would return the same items.
        if due.len() < settings.batch_size || expired_in_batch == 0 {
            break;
        }
    }
    Ok(report)
}

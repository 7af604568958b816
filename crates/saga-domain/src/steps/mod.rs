//! The saga's steps as plain async functions of their ports.
//!
//! Each takes its context first (ports, clock, settings), then its parsed
//! input, and returns the step contract's output or a [`StepError`]. Every
//! step is idempotent (DESIGN.md, "Every step is idempotent"): called again
//! with the same input it returns the same result and has no second effect.
//!
//! [`StepError`]: crate::StepError

mod charge;
mod confirm;
mod reaper;
mod refund;
mod release;
mod reserve;
mod ship;
mod start;
mod sweep;
mod watch;

pub use charge::charge_payment;
pub use confirm::confirm_reservation;
pub use reaper::{ReaperSettings, expire_lapsed_reservations};
pub use refund::refund_payment;
pub use release::release_reservation;
pub use reserve::{ReservationTtl, reserve_inventory};
pub use ship::{ShipRecordOutcome, create_shipment, process_ship_message};
pub use start::{ExecutionStart, start_order_execution};
pub use sweep::{
    MISSED_STOP_LOOKBACK, STALLED_COUNT_LIMIT, SweepSettings, count_stalled, record_missed_stops,
    sweep_unstarted,
};
pub use watch::record_execution_stop;

//! Ports: one small trait per capability the steps need, plus the records
//! they exchange.
//!
//! Every store operation is a single atomic change in the DynamoDB adapter
//! (one `PutItem`/`UpdateItem` with a condition expression, or one
//! `TransactWriteItems`), and every way its condition can fail comes back as a
//! variant of an outcome enum, because a failed condition is a domain fact
//! (already reserved, out of stock, already confirmed), not an error.
//! [`PortError`](crate::PortError) is only for "could not find out".
//!
//! Timestamps handed to stores are whole seconds (the steps truncate the
//! clock), because the tables keep `expiresAt` as epoch seconds and a replayed
//! step must see exactly what the first call wrote.
//!
//! The traits are written with `-> impl Future<Output = ..> + Send` so they
//! can be implemented with plain `async fn` and used as `&impl Trait` from
//! generic code that runs on a multi-threaded runtime.

mod clock;
mod executions;
mod inventory;
mod orders;
mod payments;
mod shipping;
mod tasks;

pub use clock::{Clock, SystemClock, whole_seconds};
pub use executions::{ExecutionStarter, StartOutcome, StoppedExecutions};
pub use inventory::{
    Catalog, CatalogPage, ConfirmOutcome, ExpireOutcome, NewReservation, ReleaseOutcome,
    Reservation, ReservationExpiry, ReservationStatus, ReservationStore, ReserveOutcome, StockItem,
};
pub use orders::{
    CreateOrderOutcome, NewOrder, OrderPage, OrderPosition, OrderRecord, OrderStatus, OrderStore,
    PLACE_ORDER_STEP, PricedLine, START_LEASE, ShipmentRef, Stall, StallOutcome, StartClaim,
    StartLease, StoppedStatus, TimelineEntry, order_timestamp,
};
pub use payments::{
    CancelOutcome, CancelRequest, ChargeOutcome, ChargeRequest, Payment, PaymentIntent,
    PaymentProvider, PaymentStatus, PaymentStore, PaymentTransition, ProviderCharge,
    ProviderChargeState, RecordIntentOutcome, RefundReceipt, RefundRequest,
};
pub use shipping::{CreateShipmentOutcome, Shipment, ShipmentStatus, ShipmentStore};
pub use tasks::{ReportOutcome, TaskReporter};

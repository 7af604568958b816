//! The order saga's domain: what an order is, what each step does, and the
//! ports the steps need, with no AWS in sight.
//!
//! - [`ids`], [`money`], [`order`]: newtypes that parse at the edge; a value
//!   in hand is valid.
//! - [`error`]: [`StepError`], whose variant names are the Lambda `errorType`s
//!   the state machine matches on, and [`PortError`] for failed port calls.
//! - [`step_io`]: the JSON contract between the state machine and the steps.
//! - [`ports`]: one trait per capability (reservations, expiry, catalog,
//!   payments, payment provider, shipments, task reporting, clock).
//!
//! Adapters (DynamoDB, Step Functions) live in `saga-aws`; the Lambda glue in
//! `saga-lambda`.

pub mod error;
pub mod ids;
pub mod money;
pub mod order;
pub mod ports;
pub mod step_io;

pub use error::{BoxError, ErrorKind, InvalidValue, PortError, STEP_ERROR_NAMES, StepError};
pub use ids::{CustomerId, OrderId, PaymentMethod, Sku, TaskToken};
pub use money::{Currency, Money};
pub use order::{OrderLine, OrderLines, Quantity, ShippingAddress};
pub mod steps;

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
//! - [`steps`]: each saga step as an async function of its ports.
//! - [`simulated_provider`]: the deterministic payment provider the system
//!   ships with until a real one is wired in.
//! - `fakes` and `contract` (feature `fakes`, tests only): in-memory ports
//!   and the store contract suite every adapter must pass.
//!
//! Adapters (DynamoDB, Step Functions) live in `saga-aws`; the Lambda glue in
//! `saga-lambda`.

pub mod breaker;
#[cfg(feature = "fakes")]
pub mod contract;
pub mod error;
#[cfg(feature = "fakes")]
pub mod fakes;
pub mod ids;
pub mod money;
pub mod order;
pub mod ports;
pub mod simulated_provider;
pub mod step_io;
pub mod steps;

pub use error::{BoxError, ErrorKind, InvalidValue, PortError, STEP_ERROR_NAMES, StepError};
pub use ids::{CustomerId, OrderId, PaymentMethod, Sku, TaskToken};
pub use money::{Currency, Money};
pub use order::{OrderLine, OrderLines, Quantity, ShippingAddress};

//! AWS adapters of the saga's ports: DynamoDB stores (aws-sdk-dynamodb) and
//! the Step Functions task reporter (aws-sdk-sfn).
//!
//! - [`DynamoInventory`]: reservations, their expiry and the catalog
//!   (Inventory table);
//! - [`DynamoOrders`], [`DynamoPayments`], [`DynamoShipments`]: the Orders,
//!   Payments and Shipments tables;
//! - [`DynamoBreaker`]: the payment provider's circuit breaker, one item
//!   of the Breaker table shared by every charge instance and the api;
//! - [`SfnExecutions`]: StartExecution for the order api;
//! - [`SfnTaskReporter`]: SendTaskSuccess / SendTaskFailure;
//! - [`tables`]: the names of the indexes the adapters query (the tables
//!   themselves are the template's, read by `saga-template`).
//!
//! Every stored item is a typed record (`serde_dynamo`), private to its
//! adapter and converted into the domain type with `TryFrom` (`record.rs`);
//! a corrupt item is rejected naming the attribute.
//!
//! Each store takes a client and its table name (from the function's
//! configuration). Conditional check failures are domain facts and come back
//! as the ports' outcome enums; everything else maps to `PortError`:
//! throttling, timeouts, 5xx and transaction conflicts as `Unavailable`
//! (retried as `TransientError`), the rest as `Rejected`.

mod breaker;
mod executions;
mod inventory;
mod item;
mod orders;
mod payments;
mod record;
mod sdk_errors;
mod shipments;
pub mod tables;
mod task_reporter;

pub use breaker::{DynamoBreaker, PAYMENT_PROVIDER_BREAKER};
pub use executions::SfnExecutions;
pub use inventory::DynamoInventory;
pub use orders::{CLEAR_STALL, DynamoOrders};
pub use payments::DynamoPayments;
pub use shipments::DynamoShipments;
pub use task_reporter::SfnTaskReporter;

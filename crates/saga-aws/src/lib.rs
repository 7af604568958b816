//! AWS adapters of the saga's ports: DynamoDB stores (aws-sdk-dynamodb) and
//! the Step Functions task reporter (aws-sdk-sfn).
//!
//! - [`DynamoInventory`]: reservations, their expiry and the catalog
//!   (Inventory table);
//! - [`DynamoPayments`], [`DynamoShipments`]: the Payments and Shipments tables;
//! - [`SfnTaskReporter`]: SendTaskSuccess / SendTaskFailure;
//! - [`tables`]: the names of the indexes the adapters query (the tables
//!   themselves are the template's, read by `saga-template`).
//!
//! Payments and Shipments items are typed records (`serde_dynamo`) converted
//! into domain types with `TryFrom`; Orders and Inventory items are still
//! read attribute by attribute (`item.rs`).
//!
//! Each store takes a client and its table name (from the function's
//! configuration). Conditional check failures are domain facts and come back
//! as the ports' outcome enums; everything else maps to `PortError`:
//! throttling, timeouts, 5xx and transaction conflicts as `Unavailable`
//! (retried as `TransientError`), the rest as `Rejected`.

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

pub use executions::SfnExecutions;
pub use inventory::DynamoInventory;
pub use orders::DynamoOrders;
pub use payments::DynamoPayments;
pub use shipments::DynamoShipments;
pub use task_reporter::SfnTaskReporter;

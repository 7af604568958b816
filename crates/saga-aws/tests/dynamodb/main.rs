//! saga-aws against DynamoDB Local.
//!
//! Every case creates its own uniquely named tables, so cases run in parallel
//! and never see each other's data.

#[path = "../support/mod.rs"]
mod support;

mod inventory;
mod service_stores;
mod steps_twice;
mod tables;

//! The local cloud: the order saga of `template.yaml` on 127.0.0.1, without
//! AWS and without Docker.
//!
//! DynamoDB Local holds the tables and moto the queues; this crate supplies
//! what has no faithful offline emulator, all driven by the template (the one
//! source of truth: nothing about tables, routes, functions, environments,
//! queues or schedules is repeated here):
//!
//! - crate `saga-template`: the template read, typed and resolved to local
//!   names; it also creates the tables;
//! - [`provision`]: queues (with redrive policies) created from it, and the
//!   demo catalog;
//! - [`sfn_api`]: the Step Functions API on the wire (AWS JSON 1.0) over the
//!   `asl` engine;
//! - [`functions`], [`tasks`]: Lambda dispatch to the functions that
//!   `saga-wiring` builds, in-process, and the Task states' service integrations;
//! - [`poller`], [`schedules`], [`event_bus`]: the SQS event source
//!   mapping, the scheduled functions, and EventBridge rules on the state
//!   machine's status-change events;
//! - [`http_api`], [`jwt`]: the HTTP API with its JWT authorizer;
//! - [`lambda_api`], [`invocation_logs`]: the Lambda Invoke API on its wire
//!   protocol, with each invocation's log tail;
//! - [`console`], [`local_api`], [`faults`]: the operator's console, local
//!   endpoints for tests and demos, and fault injection;
//! - [`metrics_store`]: the functions' EMF metrics, for the console;
//! - [`cloud`], [`server`], [`browser_guard`]: start-up, the one HTTP
//!   server, and what keeps web pages from driving it.

pub mod attribute_json;
pub mod aws;
pub mod bench;
pub mod browser_guard;
pub mod chaos;
pub mod cli;
pub mod cloud;
pub mod console;
pub mod event_bus;
pub mod faults;
pub mod functions;
pub mod http_api;
pub mod invocation_logs;
pub mod jwt;
pub mod lambda_api;
pub mod local_api;
pub mod log_format;
pub mod metrics_store;
pub mod poller;
pub mod provision;
pub mod schedules;
pub mod server;
pub mod sfn_api;
pub mod tasks;
pub mod traces;

pub use cloud::{Options, RunningCloud, start};

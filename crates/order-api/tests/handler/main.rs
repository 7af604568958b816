//! The handler end to end against the in-memory fakes: the route table of
//! `events/api/`, the OpenAPI document, idempotency, customer isolation,
//! logs, and generated requests. No external process.

#[path = "../support/mod.rs"]
mod support;

mod agreement;
mod fuzz;
mod idempotency;
mod isolation;
mod logs;
mod openapi;
mod table;

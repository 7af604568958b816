//! The handler end to end against the in-memory fakes: the route table of
//! `events/api/`, the OpenAPI document, idempotency, customer isolation,
//! the cap on orders in flight, and generated requests. No external
//! process. (Logs have their own binary, `tests/logs`.)

#[path = "../support/mod.rs"]
mod support;

mod agreement;
mod fuzz;
mod idempotency;
mod in_flight;
mod isolation;
mod openapi;
mod payments_gate;
mod table;

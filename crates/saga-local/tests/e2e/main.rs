//! End-to-end tests of the local cloud, over HTTP only.
//!
//! Each test starts its own `saga-local` process (its own stack name, so its
//! own tables and queues) against DynamoDB Local and moto, which must
//! already run: `cargo xtask test --tier e2e` starts them (and localstripe)
//! and sets `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SQS` /
//! `STRIPE_API_BASE`. Without them every
//! test fails and says so.

mod console_browser;
mod console_pages;
mod foreign_requests;
mod metrics_browser;
mod saga;
mod sfn_client;
mod stripe;
mod support;
mod traces;

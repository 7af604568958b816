//! The `api` function (crate `order-api`, the HTTP API behind API Gateway).
//! Until that crate provides its handler, the local cloud has no code for
//! it and the HTTP API routes answer 501 saying so.

use std::sync::Arc;

use crate::aws::Clients;
use crate::functions::FunctionCode;
use crate::stack::FunctionSpec;

/// Builds the `api` function's code, or `None` while `order-api` has none.
pub fn build(
    _spec: &FunctionSpec,
    _clients: &Clients,
) -> anyhow::Result<Option<Arc<dyn FunctionCode>>> {
    Ok(None)
}

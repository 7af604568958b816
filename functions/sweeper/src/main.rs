//! `sweeper` Lambda (scheduled): starts the orders written PENDING whose
//! execution nobody started, once their grace period is over.
//!
//! Built by `saga_wiring::Sweeper::build`, the same builder the local cloud uses.

// The nested futures of the AWS SDK go deeper than the default limit of 128.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    saga_wiring::run(saga_wiring::Sweeper::build).await
}

//! `charge` Lambda (ChargePayment): charges the order once.
//!
//! Built by `saga_wiring::Charge::build`, the same builder the local cloud uses.

// The nested futures of the AWS SDK go deeper than the default limit of 128.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    saga_wiring::run(saga_wiring::Charge::build).await
}

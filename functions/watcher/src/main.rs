//! `watcher` Lambda (EventBridge rule on Step Functions' execution
//! status-change events): records on the order that its execution stopped
//! (FAILED, TIMED_OUT, ABORTED) before the order was final.
//!
//! Built by `saga_wiring::Watcher::build`, the same builder the local cloud uses.

// The nested futures of the AWS SDK go deeper than the default limit of 128.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    saga_wiring::run(saga_wiring::Watcher::build).await
}

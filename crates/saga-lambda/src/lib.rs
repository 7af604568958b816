//! The Lambda-facing side of the saga: raw events in, step outputs or
//! `Diagnostic`s out, plus per-function config and logging setup.
//!
//! - [`handlers`]: one handler per function, generic over the ports.
//! - [`config`]: one typed config per function, from the environment.
//! - [`metrics`]: CloudWatch Embedded Metric Format lines.
//! - [`init_tracing`]: JSON logs for CloudWatch.
//!
//! Only this crate, `order-api`, the binaries and the local cloud know
//! `lambda_runtime` and Lambda event types; the steps themselves live in
//! `saga-domain`.

pub mod config;
pub mod handlers;
pub mod metrics;

/// Installs the JSON log subscriber every function uses: one JSON object per
/// event, level from `RUST_LOG` (default `info`), no ANSI colours, no
/// timestamps (CloudWatch adds its own). Safe to call more than once.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second call (tests, local cloud) finds a subscriber already set; that
    // is fine, so the error is ignored.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_current_span(false)
        .without_time()
        .with_target(false)
        .try_init();
}

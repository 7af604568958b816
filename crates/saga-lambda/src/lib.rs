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
///
/// `RUST_LOG` is read as comma-separated `level` and `target=level`
/// directives (`info,aws_smithy_runtime=warn`); one that does not parse
/// leaves the default. Not `EnvFilter`: its span and field filters, which no
/// function uses, link a regex engine into every binary.
pub fn init_tracing() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    // A second call (tests, local cloud) finds a subscriber already set; that
    // is fine, so the error is ignored.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_ansi(false)
        .with_current_span(false)
        .without_time()
        .with_target(false)
        .with_max_level(LevelFilter::TRACE)
        .finish()
        .with(filter)
        .try_init();
}

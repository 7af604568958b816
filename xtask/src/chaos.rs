//! `cargo xtask chaos [--orders N] [--seed S]...`: the fault campaign
//! (`saga-chaos`, see `saga_local::chaos`) on a local cloud of its own.
//!
//! Installs and starts DynamoDB Local and moto, starts `saga-local` on a
//! free port with its clock sped up (`--time-scale`, so state machine
//! retries, heartbeats and queue visibility do not take real minutes) and
//! short reservations reaped every second (`--reservation-ttl-seconds`, so
//! slow steps race the reaper), runs
//! one campaign per seed, and stops everything. With `--url` it runs the
//! campaign against a local cloud that is already running (`cargo xtask
//! up`) instead. Exits non-zero when any invariant is broken.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::up;

/// The options of `cargo xtask chaos`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ChaosOptions {
    /// Orders per campaign
    #[arg(long, default_value_t = 300)]
    pub orders: u64,
    /// The seed of a campaign (repeatable: one campaign per seed)
    #[arg(long = "seed", default_values_t = [1_u64])]
    pub seeds: Vec<u64>,
    /// Concurrent clients
    #[arg(long, default_value_t = 16)]
    pub clients: u64,
    /// Orders placed per second at most (0: as fast as the clients go)
    #[arg(long, default_value_t = 8)]
    pub rate: u32,
    /// Run against this running local cloud instead of starting one
    #[arg(long)]
    pub url: Option<String>,
    /// How much faster than real time the started local cloud runs its
    /// waits, retries, heartbeats and queue visibility
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub time_scale: u32,
    /// How long the started local cloud's reservations last (the reaper
    /// runs every second): short, so slow and retried steps race the reaper
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=86_400))]
    pub reservation_ttl_seconds: u32,
}

/// Runs the campaign(s); the exit code of `saga-chaos`.
pub fn run(root: &Path, options: &ChaosOptions) -> Result<ExitCode> {
    if let Some(url) = &options.url {
        return run_campaigns(root, url, options);
    }
    let time_scale = options.time_scale.to_string();
    let ttl = options.reservation_ttl_seconds.to_string();
    let logs = root.join(".local").join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let log_path = logs.join("saga-local-chaos.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    eprintln!("xtask: the local cloud logs to {}", log_path.display());
    // Dropping `cloud` stops saga-local and the emulators.
    let cloud = up::start_on_free_port(
        root,
        &[
            "--time-scale",
            &time_scale,
            "--reservation-ttl-seconds",
            &ttl,
            "--reaper-every-seconds",
            "1",
        ],
        Some((log, &log_path)),
    )?;
    run_campaigns(root, &cloud.url, options)
}

fn run_campaigns(root: &Path, url: &str, options: &ChaosOptions) -> Result<ExitCode> {
    let mut command = up::cargo_run_saga_local(root, "saga-chaos");
    command
        .args(["--url", url])
        .args(["--orders", &options.orders.to_string()])
        .args(["--clients", &options.clients.to_string()])
        .args(["--rate", &options.rate.to_string()]);
    for seed in &options.seeds {
        command.args(["--seed", &seed.to_string()]);
    }
    eprintln!("xtask: {command:?}");
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}
